// Establish while copy workers are already copying: writer threads write to
// the sources and the targets before and during each establish, copy workers
// run through it (copying an earlier pair), and each relationship ends by
// itself once its copy is done, while the writers still write. Every target
// must then be its source's T0 image plus its own later writes. And the debug
// core's check behind that: a request whose relationship links change while
// it is inside its volume's gate aborts.
//
// Rounds per build: T0_ROUNDS (by default 2 on the release core and 1 on the
// slower debug core, so that the file takes about 15 s on a loaded machine);
// builds: T0_BUILDS (default "release,debug"). A soak:
//   T0_ROUNDS=200 T0_BUILDS=release node scripts/test.mjs establish-race
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageImage, type Relationship } from "../../src/engine/image.js";
import { CoreThread, type CoreBuild } from "../../src/core/core.js";
import { CoreCode, TRACK_SIZE } from "../../src/core/codes.js";
import { testSeed } from "../support/random.js";
import { startWriters, until, checkCopiedPairs, mismatchWithEveryCut, replay, type Cut } from "./writers.js";

const MiB = 1 << 20;
const SIZE = 32 * MiB;
const PAIRS = [["1000", "1100"], ["1001", "1101"], ["1002", "1102"]];
const DRAIN_MS = 10_000;
const CUTS_MAX = 10_000; // candidate cuts a pair's check may try
const HITS_MIN = 5; // writes per writer that must meet a pending track before the held copies go on
// Between a writer's writes: fewer writes fall between the two readings
// around an establish when the main thread is descheduled there.
const WRITE_PAUSE_MICROS = 100;
const baseSeed = testSeed();
console.log(`establish-race seed ${baseSeed} (TZERO_SEED=${baseSeed} replays the data, not the interleaving)`);

function rounds(build: CoreBuild): number {
  const text = process.env.T0_ROUNDS ?? (build === "release" ? "2" : "1");
  if (!/^[1-9]\d*$/.test(text)) throw new Error(`T0_ROUNDS must be a whole number of rounds above 0, not "${text}"`);
  return Number(text);
}

function builds(): CoreBuild[] {
  const names = (process.env.T0_BUILDS ?? "release,debug").split(",");
  for (const name of names) {
    if (name !== "release" && name !== "debug") throw new Error(`T0_BUILDS lists "${name}": each entry must be release or debug`);
  }
  return names as CoreBuild[];
}

function createPairs(image: StorageImage, initialSeed: (id: string) => number): void {
  for (const pair of PAIRS) {
    for (const id of pair) {
      image.createVolume({ id, capacity: SIZE / 512 });
      image.writePattern(id, 0, SIZE, initialSeed(id));
    }
  }
}

// Establishes every pair while the writers write, each between two readings
// of their write counts. The copy of the first pair goes on at once, so copy
// workers run through the later establishes; the later pairs' copies are held
// (the core's own hold, as for a failed copy) until the writers have met their
// pending tracks, so that the race happens however the machine schedules threads.
// The image's drain bound is long (DRAIN_MS), so that an establish waits out
// a copy worker descheduled inside the source's gate on a loaded machine
// instead of failing: the writers wait at the frozen gate meanwhile, so few
// writes fall between the two readings. (Retrying a timed-out drain from the
// event loop, as the host does, lets them run between tries: thousands of
// cuts to check.)
function establishAll(image: StorageImage, counts: () => number[], relationshipWord: (index: number) => number, control: Int32Array): { cuts: Cut[][]; held: Relationship[] } {
  const held: Relationship[] = [];
  const cuts: Cut[][] = [];
  for (const [index, [source, target]] of PAIRS.entries()) {
    const before = counts();
    const relationship = image.establish(source, target);
    const after = counts();
    if (index > 0) {
      const exports = image.core.exports;
      assert.is(exports.rel_hold_copy(relationship.slot, exports.rel_generation(relationship.slot)), CoreCode.OK, `hold the copy of ${relationship.id}`);
      held.push(relationship);
    }
    Atomics.store(control, relationshipWord(index), relationship.slot + 1);
    cuts.push(before.map((count, writer) => ({ before: count, after: after[writer] })));
  }
  return { cuts, held };
}

async function establishWhileCopying(build: CoreBuild, seed: number): Promise<void> {
  const image = new StorageImage({ model: "2107", workers: 2, progressIntervalMs: 5, build, waitTimeouts: { drain: DRAIN_MS } });
  const scratch = new StorageImage({ workers: 0 });
  try {
    scratch.createVolume({ id: "0000", capacity: SIZE / 512 });
    const initialSeed = (id: string) => (seed + parseInt(id, 16)) >>> 0;
    createPairs(image, initialSeed);
    const slot = (id: string) => image.volume(id).slot;
    const jobs = (side: 0 | 1) => PAIRS.map((pair, index) => ({ slot: slot(pair[side]), regionStart: 0, regionEnd: SIZE, relationshipWord: 5 + index }));
    const writers = startWriters(image, build, [
      { jobs: jobs(0), mode: "overwrite", data: "pattern", seed: seed * 3 },
      { jobs: jobs(1), mode: "overwrite", data: "pattern", seed: seed * 5 },
    ], 1_000_000, WRITE_PAUSE_MICROS, PAIRS.length);
    const counts = () => [1, 2].map((word) => Atomics.load(writers.control, word));
    const hits = () => [3, 4].map((word) => Atomics.load(writers.control, word));
    await until(() => counts().every((count) => count >= 5), "both writers have written");
    const { cuts, held } = establishAll(image, counts, (index) => writers.relationshipWordBase + index, writers.control);
    await until(() => hits().every((count) => count >= HITS_MIN), "both writers met pending tracks");
    // The writers alone may have settled every track of a held pair meanwhile; it has ended by itself then.
    for (const relationship of held.filter((pair) => image.hasRelationship(pair.id))) {
      assert.is(image.core.exports.rel_release_copy(relationship.slot), CoreCode.OK, `release the copy of ${relationship.id}`);
    }
    await image.waitForCopy(undefined, { timeoutMs: 120_000 });
    // A pair ends at the poll after its copy completes, or later when that withdraw could not drain in time.
    await until(() => image.listRelationships().length === 0, "every relationship ends by itself once copied");
    Atomics.store(writers.control, 0, 1);
    const [sources, targets] = await writers.done;
    console.log(`${build} core, seed ${seed}: ${sources.pendingHits} of ${sources.log.length} source writes and ${targets.pendingHits} of ${targets.log.length} target writes met a pending track`);
    assert.ok(sources.pendingHits >= HITS_MIN, `source writes met ${sources.pendingHits} pending tracks (seed ${seed})`);
    assert.ok(targets.pendingHits >= HITS_MIN, `target writes met ${targets.pendingHits} pending tracks (seed ${seed})`);
    PAIRS.forEach(([source, target], index) => {
      const [sourceCut, targetCut] = cuts[index];
      const candidates = (sourceCut.after - sourceCut.before + 2) * (targetCut.after - targetCut.before + 2);
      assert.ok(candidates <= CUTS_MAX, `establish of ${source}:${target} let ${candidates} cuts of the logs through, more than the ${CUTS_MAX} the check tries (seed ${seed})`);
    });
    checkCopiedPairs(image, scratch, { pairs: PAIRS, cuts, sources: sources.log, targets: targets.log, initialSeed, size: SIZE }, seed);
  } finally {
    await image.close();
    await scratch.close();
  }
}

// A writer thread blocked inside its request (at a track lock of the source
// held by a stalled thread) while the relationship links of its volume
// change: the gate would never let that happen, so the test opens it by
// reaping the live writer, which drops its gate bit. Returns how the writer ended.
async function linksChangeUnderWrite(build: CoreBuild): Promise<{ error: Error | null; writes: number }> {
  const image = new StorageImage({ model: "2107", workers: 0, build });
  try {
    for (const id of ["1000", "1001", "1002"]) image.createVolume({ id, capacity: 4 * TRACK_SIZE / 512 });
    image.writePattern("1000", 0, 4 * TRACK_SIZE, 11);
    image.establish("1000", "1001");
    const source = image.volume("1000").slot;
    const stalled = new CoreThread(image.memory, image.threadIds.take(), image.core.module);
    assert.is(stalled.exports.fault_hold_track_lock(source, 0), CoreCode.OK);
    // One write within track 0 of the source, which is pending: it waits for the held lock.
    const writers = startWriters(image, build, [
      { jobs: [{ slot: source, regionStart: 0, regionEnd: TRACK_SIZE }], mode: "overwrite", data: "pattern", seed: 5, lengthMax: TRACK_SIZE / 2 },
    ], 1);
    await until(() => stalled.exports.fault_track_lock_waited(source, 0) === 1, "the writer waits for the track lock");
    assert.is(image.core.exports.reap_thread(writers.threadIds[0]), CoreCode.OK);
    image.establish("1000", "1002");
    // The new relationship's bitmap leaf of track 0 exists before the writer copies on write for it.
    image.write("1002", TRACK_SIZE, new Uint8Array(1));
    assert.is(stalled.exports.fault_release_track_lock(source, 0), CoreCode.OK);
    try {
      const [result] = await writers.done;
      return { error: null, writes: result.log.length };
    } catch (error) {
      return { error: error as Error, writes: 0 };
    }
  } finally {
    await image.close();
  }
}

// The check itself, on logs made up here: the image of some cut passes, and
// one byte changed anywhere fails it, inside the tracks a cut can reach or not.
async function cutCheck(): Promise<void> {
  const scratch = new StorageImage({ workers: 0 });
  try {
    const size = 16 * TRACK_SIZE;
    scratch.createVolume({ id: "0000", capacity: size / 512 });
    const write = (slot: number, track: number, length: number, seed: number) => ({ slot, offset: track * TRACK_SIZE + 100, length, seed });
    const source = { seed: 1, slot: 7, log: [write(7, 0, 5000, 2), write(7, 3, TRACK_SIZE, 3), write(7, 5, 9000, 4), write(7, 8, 10, 5)] };
    const target = { seed: 9, slot: 8, log: [write(8, 1, 300, 6), write(8, 5, 200, 7), write(8, 10, 20, 8)] };
    // The T0 image holds the first 3 source writes; the target kept its writes from the second on.
    scratch.writePattern("0000", 0, size, source.seed);
    replay(scratch, source.log, source.slot, 0, 3);
    replay(scratch, target.log, target.slot, 1);
    const actual = scratch.read("0000", 0, size);
    const sourceCut = { before: 1, after: 3 };
    const targetCut = { before: 0, after: 1 };
    assert.is(mismatchWithEveryCut(actual, scratch, source, target, sourceCut, targetCut), "");
    const changed = (offset: number) => {
      const copy = actual.slice();
      copy[offset] ^= 1;
      return mismatchWithEveryCut(copy, scratch, source, target, sourceCut, targetCut);
    };
    assert.match(changed(5 * TRACK_SIZE + 150), /^closest: \d source writes in T0 \(of 1\.\.4\), target writes kept from \d \(of 0\.\.2\); 1 tracks differ \(5\); the first byte that differs, 327830,/);
    assert.match(changed(12 * TRACK_SIZE), /^no cut reaches the tracks that differ: .* 1 tracks differ \(12\)/);
    assert.is.not(mismatchWithEveryCut(actual, scratch, source, target, { before: 0, after: 1 }, targetCut), "", "a T0 image with the third source write is not one of the first two cuts");
  } finally {
    await scratch.close();
  }
}

const Cuts = suite("the check of a target against every cut of the write logs");
Cuts("should pass the image of one cut and fail it with any one byte changed", cutCheck);
Cuts.run();

const Links = suite("relationship links that change under a request inside the gate");
Links("should abort the debug core's write when they change", async () => {
  const { error } = await linksChangeUnderWrite("debug");
  assert.ok(error !== null, "the write aborted");
  assert.match(error.message, /relationship links changed while a request was inside its gate/);
});
Links("should cost the release core nothing: it has no such check, and the write completes", async () => {
  const { error, writes } = await linksChangeUnderWrite("release");
  assert.is(error, null);
  assert.is(writes, 1);
});
Links.run();

for (const build of builds()) {
  const Race = suite(`establish while copy workers copy and threads write (${build} core)`);
  for (let round = 0; round < rounds(build); round++) {
    const seed = (baseSeed + round) >>> 0;
    Race(`should leave every target its source's T0 image plus its own later writes, each pair ending by itself (round ${round}, seed ${seed})`, () => establishWhileCopying(build, seed));
  }
  Race.run();
}
