// A workload thread: host I/O on one volume through the core's host path
// until told to stop, its duration ends, or the core refuses an I/O.
// See workload.ts for the statistics buffer it fills.
import { parentPort, workerData } from "node:worker_threads";
import { CoreThread, type WaitTimeouts } from "../core/core.js";
import {
  BIG_BYTES, BIG_IOS, BIG_MISSED, ERROR_ABORTED, HISTOGRAM_BUCKETS, HISTOGRAM_OFFSET, STATE_FAILED, STATE_FINISHED, WORD_ERROR, WORD_SLEEP,
  WORD_STATE, WORD_STOP, bucketOf, type WorkloadSpec,
} from "./workload.js";

interface WorkloadWorkerData {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  threadId: number;
  stats: SharedArrayBuffer;
  slot: number;
  volumeBytes: number;
  spec: WorkloadSpec;
  timeouts: WaitTimeouts;
}

const FLUSH_EVERY_IOS = 64; // counters reach the main thread at least this often
const PACE_WAIT_MS_MAX = 100; // a paced worker still re-checks stop this often
const PACE_BURST_MAX = 8; // I/Os a paced worker may run back to back to make up for jitter
const MIXED_WRITE_PERCENT = 30;
const HOTSPOT_PERCENT = 90; // of I/Os, to a tenth of the volume

const data = workerData as WorkloadWorkerData;
const { spec } = data;
const core = new CoreThread(data.memory, data.threadId, data.module, false, data.timeouts);
const words = new Int32Array(data.stats, 0, HISTOGRAM_OFFSET / 4);
const big = new BigInt64Array(data.stats, 0, HISTOGRAM_OFFSET / 8);
const histogram = new Int32Array(data.stats, HISTOGRAM_OFFSET, HISTOGRAM_BUCKETS);

// xorshift32: seeded, so a workload's offsets and data replay.
let state = (spec.seed ^ 0x9e3779b9) >>> 0 || 1;
function random(): number {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state;
}

// A block index below `count`: one 32-bit draw while that covers it, two for
// the blocks of volumes beyond 2^32 blocks (a 16 TiB volume has 2^35 of 512 B).
function below(count: number): number {
  if (count <= 2 ** 32) return random() % count;
  return Math.floor(((random() * 2 ** 21 + (random() >>> 11)) / 2 ** 53) * count);
}

const blockCount = Math.floor(data.volumeBytes / spec.blockBytes);
const hotCount = Math.max(1, Math.floor(blockCount / 10));
const hotFirst = below(blockCount - hotCount + 1);
let nextSequential = 0;

function nextBlock(): number {
  if (spec.pattern === "seq") {
    const block = nextSequential;
    nextSequential = (nextSequential + 1) % blockCount;
    return block;
  }
  if (spec.pattern === "hotspot" && random() % 100 < HOTSPOT_PERCENT) return hotFirst + below(hotCount);
  return below(blockCount);
}

function isWrite(): boolean {
  if (spec.rw === "write") return true;
  if (spec.rw === "read") return false;
  return random() % 100 < MIXED_WRITE_PERCENT;
}

// Seeded data in the staging buffer; each write stamps its I/O number on it,
// so no two writes carry the same bytes.
const staging = core.staging(spec.blockBytes);
for (let index = 0; index < staging.length; index++) staging[index] = random() & 0xff;

// Stores the counters where the main thread reads them.
function flush(ios: number, bytes: number, missed: number): void {
  Atomics.store(big, BIG_IOS, BigInt(ios));
  Atomics.store(big, BIG_BYTES, BigInt(bytes));
  Atomics.store(big, BIG_MISSED, BigInt(missed));
}

// A paced workload runs a schedule: I/O number `slot` is due at startedAt +
// slot × pacing, and a duration holds slotCount of them. A worker that fell
// behind (a stalled thread, a save holding I/O) resumes its rate; it does not
// burst to catch up beyond PACE_BURST_MAX I/Os: the older ones it gives up
// and counts as missed, and so are those still due when the duration ends.
// So ios + missed = slotCount however the thread was scheduled, which a test
// can check on a loaded machine where the I/O count alone varies.
function run(): void {
  const startedAt = performance.now();
  const endsAt = spec.durationMs === undefined ? Infinity : startedAt + spec.durationMs;
  const pacing = spec.iopsMax !== undefined && spec.iopsMax > 0 ? 1000 / spec.iopsMax : 0;
  const slotCount = pacing > 0 && spec.durationMs !== undefined ? Math.ceil((spec.durationMs * (spec.iopsMax ?? 0)) / 1000) : Infinity;
  let ios = 0;
  let bytes = 0;
  let slot = 0;
  let missed = 0;
  for (;;) {
    if (Atomics.load(words, WORD_STOP) !== 0) break;
    const now = performance.now();
    if (now >= endsAt) {
      if (pacing > 0) missed += Math.max(0, slotCount - slot);
      break;
    }
    if (pacing > 0) {
      const due = slot < slotCount ? startedAt + slot * pacing : endsAt;
      if (due > now) {
        Atomics.wait(words, WORD_SLEEP, 0, Math.min(due - now, PACE_WAIT_MS_MAX, endsAt - now));
        continue;
      }
      const resume = Math.min(slotCount, Math.ceil((now - pacing * PACE_BURST_MAX - startedAt) / pacing));
      if (resume > slot) {
        missed += resume - slot;
        slot = resume;
        continue;
      }
      slot++;
    }
    const offset = nextBlock() * spec.blockBytes;
    const write = isWrite();
    if (write) {
      staging[0] = ios & 0xff;
      staging[1] = (ios >>> 8) & 0xff;
    }
    const before = performance.now();
    const code = write
      ? core.exports.io_write(data.slot, offset, spec.blockBytes, core.stagingPointer)
      : core.exports.io_read(data.slot, offset, spec.blockBytes, core.stagingPointer);
    const after = performance.now();
    if (code < 0) {
      Atomics.store(words, WORD_ERROR, code);
      flush(ios, bytes, missed);
      Atomics.store(words, WORD_STATE, STATE_FAILED);
      return;
    }
    Atomics.add(histogram, bucketOf((after - before) * 1e6), 1);
    ios++;
    bytes += spec.blockBytes;
    if (ios % FLUSH_EVERY_IOS === 0) flush(ios, bytes, missed);
  }
  flush(ios, bytes, missed);
  Atomics.store(words, WORD_STATE, STATE_FINISHED);
}

// A trap of the core (a failed assertion of the debug build) fails the
// workload with its message; the thread then ends and is reaped.
try {
  run();
} catch (error) {
  Atomics.store(words, WORD_ERROR, ERROR_ABORTED);
  Atomics.store(words, WORD_STATE, STATE_FAILED);
  parentPort?.postMessage({ type: "abort", message: error instanceof Error ? error.message : String(error) });
}
