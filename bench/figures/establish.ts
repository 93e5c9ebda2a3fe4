// Establish time across volume sizes (it must grow with the bitmap only, never
// with the data) and against a full copy of 1 GiB.
import type { StorageImage, Volume } from "../../src/engine/index.js";
import { check, type Suite, type SuiteContext } from "../harness/suite.js";
import { median, spreadOf, blockRatios, formatMs, MiB, GiB } from "../harness/stats.js";

const TiB = 1024 * GiB;
// The last is a 16 TiB pair (DS8000's largest FB volume): thin, so it fits.
const SIZES = [64 * MiB, 256 * MiB, GiB, 3 * GiB, 16 * TiB] as const;
const HUGE = SIZES.length - 1;
const FLAT_BAR = 2;
const FULL_COPY_BAR = 1000;
const TRACK_SIZE = 64 * 1024;
// Blocks of establish rounds a flatness spread is taken over (bench/harness/stats.ts blockRatios).
const SPREAD_BLOCKS = 10;

interface SizedPair {
  bytes: number;
  source: Volume;
  target: Volume;
}

// Thin pairs (only their first and last tracks written, so establish has T0
// data to preserve but nothing to touch): even a 16 TiB pair fits in the image.
function sizedPairs(image: StorageImage, seed: number): SizedPair[] {
  return SIZES.map((bytes, index) => {
    const source = image.createVolume({ id: `20${(2 * index).toString(16).padStart(2, "0")}`, capacity: bytes / 512, unit: "blocks" });
    const target = image.createVolume({ id: `20${(2 * index + 1).toString(16).padStart(2, "0")}`, capacity: bytes / 512, unit: "blocks" });
    image.writePattern(source.id, 0, TRACK_SIZE, seed + index);
    image.writePattern(source.id, bytes - TRACK_SIZE, TRACK_SIZE, seed + index);
    return { bytes, source, target };
  });
}

// Establish must give a T0 image at once: every track pending, target reads
// served from the source.
function checkEstablished(image: StorageImage, pair: SizedPair): void {
  const relationship = image.establish(pair.source.id, pair.target.id);
  check(image.status(relationship.id).pendingTracks === pair.bytes / TRACK_SIZE, `every track of ${relationship.id} is pending after establish`);
  check(image.checksum(pair.target.id) === image.checksum(pair.source.id), `target ${pair.target.id} reads as its T0 image right after establish`);
  image.withdraw(relationship.id);
}

// Bytes of the bitmap summary of the pair's relationship (assembly/bitmap.ts:
// 8 B and 4 B per chunk): all an establish writes, whatever the size.
function hugePairMemory(image: StorageImage, pair: SizedPair): number {
  const relationship = image.establish(pair.source.id, pair.target.id);
  const header = image.core.exports.rel_bitmap(relationship.slot, 0);
  const chunks = new DataView(image.memory.buffer).getUint32(header + 4, true);
  const bytes = 8 + 4 * chunks;
  check(bytes <= 8 * 1024, `the bitmap summary of a 16 TiB relationship is at most 8 KiB (it is ${bytes} B)`);
  image.withdraw(relationship.id);
  return bytes;
}

function timeEstablish(image: StorageImage, pairs: SizedPair[], rounds: number): number[][] {
  const samples = pairs.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    // Round-robin over the sizes: machine noise falls on all of them alike.
    for (let index = 0; index < pairs.length; index++) {
      const start = performance.now();
      const relationship = image.establish(pairs[index].source.id, pairs[index].target.id);
      samples[index].push(performance.now() - start);
      image.withdraw(relationship.id);
    }
  }
  return samples;
}

// A full copy of 1 GiB: raw memory.copy of the pre-touched pair, repeated
// until 1 GiB has moved when the pair is smaller (quick runs).
function timeFullCopy(context: SuiteContext, rounds: number): { ms: number[]; passes: number; pairBytes: number } {
  const pair = context.shared.pair();
  const { image } = context.shared;
  const passes = Math.ceil(GiB / pair.bytes);
  const sourceChecksum = image.checksum(pair.source.id);
  const ms: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    image.writePattern(pair.target.id, 0, pair.bytes, 0xc0de + round);
    const start = performance.now();
    for (let pass = 0; pass < passes; pass++) image.core.exports.raw_copy(pair.targetPointer, pair.sourcePointer, pair.bytes);
    const elapsed = performance.now() - start;
    check(image.checksum(pair.target.id) === sourceChecksum, "fully copied target equals the source");
    if (round > 0) ms.push(elapsed); // round 0 warms the copy up
  }
  return { ms, passes, pairBytes: pair.bytes };
}

export const establishSuite: Suite = {
  name: "establish",
  figures: ["establish.flat", "establish.16tib", "establish.vs-full-copy"],
  async run(context) {
    const { image } = context.shared;
    const pairs = sizedPairs(image, context.seed);
    for (const pair of pairs) checkEstablished(image, pair);
    timeEstablish(image, pairs, 50); // warm-up: JIT tiers and allocator free lists
    const samples = timeEstablish(image, pairs, context.quick ? 300 : 2000);
    const medians = samples.map(median);
    const fullCopy = timeFullCopy(context, 3);
    const fullCopyMs = median(fullCopy.ms);
    const smallest = medians[0];
    const largest = medians[SIZES.indexOf(3 * GiB)];
    const huge = medians[HUGE];
    const oneGiB = medians[SIZES.indexOf(GiB)];
    const bySize = Object.fromEntries(SIZES.map((bytes, index) => [`${bytes / MiB} MiB`, medians[index]]));
    const hugeMemory = hugePairMemory(image, pairs[HUGE]);
    const largestIndex = SIZES.indexOf(3 * GiB);
    const flatSpread = spreadOf(blockRatios(samples[largestIndex], samples[0], SPREAD_BLOCKS));
    const hugeSpread = spreadOf(blockRatios(samples[HUGE], samples[0], SPREAD_BLOCKS));
    const fullCopySpread = spreadOf(fullCopy.ms.map((ms) => ms / oneGiB));
    const verified = "every track pending and target checksum equal to the source's right after establish";
    return [
      {
        key: "establish.flat",
        figure: "establish time, 3 GiB pair vs 64 MiB pair",
        value: `${formatMs(largest)} vs ${formatMs(smallest)} (256 MiB ${formatMs(medians[1])}, 1 GiB ${formatMs(oneGiB)})`,
        bar: `ratio ≤ ${FLAT_BAR}`,
        ratio: largest / smallest,
        spread: flatSpread,
        met: largest / smallest <= FLAT_BAR,
        verified,
        details: { medianMsBySize: bySize, rounds: samples[0].length, what: "StorageImage.establish (rules, core establish, bookkeeping), median" },
      },
      {
        key: "establish.16tib",
        figure: "establish time, 16 TiB pair vs 64 MiB pair",
        value: `${formatMs(huge)} vs ${formatMs(smallest)}; its bitmap summary is ${hugeMemory} B, no leaf`,
        bar: `ratio ≤ ${FLAT_BAR}`,
        ratio: huge / smallest,
        spread: hugeSpread,
        met: huge / smallest <= FLAT_BAR,
        verified: `${verified}; the 16 TiB relationship's bitmap is its summary only`,
        details: { medianMsBySize: bySize, rounds: samples[0].length, summaryBytes: hugeMemory },
      },
      {
        key: "establish.vs-full-copy",
        figure: "establish 1 GiB pair vs a full copy of 1 GiB",
        value: `${formatMs(oneGiB)} vs ${formatMs(fullCopyMs)}`,
        bar: `≥ ${FULL_COPY_BAR}× faster`,
        ratio: fullCopyMs / oneGiB,
        spread: fullCopySpread,
        met: fullCopyMs / oneGiB >= FULL_COPY_BAR,
        verified: `${verified}; copied target equals the source`,
        note: fullCopy.passes > 1 ? `full copy = ${fullCopy.passes} memory.copy passes over a pre-touched ${fullCopy.pairBytes / MiB} MiB pair (quick run)` : undefined,
        details: { establishMs: oneGiB, fullCopyMs: fullCopy.ms, passes: fullCopy.passes, pairBytes: fullCopy.pairBytes },
      },
    ];
  },
};
