// A background-copy worker: copies pending tracks of any active
// background-copy relationship of its image until told to stop.
import { parentPort, workerData } from "node:worker_threads";
import { CoreThread } from "../core/core.js";

interface CopyWorkerData {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  threadId: number;
}

const IDLE_WAIT_MS = 100;
const ERROR_BACKOFF_MS = 10;

const data = workerData as CopyWorkerData;
const core = new CoreThread(data.memory, data.threadId, data.module);
const words = new Int32Array(data.memory.buffer);
const epochIndex = core.exports.work_epoch_pointer() >> 2;
const stopIndex = core.exports.stop_flag_pointer() >> 2;

parentPort?.postMessage({ type: "ready", threadId: data.threadId });
while (Atomics.load(words, stopIndex) === 0) {
  const epoch = Atomics.load(words, epochIndex);
  const copied = core.exports.copy_step();
  if (copied > 0) continue;
  if (copied < 0) {
    parentPort?.postMessage({ type: "error", code: copied });
    Atomics.wait(words, stopIndex, 0, ERROR_BACKOFF_MS);
    continue;
  }
  // No work: sleep until establish bumps the epoch (bounded, to re-check stop).
  Atomics.wait(words, epochIndex, epoch, IDLE_WAIT_MS);
}
