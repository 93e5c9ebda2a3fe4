// The pool of background-copy workers of one storage image.
//
// Workers find their work in shared memory (the relationship table), so the
// pool starts them, stops them, and passes on what they report: a copy that
// failed (the relationship it failed on, and the core's code) and a worker
// that ended. A worker that was killed or terminated (a crash from outside)
// is reaped (its locks and gate bits released) and replaced; the tracks it
// was copying are still pending, so they are copied again and nothing is
// lost, and the exit is still reported. A worker whose core aborted (a
// failed assertion of the debug build, a trap) is reaped and not replaced:
// an abort is a bug, which must fail the operation and the tests, not be
// papered over by a fresh thread.
import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { CoreThread, type WaitTimeouts } from "../core/core.js";
import { ThreadIds } from "./threads.js";
import { EXIT_CODE_ABORTED, type CopyWorkerMessage } from "./copy-messages.js";

const RESPAWNS_MAX = 64; // per pool: a worker that keeps dying is a bug, not load
const STOP_TIMEOUT_MS = 2000;
const WORKER_EXITS_KEPT = 32;

// A failed copy step: `message` is set for an abort of the core ("abort")
// and for a worker that failed outside the core ("exit": it could not start).
export interface CopyFailure {
  code: number | "abort" | "exit";
  message: string | null;
  relSlot: number; // -1 when the worker had not yet picked a relationship
  generation: number;
  threadId: number;
  epoch: number | null; // the work epoch before the failed step (copy-messages.ts); null for an abort or exit
}

// A worker that ended while the pool was running.
export interface WorkerExit {
  threadId: number;
  exitCode: number;
  cause: "aborted" | "terminated";
  message: string | null;
  replaced: boolean;
  at: Date;
}

export interface CopyPoolHandlers {
  failure(failure: CopyFailure): void;
  exit(exit: WorkerExit): void;
}

interface PoolWorker {
  worker: Worker;
  threadId: number;
  abort: string | null; // the abort it reported, if any
  reported: boolean; // whether that abort reached the handlers already
  exited: Promise<number>;
}

export class CopyPool {
  private readonly workers: PoolWorker[] = [];
  private respawns = 0;
  private stopping = false;
  private readonly words: Int32Array;
  // The latest unexpected exits, newest last (status and tests read them).
  readonly exits: WorkerExit[] = [];
  // Workers that have attached to the image and started copying.
  readyCount = 0;

  constructor(
    private readonly core: CoreThread,
    private readonly module: WebAssembly.Module,
    private readonly threads: ThreadIds,
    readonly size: number = availableParallelism(),
    private readonly handlers: CopyPoolHandlers = { failure: () => undefined, exit: () => undefined },
    private readonly timeouts: WaitTimeouts = {},
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
      workerData: { memory: this.core.memory, module: this.module, threadId, timeouts: this.timeouts },
    });
    const entry: PoolWorker = {
      worker,
      threadId,
      abort: null,
      reported: false,
      exited: new Promise((resolve) => worker.once("exit", (code) => resolve(code))),
    };
    worker.on("message", (message: CopyWorkerMessage) => this.onMessage(entry, message));
    // An exception outside the core (the worker failed to start, say) is an abort too.
    worker.once("error", (error) => {
      entry.abort ??= `copy worker ${threadId} failed: ${error.message}`;
    });
    void entry.exited.then((code) => this.onExit(entry, code));
    // After the listeners: a 'message' listener refs the worker's port again.
    worker.unref();
    this.workers.push(entry);
  }

  private onMessage(entry: PoolWorker, message: CopyWorkerMessage): void {
    if (message.type === "fault") {
      this.handlers.failure({ code: message.code, message: null, relSlot: message.relSlot, generation: message.generation, threadId: entry.threadId, epoch: message.epoch });
    } else if (message.type === "ready") {
      this.readyCount++;
    } else if (message.type === "abort") {
      entry.abort = message.message;
      entry.reported = true;
      this.handlers.failure({ code: "abort", message: message.message, relSlot: message.relSlot, generation: message.generation, threadId: entry.threadId, epoch: null });
    }
  }

  private onExit(entry: PoolWorker, exitCode: number): void {
    const index = this.workers.indexOf(entry);
    if (index >= 0) this.workers.splice(index, 1);
    // The thread is gone: free whatever it held before anyone reuses its id.
    this.core.exports.reap_thread(entry.threadId);
    this.threads.release(entry.threadId);
    if (this.stopping) return;
    const aborted = entry.abort !== null || exitCode === EXIT_CODE_ABORTED;
    if (entry.abort !== null && !entry.reported) {
      this.handlers.failure({ code: "exit", message: entry.abort, relSlot: -1, generation: 0, threadId: entry.threadId, epoch: null });
    }
    const replaced = !aborted && this.respawns < RESPAWNS_MAX;
    if (replaced) {
      this.respawns++;
      this.spawn();
    }
    const exit: WorkerExit = {
      threadId: entry.threadId, exitCode, cause: aborted ? "aborted" : "terminated",
      message: entry.abort, replaced, at: new Date(),
    };
    this.exits.push(exit);
    if (this.exits.length > WORKER_EXITS_KEPT) this.exits.shift();
    this.handlers.exit(exit);
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
