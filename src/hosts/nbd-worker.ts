// An NBD endpoint's thread: it listens on the endpoint, negotiates with each
// client (nbd-handshake.ts) and serves its requests (nbd-transmission.ts)
// straight through the core's host path, as a workload thread does, so
// copy-on-write, FlashCopy target reads and write inhibition apply exactly as
// for any host I/O. The main thread sends the exports (the host's volume
// group) whenever they change, and `close`.
import { createServer, type Server, type Socket } from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import { CoreThread, type WaitTimeouts } from "../core/core.js";
import { CoreCode, STAGING_SIZE, coreCodeName } from "../core/codes.js";
import * as N from "./nbd-constants.js";
import { negotiate, ProtocolViolation, type NbdExport } from "./nbd-handshake.js";
import { Transmission, type TransmissionCounters, type VolumeIo } from "./nbd-transmission.js";
import { SocketReader } from "./socket-reader.js";
import { BIG_BUSY_NS, BIG_BYTES, BIG_CONNECTIONS, BIG_IOS, BIG_REFUSED, WORD_CLIENTS } from "./nbd-stats.js";

export type Listen = { host: string; port: number } | { path: string };

export interface NbdWorkerData {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  threadId: number;
  timeouts: WaitTimeouts;
  listen: Listen;
  stats: SharedArrayBuffer;
  exports: NbdExport[];
  hostName: string;
}

export type ToWorker = { type: "exports"; exports: NbdExport[] } | { type: "close" };
export type FromWorker =
  | { type: "listening"; address: string }
  | { type: "listen-failed"; message: string }
  | { type: "log"; text: string }
  | { type: "closed" };

// Incoming bytes a connection may hold unread before its socket is paused:
// a whole write of the largest payload, and its header, twice over.
const BUFFERED_MAX_BYTES = 2 * (N.PAYLOAD_MAX_BYTES + N.REQUEST_HEADER_BYTES);

const data = workerData as NbdWorkerData;
const port = parentPort!;
const core = new CoreThread(data.memory, data.threadId, data.module, false, data.timeouts);
// The endpoint's own figures: connections accepted and refused. Those of a
// connection past its handshake go to its export's host (one buffer per host
// connection, shared by every endpoint the host is reached through).
const endpointBig = new BigInt64Array(data.stats);
let exports: NbdExport[] = data.exports;
const sockets = new Set<Socket>();

function post(message: FromWorker): void {
  port.postMessage(message);
}

// Requests larger than a piece run inside the volume's gate, in pieces, so
// that an establish finds them wholly before or after it.
const io: VolumeIo = {
  read(volume, offset, length, into) {
    if (length <= PIECE_BYTES) return readInto(core.exports.io_read, volume.slot, offset, into);
    return held(volume, (done, count) => readInto(core.exports.io_read_held, volume.slot, offset + done, into.subarray(done, done + count)), length);
  },
  write(volume, offset, bytes) {
    if (bytes.length <= PIECE_BYTES) return writeFrom(core.exports.io_write, volume.slot, offset, bytes);
    return held(volume, (done, count) => writeFrom(core.exports.io_write_held, volume.slot, offset + done, bytes.subarray(done, done + count)), bytes.length);
  },
  zero(volume, offset, length) {
    return core.exports.io_fill(volume.slot, offset, length, 0);
  },
  trim(volume, offset, length) {
    return core.exports.io_trim(volume.slot, offset, length);
  },
  errorOf(volume, code, action) {
    if (code === CoreCode.TGTINHIBIT) return N.NBD_EPERM;
    if (code === CoreCode.NO_SPACE) return N.NBD_ENOSPC;
    if (code === CoreCode.RANGE) return N.NBD_EINVAL;
    post({ type: "log", text: `nbd ${data.hostName}: ${action} of volume ${volume.name} failed with EIO: ${reasonOf(code)}` });
    return N.NBD_EIO;
  },
};

function reasonOf(code: number): string {
  if (code === CoreCode.UNUSABLE) return "the volume is not usable (a FlashCopy onto it was withdrawn before its copy completed)";
  if (code === CoreCode.LONG_BUSY) return "the volume is long busy (a FlashCopy -freeze holds its writes)";
  if (code === CoreCode.NO_VOLUME) return "the volume no longer exists";
  return `the core answered ${coreCodeName(code)} (${code})`;
}

// V8 copies between a Buffer and shared memory a word at a time only where
// both sides have the same alignment, and byte by byte otherwise (several
// times slower for 4 KiB; most payloads sit at odd offsets in their chunk):
// so bytes are staged at the offset that matches theirs.
const ALIGNMENT = 8;
// A piece leaves staging room for that offset, and is whole 512-byte blocks.
const PIECE_BYTES = STAGING_SIZE - N.BLOCK_MIN_BYTES;
type CoreIo = (slot: number, offset: number, length: number, pointer: number) => number;

function readInto(read: CoreIo, slot: number, offset: number, into: Buffer): number {
  const shift = into.byteOffset % ALIGNMENT;
  const code = read(slot, offset, into.length, core.stagingPointer + shift);
  if (code === CoreCode.OK) into.set(core.staging().subarray(shift, shift + into.length));
  return code;
}

function writeFrom(write: CoreIo, slot: number, offset: number, bytes: Buffer): number {
  const shift = bytes.byteOffset % ALIGNMENT;
  core.staging().set(bytes, shift);
  return write(slot, offset, bytes.length, core.stagingPointer + shift);
}

function held(volume: NbdExport, piece: (done: number, count: number) => number, length: number): number {
  const entered = core.exports.io_begin(volume.slot);
  if (entered !== CoreCode.OK) return entered;
  try {
    for (let done = 0; done < length; done += PIECE_BYTES) {
      const code = piece(done, Math.min(PIECE_BYTES, length - done));
      if (code !== CoreCode.OK) return code;
    }
    return CoreCode.OK;
  } finally {
    core.exports.io_end(volume.slot);
  }
}

// Published once per chunk of requests, not per request.
function countersOf(stats: SharedArrayBuffer): TransmissionCounters {
  const big = new BigInt64Array(stats);
  return {
    served(requests, bytes, busyNs) {
      Atomics.add(big, BIG_IOS, BigInt(requests));
      Atomics.add(big, BIG_BYTES, BigInt(bytes));
      Atomics.add(big, BIG_BUSY_NS, BigInt(Math.round(busyNs)));
    },
  };
}

async function serveConnection(socket: Socket): Promise<void> {
  sockets.add(socket);
  socket.setNoDelay(true);
  Atomics.add(endpointBig, BIG_CONNECTIONS, 1n);
  const reader = new SocketReader(socket, BUFFERED_MAX_BYTES);
  let clients: Int32Array | null = null;
  try {
    const negotiated = await negotiate(socket, reader, () => exports);
    if (negotiated === null) return;
    clients = new Int32Array(negotiated.volume.stats, 0, 2);
    Atomics.add(clients, WORD_CLIENTS, 1);
    await new Transmission(socket, reader, negotiated, io, countersOf(negotiated.volume.stats)).serve();
  } catch (error) {
    if (error instanceof ProtocolViolation) {
      Atomics.add(endpointBig, BIG_REFUSED, 1n);
      post({ type: "log", text: `nbd ${data.hostName}: closed a connection from ${socket.remoteAddress ?? "a unix socket"}: ${error.message}` });
    } else if (!(error instanceof Error && "code" in error && error.code === "CONNECTION_CLOSED")) {
      // A trap of the core (the debug build's assertion) ends this connection, said; the endpoint goes on.
      post({ type: "log", text: `nbd ${data.hostName}: closed a connection after an internal error: ${error instanceof Error ? error.message : String(error)}` });
    }
  } finally {
    if (clients !== null) Atomics.sub(clients, WORD_CLIENTS, 1);
    sockets.delete(socket);
    socket.end();
    socket.destroySoon();
  }
}

function listen(): Server {
  const server = createServer({ noDelay: true }, (socket) => void serveConnection(socket));
  server.once("error", (error) => post({ type: "listen-failed", message: error.message }));
  const onListening = () => {
    const address = server.address();
    const text = typeof address === "string" ? address : address === null ? "" : `${address.address}:${address.port}`;
    post({ type: "listening", address: text });
  };
  if ("path" in data.listen) server.listen(data.listen.path, onListening);
  else server.listen(data.listen.port, data.listen.host, onListening);
  return server;
}

const server = listen();

port.on("message", (message: ToWorker) => {
  if (message.type === "exports") exports = message.exports;
  else if (message.type === "close") {
    server.close(() => {
      post({ type: "closed" });
      port.close();
    });
    for (const socket of sockets) socket.destroy();
  }
});
