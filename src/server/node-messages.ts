// Every message type of /cs/node, in one registry that both ends hold: the
// Site RPC (src/site/protocol.ts: the server calls the node's images, the
// node gets events), the node's registration (node-protocol.ts) and the
// replication between the primary and its backup (replication.ts).
import { defineMessages } from "../wire/messages.js";
import { siteMessageSpecs } from "../site/protocol.js";
import { nodeMessageSpecs } from "./node-protocol.js";
import { REPLICATION_MESSAGE_SPECS } from "./replication.js";

export const nodeMessages = defineMessages({ ...siteMessageSpecs, ...nodeMessageSpecs, ...REPLICATION_MESSAGE_SPECS });
export type NodeMessages = typeof nodeMessages.specs;
