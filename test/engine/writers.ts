// Writer threads for the concurrency tests: real worker threads writing
// through the core while copy workers copy, and the check that establish (or
// resyncflash) was one point in time for them.
import * as assert from "uvu/assert";
import { Worker } from "node:worker_threads";
import type { StorageImage } from "../../src/engine/image.js";
import { coreModule, type CoreBuild } from "../../src/core/core.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import { Random } from "../support/random.js";
import type { WriterData, WriterJob, WriteRecord, WriterResult } from "./fixtures/writer.js";

export interface Writers {
  control: Int32Array;
  relationshipWordBase: number; // control words from here: 1 + a relationship's slot, per pair
  done: Promise<WriterResult[]>;
}

export interface WriterPlan {
  jobs: WriterJob[];
  mode: WriterData["mode"];
  data?: WriterData["data"];
  seed: number;
}

// Control words: [0] stop, [1 + writer] writes done, [1 + writers + writer]
// writes that met a pending track, then `relationshipWords` relationship words.
export function startWriters(image: StorageImage, build: CoreBuild, plans: WriterPlan[], writesMax = 1_000_000, pauseMicros = 0, relationshipWords = 0): Writers {
  const relationshipWordBase = 1 + 2 * plans.length;
  const control = new Int32Array(new SharedArrayBuffer(4 * (relationshipWordBase + relationshipWords)));
  const done = Promise.all(plans.map((plan, index) => new Promise<WriterResult>((resolve, reject) => {
    const threadId = image.threadIds.take();
    const worker = new Worker(new URL("./fixtures/writer.js", import.meta.url), {
      workerData: {
        memory: image.memory, module: coreModule(build), threadId, jobs: plan.jobs, seed: plan.seed,
        lengthMax: 3 * TRACK_SIZE, mode: plan.mode, data: plan.data, control: control.buffer, index, writesMax, pauseMicros, hitsWord: 1 + plans.length + index,
      } satisfies WriterData,
    });
    let result: WriterResult | null = null;
    worker.on("message", (message: WriterResult) => { result = message; });
    worker.on("error", reject);
    worker.on("exit", () => {
      image.core.exports.reap_thread(threadId);
      image.threadIds.release(threadId);
      if (!result) reject(new Error(`writer ${index} exited without its log`));
      else if (result.error !== null) reject(new Error(`writer ${index} got core error ${result.error}`));
      else resolve(result);
    });
  })));
  return { control, relationshipWordBase, done };
}

export async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

// Every write is wholly in the target's T0 image or wholly out of it, and a
// writer's writes are in it up to some point and out of it after.
export function checkOneInstant(image: StorageImage, pairs: string[][], initial: Uint8Array, plans: readonly WriterPlan[], logs: readonly WriteRecord[][], seed: number): void {
  const slot = (id: string) => image.volume(id).slot;
  let inside = 0;
  let outside = 0;
  plans.forEach((plan, index) => {
    const pair = pairs.find(([source]) => slot(source) === plan.jobs[0].slot)!;
    let seenOutside = false;
    for (const write of logs[index]) {
      const onTarget = image.read(pair[1], write.offset, write.length);
      const written = new Random(write.seed).bytes(write.length);
      const before = initial.subarray(write.offset, write.offset + write.length);
      const isIn = Buffer.compare(onTarget, written) === 0;
      const isOut = Buffer.compare(onTarget, before) === 0;
      assert.ok(isIn || isOut, `write of ${write.length} bytes at ${write.offset} on ${pair[0]} is half in the T0 image of ${pair[1]} (seed ${seed})`);
      if (isIn) {
        assert.not.ok(seenOutside, `writer ${index}: a write after T0 is followed by one before it (seed ${seed})`);
        inside++;
      } else {
        seenOutside = true;
        outside++;
      }
    }
  });
  assert.ok(inside > 0, "some writes happened before T0");
  assert.ok(outside > 0, "some writes happened after T0");
}

