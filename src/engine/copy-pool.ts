// The pool of background-copy workers of one storage image.
//
// Workers find their work in shared memory (the relationship table), so the
// pool only starts them, stops them, and replaces one that dies: the dead
// thread is reaped (its locks and gate bits released) before a new worker
// takes its place, and the tracks it was copying are still pending, so they
// are copied again. Nothing is lost.
import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { CoreThread } from "../core/core.js";
import { ThreadIds } from "./threads.js";

const RESPAWNS_MAX = 64; // per pool: a worker that keeps dying is a bug, not load
const STOP_TIMEOUT_MS = 2000;

interface PoolWorker {
  worker: Worker;
  threadId: number;
  exited: Promise<void>;
}

export class CopyPool {
  private readonly workers: PoolWorker[] = [];
  private respawns = 0;
  private stopping = false;
  private readonly words: Int32Array;
  errors = 0;

  constructor(
    private readonly core: CoreThread,
    private readonly module: WebAssembly.Module,
    private readonly threads: ThreadIds,
    readonly size: number = availableParallelism(),
  ) {
    this.words = new Int32Array(core.memory.buffer);
  }

  get started(): boolean {
    return this.workers.length > 0;
  }

  get workerCount(): number {
    return this.workers.length;
  }

  // The stop flag is the image's, in shared memory: a pool started after
  // another pool of the same image stopped lowers it again.
  start(): void {
    if (this.stopping || this.workers.length > 0) return;
    Atomics.store(this.words, this.core.exports.stop_flag_pointer() >> 2, 0);
    for (let index = 0; index < this.size; index++) this.spawn();
  }

  private spawn(): void {
    const threadId = this.threads.take();
    const worker = new Worker(new URL("./copy-worker.js", import.meta.url), {
      workerData: { memory: this.core.memory, module: this.module, threadId },
    });
    worker.on("message", (message: { type: string }) => {
      if (message.type === "error") this.errors++;
    });
    const entry: PoolWorker = {
      worker,
      threadId,
      exited: new Promise((resolve) => worker.once("exit", () => resolve())),
    };
    worker.once("error", () => undefined);
    void entry.exited.then(() => this.onExit(entry));
    // After the listeners: a 'message' listener refs the worker's port again.
    worker.unref();
    this.workers.push(entry);
  }

  private onExit(entry: PoolWorker): void {
    const index = this.workers.indexOf(entry);
    if (index >= 0) this.workers.splice(index, 1);
    // The thread is gone: free whatever it held before anyone reuses its id.
    this.core.exports.reap_thread(entry.threadId);
    this.threads.release(entry.threadId);
    if (!this.stopping && this.respawns < RESPAWNS_MAX) {
      this.respawns++;
      this.spawn();
    }
  }

  // Fault injection: terminates one worker as a crash would, wherever it is.
  async terminateWorker(index = 0): Promise<void> {
    const entry = this.workers[index];
    if (!entry) return;
    await entry.worker.terminate();
    await entry.exited;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const stopIndex = this.core.exports.stop_flag_pointer() >> 2;
    const epochIndex = this.core.exports.work_epoch_pointer() >> 2;
    Atomics.store(this.words, stopIndex, 1);
    Atomics.add(this.words, epochIndex, 1);
    Atomics.notify(this.words, epochIndex);
    const pending = this.workers.map(async (entry) => {
      const timer = setTimeout(() => void entry.worker.terminate(), STOP_TIMEOUT_MS);
      await entry.exited;
      clearTimeout(timer);
    });
    await Promise.all(pending);
  }
}
