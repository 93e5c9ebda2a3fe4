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
  threadIds: number[]; // each writer's core thread id
  done: Promise<WriterResult[]>;
}

export interface WriterPlan {
  jobs: WriterJob[];
  mode: WriterData["mode"];
  data?: WriterData["data"];
  seed: number;
  lengthMax?: number; // bytes a write may span; 3 tracks unless given
  lengthMin?: number; // bytes a write spans at least; 1 unless given
}

// Control words: [0] stop, [1 + writer] writes done, [1 + writers + writer]
// writes that met a pending track, then `relationshipWords` relationship words.
export function startWriters(image: StorageImage, build: CoreBuild, plans: WriterPlan[], writesMax = 1_000_000, pauseMicros = 0, relationshipWords = 0): Writers {
  const relationshipWordBase = 1 + 2 * plans.length;
  const control = new Int32Array(new SharedArrayBuffer(4 * (relationshipWordBase + relationshipWords)));
  const threadIds = plans.map(() => image.threadIds.take());
  const done = Promise.all(plans.map((plan, index) => new Promise<WriterResult>((resolve, reject) => {
    const threadId = threadIds[index];
    const worker = new Worker(new URL("./fixtures/writer.js", import.meta.url), {
      workerData: {
        memory: image.memory, module: coreModule(build), threadId, jobs: plan.jobs, seed: plan.seed,
        lengthMax: plan.lengthMax ?? 3 * TRACK_SIZE, lengthMin: plan.lengthMin, mode: plan.mode, data: plan.data, control: control.buffer, index, writesMax, pauseMicros, hitsWord: 1 + plans.length + index,
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
  return { control, relationshipWordBase, threadIds, done };
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

// Establish is one point in time, but the writers run through it: their
// writes numbered below `before` (completed when establish began) are in the
// T0 image, those from `after + 1` on (begun once establish had returned) are
// not, and the few between may be either. The target must equal one of those
// few cuts of the source's log, overlaid with the target writes after some cut
// of the target's log. Candidates are rebuilt with the core's own pattern
// writes on a volume of a scratch image.
export interface Cut { before: number; after: number }

export interface PatternVolume { seed: number; slot: number; log: readonly WriteRecord[] }

export function replay(scratch: StorageImage, writes: readonly WriteRecord[], slot: number, from: number, to = writes.length): void {
  for (const write of writes.slice(from, to)) if (write.slot === slot) scratch.writePattern("0000", write.offset, write.length, write.seed);
}

// Tracks where `actual`, from byte `start` on, differs from `expected`.
function differingTracks(actual: Uint8Array, expected: Uint8Array, start = 0): number[] {
  const tracks: number[] = [];
  for (let offset = 0; offset < expected.byteLength; offset += TRACK_SIZE) {
    const end = Math.min(offset + TRACK_SIZE, expected.byteLength);
    if (Buffer.compare(actual.subarray(start + offset, start + end), expected.subarray(offset, end)) !== 0) tracks.push((start + offset) / TRACK_SIZE);
  }
  return tracks;
}

// The writes of a log that cover one byte offset, "index@offset+length", for a failure message.
function covering(log: readonly WriteRecord[], slot: number, offset: number): string {
  return log.flatMap((write, index) => write.slot === slot && write.offset <= offset && offset < write.offset + write.length
    ? [`${index}@${write.offset}+${write.length}`] : []).join(" ") || "none";
}

type ByteRange = readonly [start: number, end: number];

// The whole tracks under the writes of each log to its volume, as sorted,
// merged byte ranges, clipped to the image's size.
function trackRanges(logs: ReadonlyArray<readonly [writes: readonly WriteRecord[], slot: number]>, size: number): ByteRange[] {
  const tracks = new Set<number>();
  for (const [writes, slot] of logs) {
    for (const write of writes) {
      if (write.slot !== slot) continue;
      const last = Math.floor((write.offset + write.length - 1) / TRACK_SIZE);
      for (let track = Math.floor(write.offset / TRACK_SIZE); track <= last; track++) tracks.add(track);
    }
  }
  const ranges: Array<[number, number]> = [];
  for (const track of [...tracks].sort((a, b) => a - b)) {
    const previous = ranges[ranges.length - 1];
    if (previous !== undefined && previous[1] === track * TRACK_SIZE) previous[1] += TRACK_SIZE;
    else ranges.push([track * TRACK_SIZE, (track + 1) * TRACK_SIZE]);
  }
  return ranges.map(([start, end]) => [start, Math.min(end, size)] as const);
}

// Replays the part of each write that falls in `range`: a pattern's bytes
// depend only on the seed and the volume offset, so the part is exact.
function replayWithin(scratch: StorageImage, writes: readonly WriteRecord[], slot: number, from: number, to: number, [start, end]: ByteRange): void {
  for (const write of writes.slice(from, to)) {
    if (write.slot !== slot) continue;
    const low = Math.max(write.offset, start);
    const high = Math.min(write.offset + write.length, end);
    if (low < high) scratch.writePattern("0000", low, high - low, write.seed);
  }
}

// The bytes of `range` of one candidate: the source's first `sourceWrites`
// writes, then the target's writes from `targetWrites` on.
function candidateWithin(scratch: StorageImage, source: PatternVolume, target: PatternVolume, sourceWrites: number, targetWrites: number, range: ByteRange): Uint8Array {
  scratch.writePattern("0000", range[0], range[1] - range[0], source.seed);
  replayWithin(scratch, source.log, source.slot, 0, sourceWrites, range);
  replayWithin(scratch, target.log, target.slot, targetWrites, target.log.length, range);
  return scratch.read("0000", range[0], range[1] - range[0]);
}

function describeMismatch(actual: Uint8Array, expectedAt: (offset: number) => number, tracks: readonly number[], source: PatternVolume, target: PatternVolume): string {
  let offset = tracks[0] * TRACK_SIZE;
  while (actual[offset] === expectedAt(offset)) offset++;
  return `${tracks.length} tracks differ (${tracks.slice(0, 8).join(", ")}); the first byte that differs, ${offset}, is under source writes ${covering(source.log, source.slot, offset)} and target writes ${covering(target.log, target.slot, offset)}`;
}

// "" when the target matches a cut; otherwise how it differs from the closest one.
// Candidates differ from each other only on the tracks of the writes that may
// fall either side of a cut, so the whole image is compared once, with the
// first candidate, and each candidate then only on those tracks.
export function mismatchWithEveryCut(actual: Uint8Array, scratch: StorageImage, source: PatternVolume, target: PatternVolume, sourceCut: Cut, targetCut: Cut): string {
  const size = actual.byteLength;
  const sourceLast = Math.min(sourceCut.after + 1, source.log.length);
  const targetLast = Math.min(targetCut.after + 1, target.log.length);
  const cuts = `(of ${sourceCut.before}..${sourceCut.after + 1}), target writes kept from`;
  scratch.writePattern("0000", 0, size, source.seed);
  replay(scratch, source.log, source.slot, 0, sourceCut.before);
  replay(scratch, target.log, target.slot, targetCut.before);
  const first = scratch.read("0000", 0, size);
  if (Buffer.compare(actual, first) === 0) return "";
  const ranges = trackRanges([[source.log.slice(sourceCut.before, sourceLast), source.slot], [target.log.slice(targetCut.before, targetLast), target.slot]], size);
  const inRanges = (track: number) => ranges.some(([start, end]) => track * TRACK_SIZE >= start && track * TRACK_SIZE < end);
  const beyondEveryCut = differingTracks(actual, first).filter((track) => !inRanges(track));
  if (beyondEveryCut.length > 0) {
    return `no cut reaches the tracks that differ: with ${sourceCut.before} source writes in T0 ${cuts} ${targetCut.before} (of ${targetCut.before}..${targetCut.after + 1}), ` +
      describeMismatch(actual, (offset) => first[offset], beyondEveryCut, source, target);
  }
  let mismatch = "no cut to try";
  let fewest = Infinity;
  for (let sourceWrites = sourceCut.before; sourceWrites <= sourceLast; sourceWrites++) {
    for (let targetWrites = targetCut.before; targetWrites <= targetLast; targetWrites++) {
      const expected = ranges.map((range) => candidateWithin(scratch, source, target, sourceWrites, targetWrites, range));
      const tracks = ranges.flatMap((range, index) => differingTracks(actual, expected[index], range[0]));
      if (tracks.length === 0) return "";
      if (tracks.length >= fewest) continue;
      fewest = tracks.length;
      const expectedAt = (offset: number) => {
        const index = ranges.findIndex(([start, end]) => offset >= start && offset < end);
        return expected[index][offset - ranges[index][0]];
      };
      mismatch = `closest: ${sourceWrites} source writes in T0 ${cuts} ${targetWrites} (of ${targetCut.before}..${targetCut.after + 1}); ` +
        describeMismatch(actual, expectedAt, tracks, source, target);
    }
  }
  return mismatch;
}

export interface CopiedPairs {
  pairs: readonly string[][]; // [source, target]
  cuts: readonly Cut[][]; // per pair: [source writer's cut, target writer's cut] at its establish
  sources: readonly WriteRecord[]; // the source writer's log
  targets: readonly WriteRecord[]; // the target writer's log
  initialSeed: (id: string) => number; // the pattern each volume held before the writers began
  size: number; // bytes of every volume
}

// Once every copy has ended: each target is its source at one cut of the
// source writer's log, overlaid with its own writes after a cut
// (mismatchWithEveryCut), and each source holds exactly its own writes.
export function checkCopiedPairs(image: StorageImage, scratch: StorageImage, copied: CopiedPairs, seed: number): void {
  const slot = (id: string) => image.volume(id).slot;
  const { size } = copied;
  copied.pairs.forEach(([source, target], index) => {
    const sourceVolume = { seed: copied.initialSeed(source), slot: slot(source), log: copied.sources };
    const targetVolume = { seed: copied.initialSeed(target), slot: slot(target), log: copied.targets };
    const [sourceCut, targetCut] = copied.cuts[index];
    const mismatch = mismatchWithEveryCut(image.read(target, 0, size), scratch, sourceVolume, targetVolume, sourceCut, targetCut);
    assert.is(mismatch, "", `target ${target} equals no T0 image of ${source} plus its own later writes (seed ${seed}): ${mismatch}`);
    scratch.writePattern("0000", 0, size, sourceVolume.seed);
    replay(scratch, copied.sources, sourceVolume.slot, 0);
    assert.ok(Buffer.compare(image.read(source, 0, size), scratch.read("0000", 0, size)) === 0, `source ${source} differs (seed ${seed})`);
  });
}
