// resyncflash after 1% of a source's tracks changed vs a full background copy
// of the same pair (FlashCopy V2, issue 10): an incremental copy should cost
// what changed, not what the volume holds. Both run on the same copy worker
// over the shared pre-touched pair, round after round; the ratio is the
// median of the per-round ratios.
import { CopyPool, type StorageImage } from "../../src/engine/index.js";
import { coreModule } from "../../src/core/core.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import { check, type Suite, type SuiteContext, type FigureResult } from "../harness/suite.js";
import { waitNoPending, type TouchedPair } from "../harness/fixtures.js";
import { Xorshift32 } from "../harness/random.js";
import { median, spreadOf, formatMs, formatBytes } from "../harness/stats.js";

const COPY_TIMEOUT_MS = 60_000;
const CHANGED_FRACTION = 0.01;
const RATIO_BAR = 0.05;
const CHANGE_BYTES = 4096; // one host write inside each changed track

interface Round {
  fullMs: number;
  resyncMs: number;
}

// The tracks a round changes: 1% of them, spread over the volume, seeded.
function changedTracks(trackCount: number, seed: number): number[] {
  const random = new Xorshift32(seed);
  const wanted = Math.max(1, Math.round(trackCount * CHANGED_FRACTION));
  return [...random.permutation(trackCount).subarray(0, wanted)].sort((a, b) => a - b);
}

// Full background copy: establish -record -persist, wait until nothing is pending.
function timeFullCopy(image: StorageImage, pair: TouchedPair, round: number): { id: string; ms: number } {
  image.writePattern(pair.target.id, 0, pair.bytes, 0x7e570000 + round);
  const sourceChecksum = image.checksum(pair.source.id);
  check(image.checksum(pair.target.id) !== sourceChecksum, "the scrambled target differs from the source");
  const start = performance.now();
  const relationship = image.establish(pair.source.id, pair.target.id, { record: true, persist: true });
  waitNoPending(image, relationship.slot, COPY_TIMEOUT_MS);
  const ms = performance.now() - start;
  check(image.checksum(pair.target.id) === sourceChecksum, "fully copied target equals the source's T0 image");
  return { id: relationship.id, ms };
}

// Changes 1% of the source's tracks, then times resyncflash until nothing is pending.
function timeResync(image: StorageImage, pair: TouchedPair, id: string, round: number, seed: number): number {
  const tracks = changedTracks(pair.bytes / TRACK_SIZE, seed + round);
  for (const track of tracks) image.writePattern(pair.source.id, track * TRACK_SIZE + 512, CHANGE_BYTES, seed + round);
  check(image.recordedTracks(id, "source") === tracks.length, "the source recorded exactly the changed tracks");
  const sourceChecksum = image.checksum(pair.source.id);
  const start = performance.now();
  const resynced = image.resync(id, { record: true, persist: true });
  const armed = image.status(id).pendingTracks;
  waitNoPending(image, resynced.slot, COPY_TIMEOUT_MS);
  const ms = performance.now() - start;
  check(armed <= tracks.length, "resyncflash armed no more than the changed tracks");
  check(image.checksum(pair.target.id) === sourceChecksum, "resynchronised target equals the source's new T0 image");
  return ms;
}

async function warmUp(image: StorageImage, pair: TouchedPair): Promise<void> {
  // Workers need the event loop to start: wait asynchronously the first time.
  const relationship = image.establish(pair.source.id, pair.target.id, { persist: true });
  const start = performance.now();
  while (image.core.exports.rel_pending(relationship.slot) > 0) {
    if (performance.now() - start > COPY_TIMEOUT_MS) throw new Error("copy workers did not start copying");
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  image.withdraw(relationship.id);
}

async function measure(context: SuiteContext, pair: TouchedPair, rounds: number): Promise<Round[]> {
  const { image } = context.shared;
  const pool = new CopyPool(image.core, coreModule(), image.threadIds, 1);
  pool.start();
  const result: Round[] = [];
  try {
    await warmUp(image, pair);
    for (let round = 1; round <= rounds; round++) {
      const full = timeFullCopy(image, pair, round);
      const resyncMs = timeResync(image, pair, full.id, round, context.seed);
      check(image.withdraw(full.id), "the relationship's copy was complete when withdrawn");
      result.push({ fullMs: full.ms, resyncMs });
      context.progress(`resync: round ${round}: full copy ${formatMs(full.ms)}, resync of 1% ${formatMs(resyncMs)}`);
    }
  } finally {
    await pool.stop();
  }
  return result;
}

export const resyncSuite: Suite = {
  name: "resync",
  figures: ["resync.one-percent"],
  async run(context) {
    const pair = context.shared.pair();
    const rounds = context.quick ? 5 : 9;
    const measured = await measure(context, pair, rounds);
    const ratios = measured.map((round) => round.resyncMs / round.fullMs);
    const ratio = median(ratios);
    const trackCount = pair.bytes / TRACK_SIZE;
    return [{
      key: "resync.one-percent",
      figure: `resyncflash after 1% of a ${formatBytes(pair.bytes)} source's tracks changed vs a full background copy of it (one worker)`,
      value: `${formatMs(median(measured.map((round) => round.resyncMs)))} vs ${formatMs(median(measured.map((round) => round.fullMs)))}`,
      bar: `≤ ${RATIO_BAR}× the full copy`,
      ratio,
      spread: spreadOf(ratios),
      met: ratio <= RATIO_BAR,
      verified: `source recorded exactly the ${Math.round(trackCount * CHANGED_FRACTION)} changed tracks; target checksum equals the source's after the full copy and after every resync (median of ${rounds} rounds)`,
      details: { bytes: pair.bytes, rounds, changedTracks: Math.round(trackCount * CHANGED_FRACTION), fullMs: measured.map((r) => r.fullMs), resyncMs: measured.map((r) => r.resyncMs) },
    } satisfies FigureResult];
  },
};
