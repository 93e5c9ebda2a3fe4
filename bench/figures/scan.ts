// The scan for pending tracks: the core's batched scan (rel_find_pending_many
// through StorageImage.findPendingTracks, many tracks per JS-to-WASM call,
// over the two-level bitmap) against the plain TypeScript scan for the next
// pending track of the same bitmap, a 32-bit word at a time with Math.clz32
// over the same shared memory (the bar's baseline, issue 9). The bitmap is a
// real one: a 16 GiB relationship (one full 32 KiB leaf of 262,144 tracks)
// whose copy has left 1%, 10% or 50% of its tracks pending at random.
//
// Like for like: both scans produce the same thing, batches of up to
// BATCH_TRACKS ascending track numbers in a Uint32Array, each scan going on
// from the last track + 1 until a batch is the last, and one function
// (sumBatch) consumes every batch of both, counting and summing its tracks,
// so neither can skip the work of delivering them. The word scan fills its
// batch by calling wordFindPending once per track, as a TypeScript
// pendingTracks would.
//
// Two reported figures per density keep the bar's baseline honest: the same
// word scan with each track consumed where it is found, without a batch (the
// bar's baseline before batches were compared with batches), and a
// TypeScript sweep that takes each 32-bit word's bits apart in place (no
// search from track + 1 for each), with the counting fused into it. That is
// the fastest plain TypeScript a sweep of every pending track can be, and the
// core's batches cannot fuse with a JavaScript consumer.
import { isLastPendingBatch, type StorageImage } from "../../src/engine/index.js";
import { check, type Suite, type FigureResult } from "../harness/suite.js";
import { Xorshift32 } from "../harness/random.js";
import { controlLeaf } from "../harness/fixtures.js";
import { median, spreadOf, formatMs, GiB } from "../harness/stats.js";

const BAR = 3;
const VOLUME_BYTES = 16 * GiB;
const TRACK_SIZE = 64 * 1024;
// Tracks a batch of either scan holds at most: 64 KiB of them, within the L2 cache.
const BATCH_TRACKS = 16_384;
const WARM_UP_MS = 400;

// The first set bit at or after `fromTrack`, or -1, a 32-bit word at a time:
// the best a TypeScript scan does without SIMD.
export function wordFindPending(words: Uint32Array, fromTrack: number): number {
  let index = fromTrack >>> 5;
  if (index >= words.length) return -1;
  let word = words[index] & (-1 << (fromTrack & 31));
  while (word === 0) {
    index++;
    if (index >= words.length) return -1;
    word = words[index];
  }
  return (index << 5) + (31 - Math.clz32(word & -word));
}

// Up to into.length pending tracks at or after `fromTrack`, ascending, into
// `into`, one wordFindPending per track; returns how many, 0 when none is
// left: fewer than into.length only at the end (the word scan's batch, in
// the form findPendingTracks gives the core's).
export function wordFindMany(words: Uint32Array, fromTrack: number, into: Uint32Array): number {
  let count = 0;
  for (let track = fromTrack; count < into.length; track++) {
    track = wordFindPending(words, track);
    if (track < 0) break;
    into[count++] = track;
  }
  return count;
}

// What a sweep saw: how many pending tracks and the sum of their numbers
// (wrapped to 32 bits, so that both sides add small integers).
interface Seen {
  count: number;
  sum: number;
}

type Sweep = () => Seen;

// The consumer of both scans' batches: `sum` plus the batch's first `count`
// tracks, wrapped to 32 bits.
function sumBatch(batch: Uint32Array, count: number, sum: number): number {
  let total = sum;
  for (let index = 0; index < count; index++) total = (total + batch[index]) | 0;
  return total;
}

// One sweep function per scan, each calling its scan directly: a shared sweep
// over a finder closure would make the call site polymorphic and slow down
// whichever scan has the cheapest calls. Both go on from a batch's last
// track + 1 until a batch says it is the last, each by its own rule: the
// core's when it left a step's room to spare (isLastPendingBatch), the word
// scan's when it is not full; neither asks once more for an empty batch.
// The core's batches are read where the core left them, each before the
// next call, from one view of the staging buffer made once (stagedTracks),
// as the word scan's from its one array: copying 131,072 tracks out at 50%
// pending cost about a quarter of the sweep, and a view made per batch
// (pendingTracksView) is read more slowly by V8 than one kept.
export function coreSweep(image: StorageImage, pairId: string): Sweep {
  const staged = image.stagedTracks;
  return () => {
    let count = 0;
    let sum = 0;
    for (let from = 0; ;) {
      const found = image.findPendingTracks(pairId, from, BATCH_TRACKS);
      sum = sumBatch(staged, found, sum);
      count += found;
      if (isLastPendingBatch(found, BATCH_TRACKS)) break;
      from = staged[found - 1] + 1;
    }
    return { count, sum };
  };
}

// The bar's baseline: batches filled by wordFindMany into one array, made
// once (the core's staging buffer is made once too), consumed as the core's.
export function wordSweep(words: Uint32Array): Sweep {
  const batch = new Uint32Array(BATCH_TRACKS);
  return () => {
    let count = 0;
    let sum = 0;
    for (let from = 0; ;) {
      const found = wordFindMany(words, from, batch);
      sum = sumBatch(batch, found, sum);
      count += found;
      if (found < batch.length) break;
      from = batch[found - 1] + 1;
    }
    return { count, sum };
  };
}

// The word scan with each track consumed as it is found, without a batch.
export function wordInlineSweep(words: Uint32Array): Sweep {
  return () => {
    let count = 0;
    let sum = 0;
    for (let track = wordFindPending(words, 0); track >= 0; track = wordFindPending(words, track + 1)) {
      sum = (sum + track) | 0;
      count++;
    }
    return { count, sum };
  };
}

// Every set bit of each 32-bit word in turn, lowest first, counted as found.
export function wordBitsSweep(words: Uint32Array): Sweep {
  return () => {
    let count = 0;
    let sum = 0;
    for (let index = 0; index < words.length; index++) {
      const base = index << 5;
      for (let word = words[index]; word !== 0; word &= word - 1) {
        sum = (sum + base + 31 - Math.clz32(word & -word)) | 0;
        count++;
      }
    }
    return { count, sum };
  };
}

// Copies every track but a random `fraction` of them (all extents are
// unallocated, so copying is only clearing bits); returns the tracks left.
export function leavePending(image: StorageImage, pairId: string, trackCount: number, fraction: number, seed: number): number[] {
  const random = new Xorshift32(seed);
  const chosen: number[] = [];
  for (let track = 0; track < trackCount; track++) if (random.next() / 2 ** 32 < fraction) chosen.push(track);
  let from = 0;
  for (const track of chosen) {
    if (track > from) image.copyTracks(pairId, from, track - from);
    from = track + 1;
  }
  if (trackCount > from) image.copyTracks(pairId, from, trackCount - from);
  return chosen;
}

// Time per sweep, by the wall clock and by the process's CPU time (user +
// system): on a loaded machine the wall clock also counts the time this
// thread waited for a core, which the CPU time does not.
interface SweepTime {
  wallMs: number;
  cpuMs: number;
}

// The scans timed at each density: the core's, the bar's baseline and the
// two reported TypeScript sweeps.
const SIDES = ["core", "word", "wordInline", "wordBits"] as const;
type Side = (typeof SIDES)[number];

function perSide<T>(make: (side: Side) => T): Record<Side, T> {
  return { core: make("core"), word: make("word"), wordInline: make("wordInline"), wordBits: make("wordBits") };
}

// Runs `sweeps` sweeps, checking that each found exactly the pending
// tracks; returns their time.
function timeBlock(sweep: Sweep, sweeps: number, expected: Seen): SweepTime {
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  let right = true;
  for (let index = 0; index < sweeps; index++) {
    const seen = sweep();
    if (seen.count !== expected.count || seen.sum !== expected.sum) right = false;
  }
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  check(right, "every timed sweep found exactly the pending tracks");
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

// A turn of each side takes about this long (at least one sweep): short
// enough that most turns run without this thread losing its core to another
// process, and that the load changes little between the sides' turns; long
// enough that reading the clocks (about a microsecond) costs little beside it.
const BLOCK_MS = 0.5;

// How each side runs in a round: sweeps per turn, and about how long a turn takes.
interface Turn {
  sweeps: number;
  ms: number;
}

// One round: the sides take turns, a block of sweeps each, until the
// slowest side has run about `durationMs`, so that whatever else the machine
// does in the round falls on every side alike. Each side's wall-clock time
// per sweep is the median over its turns: a turn during which this thread
// lost its core to another process (load averages of 10 on 2 cores here) is
// an outlier, not a sample of the scan. Its CPU time per sweep is the total
// over its turns, which such a wait does not count.
function timeRound(sweeps: Record<Side, Sweep>, turnOf: Record<Side, Turn>, expected: Seen, durationMs: number): Record<Side, SweepTime> {
  const wallMs = perSide((): number[] => []);
  const cpuMs = perSide(() => ({ total: 0 }));
  const turns = Math.ceil(durationMs / Math.max(...SIDES.map((side) => turnOf[side].ms)));
  for (let turn = 0; turn < turns; turn++) {
    for (const side of SIDES) {
      const time = timeBlock(sweeps[side], turnOf[side].sweeps, expected);
      wallMs[side].push(time.wallMs / turnOf[side].sweeps);
      cpuMs[side].total += time.cpuMs;
    }
  }
  return perSide((side) => ({ wallMs: median(wallMs[side]), cpuMs: cpuMs[side].total / (turns * turnOf[side].sweeps) }));
}

// Each side's turn, sized from a warm-up of WARM_UP_MS. The warm-up also
// lets every side reach its optimising tier: V8 compiles it on a background
// thread, which a loaded machine may not run for a while, so the warm-up is
// long and no side is timed in its baseline tier.
function warmUp(sweeps: Record<Side, Sweep>, expected: Seen): Record<Side, Turn> {
  return perSide((side) => {
    let wallMs = 0;
    let sweepCount = 0;
    for (; wallMs < WARM_UP_MS; sweepCount += 8) wallMs += timeBlock(sweeps[side], 8, expected).wallMs;
    const sweepMs = wallMs / sweepCount;
    const turnSweeps = Math.max(1, Math.round(BLOCK_MS / sweepMs));
    return { sweeps: turnSweeps, ms: turnSweeps * sweepMs };
  });
}

// One side's rounds: milliseconds per sweep by the wall clock and by CPU time.
interface Rounds {
  wallMs: number[];
  cpuMs: number[];
}

interface Measured {
  rounds: Record<Side, Rounds>;
  pending: number;
}

function measure(image: StorageImage, fraction: number, seed: number, quick: boolean, id: string): Measured {
  const source = image.createVolume({ id: `40${id}0`, capacity: VOLUME_BYTES / 512, unit: "blocks" });
  const target = image.createVolume({ id: `40${id}1`, capacity: VOLUME_BYTES / 512, unit: "blocks" });
  const relationship = image.establish(source.id, target.id, { nocopy: true });
  try {
    const trackCount = VOLUME_BYTES / TRACK_SIZE;
    const chosen = leavePending(image, relationship.id, trackCount, fraction, seed);
    check(image.core.exports.rel_pending(relationship.slot) === chosen.length, "the relationship has exactly the chosen tracks pending");
    const { pointer, wordCount } = controlLeaf(image, relationship.slot);
    const words = new Uint32Array(image.memory.buffer, pointer, wordCount * 2);
    const expected = { count: chosen.length, sum: chosen.reduce((total, track) => (total + track) | 0, 0) };
    const sweeps: Record<Side, Sweep> = {
      core: coreSweep(image, relationship.id), word: wordSweep(words), wordInline: wordInlineSweep(words), wordBits: wordBitsSweep(words),
    };
    const turnOf = warmUp(sweeps, expected);
    const rounds = perSide((): Rounds => ({ wallMs: [], cpuMs: [] }));
    // The slowest side runs 150 ms a round, in turns with the others.
    const durationMs = quick ? 15 : 150;
    for (let round = 0; round < (quick ? 5 : 9); round++) {
      const times = timeRound(sweeps, turnOf, expected, durationMs);
      for (const side of SIDES) {
        rounds[side].wallMs.push(times[side].wallMs);
        rounds[side].cpuMs.push(times[side].cpuMs);
      }
    }
    return { rounds, pending: chosen.length };
  } finally {
    image.withdraw(relationship.id);
    image.removeVolume(source.id);
    image.removeVolume(target.id);
  }
}

const CASES = [
  { key: "scan.one-percent", id: "1", fraction: 0.01, label: "1% pending" },
  { key: "scan.ten-percent", id: "2", fraction: 0.1, label: "10% pending" },
  { key: "scan.half", id: "3", fraction: 0.5, label: "50% pending" },
] as const;

// The reported figures beside each bar: the core against TypeScript sweeps
// that consume each track where they find it, which no core call can do.
const REPORTED = [
  {
    suffix: ".vs-inline-ts",
    side: "wordInline",
    scan: "the same TypeScript word scan consuming each track as found, without a batch",
    note: "not the bar's baseline: it hands on no batch, where the core's scan and the bar's baseline both fill one",
  },
  {
    suffix: ".vs-fused-ts",
    side: "wordBits",
    scan: "a fused TypeScript sweep of each 32-bit word's bits",
    note: "not the bar's baseline: it consumes each track inside its own loop, which no core call can do",
  },
] as const;

// The bar's figure or a reported one: the baseline's time per sweep over
// the core's, round by round, by the wall clock (the ratio) and by CPU time
// (in the value, with its own median and spread).
interface Compared {
  value: string;
  ratio: number;
  spread: { min: number; max: number };
  details: Record<string, unknown>;
}

function figureOf(measured: Measured, baselineSide: Side): Compared {
  const core = measured.rounds.core;
  const baseline = measured.rounds[baselineSide];
  const ratios = baseline.wallMs.map((ms, round) => ms / core.wallMs[round]);
  const cpuRatios = baseline.cpuMs.map((ms, round) => ms / core.cpuMs[round]);
  const cpuSpread = spreadOf(cpuRatios);
  return {
    value: `${formatMs(median(core.wallMs))} vs ${formatMs(median(baseline.wallMs))} per sweep of ${measured.pending} tracks; ` +
      `by CPU time ${median(cpuRatios).toFixed(2)}× (${cpuSpread.min.toFixed(2)}–${cpuSpread.max.toFixed(2)}×), ${formatMs(median(core.cpuMs))} vs ${formatMs(median(baseline.cpuMs))}`,
    ratio: median(ratios),
    spread: spreadOf(ratios),
    details: {
      coreSweepMs: core.wallMs, coreSweepCpuMs: core.cpuMs,
      [`${baselineSide}SweepMs`]: baseline.wallMs, [`${baselineSide}SweepCpuMs`]: baseline.cpuMs,
      cpuRatio: median(cpuRatios), cpuSpread, pendingTracks: measured.pending, trackCount: VOLUME_BYTES / TRACK_SIZE,
    },
  };
}

function reportedFigures(item: (typeof CASES)[number], measured: Measured): FigureResult[] {
  return REPORTED.map((reported) => ({
    key: item.key + reported.suffix,
    figure: `pending-track scan, core (many per call) vs ${reported.scan} (16 GiB bitmap, ${item.label})`,
    bar: "reported",
    met: null,
    verified: "every timed sweep of both found exactly the pending tracks (count and sum)",
    note: reported.note,
    ...figureOf(measured, reported.side),
  }));
}

export const scanSuite: Suite = {
  name: "scan",
  figures: CASES.flatMap((item) => [item.key, ...REPORTED.map((reported) => item.key + reported.suffix)]),
  async run(context) {
    const { image } = context.shared;
    const results: FigureResult[] = [];
    for (const item of CASES) {
      const seed = context.seed + Math.round(item.fraction * 100);
      const measured = measure(image, item.fraction, seed, context.quick, item.id);
      const figure = figureOf(measured, "word");
      results.push({
        key: item.key,
        figure: `pending-track scan, core (many per call) vs TypeScript a 32-bit word at a time, both in batches (16 GiB bitmap, ${item.label})`,
        bar: `≥ ${BAR}× the word scan`,
        met: figure.ratio >= BAR,
        verified: "the relationship's pending count is the tracks left; every timed sweep of both scans found exactly them (count and sum)",
        ...figure,
        details: { ...figure.details, seed },
      });
      results.push(...reportedFigures(item, measured));
    }
    return results;
  },
};
