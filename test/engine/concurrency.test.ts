// Real worker threads: copy workers copying while writer threads write to the
// sources and targets of several relationships; establish as one point in
// time for writers on other threads; a copy worker killed mid-copy. Every
// suite runs on the release core and on the debug core.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageImage } from "../../src/engine/image.js";
import { CopyPool } from "../../src/engine/copy-pool.js";
import { coreModule, type CoreBuild } from "../../src/core/core.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import { Random, testSeed } from "../support/random.js";
import { startWriters, until, checkOneInstant, checkCopiedPairs } from "./writers.js";
import { rangeChecksum } from "../../src/model/checksum.js";

// A long drain bound: an establish waits out a writer thread descheduled
// inside a volume's gate on a loaded machine, instead of failing with
// DRAIN_TIMEOUT after the default 50 ms (the host retries such an establish;
// these tests check the T0 image, not the retry).
const DRAIN_MS = 10_000;

const MiB = 1 << 20;
const baseSeed = testSeed();
console.log(`concurrency seed ${baseSeed} (TZERO_SEED=${baseSeed} replays the data, not the interleaving)`);

const Thin = suite("background copy of a thin 2 TiB volume while threads write");
Thin("should copy the written regions, settle the rest as zeros, and keep T0 plus the target's writes", async () => {
  const seed = baseSeed;
  const image = new StorageImage({ model: "2107", workers: 2, progressIntervalMs: 5 , waitTimeouts: { drain: DRAIN_MS } });
  try {
    const size = 2 * 2 ** 40 + 7 * 512;
    const region = 8 * MiB;
    // Regions at the start, across the first 4 GiB boundary, inside, and at the very end.
    const starts = [0, 2 ** 32 - region / 2, 2 ** 40 + 3 * MiB, size - region];
    image.createVolume({ id: "1000", capacity: size / 512 });
    image.createVolume({ id: "1100", capacity: size / 512 });
    starts.forEach((start, index) => image.writePattern("1000", start, region, seed + index));
    const old = 2 ** 40 + 64 * MiB;
    image.writePattern("1100", old, region, seed + 9); // old target data, zeros after the copy
    const t0 = starts.map((start) => image.read("1000", start, region));
    image.establish("1000", "1100");
    const slot = (id: string) => image.volume(id).slot;
    const jobs = (id: string) => starts.map((start) => ({ slot: slot(id), regionStart: start, regionEnd: start + region }));
    const writers = startWriters(image, "release", [
      { jobs: jobs("1000"), mode: "overwrite", seed: seed * 3 },
      { jobs: jobs("1100"), mode: "overwrite", seed: seed * 5 },
    ], 300);
    const [, { log: targetLog }] = await writers.done;
    await image.waitForCopy(undefined, { timeoutMs: 120_000 });
    assert.is(image.listRelationships().length, 0, "the background copy ends");
    const expected = new Map<number, Uint8Array>();
    starts.forEach((start, index) => {
      const bytes = t0[index].slice();
      for (const write of targetLog) {
        if (write.offset >= start && write.offset < start + region) bytes.set(new Random(write.seed).bytes(write.length), write.offset - start);
      }
      expected.set(start, bytes);
      assert.ok(Buffer.compare(image.read("1100", start, region), bytes) === 0, `target region at ${start} is T0 plus its writes (seed ${seed})`);
    });
    assert.ok(image.read("1100", old, region).every((byte) => byte === 0), "the target's old data outside the regions reads as the source's zeros");
    const read = (offset: number, length: number): Uint8Array => {
      const bytes = new Uint8Array(length);
      for (const [start, data] of expected) {
        const low = Math.max(offset, start);
        const high = Math.min(offset + length, start + region);
        if (low < high) bytes.set(data.subarray(low - start, high - start), low - offset);
      }
      return bytes;
    };
    const tracks = new Set(starts.flatMap((start) => Array.from({ length: region / TRACK_SIZE + 1 }, (_, index) => Math.floor(start / TRACK_SIZE) + index)));
    const hash = (bytes: Uint8Array): bigint => {
      image.core.staging().set(bytes);
      return BigInt.asUintN(64, image.core.exports.hash_memory(image.core.stagingPointer, bytes.length));
    };
    assert.is(image.checksum("1100"), rangeChecksum(0, size, read, tracks, hash), `whole target checksum (seed ${seed})`);
  } finally {
    await image.close();
  }
});
Thin.run();

async function copyWhileWriting(build: CoreBuild, seed: number): Promise<void> {
  const image = new StorageImage({ model: "2107", workers: 0, progressIntervalMs: 5, build , waitTimeouts: { drain: DRAIN_MS } });
  const scratch = new StorageImage({ workers: 0, build });
  try {
    const size = 32 * MiB;
    scratch.createVolume({ id: "0000", capacity: size / 512 });
    const pairs = [["1000", "1100"], ["1001", "1101"], ["1002", "1102"]];
    const initialSeed = (id: string) => (seed + parseInt(id, 16)) >>> 0;
    for (const [source, target] of pairs) {
      image.createVolume({ id: source, capacity: size / 512 });
      image.createVolume({ id: target, capacity: size / 512 });
      image.writePattern(source, 0, size, initialSeed(source));
      image.writePattern(target, 0, size, initialSeed(target));
    }
    const slot = (id: string) => image.volume(id).slot;
    const jobs = (side: 0 | 1) => pairs.map((pair, index) => ({ slot: slot(pair[side]), regionStart: 0, regionEnd: size, relationshipWord: 5 + index }));
    const writers = startWriters(image, build, [
      { jobs: jobs(0), mode: "overwrite", data: "pattern", seed: seed * 3 },
      { jobs: jobs(1), mode: "overwrite", data: "pattern", seed: seed * 5 },
    ], 1_000_000, 0, pairs.length);
    const counts = () => [1, 2].map((word) => Atomics.load(writers.control, word));
    await until(() => counts().every((count) => count >= 5), "both writers have written");
    const cuts = pairs.map(([source, target], index) => {
      const before = counts();
      const relationship = image.establish(source, target);
      const after = counts();
      Atomics.store(writers.control, writers.relationshipWordBase + index, relationship.slot + 1);
      return before.map((count, writer) => ({ before: count, after: after[writer] }));
    });
    // The copy workers start only once both writers have met pending tracks,
    // so that the race under test happens however the machine schedules threads.
    const hits = () => [3, 4].map((word) => Atomics.load(writers.control, word));
    await until(() => hits().every((count) => count >= 5), "both writers met pending tracks");
    const pool = new CopyPool(image.core, coreModule(build), image.threadIds, 2);
    pool.start();
    try {
      await image.waitForCopy(undefined, { timeoutMs: 120_000 });
    } finally {
      await pool.stop();
    }
    Atomics.store(writers.control, 0, 1);
    const [sources, targets] = await writers.done;
    assert.is(image.listRelationships().length, 0, "every background copy ends");
    console.log(`${build} core, seed ${seed}: ${sources.pendingHits} of ${sources.log.length} source writes and ${targets.pendingHits} of ${targets.log.length} target writes met a pending track`);
    assert.ok(sources.pendingHits > 0, `no source write met a pending track (seed ${seed})`);
    assert.ok(targets.pendingHits > 0, `no target write met a pending track (seed ${seed})`);
    checkCopiedPairs(image, scratch, { pairs, cuts, sources: sources.log, targets: targets.log, initialSeed, size }, seed);
  } finally {
    await image.close();
    await scratch.close();
  }
}

async function establishAmidWrites(build: CoreBuild): Promise<void> {
  const seed = baseSeed;
  const image = new StorageImage({ workers: 2, progressIntervalMs: 5, build , waitTimeouts: { drain: DRAIN_MS } });
  try {
    const size = 64 * MiB;
    const pairs = [["1000", "1001"], ["1002", "1003"]];
    for (const [source, target] of pairs) {
      image.createVolume({ id: source, capacity: size / 512 });
      image.createVolume({ id: target, capacity: size / 512 });
      image.writePattern(source, 0, size, seed + 1);
    }
    const initial = image.read("1000", 0, size);
    const slot = (id: string) => image.volume(id).slot;
    // Two writers per source, each in its own half, always writing fresh bytes.
    const plans = pairs.flatMap(([source]) => [0, 1].map((half) => ({
      jobs: [{ slot: slot(source), regionStart: half * size / 2, regionEnd: (half + 1) * size / 2 }],
      mode: "fresh" as const, seed: seed * 7 + slot(source) * 2 + half,
    })));
    // Each writer has room for about 340 writes of up to 3 tracks, 200 us apart.
    const writers = startWriters(image, build, plans, 1_000_000, 200);
    let finished = false;
    void writers.done.then(() => { finished = true; }, () => { finished = true; });
    const counts = () => plans.map((_, index) => Atomics.load(writers.control, 1 + index));
    await until(() => counts().every((count) => count >= 5), "every writer has written");
    for (const [source, target] of pairs) image.establish(source, target, { nocopy: source === "1002" });
    const atEstablish = counts();
    await until(() => finished || counts().every((count, index) => count >= atEstablish[index] + 5), "every writer wrote after establish");
    Atomics.store(writers.control, 0, 1);
    const logs = (await writers.done).map((result) => result.log);
    checkOneInstant(image, pairs, initial, plans, logs, seed);
    await image.waitForCopy(["1000:1001"], { timeoutMs: 120_000 });
  } finally {
    await image.close();
  }
}

async function copyThroughKilledWorkers(build: CoreBuild): Promise<void> {
  const image = new StorageImage({ workers: 2, progressIntervalMs: 5, build , waitTimeouts: { drain: DRAIN_MS } });
  try {
    const size = 256 * MiB;
    image.createVolume({ id: "1000", capacity: size / 512 });
    image.createVolume({ id: "1001", capacity: size / 512 });
    image.writePattern("1000", 0, size, baseSeed);
    image.fill("1001", 0, size, 0x55); // target memory touched before timing-sensitive kills
    const t0 = image.checksum("1000");
    const trackCount = size / TRACK_SIZE;
    for (let kill = 0; kill < 3; kill++) {
      image.establish("1000", "1001", { persist: true });
      const pending = () => image.core.exports.rel_pending(image.relationship("1000:1001").slot);
      const threshold = trackCount - Math.floor(((kill + 1) * trackCount) / 8);
      await until(() => pending() <= threshold, "the copy is under way", 60_000);
      const pendingAtKill = pending();
      await image.pool.terminateWorker(kill % 2);
      await image.waitForCopy(["1000:1001"], { timeoutMs: 120_000 });
      assert.ok(pendingAtKill > 0, "the worker was killed while tracks were pending");
      assert.is(image.checksum("1001"), t0, `copy ${kill}: target equals the source's T0 image`);
      assert.is(image.pool.workerCount, 2, "the pool replaced the dead worker");
      image.withdraw("1000:1001");
      image.fill("1001", 0, size, kill);
    }
  } finally {
    await image.close();
  }
}

// Both builds: the debug core checks the invariants the release core compiles out.
for (const build of ["release", "debug"] as const) {
  const Copy = suite(`background copy while threads write (${build} core)`);
  for (let round = 0; round < 3; round++) {
    const seed = baseSeed + round;
    Copy(`should leave every target equal to a T0 image plus its own writes, with writes meeting pending tracks (seed ${seed})`, () => copyWhileWriting(build, seed));
  }
  Copy.run();

  const Instant = suite(`establish is one point in time (${build} core)`);
  Instant("should put each concurrent write wholly in or wholly out of the T0 image, in write order", () => establishAmidWrites(build));
  Instant.run();

  const Crash = suite(`a copy worker terminated mid-copy (${build} core)`);
  Crash("should still complete the copy with nothing lost", () => copyThroughKilledWorkers(build));
  Crash.run();
}
