// The site's wire protocol: framed, typed, validated messages between nodes,
// servers and PPRC links, over TCP, a WebSocket or in-process. A layer below pprc, site and
// server; it depends on nothing else of tzero (only msgpackr, TypeBox and node).
export { WireError, isWireError, type WireErrorCode } from "./errors.js";
export { FrameEncoder, FrameDecoder, FRAME_HEADER_BYTES, FRAME_PAYLOAD_BYTES_MAX_DEFAULT, type DecodedFrame } from "./codec.js";
export { defineMessages, MessageRegistry, type MessageSpec, type MessageSpecs, type BodyOf, type ReplyBodyOf } from "./messages.js";
export { PROTOCOL_VERSION, SITE_KEY_BYTES_MIN } from "./handshake.js";
export { Connection, type ConnectionOptions, type PeerInfo } from "./connection.js";
export { inProcessPair, socketTransport, type Transport, type TransportSink } from "./transport.js";
export { listenTcp, connectTcp, WireServer, DEFAULT_HOST, type ListenOptions, type DialOptions } from "./tcp.js";
export { webSocketTransport, dialWebSocket, acceptWebSocket, connectWebSocket, WEBSOCKET_MESSAGE_BYTES_MAX, type WebSocketDialOptions } from "./websocket.js";

import { Connection, type ConnectionOptions } from "./connection.js";
import type { MessageSpecs } from "./messages.js";
import { inProcessPair } from "./transport.js";

// Two connected ends in this process, with the same semantics as over TCP
// (handshake, validation, heartbeats): for the embedded site and for tests.
export function connectInProcess<S extends MessageSpecs>(dialer: ConnectionOptions<S>, acceptor: ConnectionOptions<S>): [Connection<S>, Connection<S>] {
  const [dialerEnd, acceptorEnd] = inProcessPair(`in-process ${dialer.nodeId}↔${acceptor.nodeId}`);
  return [new Connection(dialerEnd, "dialer", dialer), new Connection(acceptorEnd, "acceptor", acceptor)];
}
