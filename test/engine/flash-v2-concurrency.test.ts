// Real worker threads and FlashCopy V2: resyncflash is one point in time for
// writers on other threads, and a revertible increment rolls back under load.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageImage } from "../../src/engine/image.js";
import { defaultBuild } from "../../src/core/core.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import { Random, testSeed } from "../support/random.js";
import type { WriteRecord } from "./fixtures/writer.js";
import { startWriters, until, checkOneInstant, type WriterPlan } from "./writers.js";

const MiB = 1 << 20;
const baseSeed = testSeed();
console.log(`concurrency seed ${baseSeed} (TZERO_SEED=${baseSeed} replays the data, not the interleaving)`);


// Two writers per source, each in its own half, always writing fresh bytes;
// `makeT0` runs once every writer has written, and again the writers write.
async function writeAroundT0(image: StorageImage, pairs: string[][], size: number, seed: number, makeT0: () => void): Promise<{ plans: WriterPlan[]; logs: WriteRecord[][] }> {
  const slot = (id: string) => image.volume(id).slot;
  const plans: WriterPlan[] = pairs.flatMap(([source]) => [0, 1].map((half) => ({
    jobs: [{ slot: slot(source), regionStart: half * size / 2, regionEnd: (half + 1) * size / 2 }],
    mode: "fresh" as const, seed: seed * 7 + slot(source) * 2 + half,
  })));
  // Each writer has room for about 340 writes of up to 3 tracks, 200 us apart.
  const writers = startWriters(image, defaultBuild(), plans, 1_000_000, 200);
  let finished = false;
  void writers.done.then(() => { finished = true; }, () => { finished = true; });
  const counts = () => plans.map((_, index) => Atomics.load(writers.control, 1 + index));
  await until(() => counts().every((count) => count >= 5), "every writer has written");
  makeT0();
  const atT0 = counts();
  await until(() => finished || counts().every((count, index) => count >= atT0[index] + 5), "every writer wrote after T0");
  Atomics.store(writers.control, 0, 1);
  return { plans, logs: (await writers.done).map((result) => result.log) };
}

const Resync = suite("resyncflash is one point in time");
Resync("should put each concurrent write wholly in or wholly out of the new T0 image, in write order", async () => {
  const seed = baseSeed + 1;
  const image = new StorageImage({ model: "2107", workers: 2, progressIntervalMs: 5 });
  try {
    const size = 64 * MiB;
    const pairs = [["1000", "1001"], ["1002", "1003"]];
    for (const [source, target] of pairs) {
      image.createVolume({ id: source, capacity: size / 512 });
      image.createVolume({ id: target, capacity: size / 512 });
      image.writePattern(source, 0, size, seed + 1);
      image.establish(source, target, { record: true, persist: true, nocopy: source === "1002" });
    }
    await image.waitForCopy(["1000:1001"], { timeoutMs: 120_000 });
    image.copyTracks("1002:1003", 0, size / TRACK_SIZE);
    const initial = image.read("1000", 0, size);
    const { plans, logs } = await writeAroundT0(image, pairs, size, seed, () => {
      for (const [source, target] of pairs) image.resync(`${source}:${target}`, { record: true, persist: true });
    });
    await image.waitForCopy(["1000:1001"], { timeoutMs: 120_000 });
    checkOneInstant(image, pairs, initial, plans, logs, seed);
  } finally {
    await image.close();
  }
});
Resync("should roll a revertible increment back after host writes copied part of it, then copy it in the background once resynced", async () => {
  const seed = baseSeed + 2;
  const image = new StorageImage({ model: "2107", workers: 2, progressIntervalMs: 5 });
  try {
    const size = 64 * MiB;
    const trackCount = size / TRACK_SIZE;
    image.createVolume({ id: "1000", capacity: size / 512 });
    image.createVolume({ id: "1001", capacity: size / 512 });
    image.writePattern("1000", 0, size, seed);
    image.establish("1000", "1001", { record: true, persist: true });
    await image.waitForCopy(["1000:1001"], { timeoutMs: 120_000 });
    const random = new Random(seed);
    for (let round = 0; round < 3; round++) {
      const before = image.checksum("1001");
      for (let track = 0; track < trackCount; track++) {
        if (random.int(0, 1) === 0) image.writePattern("1000", track * TRACK_SIZE + random.int(0, TRACK_SIZE - 513), 512, (seed + track) >>> 0);
      }
      const changed = image.recordedTracks("1000:1001", "source");
      const armed = image.setRevertible("1000:1001");
      // No background copy while revertible; host writes copy what they touch.
      for (let track = 0; track < trackCount; track += 3) image.writePattern("1000", track * TRACK_SIZE, 512, (seed + track + 7) >>> 0);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(image.core.exports.rel_pending(armed.slot) > 0, "the increment is not copied in the background while revertible");
      assert.ok(image.core.exports.rel_pending(armed.slot) < changed, "host writes copied some of it");
      image.revertRevertible("1000:1001");
      assert.is(image.checksum("1001"), before, `round ${round}: the target is as it was before the increment (seed ${seed})`);
      image.resync("1000:1001", { record: true, persist: true });
      await image.waitForCopy(["1000:1001"], { timeoutMs: 120_000 });
      assert.is(image.checksum("1001"), image.checksum("1000"), `round ${round}: the next increment copies the rolled-back tracks (seed ${seed})`);
    }
  } finally {
    await image.close();
  }
});
Resync.run();
