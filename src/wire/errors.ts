// Errors of the wire protocol. Callers act on `code` (stable); the message
// names the frame, message type or field that was wrong, for people. Every
// connection that closes carries one of these as its cause.

export type WireErrorCode =
  | "FRAME_TOO_LARGE" // a length prefix above the connection's frame size bound (or an empty frame)
  | "BAD_FRAME" // a frame whose payload is not exactly one msgpack value
  | "BAD_MESSAGE" // a frame that decodes but fails its schema: wrong field type, extra field, oversized string or array
  | "UNKNOWN_TYPE" // a message type the registry does not hold
  | "PROTOCOL_VIOLATION" // a well-formed message at the wrong time: an application frame before the handshake, a reply to an id never sent
  | "BAD_VERSION" // the peer speaks another version of the protocol
  | "UNAUTHENTICATED" // the peer sent an application frame, or closed, without proving it holds the site key
  | "AUTH_FAILED" // the peer's proof does not match the site key: it holds another key
  | "HANDSHAKE_TIMEOUT" // the handshake did not complete within its timeout
  | "HEARTBEAT_TIMEOUT" // nothing heard from the peer within the heartbeat timeout
  | "CONNECTION_LOST" // the transport ended without a close frame (a killed peer, a reset)
  | "PEER_CLOSED" // the peer closed the connection cleanly, with a reason
  | "CLOSED" // this end closed the connection
  | "REQUEST_TIMEOUT" // a request had no reply within its timeout (the connection stays open)
  | "TOO_MANY_REQUESTS" // the bound on requests in flight was reached (the connection stays open)
  | "TOO_MANY_CONNECTIONS" // a listener refused a connection above its bound
  | "REMOTE_ERROR" // the peer's handler for a request failed; `remoteCode` says how
  | "NOT_OPEN" // a send or request on a connection whose handshake has not completed, or that closed
  | "BAD_REPLY" // (as a remote code) this end's handler gave a reply that fails its schema
  | "BAD_ARGUMENT"; // a caller's argument: an unknown type to send, a body that fails its schema, a bad option

export interface WireErrorDetails {
  messageType?: string; // the message type at fault
  field?: string; // the JSON path of the field at fault, "/body/tracks/0"
  remoteCode?: string; // for REMOTE_ERROR: the code the peer's handler gave
  cause?: unknown;
}

export class WireError extends Error {
  override readonly name = "WireError";
  readonly messageType?: string;
  readonly field?: string;
  readonly remoteCode?: string;

  constructor(readonly code: WireErrorCode, message: string, details: WireErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.messageType = details.messageType;
    this.field = details.field;
    this.remoteCode = details.remoteCode;
  }

  // True when the connection this error came from is still usable.
  get connectionOpen(): boolean {
    return this.code === "REQUEST_TIMEOUT" || this.code === "TOO_MANY_REQUESTS" || this.code === "REMOTE_ERROR" || this.code === "BAD_ARGUMENT";
  }
}

export function isWireError(error: unknown): error is WireError {
  return error instanceof WireError;
}
