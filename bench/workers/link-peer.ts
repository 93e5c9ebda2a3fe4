// The secondary's node of the link bench, in its own process
// (secondary-node.ts), beside a bare TCP server answering each 4096-byte
// request with an 8-byte ack and a bare sink counting a stream (the
// baselines, between the same two processes). Its hello line holds the three
// ports. argv[2] is the site key in hex, argv[3] the image id.
import { listenBare } from "./bare-servers.js";
import { serveSecondaryNode, startSecondaryNode } from "./secondary-node.js";

const node = await startSecondaryNode(process.argv[2], process.argv[3]);
serveSecondaryNode(node, { link: node.port, ...(await listenBare()) });
