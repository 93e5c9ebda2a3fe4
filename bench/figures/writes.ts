// Host 4 KiB random writes through the core on one thread: with no
// relationship; on the source of a -nocp relationship, first writes (each one
// a copy-on-write of its 64 KiB track) and once the hot set has been copied.
import type { StorageImage, Volume } from "../../src/engine/index.js";
import { CoreThread, coreModule } from "../../src/core/core.js";
import { check, type Suite, type SuiteContext, type FigureResult } from "../harness/suite.js";
import { Xorshift32 } from "../harness/random.js";
import { contiguousPointer } from "../harness/fixtures.js";
import { median, percentileOfSorted, formatCount, formatMs, MiB } from "../harness/stats.js";

const BLOCK = 4096;
const TRACK_SIZE = 64 * 1024;
const BUFFERS = 16; // distinct 4 KiB payloads in the staging buffer, used in turn
const RATE_BAR = 1_000_000;
const HOT_BAR = 0.9;
const SAMPLED_BLOCKS = 256;

interface Workload {
  host: CoreThread; // the writing thread's own binding (its staging buffer holds the payloads)
  slot: number;
  offsets: Uint32Array; // byte offsets, 4 KiB aligned
  staging: number; // pointer to BUFFERS payloads of 4 KiB
}

// Timed loop: the host write path as a caller of the core sees it.
function writeAll(workload: Workload): number {
  const write = workload.host.exports.io_write;
  const { slot, offsets, staging } = workload;
  const start = performance.now();
  for (let index = 0; index < offsets.length; index++) {
    const code = write(slot, offsets[index], BLOCK, staging + (index & (BUFFERS - 1)) * BLOCK);
    if (code !== 0) throw new Error(`io_write failed with core code ${code}`);
  }
  return performance.now() - start;
}

// The same writes, each timed on its own, for latency percentiles.
function writeTimed(workload: Workload, count: number): Float64Array {
  const write = workload.host.exports.io_write;
  const { slot, offsets, staging } = workload;
  const latencies = new Float64Array(Math.min(count, offsets.length));
  for (let index = 0; index < latencies.length; index++) {
    const start = performance.now();
    const code = write(slot, offsets[index], BLOCK, staging + (index & (BUFFERS - 1)) * BLOCK);
    latencies[index] = performance.now() - start;
    if (code !== 0) throw new Error(`io_write failed with core code ${code}`);
  }
  return latencies;
}

// The same bytes moved by one raw memory.copy each: the floor of any write path.
function rawCopyAll(workload: Workload, dataPointer: number): number {
  const copy = workload.host.exports.raw_copy;
  const { offsets, staging } = workload;
  const start = performance.now();
  for (let index = 0; index < offsets.length; index++) copy(dataPointer + offsets[index], staging + (index & (BUFFERS - 1)) * BLOCK, BLOCK);
  return performance.now() - start;
}

// Checks a sample of blocks against the payload the workload last wrote there.
function checkWritten(image: StorageImage, volume: Volume, workload: Workload, seed: number): void {
  const last = new Map<number, number>();
  workload.offsets.forEach((offset, index) => last.set(offset, index & (BUFFERS - 1)));
  const bytes = new Uint8Array(image.memory.buffer);
  const written = [...last.keys()];
  const random = new Xorshift32(seed);
  for (let sample = 0; sample < SAMPLED_BLOCKS; sample++) {
    const offset = written[random.below(written.length)];
    const payload = workload.staging + last.get(offset)! * BLOCK;
    const expected = bytes.slice(payload, payload + BLOCK);
    check(Buffer.compare(image.read(volume.id, offset, BLOCK), expected) === 0, `block at ${volume.id}+${offset} holds the last payload written there`);
  }
}

interface Phase {
  ms: number[];
  latencies: Float64Array[];
}

function summary(phase: Phase, count: number): { rate: number; p50: number; p99: number } {
  const pooled = new Float64Array(phase.latencies.reduce((sum, list) => sum + list.length, 0));
  let at = 0;
  for (const list of phase.latencies) {
    pooled.set(list, at);
    at += list.length;
  }
  pooled.sort();
  return { rate: count / (median(phase.ms) / 1000), p50: percentileOfSorted(pooled, 50), p99: percentileOfSorted(pooled, 99) };
}

function timerOverheadMs(): number {
  const samples = new Float64Array(100_000);
  for (let index = 0; index < samples.length; index++) {
    const start = performance.now();
    samples[index] = performance.now() - start;
  }
  return percentileOfSorted(samples.sort(), 50);
}

function latencyText(phase: { rate: number; p50: number; p99: number }): string {
  return `${formatCount(phase.rate)}, p50 ${formatMs(phase.p50)} p99 ${formatMs(phase.p99)}`;
}

export const writesSuite: Suite = {
  name: "writes",
  figures: ["writes.core-rate", "writes.nocp-hot", "writes.nocp-first"],
  async run(context: SuiteContext) {
    const { image } = context.shared;
    const hotBytes = context.quick ? 64 * MiB : 256 * MiB;
    // The volumes are twice the hot set; only the hot set is written (and pre-touched).
    const source = image.createVolume({ id: "3000", capacity: (2 * hotBytes) / 512, unit: "blocks" });
    const target = image.createVolume({ id: "3001", capacity: (2 * hotBytes) / 512, unit: "blocks" });
    image.writePattern(source.id, 0, hotBytes, context.seed);
    image.writePattern(target.id, 0, hotBytes, context.seed + 1);
    const dataPointer = contiguousPointer(image, source, hotBytes);
    // The writer is a host thread of its own (an id of the image, its own
    // staging buffer), so that the engine's reads on thread 0 cannot touch the payloads.
    const hostId = image.threadIds.take();
    const host = new CoreThread(image.memory, hostId, coreModule());
    try {
      return measure(context, image, host, source, target, dataPointer, hotBytes);
    } finally {
      image.core.exports.reap_thread(hostId);
      image.threadIds.release(hostId);
    }
  },
};

function measure(context: SuiteContext, image: StorageImage, host: CoreThread, source: Volume, target: Volume, dataPointer: number, hotBytes: number): FigureResult[] {
  const writeCount = context.quick ? 300_000 : 1_000_000;
  const latencyCount = context.quick ? 100_000 : 300_000;
  const rounds = context.quick ? 3 : 5;
  const hotTracks = hotBytes / TRACK_SIZE;
  const staging = host.stagingPointer;
  const random = new Xorshift32(context.seed + 3);
  const payloads = host.staging(BUFFERS * BLOCK);
  for (let index = 0; index < payloads.length; index++) payloads[index] = random.next() & 0xff;
  const offsets = new Uint32Array(writeCount);
  for (let index = 0; index < writeCount; index++) offsets[index] = random.below(hotBytes / BLOCK) * BLOCK;
  const random4k = (track: number) => track * TRACK_SIZE + random.below(TRACK_SIZE / BLOCK) * BLOCK;
  const hot: Workload = { host, slot: source.slot, offsets, staging };

  const none: Phase = { ms: [], latencies: [] };
  const firstBaseline: Phase = { ms: [], latencies: [] };
  const first: Phase = { ms: [], latencies: [] };
  const copied: Phase = { ms: [], latencies: [] };
  const raw: number[] = [];
  writeAll(hot); // warm-up
  for (let round = 0; round < rounds; round++) {
    // First writes: each track of the hot set once, in random order.
    const firstWrites: Workload = { host, slot: source.slot, offsets: Uint32Array.from(random.permutation(hotTracks), random4k), staging };
    none.ms.push(writeAll(hot));
    checkWritten(image, source, hot, context.seed + round);
    none.latencies.push(writeTimed(hot, latencyCount));
    raw.push(rawCopyAll(hot, dataPointer));
    firstBaseline.latencies.push(writeTimed(firstWrites, hotTracks));
    firstBaseline.ms.push(firstBaseline.latencies.at(-1)!.reduce((sum, ms) => sum + ms, 0));

    const t0 = image.checksum(source.id);
    const relationship = image.establish(source.id, target.id, { nocopy: true });
    first.latencies.push(writeTimed(firstWrites, hotTracks));
    first.ms.push(first.latencies.at(-1)!.reduce((sum, ms) => sum + ms, 0));
    check(image.status(relationship.id).pendingTracks === 2 * hotTracks - hotTracks, "first writes copied exactly the hot set's tracks");
    copied.ms.push(writeAll(hot));
    checkWritten(image, source, hot, context.seed + round + 50);
    copied.latencies.push(writeTimed(hot, latencyCount));
    check(image.checksum(target.id) === t0, "the -nocp target still reads as its T0 image after the workload");
    image.withdraw(relationship.id);
    context.progress(`writes: round ${round + 1}: none ${formatMs(none.ms.at(-1)!)}, hot set copied ${formatMs(copied.ms.at(-1)!)} for ${writeCount} writes`);
  }
  const overhead = timerOverheadMs();
  const noneSummary = summary(none, writeCount);
  const copiedSummary = summary(copied, writeCount);
  const firstSummary = summary(first, hotTracks);
  const firstBaselineSummary = summary(firstBaseline, hotTracks);
  const rawRate = writeCount / (median(raw) / 1000);
  const verified = "sampled blocks hold the last payload written; the -nocp target's checksum equals its T0 checksum";
  const latencyNote = `latencies are single writes timed with performance.now() (its own cost ≈ ${formatMs(overhead)}); hot set ${hotBytes / MiB} MiB pre-touched on source and target`;
  const results: FigureResult[] = [
    {
      key: "writes.core-rate",
      figure: "host 4 KiB random writes through the core, one thread",
      value: `${formatCount(noneSummary.rate)} (raw 4 KiB memory.copy ${formatCount(rawRate)})`,
      bar: "≥ 1,000,000 /s",
      ratio: noneSummary.rate / RATE_BAR,
      met: noneSummary.rate >= RATE_BAR,
      verified,
      note: `ratio is against the bar; the core path runs at ${((noneSummary.rate / rawRate) * 100).toFixed(0)}% of a raw copy of the same bytes`,
      details: { writes: writeCount, rounds, ms: none.ms, rawCopyMs: raw, rawCopyRate: rawRate, hotBytes },
    },
    {
      key: "writes.nocp-hot",
      figure: "4 KiB random writes, -nocp source with hot set copied vs no relationship",
      value: `${latencyText(copiedSummary)} vs ${latencyText(noneSummary)}`,
      bar: `≥ ${HOT_BAR}× no relationship`,
      ratio: copiedSummary.rate / noneSummary.rate,
      met: copiedSummary.rate / noneSummary.rate >= HOT_BAR,
      verified,
      note: latencyNote,
      details: { none: noneSummary, hotSetCopied: copiedSummary, ms: { none: none.ms, hotSetCopied: copied.ms }, timerOverheadMs: overhead, writes: writeCount, latencySamplesPerRound: latencyCount },
    },
    {
      key: "writes.nocp-first",
      figure: "4 KiB first writes (copy-on-write of a 64 KiB track) vs no relationship",
      value: `${latencyText(firstSummary)} vs ${latencyText(firstBaselineSummary)}`,
      bar: "reported",
      ratio: firstSummary.rate / firstBaselineSummary.rate,
      met: null,
      verified,
      note: "each first write copies its 64 KiB track to the target before writing 4 KiB",
      details: { copyOnWrite: firstSummary, noRelationship: firstBaselineSummary, writesPerRound: hotTracks },
    },
  ];
  return results;
}
