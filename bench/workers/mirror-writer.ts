// One of the link bench's concurrent writers: a thread of its own on the
// primary image's core, writing `count` 4 KiB blocks at seeded offsets of one
// volume (each returns only once the secondary has acknowledged it, in Full
// Duplex), then posting how long that took and how many writes failed, and
// waiting for the bench's signal to end.
import { parentPort, workerData } from "node:worker_threads";
import { CoreCode } from "../../src/core/codes.js";
import { CoreThread } from "../../src/core/core.js";
import { Xorshift32 } from "../harness/random.js";

export interface MirrorWriterData {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  threadId: number;
  slot: number;
  count: number;
  seed: number;
  blockSlots: number; // 4 KiB blocks it writes: from firstBlock on
  firstBlock?: number; // default 0
  // start[1] counts the writers ready (their core attached, about to wait);
  // all wait on start[0] becoming 1, so they begin together, and end once it is 2.
  start: Int32Array;
}

const WRITE_BYTES = 4096;
const data = workerData as MirrorWriterData;
const core = new CoreThread(data.memory, data.threadId, data.module);
core.staging(WRITE_BYTES).fill(data.seed & 0xff);
const random = new Xorshift32(data.seed);
Atomics.add(data.start, 1, 1);
Atomics.notify(data.start, 1);
Atomics.wait(data.start, 0, 0, 60_000);
let failed = 0;
const started = performance.now();
for (let index = 0; index < data.count; index++) {
  const offset = ((data.firstBlock ?? 0) + (random.next() % data.blockSlots)) * WRITE_BYTES;
  if (core.exports.io_write(data.slot, offset, WRITE_BYTES, core.stagingPointer) !== CoreCode.OK) failed++;
}
parentPort!.postMessage({ ms: performance.now() - started, failed });
// Held until the bench has read the CPU time of the round: the thread's exit
// (its isolate torn down) is no part of what a write costs.
Atomics.wait(data.start, 0, 1, 60_000);
