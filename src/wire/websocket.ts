// The wire protocol over a WebSocket (ws): each write is one binary message
// holding the frames' bytes, in order; the connection's own length prefixes
// still delimit its frames, so a message may hold several frames and the
// decoder never depends on how the bytes were cut.
//
// Backpressure: ws queues what it cannot send at once and counts it in
// bufferedAmount. A write that leaves more than the high-water mark queued
// returns false, and drain() follows once a send callback finds the queue
// below the mark again.
import { WebSocket } from "ws";
import type { Transport, TransportSink } from "./transport.js";

export const WEBSOCKET_HIGH_WATER_BYTES = 1024 * 1024;

// The socket's listeners are set at once, not at attach(): messages that
// arrive before the connection attaches (the peer's hello can come in the
// same read as the upgrade's answer) wait for it.
export function webSocketTransport(socket: WebSocket, description: string): Transport {
  let sink: TransportSink | null = null;
  const early: Uint8Array[] = [];
  let ended = false;
  let endSeen = false;
  let drainOwed = false;
  let error: Error | null = null;
  const finish = () => {
    endSeen = true;
    if (ended || sink === null) return;
    ended = true;
    sink.ended(error);
  };
  const sent = () => {
    if (!drainOwed || socket.bufferedAmount > WEBSOCKET_HIGH_WATER_BYTES) return;
    drainOwed = false;
    sink?.drain();
  };
  socket.binaryType = "nodebuffer";
  socket.on("message", (data: Buffer, isBinary: boolean) => {
    // A text message is no frame of ours: its bytes go on, and the decoder refuses them.
    const bytes = isBinary ? data : Buffer.from(data);
    if (sink === null) early.push(bytes);
    else if (!ended) sink.data(bytes);
  });
  socket.on("error", (cause) => { error = cause; });
  socket.on("close", finish);
  return {
    description,
    attach(given) {
      sink = given;
      for (const bytes of early.splice(0)) given.data(bytes);
      if (endSeen) finish();
    },
    write(chunks) {
      if (ended || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(Buffer.concat(chunks.map((chunk) => Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))), { binary: true }, sent);
      if (socket.bufferedAmount <= WEBSOCKET_HIGH_WATER_BYTES) return true;
      drainOwed = true;
      return false;
    },
    end(lingerMs) {
      if (socket.readyState === WebSocket.CLOSED) return;
      socket.close(1000);
      setTimeout(() => socket.terminate(), lingerMs).unref();
    },
    destroy() {
      socket.terminate();
    },
  };
}

// Dials `url` (ws:// or wss://) and resolves with the transport once the
// socket is open; rejects with the socket's error (ECONNREFUSED, an HTTP
// status other than 101...).
export function dialWebSocket(url: string, options: { timeoutMs: number; maxPayload: number; description?: string }): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { handshakeTimeout: options.timeoutMs, maxPayload: options.maxPayload, perMessageDeflate: false });
    const transport = webSocketTransport(socket, options.description ?? `websocket → ${url}`);
    const failed = (cause: Error) => {
      socket.off("open", opened);
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
