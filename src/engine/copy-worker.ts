// A background-copy worker: copies pending tracks of any active
// background-copy relationship of its image until told to stop.
//
// A copy step that fails is reported to the pool (copy-pool.ts) with the
// relationship it worked on; the core holds that relationship (copy.ts), so
// the worker goes on with other work instead of failing on it again. A trap
// of the core (a failed assertion of the debug build, unreachable) leaves
// this thread's instance untrustworthy: the worker reports it and ends with
// EXIT_CODE_ABORTED, and the pool reaps it without replacing it.
import { parentPort, workerData } from "node:worker_threads";
import { CoreThread, type WaitTimeouts } from "../core/core.js";
import { EXIT_CODE_ABORTED, type CopyAbortMessage, type CopyFaultMessage } from "./copy-messages.js";

interface CopyWorkerData {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  threadId: number;
  timeouts: WaitTimeouts;
}

const IDLE_WAIT_MS = 100;
// After a failure the core could not hold (at the gate), the host holds the
// relationship once it reads the report; until then this worker pauses.
const UNHELD_FAULT_WAIT_MS = 10;

const data = workerData as CopyWorkerData;
const core = new CoreThread(data.memory, data.threadId, data.module, false, data.timeouts);
const words = new Int32Array(data.memory.buffer);
const epochIndex = core.exports.work_epoch_pointer() >> 2;
const stopIndex = core.exports.stop_flag_pointer() >> 2;

function step(): number | null {
  try {
    return core.exports.copy_step();
  } catch (error) {
    const report: CopyAbortMessage = {
      type: "abort",
      message: error instanceof Error ? error.message : String(error),
      relSlot: core.exports.copy_working_rel(),
      generation: core.exports.copy_working_generation(),
    };
    parentPort?.postMessage(report);
    return null;
  }
}

function report(code: number, epoch: number): void {
  const relSlot = core.exports.copy_working_rel();
  const fault: CopyFaultMessage = { type: "fault", code, relSlot, generation: core.exports.copy_working_generation(), epoch };
  parentPort?.postMessage(fault);
  if (relSlot < 0 || core.exports.rel_copy_held(relSlot) === 0) Atomics.wait(words, stopIndex, 0, UNHELD_FAULT_WAIT_MS);
}

parentPort?.postMessage({ type: "ready", threadId: data.threadId });
while (Atomics.load(words, stopIndex) === 0) {
  const epoch = Atomics.load(words, epochIndex);
  const copied = step();
  if (copied === null) process.exit(EXIT_CODE_ABORTED);
  if (copied > 0) continue;
  if (copied < 0) {
    report(copied, epoch);
    continue;
  }
  // No work: sleep until establish bumps the epoch (bounded, to re-check stop).
  Atomics.wait(words, epochIndex, epoch, IDLE_WAIT_MS);
}
