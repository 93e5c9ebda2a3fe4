// The wire protocol over a WebSocket (ws): the transport of /cs/node on a
// node's HTTP port, where node↔server and server↔backup connections share the
// port with the REST API and the shells.
//
// Each transport write (a frame's header and payload) goes as ONE binary
// WebSocket message, so the receiver usually decodes a frame in place; the
// frame decoder still accepts frames split across or packed into messages,
// since the protocol is a byte stream and a message boundary means nothing to
// it. A text message is not part of the protocol: it ends the transport with
// an error, and the connection closes without delivering anything of it.
//
// Backpressure: ws queues what it cannot write at once and calls each send's
// callback once the bytes have gone to the socket. The bytes not yet called
// back are this transport's buffer; above the high-water mark write() returns
// false, and drain() comes once they fall to the low-water mark.
import WebSocket from "ws";
import { Connection, type ConnectionOptions } from "./connection.js";
import { FRAME_HEADER_BYTES, FRAME_PAYLOAD_BYTES_MAX_DEFAULT } from "./codec.js";
import { WireError } from "./errors.js";
import type { MessageSpecs } from "./messages.js";
import type { Transport, TransportSink } from "./transport.js";

export const WEBSOCKET_HIGH_WATER_BYTES = 1024 * 1024;
export const WEBSOCKET_LOW_WATER_BYTES = WEBSOCKET_HIGH_WATER_BYTES / 4;
// The largest WebSocket message a wire end accepts: one frame of the default bound with its header.
export const WEBSOCKET_MESSAGE_BYTES_MAX = FRAME_PAYLOAD_BYTES_MAX_DEFAULT + FRAME_HEADER_BYTES;
// Codes of RFC 6455 §7.4.1: 1000 normal closure, 1003 unacceptable data (a text message).
const CLOSE_NORMAL = 1000;
const CLOSE_UNSUPPORTED_DATA = 1003;

function joinChunks(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  return Buffer.concat(chunks);
}

// The error a close without a normal code stands for, or null for an orderly end.
function closeError(code: number, reason: Buffer, failure: Error | null): Error | null {
  if (failure !== null) return failure;
  if (code === CLOSE_NORMAL) return null;
  const text = reason.length > 0 ? `: ${reason.toString("utf8")}` : "";
  return Object.assign(new Error(`websocket closed with code ${code}${text}`), { code: `WS_${code}` });
}

// The socket's listeners are set at once, not at attach(): messages that
// arrive before the connection attaches (the peer's hello can come in the
// same read as the upgrade's answer) wait for it, and so does the end. They
// are handed over on a later microtask, never inside attach(), as a socket
// would: the connection writes its own hello after attaching, and must not
// answer the peer's before that.
export function webSocketTransport(socket: WebSocket, description: string): Transport {
  socket.binaryType = "nodebuffer";
  let sink: TransportSink | null = null;
  let early: Uint8Array[] | null = []; // null once handed over: then data goes straight to the sink
  let failure: Error | null = null;
  let endSeen = false;
  let ended = false;
  let unsentBytes = 0;
  let blocked = false;
  const finish = () => {
    endSeen = true;
    if (ended || early !== null) return;
    ended = true;
    sink!.ended(failure);
  };
  const sent = (bytes: number) => {
    unsentBytes -= bytes;
    if (blocked && unsentBytes <= WEBSOCKET_LOW_WATER_BYTES) {
      blocked = false;
      sink?.drain();
    }
  };
  socket.on("message", (data: Buffer, isBinary: boolean) => {
    if (failure !== null || ended) return;
    if (!isBinary) {
      failure = Object.assign(new Error("peer sent a text message; the wire protocol is binary"), { code: "WS_TEXT_MESSAGE" });
      socket.close(CLOSE_UNSUPPORTED_DATA, "binary frames only");
    } else if (early !== null) early.push(data);
    else sink!.data(data);
  });
  socket.on("error", (error) => { failure ??= error; });
  socket.on("close", (code: number, reason: Buffer) => {
    failure = closeError(code, reason, failure);
    finish();
  });
  return {
    description,
    attach(given) {
      sink = given;
      queueMicrotask(() => {
        // Bounded by what came before the handover: later messages go straight to the sink.
        for (const data of early!) if (!ended) given.data(data);
        early = null;
        if (endSeen) finish();
      });
    },
    write(chunks) {
      if (ended || socket.readyState !== WebSocket.OPEN) return false;
      const message = joinChunks(chunks);
      unsentBytes += message.byteLength;
      socket.send(message, { binary: true }, () => sent(message.byteLength));
      if (unsentBytes > WEBSOCKET_HIGH_WATER_BYTES) blocked = true;
      return !blocked;
    },
    end(lingerMs) {
      if (socket.readyState === WebSocket.CLOSED) return;
      socket.close(CLOSE_NORMAL);
      setTimeout(() => socket.terminate(), lingerMs).unref();
    },
    destroy() {
      socket.terminate();
    },
  };
}

// The acceptor's end of a connection on a WebSocket a server took (fastify's
// /cs/node route hands the socket over as soon as the upgrade is done).
export function acceptWebSocket<S extends MessageSpecs>(socket: WebSocket, remote: string, options: ConnectionOptions<S>): Connection<S> {
  return new Connection<S>(webSocketTransport(socket, `ws ${remote} → this node`), "acceptor", options);
}

// Dials `url` (ws:// or wss://) and resolves with the transport once the
// socket is open; rejects with the socket's error (ECONNREFUSED, an HTTP
// status other than 101...).
export function dialWebSocket(url: string, options: { timeoutMs: number; maxPayload?: number; description?: string; ca?: string | Buffer }): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { handshakeTimeout: options.timeoutMs, maxPayload: options.maxPayload ?? WEBSOCKET_MESSAGE_BYTES_MAX, perMessageDeflate: false, ca: options.ca });
    const transport = webSocketTransport(socket, options.description ?? `ws this node → ${url}`);
    const failed = (cause: Error) => {
      socket.off("open", opened);
      socket.terminate();
      reject(cause);
    };
    const opened = () => {
      socket.off("error", failed);
      resolve(transport);
    };
    socket.once("open", opened);
    socket.once("error", failed);
  });
}

export interface WebSocketDialOptions<S extends MessageSpecs> extends ConnectionOptions<S> {
  url: string; // ws:// or wss:// with the endpoint's path: ws://127.0.0.1:8452/cs/node
  connectTimeoutMs?: number; // for the TCP connection and the upgrade; default 5000
  ca?: string | Buffer; // a certificate to trust for wss:// (a site's self-signed one)
}

// Connects and completes the handshake: resolves with the open connection, or
// rejects with the cause (a refused or failed upgrade is CONNECTION_LOST).
export async function connectWebSocket<S extends MessageSpecs>(options: WebSocketDialOptions<S>): Promise<Connection<S>> {
  let transport: Transport;
  try {
    transport = await dialWebSocket(options.url, { timeoutMs: options.connectTimeoutMs ?? 5000, ca: options.ca });
  } catch (error) {
    throw new WireError("CONNECTION_LOST", `could not connect to ${options.url}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  const connection = new Connection<S>(transport, "dialer", options);
  await connection.opened;
  return connection;
}
