// An NBD endpoint's thread: it listens on the endpoint, negotiates with each
// client (nbd-handshake.ts) and serves its requests (nbd-transmission.ts)
// straight through the core's host path, as a workload thread does, so
// copy-on-write, FlashCopy target reads and write inhibition apply exactly as
// for any host I/O. The main thread sends the exports (the host's volume
// group) whenever they change, and `close`.
import { createServer, type Server, type Socket } from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import * as N from "./nbd-constants.js";
import { negotiate, ProtocolViolation, type NbdExport } from "./nbd-handshake.js";
import { Transmission, type TransmissionCounters } from "./nbd-transmission.js";
import { CoreVolumeIo, type ImageCore } from "./nbd-volume-io.js";
import { SocketReader } from "./socket-reader.js";
import { BIG_BUSY_NS, BIG_BYTES, BIG_CONNECTIONS, BIG_IOS, BIG_QUEUED_PEAK, BIG_REFUSED, WORD_CLIENTS } from "./nbd-stats.js";

export type Listen = { host: string; port: number } | { path: string };

export interface NbdWorkerData {
  images: ImageCore[]; // every image whose volumes the exports may name
  listen: Listen;
  stats: SharedArrayBuffer;
  exports: NbdExport[];
  hostName: string;
}

// An image is sent before any exports that name it.
export type ToWorker = { type: "exports"; exports: NbdExport[] } | { type: "image"; image: ImageCore } | { type: "close" };
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
// The core on each image, by image ID.
const cores = new Map<string, CoreVolumeIo>();
// The endpoint's own figures: connections accepted and refused. Those of a
// connection past its handshake go to its export's host (one buffer per host
// connection, shared by every endpoint the host is reached through).
const endpointBig = new BigInt64Array(data.stats);
let exports: NbdExport[] = data.exports;
const sockets = new Set<Socket>();

function post(message: FromWorker): void {
  port.postMessage(message);
}

function bind(image: ImageCore): void {
  cores.set(image.imageId, new CoreVolumeIo(image, (text) => post({ type: "log", text: `nbd ${data.hostName}: ${text}` })));
}

for (const image of data.images) bind(image);

// Published once per chunk of requests, not per request.
function countersOf(stats: SharedArrayBuffer): TransmissionCounters {
  const big = new BigInt64Array(stats);
  return {
    served(requests, bytes, busyNs) {
      Atomics.add(big, BIG_IOS, BigInt(requests));
      Atomics.add(big, BIG_BYTES, BigInt(bytes));
      Atomics.add(big, BIG_BUSY_NS, BigInt(Math.round(busyNs)));
    },
    queued(peakBytes) {
      const peak = BigInt(peakBytes);
      for (let seen = Atomics.load(big, BIG_QUEUED_PEAK); seen < peak;) {
        const found = Atomics.compareExchange(big, BIG_QUEUED_PEAK, seen, peak);
        if (found === seen) break;
        seen = found;
      }
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
    const io = cores.get(negotiated.volume.imageId);
    if (io === undefined) throw new Error(`export ${negotiated.volume.fullName} names image ${negotiated.volume.imageId}, which this endpoint was not given`);
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
  else if (message.type === "image") bind(message.image);
  else if (message.type === "close") {
    server.close(() => {
      post({ type: "closed" });
      port.close();
    });
    for (const socket of sockets) socket.destroy();
  }
});
