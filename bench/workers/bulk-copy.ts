// A bench worker thread: one bulk copy of its job per round, as raw
// memory.copy calls of RUN_BYTES each (the 1 MiB runs a copy worker moves per
// call), woken and awaited the way the copy workers are: it sleeps on the
// round word until notified, and the last one done notifies the done word.
//
// Control words (Int32Array over a SharedArrayBuffer):
//   0 round: the main thread bumps it to start a round
//   1 done: each worker adds 1 when its copy of the round is over
//   2 stop: set to 1 (and round bumped) to make workers leave
//   3 ready: each worker adds 1 once attached
import { workerData } from "node:worker_threads";
import { CoreThread } from "../../src/core/core.js";

export interface BulkCopyJob {
  target: number;
  source: number;
  length: number;
}

interface BulkCopyData {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  threadId: number;
  control: SharedArrayBuffer;
  job: BulkCopyJob;
}

export const ROUND = 0;
export const DONE = 1;
export const STOP = 2;
export const READY = 3;
export const RUN_BYTES = 1 << 20; // one extent: the longest run a copy worker copies in one call
const ROUNDS_MAX = 1_000_000;
const WAIT_MS = 1000;

const data = workerData as BulkCopyData | null;
if (data) {
  const core = new CoreThread(data.memory, data.threadId, data.module);
  const control = new Int32Array(data.control);
  Atomics.add(control, READY, 1);
  Atomics.notify(control, READY);
  let seen = 0;
  for (let rounds = 0; rounds < ROUNDS_MAX && Atomics.load(control, STOP) === 0; rounds++) {
    const round = Atomics.load(control, ROUND);
    if (round === seen) {
      Atomics.wait(control, ROUND, seen, WAIT_MS);
      continue;
    }
    seen = round;
    if (Atomics.load(control, STOP) !== 0) break;
    const { target, source, length } = data.job;
    for (let offset = 0; offset < length; offset += RUN_BYTES) {
      core.exports.raw_copy(target + offset, source + offset, Math.min(RUN_BYTES, length - offset));
    }
    Atomics.add(control, DONE, 1);
    Atomics.notify(control, DONE);
  }
}
