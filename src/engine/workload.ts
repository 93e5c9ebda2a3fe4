// Host I/O workloads: worker threads reading and writing a volume through the
// core's host path (the same copy-on-write and read-redirect as any host),
// with live statistics in a small shared buffer and a latency histogram.
//
// Shared statistics buffer (one per workload), little-endian:
//
//   byte  0  i32  stop        main → worker: 1 asks the worker to stop
//   byte  4  i32  state       worker → main: 0 running, 1 finished, 2 failed
//   byte  8  i32  error       worker → main: the core code that failed it (ERROR_ABORTED: the core trapped)
//   byte 12  i32  sleep       a word nobody notifies: the worker waits on it to pace I/O
//   byte 16  i64  ios         I/Os completed
//   byte 24  i64  bytes       bytes moved
//   byte 32  i64  missed      paced I/Os given up because the worker fell behind (see workload-worker.ts)
//   byte 40  ...  (reserved to byte 64)
//   byte 64  i32 × HISTOGRAM_BUCKETS  latency histogram in nanoseconds (see bucketOf)
//
// The worker is the only writer of every field but `stop`.
import { Worker } from "node:worker_threads";
import { STAGING_SIZE } from "../core/codes.js";
import { EngineError } from "./errors.js";
import { coreError } from "./core-errors.js";
import type { StorageImage } from "./image.js";

export type WorkloadMix = "read" | "write" | "mixed";
export type WorkloadPattern = "random" | "seq" | "hotspot";

export interface WorkloadSpec {
  name: string;
  volumeId: string;
  rw: WorkloadMix;
  pattern: WorkloadPattern;
  blockBytes: number;
  iopsMax?: number; // 0 or absent: as fast as it goes
  durationMs?: number; // absent: until stopped
  seed: number;
}

// Live figures of a workload (the shape src/lang/presenter.ts shows).
export interface WorkloadStats {
  name: string;
  volumeId: string;
  running: boolean;
  iops: number;
  bytesPerSecond: number;
  p50Micros: number;
  p99Micros: number;
  ios: number;
}

export const WORD_STOP = 0;
export const WORD_STATE = 1;
export const WORD_ERROR = 2;
export const WORD_SLEEP = 3;
export const BIG_IOS = 2; // BigInt64 index of byte 16
export const BIG_BYTES = 3; // BigInt64 index of byte 24
export const BIG_MISSED = 4; // BigInt64 index of byte 32
export const HISTOGRAM_OFFSET = 64;

// Latency buckets: exact below 32 ns, then 16 buckets per power of two up to
// 2^31 ns (2.1 s; longer latencies count in the last bucket). A bucket's
// width is 1/16 of its power of two, so a percentile is within 6.25%.
const LINEAR_BUCKETS = 32;
const SUB_BUCKET_BITS = 4;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
const FIRST_EXPONENT = 5; // 2^5 = LINEAR_BUCKETS
const LAST_EXPONENT = 30;
export const HISTOGRAM_BUCKETS = LINEAR_BUCKETS + (LAST_EXPONENT - FIRST_EXPONENT + 1) * SUB_BUCKETS;
export const STATS_BYTES = HISTOGRAM_OFFSET + HISTOGRAM_BUCKETS * 4;

export const STATE_RUNNING = 0;
export const STATE_FINISHED = 1;
export const STATE_FAILED = 2;
// In the error word: the core trapped (a failed assertion of the debug
// build); the worker posts the trap's message and ends.
export const ERROR_ABORTED = 1;

export function bucketOf(nanos: number): number {
  const value = Math.min(Math.max(0, Math.floor(nanos)), 0x7fffffff);
  if (value < LINEAR_BUCKETS) return value;
  const exponent = 31 - Math.clz32(value);
  const sub = (value >>> (exponent - SUB_BUCKET_BITS)) & (SUB_BUCKETS - 1);
  return LINEAR_BUCKETS + (exponent - FIRST_EXPONENT) * SUB_BUCKETS + sub;
}

// The middle of a bucket, in nanoseconds.
export function bucketMiddle(index: number): number {
  if (index < LINEAR_BUCKETS) return index;
  const exponent = FIRST_EXPONENT + Math.floor((index - LINEAR_BUCKETS) / SUB_BUCKETS);
  const sub = (index - LINEAR_BUCKETS) % SUB_BUCKETS;
  const width = 2 ** (exponent - SUB_BUCKET_BITS);
  return (SUB_BUCKETS + sub) * width + width / 2;
}

export function percentileNanos(histogram: Int32Array, fraction: number): number {
  let total = 0;
  for (let index = 0; index < histogram.length; index++) total += Atomics.load(histogram, index);
  if (total === 0) return 0;
  const rank = Math.max(1, Math.ceil(total * fraction));
  let seen = 0;
  for (let index = 0; index < histogram.length; index++) {
    seen += Atomics.load(histogram, index);
    if (seen >= rank) return bucketMiddle(index);
  }
  return bucketMiddle(histogram.length - 1);
}

const RATE_WINDOW_MS = 1000;
const STOP_TIMEOUT_MS = 2000;

export class Workload {
  readonly words: Int32Array;
  readonly big: BigInt64Array;
  readonly histogram: Int32Array;
  readonly done: Promise<void>;
  readonly startedAt = performance.now();
  private endedAt: number | null = null;
  private worker: Worker;
  private window = { at: this.startedAt, ios: 0, bytes: 0, iops: 0, bytesPerSecond: 0, sampled: false };
  error: EngineError | null = null;

  constructor(readonly image: StorageImage, readonly spec: WorkloadSpec) {
    const volume = image.volume(spec.volumeId);
    const buffer = new SharedArrayBuffer(STATS_BYTES);
    this.words = new Int32Array(buffer, 0, HISTOGRAM_OFFSET / 4);
    this.big = new BigInt64Array(buffer, 0, HISTOGRAM_OFFSET / 8);
    this.histogram = new Int32Array(buffer, HISTOGRAM_OFFSET, HISTOGRAM_BUCKETS);
    const threadId = image.threadIds.take();
    this.worker = new Worker(new URL("./workload-worker.js", import.meta.url), {
      workerData: {
        memory: image.memory, module: image.core.module, threadId, stats: buffer,
        slot: volume.slot, volumeBytes: volume.sizeBytes, spec, timeouts: image.waitTimeouts,
      },
    });
    // Not unref'd: a running workload keeps the process alive until stopped or done.
    this.worker.on("message", (message: { type: string; message?: string }) => {
      if (message.type === "abort") {
        this.error = new EngineError("CORE_ABORT", `workload ${spec.name} on volume ${spec.volumeId} stopped: the core aborted (${message.message})`);
      }
    });
    this.worker.once("error", (error) => {
      this.error ??= new EngineError("WORKER_EXITED", `workload ${spec.name} on volume ${spec.volumeId} crashed: ${error.message}`);
    });
    this.done = new Promise((resolve) => {
      this.worker.once("exit", () => {
        this.endedAt = performance.now();
        // The thread is gone: free whatever it held before its id is reused.
        image.core.exports.reap_thread(threadId);
        image.threadIds.release(threadId);
        this.error ??= this.failure();
        resolve();
      });
    });
  }

  get running(): boolean {
    return this.endedAt === null;
  }

  // What the worker wrote when the core refused an I/O; read from the shared
  // words, so that a failure shows at once, before the thread has ended.
  private failure(): EngineError | null {
    if (Atomics.load(this.words, WORD_STATE) !== STATE_FAILED) return null;
    const code = Atomics.load(this.words, WORD_ERROR);
    if (code === ERROR_ABORTED) return null; // its message comes as an 'abort' message
    return coreError(code, `do I/O on volume ${this.spec.volumeId} for workload ${this.spec.name}`, this.image.waitTimeouts);
  }

  // running, then finished (its duration ended), stopped (on request) or failed.
  get state(): "running" | "finished" | "stopped" | "failed" {
    if (this.error || Atomics.load(this.words, WORD_STATE) === STATE_FAILED) return "failed";
    if (this.running) return "running";
    return Atomics.load(this.words, WORD_STOP) !== 0 ? "stopped" : "finished";
  }

  // Why it failed (null unless it did), as soon as the worker has said so.
  get failureReason(): string | null {
    const error = this.error ?? this.failure();
    if (error) return error.message;
    return this.state === "failed" ? "the core aborted; the worker is ending" : null;
  }

  async stop(): Promise<void> {
    Atomics.store(this.words, WORD_STOP, 1);
    Atomics.notify(this.words, WORD_SLEEP);
    const timer = setTimeout(() => void this.worker.terminate(), STOP_TIMEOUT_MS);
    await this.done;
    clearTimeout(timer);
  }

  get ios(): number {
    return Number(Atomics.load(this.big, BIG_IOS));
  }

  get bytes(): number {
    return Number(Atomics.load(this.big, BIG_BYTES));
  }

  // Of a paced workload (-iops): the I/Os of its schedule it gave up, having
  // fallen behind (its thread stalled). A paced workload that ran for its
  // whole duration has ios + missed = the I/Os its rate asks for in it.
  get missed(): number {
    return Number(Atomics.load(this.big, BIG_MISSED));
  }

  // Rates over the last second while running; over the whole run once ended.
  stats(): WorkloadStats {
    const ios = this.ios;
    const bytes = this.bytes;
    const now = this.endedAt ?? performance.now();
    let iops: number;
    let bytesPerSecond: number;
    if (this.endedAt !== null || now - this.startedAt < RATE_WINDOW_MS) {
      const seconds = Math.max(now - this.startedAt, 1) / 1000;
      iops = ios / seconds;
      bytesPerSecond = bytes / seconds;
    } else {
      if (now - this.window.at >= RATE_WINDOW_MS) {
        const seconds = (now - this.window.at) / 1000;
        this.window = {
          at: now, ios, bytes, iops: (ios - this.window.ios) / seconds, bytesPerSecond: (bytes - this.window.bytes) / seconds, sampled: true,
        };
      }
      const seconds = Math.max(now - this.startedAt, 1) / 1000;
      iops = this.window.sampled ? this.window.iops : ios / seconds;
      bytesPerSecond = this.window.sampled ? this.window.bytesPerSecond : bytes / seconds;
    }
    return {
      name: this.spec.name,
      volumeId: this.spec.volumeId,
      running: this.running,
      iops,
      bytesPerSecond,
      p50Micros: percentileNanos(this.histogram, 0.5) / 1000,
      p99Micros: percentileNanos(this.histogram, 0.99) / 1000,
      ios,
    };
  }
}

export const WORKLOAD_BLOCK_MIN = 512;
export const WORKLOAD_BLOCK_MAX = STAGING_SIZE;

// The workloads of a session, by name.
export class WorkloadSet {
  private readonly workloads = new Map<string, Workload>();

  start(image: StorageImage, spec: WorkloadSpec): Workload {
    const existing = this.workloads.get(spec.name);
    if (existing?.running) throw new EngineError("BUSY", `workload ${spec.name} is already running; stop it first`);
    const volume = image.volume(spec.volumeId);
    checkSpec(spec, volume.sizeBytes);
    const workload = new Workload(image, spec);
    this.workloads.set(spec.name, workload);
    return workload;
  }

  get(name: string): Workload | undefined {
    return this.workloads.get(name);
  }

  keys(): IterableIterator<string> {
    return this.workloads.keys();
  }

  list(): Workload[] {
    return [...this.workloads.values()];
  }

  // Running workloads on a volume of an image (a volume must not go while one runs).
  runningOn(image: StorageImage, volumeId: string): Workload[] {
    return this.list().filter((workload) => workload.running && workload.image === image && workload.spec.volumeId === volumeId);
  }

  stats(): WorkloadStats[] {
    return this.list().map((workload) => workload.stats());
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.list().map((workload) => workload.stop()));
  }
}

function checkSpec(spec: WorkloadSpec, volumeBytes: number): void {
  const { blockBytes } = spec;
  if (!Number.isInteger(blockBytes) || blockBytes < WORKLOAD_BLOCK_MIN || blockBytes > WORKLOAD_BLOCK_MAX) {
    throw new EngineError("BAD_ARGUMENT", `workload ${spec.name}: block size ${blockBytes} is not from ${WORKLOAD_BLOCK_MIN} to ${WORKLOAD_BLOCK_MAX} bytes`);
  }
  if (blockBytes > volumeBytes) {
    throw new EngineError("BAD_ARGUMENT", `workload ${spec.name}: block size ${blockBytes} is larger than volume ${spec.volumeId} (${volumeBytes} bytes)`);
  }
  if (spec.iopsMax !== undefined && (!Number.isFinite(spec.iopsMax) || spec.iopsMax < 0)) {
    throw new EngineError("BAD_ARGUMENT", `workload ${spec.name}: -iops ${spec.iopsMax} is not a number from 0`);
  }
  if (spec.durationMs !== undefined && (!Number.isFinite(spec.durationMs) || spec.durationMs <= 0)) {
    throw new EngineError("BAD_ARGUMENT", `workload ${spec.name}: -duration must be longer than 0`);
  }
  if (!Number.isInteger(spec.seed) || spec.seed < 0 || spec.seed > 0xffffffff) {
    throw new EngineError("BAD_ARGUMENT", `workload ${spec.name}: seed ${spec.seed} is not a whole number from 0 to 4294967295`);
  }
}
