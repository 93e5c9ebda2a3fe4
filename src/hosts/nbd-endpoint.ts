// An NBD endpoint, seen from the main thread: the worker thread that serves
// it (nbd-worker.ts), its address, its figures, the images whose volumes it
// may serve (one thread id of each), and the exports it offers, updated
// whenever a host's volume group or a volume's state changes. A host
// connection's own endpoint serves its image; the node's default endpoint
// (default-endpoint.ts), every image of the node.
import { Worker } from "node:worker_threads";
import type { StorageImage } from "../engine/image.js";
import { EngineError } from "../engine/errors.js";
import type { NbdExport } from "./nbd-handshake.js";
import { readCounters, STATS_BYTES, type EndpointCounters } from "./nbd-stats.js";
import type { FromWorker, Listen, NbdWorkerData, ToWorker } from "./nbd-worker.js";
import type { ImageCore } from "./nbd-volume-io.js";

export type { Listen };
export type NbdLog = (line: string) => void;

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

// "127.0.0.1:10809", "[::1]:10809" or a unix socket path ("/tmp/tzero.sock", "./a.sock").
export function parseEndpoint(text: string): Listen {
  if (text.includes("/")) return { path: text };
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  if (match === null) throw new EngineError("BAD_ARGUMENT", `NBD endpoint ${text} is neither HOST:PORT nor a unix socket path (one with a /)`);
  const port = Number(match[3]);
  if (port > 65535) throw new EngineError("BAD_ARGUMENT", `NBD endpoint ${text}: port ${port} is not from 0 to 65535`);
  return { host: match[1] ?? match[2], port };
}

export function newStats(): SharedArrayBuffer {
  return new SharedArrayBuffer(STATS_BYTES);
}

export class NbdEndpoint {
  private readonly worker: Worker;
  private readonly threads = new Map<StorageImage, number>(); // the thread id the worker has on each image
  private closing: Promise<void> | null = null;
  readonly exited: Promise<void>;
  address = "";

  private constructor(
    images: readonly StorageImage[], listen: Listen, exports: NbdExport[], hostName: string, private readonly log: NbdLog, private readonly stats: SharedArrayBuffer,
  ) {
    const workerData: NbdWorkerData = { images: images.map((image) => this.coreOf(image)), listen, stats: this.stats, exports, hostName };
    this.worker = new Worker(new URL("./nbd-worker.js", import.meta.url), { workerData });
    this.worker.on("message", (message: FromWorker) => {
      if (message.type === "log") this.log(message.text);
    });
    this.exited = new Promise((resolve) => {
      this.worker.once("exit", () => {
        // The thread is gone: free whatever it held before its ids are reused.
        for (const [image, threadId] of this.threads) {
          image.core.exports.reap_thread(threadId);
          image.threadIds.release(threadId);
        }
        resolve();
      });
    });
    this.worker.on("error", (error) => this.log(`nbd ${hostName}: the endpoint's thread failed: ${error.message}`));
  }

  private coreOf(image: StorageImage): ImageCore {
    const threadId = image.threadIds.take();
    this.threads.set(image, threadId);
    return { imageId: image.id, memory: image.memory, module: image.core.module, threadId, timeouts: image.waitTimeouts };
  }

  // Lets the exports name volumes of `image` too (an image added to the node), from the next setExports on.
  addImage(image: StorageImage): void {
    if (this.threads.has(image) || this.closing !== null) return;
    this.post({ type: "image", image: this.coreOf(image) });
  }

  // Resolves once it listens; rejects (and leaves nothing running) when it
  // cannot. `stats` takes the endpoint's own figures (connections accepted
  // and refused); each export's figures go to the buffer the export names.
  static async start(
    images: readonly StorageImage[], listen: Listen, exports: NbdExport[], hostName: string, log: NbdLog, stats = newStats(),
  ): Promise<NbdEndpoint> {
    const endpoint = new NbdEndpoint(images, listen, exports, hostName, log, stats);
    const where = "path" in listen ? listen.path : `${listen.host}:${listen.port}`;
    const outcome = await new Promise<FromWorker | "timeout" | "exit">((resolve) => {
      const timer = setTimeout(() => resolve("timeout"), START_TIMEOUT_MS);
      endpoint.worker.on("message", (message: FromWorker) => {
        if (message.type === "listening" || message.type === "listen-failed") {
          clearTimeout(timer);
          resolve(message);
        }
      });
      void endpoint.exited.then(() => resolve("exit"));
    });
    if (typeof outcome === "object" && outcome.type === "listening") {
      endpoint.address = "path" in listen ? listen.path : outcome.address;
      return endpoint;
    }
    await endpoint.close();
    const why = outcome === "timeout" ? `it did not listen within ${START_TIMEOUT_MS} ms` : outcome === "exit" ? "its thread ended" : (outcome as { message: string }).message;
    throw new EngineError("BAD_ARGUMENT", `cannot listen for NBD on ${where}: ${why}`);
  }

  setExports(exports: NbdExport[]): void {
    this.post({ type: "exports", exports });
  }

  counters(): EndpointCounters {
    return readCounters(this.stats);
  }

  private post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.post({ type: "close" });
      const timer = setTimeout(() => void this.worker.terminate(), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    })();
    return this.closing;
  }
}
