// Runs raw memory.copy on several threads at once over the same image: the
// copy bandwidth ceiling that N background-copy workers are measured against.
import { Worker } from "node:worker_threads";
import type { StorageImage } from "../../src/engine/index.js";
import { coreModule } from "../../src/core/core.js";
import { ROUND, DONE, STOP, READY, type BulkCopyJob } from "../workers/bulk-copy.js";

const START_TIMEOUT_MS = 10_000;
const ROUND_TIMEOUT_MS = 60_000;
const WAKE_CHECK_MS = 50; // as waitNoPending: a bound on each sleep, not a poll

export class BulkCopyThreads {
  private readonly control = new Int32Array(new SharedArrayBuffer(16));
  private readonly workers: { worker: Worker; threadId: number; exited: Promise<void> }[] = [];

  constructor(private readonly image: StorageImage, jobs: readonly BulkCopyJob[]) {
    for (const job of jobs) {
      const threadId = image.threadIds.take();
      const worker = new Worker(new URL("../workers/bulk-copy.js", import.meta.url), {
        workerData: { memory: image.memory, module: coreModule(), threadId, control: this.control.buffer, job },
      });
      const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      worker.once("error", () => undefined);
      this.workers.push({ worker, threadId, exited });
    }
  }

  // Resolves once every worker has attached (the event loop must turn for workers to start).
  async ready(): Promise<void> {
    const start = performance.now();
    while (Atomics.load(this.control, READY) < this.workers.length) {
      if (performance.now() - start > START_TIMEOUT_MS) throw new Error("bulk-copy workers did not start");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  // One round: every worker copies its job once; returns the wall time in ms.
  // The main thread sleeps on the done word until a worker notifies it, as
  // waitNoPending sleeps on a relationship's pending counter: neither side
  // polls, so both ratios' sides meet the same wake-ups.
  round(): number {
    Atomics.store(this.control, DONE, 0);
    const start = performance.now();
    Atomics.add(this.control, ROUND, 1);
    Atomics.notify(this.control, ROUND);
    for (let done = Atomics.load(this.control, DONE); done < this.workers.length; done = Atomics.load(this.control, DONE)) {
      if (performance.now() - start > ROUND_TIMEOUT_MS) throw new Error("bulk-copy round did not finish");
      Atomics.wait(this.control, DONE, done, WAKE_CHECK_MS);
    }
    return performance.now() - start;
  }

  async close(): Promise<void> {
    Atomics.store(this.control, STOP, 1);
    Atomics.add(this.control, ROUND, 1);
    Atomics.notify(this.control, ROUND);
    await Promise.all(this.workers.map(async ({ worker, exited }) => {
      const timer = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(timer);
    }));
    for (const { threadId } of this.workers) {
      this.image.core.exports.reap_thread(threadId);
      this.image.threadIds.release(threadId);
    }
  }
}
