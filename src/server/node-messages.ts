// Every message type of /cs/node, in one registry that both ends hold: the
// Site RPC (src/site/protocol.ts: the server calls the node's images, the
// node gets events) and the node's registration (node-protocol.ts).
import { defineMessages } from "../wire/messages.js";
import { siteMessageSpecs } from "../site/protocol.js";
import { nodeMessageSpecs } from "./node-protocol.js";

export const nodeMessages = defineMessages({ ...siteMessageSpecs, ...nodeMessageSpecs });
export type NodeMessages = typeof nodeMessages.specs;
