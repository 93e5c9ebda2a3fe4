// Background copy of a thin source: a 1 TiB source with 1 GiB written (in four
// runs: at its start, across its first 4 GiB boundary, in its middle and at its
// end) against a fully written 1 GiB source, one copy worker each. The thin
// copy must take time with its written data, not its capacity: untouched
// chunks of its bitmap settle as zeros, and no data is written for extents the
// source never had. Quick runs scale both down by 4 (256 GiB with 256 MiB
// written, against the shared 256 MiB pair).
import { CopyPool, StorageImage, type Volume } from "../../src/engine/index.js";
import { coreModule } from "../../src/core/core.js";
import { check, type Suite, type SuiteContext, type FigureResult } from "../harness/suite.js";
import { waitNoPending } from "../harness/fixtures.js";
import { median, spreadOf, formatMs, formatBytes, MiB, GiB } from "../harness/stats.js";

const COPY_TIMEOUT_MS = 120_000;
const THIN_BAR = 1.3;
const CAPACITY_PER_WRITTEN_BYTE = 1024; // 1 TiB per GiB

interface Pair {
  image: StorageImage;
  source: Volume;
  target: Volume;
  runs: [number, number][]; // [offset, length] of the source's written data
  sourceChecksum: string;
}

// The thin pair, in an image of its own (the shared one holds the full pair:
// both would not fit in one 4 GiB memory). Target runs are written too, so
// that both sides of the ratio find their target memory touched.
function thinPair(writtenBytes: number, seed: number): Pair {
  const image = new StorageImage({ model: "2107", serial: "75THIN1", workers: 0 });
  const capacity = writtenBytes * CAPACITY_PER_WRITTEN_BYTE;
  const run = writtenBytes / 4;
  const middle = Math.floor(capacity / 2 / MiB) * MiB;
  const runs: [number, number][] = [[0, run], [2 ** 32 - run / 2, run], [middle, run], [capacity - run, run]];
  const source = image.createVolume({ id: "3000", capacity: capacity / 512 });
  const target = image.createVolume({ id: "3001", capacity: capacity / 512 });
  runs.forEach(([offset, length], index) => {
    image.writePattern(source.id, offset, length, seed + index);
    image.writePattern(target.id, offset, length, seed + 10 + index);
  });
  check(image.allocatedBytes(source.id) === writtenBytes, `the thin source holds exactly ${formatBytes(writtenBytes)}`);
  return { image, source, target, runs, sourceChecksum: image.checksum(source.id) };
}

function fullPair(context: SuiteContext): Pair {
  const pair = context.shared.pair();
  const { image } = context.shared;
  return { image, source: pair.source, target: pair.target, runs: [[0, pair.bytes]], sourceChecksum: image.checksum(pair.source.id) };
}

// One background copy: scramble the target's data, establish, wait for no
// pending track, check the target equals the source and that only the
// written extents were copied.
function timeCopy(pair: Pair, round: number): number {
  const { image } = pair;
  pair.runs.forEach(([offset, length], index) => image.writePattern(pair.target.id, offset, length, 0x5eed0000 + round * 8 + index));
  check(image.checksum(pair.target.id) !== pair.sourceChecksum, "the scrambled target differs from the source");
  const allocated = image.allocatedBytes(pair.target.id);
  const start = performance.now();
  const relationship = image.establish(pair.source.id, pair.target.id, { persist: true });
  waitNoPending(image, relationship.slot, COPY_TIMEOUT_MS);
  const elapsedMs = performance.now() - start;
  const written = pair.runs.reduce((sum, [, length]) => sum + length, 0);
  check(image.status(relationship.id).copiedBytes === written, `exactly the ${formatBytes(written)} written were copied`);
  check(image.withdraw(relationship.id), "the relationship's copy was complete when withdrawn");
  check(image.allocatedBytes(pair.target.id) === allocated, "the copy allocated nothing on the target for unwritten extents");
  check(image.checksum(pair.target.id) === pair.sourceChecksum, "the copied target equals its T0 image");
  return elapsedMs;
}

// Rounds alternate the two pairs, each with a one-worker pool of its image
// running only while its copy is timed.
async function measure(full: Pair, thin: Pair, rounds: number, progress: (line: string) => void): Promise<{ fullMs: number[]; thinMs: number[] }> {
  const pools = [full, thin].map((pair) => new CopyPool(pair.image.core, coreModule(), pair.image.threadIds, 1));
  const result = { fullMs: [] as number[], thinMs: [] as number[] };
  try {
    for (const pool of pools) pool.start();
    await new Promise((resolve) => setTimeout(resolve, 50)); // workers need the event loop to start
    timeCopy(full, 0); // warm-up
    timeCopy(thin, 0);
    for (let round = 1; round <= rounds; round++) {
      result.fullMs.push(timeCopy(full, round));
      result.thinMs.push(timeCopy(thin, round));
      progress(`thin-copy round ${round}: full ${formatMs(result.fullMs.at(-1)!)}, thin ${formatMs(result.thinMs.at(-1)!)}`);
    }
  } finally {
    await Promise.all(pools.map((pool) => pool.stop()));
  }
  return result;
}

export const thinCopySuite: Suite = {
  name: "thin-copy",
  figures: ["thin-copy.vs-full"],
  async run(context) {
    const full = fullPair(context);
    const written = full.runs[0][1];
    const thin = thinPair(written, context.seed);
    try {
      const rounds = context.quick ? 3 : 7;
      const { fullMs, thinMs } = await measure(full, thin, rounds, context.progress);
      const ratios = thinMs.map((ms, index) => ms / fullMs[index]);
      const ratio = median(ratios);
      const capacity = thin.source.sizeBytes;
      return [{
        key: "thin-copy.vs-full",
        figure: `background copy, ${formatBytes(capacity)} source with ${formatBytes(written)} written vs a fully written ${formatBytes(written)} source`,
        value: `${formatMs(median(thinMs))} vs ${formatMs(median(fullMs))}`,
        bar: `ratio ≤ ${THIN_BAR}`,
        ratio,
        spread: spreadOf(ratios),
        met: ratio <= THIN_BAR,
        verified: "target checksum equals the source's after every copy; exactly the written bytes copied; no target extent allocated for unwritten source extents",
        note: context.quick ? "quick run: 256 GiB with 256 MiB written" : undefined,
        details: { rounds, fullMs, thinMs, capacity, written, perRoundRatio: ratios },
      } satisfies FigureResult];
    } finally {
      await thin.image.close();
    }
  },
};
