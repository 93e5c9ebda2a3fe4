// Host 4 KiB random writes through the core on one thread: with no
// relationship; on the source of a -nocp relationship, first writes (each one
// a copy-on-write of its 64 KiB track) and once the hot set has been copied.
import type { StorageImage, Volume } from "../../src/engine/index.js";
import { CoreThread, coreModule } from "../../src/core/core.js";
import { check, type Suite, type SuiteContext, type FigureResult } from "../harness/suite.js";
import { Xorshift32 } from "../harness/random.js";
import { contiguousPointer } from "../harness/fixtures.js";
import { median, spreadOf, percentileOfSorted, formatCount, formatMs, MiB } from "../harness/stats.js";

const BLOCK = 4096;
const TRACK_SIZE = 64 * 1024;
const BUFFERS = 16; // distinct 4 KiB payloads in the staging buffer, used in turn
const RATE_BAR = 1_000_000;
const HOT_BAR = 0.9;
const SAMPLED_BLOCKS = 256;
const CHUNKS = 10; // chunks a round's writes are split into, timed in turn on either volume

interface Workload {
  host: CoreThread; // the writing thread's own binding (its staging buffer holds the payloads)
  slot: number;
  offsets: Uint32Array; // byte offsets, 4 KiB aligned
  staging: number; // pointer to BUFFERS payloads of 4 KiB
}

// Timed loop over writes [first, end): the host write path as a caller of the core sees it.
function writeAll(workload: Workload, first = 0, end = workload.offsets.length): number {
  const write = workload.host.exports.io_write;
  const { slot, offsets, staging } = workload;
  const start = performance.now();
  for (let index = first; index < end; index++) {
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

// The same writes through the engine's API (volume lookup, range checks, a
// copy of the caller's bytes into the staging buffer, then the core).
function engineWriteAll(image: StorageImage, volume: Volume, workload: Workload, payloads: readonly Uint8Array[]): number {
  const { offsets } = workload;
  const start = performance.now();
  for (let index = 0; index < offsets.length; index++) image.write(volume.id, offsets[index], payloads[index & (BUFFERS - 1)]);
  return performance.now() - start;
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
    const found = image.read(volume.id, offset, BLOCK);
    if (Buffer.compare(found, expected) === 0) continue;
    const heldPayload = Array.from({ length: BUFFERS }, (_, index) => index)
      .find((index) => Buffer.compare(found, bytes.subarray(workload.staging + index * BLOCK, workload.staging + (index + 1) * BLOCK)) === 0);
    check(false, `block at ${volume.id}+${offset} holds payload ${last.get(offset)}, the last written there (it holds ${heldPayload ?? "none of them"})`);
  }
}

interface Phase {
  ms: number[]; // per timed run of `count` writes
  latencies: Float64Array[];
}

interface Summary {
  rate: number;
  p50: number;
  p99: number;
}

function summary(phase: Phase, count: number): Summary {
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

function latencyText(phase: Summary): string {
  return `${formatCount(phase.rate)}, p50 ${formatMs(phase.p50)} p99 ${formatMs(phase.p99)}`;
}

export const writesSuite: Suite = {
  name: "writes",
  figures: ["writes.core-rate", "writes.engine-api", "writes.nocp-hot", "writes.nocp-first"],
  async run(context: SuiteContext) {
    const { image } = context.shared;
    const hotBytes = context.quick ? 64 * MiB : 256 * MiB;
    // Volumes twice the hot set; only the hot set is written, and pre-touched
    // on all three. `plain` never has a relationship: the workload alternates
    // between it and the -nocp source in short chunks, so that machine noise
    // falls on both sides of the ratio alike.
    const volumes: Volumes = {
      plain: image.createVolume({ id: "3000", capacity: (2 * hotBytes) / 512, unit: "blocks" }),
      source: image.createVolume({ id: "3002", capacity: (2 * hotBytes) / 512, unit: "blocks" }),
      target: image.createVolume({ id: "3003", capacity: (2 * hotBytes) / 512, unit: "blocks" }),
    };
    for (const [index, volume] of Object.values(volumes).entries()) image.writePattern(volume.id, 0, hotBytes, context.seed + index);
    const plainPointer = contiguousPointer(image, volumes.plain, hotBytes);
    // The writer is a host thread of its own (an id of the image, its own
    // staging buffer), so that the engine's reads on thread 0 cannot touch the payloads.
    const hostId = image.threadIds.take();
    const host = new CoreThread(image.memory, hostId, coreModule());
    try {
      return measure(context, image, host, volumes, plainPointer, hotBytes);
    } finally {
      image.core.exports.reap_thread(hostId);
      image.threadIds.release(hostId);
    }
  },
};

interface Volumes {
  plain: Volume;
  source: Volume;
  target: Volume;
}

interface Workloads {
  plain: Workload;
  source: Workload;
  payloadCopies: Uint8Array[];
  firstWrites: (round: number) => { plain: Workload; source: Workload };
}

function workloads(context: SuiteContext, host: CoreThread, volumes: Volumes, hotBytes: number, writeCount: number): Workloads {
  const staging = host.stagingPointer;
  const random = new Xorshift32(context.seed + 3);
  const payloads = host.staging(BUFFERS * BLOCK);
  for (let index = 0; index < payloads.length; index++) payloads[index] = random.next() & 0xff;
  const offsets = new Uint32Array(writeCount);
  for (let index = 0; index < writeCount; index++) offsets[index] = random.below(hotBytes / BLOCK) * BLOCK;
  const hotTracks = hotBytes / TRACK_SIZE;
  // First writes: each track of the hot set once, in random order, at a random 4 KiB within it.
  const firstWrites = (round: number) => {
    const order = new Xorshift32(context.seed + 100 + round);
    const firstOffsets = Uint32Array.from(order.permutation(hotTracks), (track) => track * TRACK_SIZE + order.below(TRACK_SIZE / BLOCK) * BLOCK);
    return {
      plain: { host, slot: volumes.plain.slot, offsets: firstOffsets, staging },
      source: { host, slot: volumes.source.slot, offsets: firstOffsets, staging },
    };
  };
  return {
    plain: { host, slot: volumes.plain.slot, offsets, staging },
    source: { host, slot: volumes.source.slot, offsets, staging },
    payloadCopies: Array.from({ length: BUFFERS }, (_, index) => payloads.slice(index * BLOCK, (index + 1) * BLOCK)),
    firstWrites,
  };
}

interface Measured {
  plain: Phase; // chunks on the volume without relationship
  copied: Phase; // chunks on the -nocp source once its hot set is copied
  chunkRatios: number[]; // plain chunk time / copied chunk time, pairwise
  firstBaseline: Phase;
  first: Phase;
  raw: number[];
  engine: number[];
}

const sum = (list: Float64Array) => list.reduce((total, ms) => total + ms, 0);

function measure(context: SuiteContext, image: StorageImage, host: CoreThread, volumes: Volumes, plainPointer: number, hotBytes: number): FigureResult[] {
  const writeCount = context.quick ? 300_000 : 1_000_000;
  const latencyCount = context.quick ? 100_000 : 300_000;
  const rounds = context.quick ? 3 : 5;
  const chunkWrites = writeCount / CHUNKS;
  const hotTracks = hotBytes / TRACK_SIZE;
  const work = workloads(context, host, volumes, hotBytes, writeCount);
  const measured: Measured = {
    plain: { ms: [], latencies: [] }, copied: { ms: [], latencies: [] }, chunkRatios: [],
    firstBaseline: { ms: [], latencies: [] }, first: { ms: [], latencies: [] }, raw: [], engine: [],
  };
  writeAll(work.plain); // warm-up
  writeAll(work.source);
  for (let round = 0; round < rounds; round++) {
    const first = work.firstWrites(round);
    measured.firstBaseline.latencies.push(writeTimed(first.plain, hotTracks));
    measured.firstBaseline.ms.push(sum(measured.firstBaseline.latencies.at(-1)!));
    const t0 = image.checksum(volumes.source.id);
    const relationship = image.establish(volumes.source.id, volumes.target.id, { nocopy: true });
    measured.first.latencies.push(writeTimed(first.source, hotTracks));
    measured.first.ms.push(sum(measured.first.latencies.at(-1)!));
    check(image.status(relationship.id).pendingTracks === hotTracks, "first writes copied exactly the hot set's tracks");
    for (let chunk = 0; chunk < CHUNKS; chunk++) {
      const plainMs = writeAll(work.plain, chunk * chunkWrites, (chunk + 1) * chunkWrites);
      const copiedMs = writeAll(work.source, chunk * chunkWrites, (chunk + 1) * chunkWrites);
      measured.plain.ms.push(plainMs);
      measured.copied.ms.push(copiedMs);
      measured.chunkRatios.push(plainMs / copiedMs);
    }
    checkWritten(image, volumes.plain, work.plain, context.seed + round);
    checkWritten(image, volumes.source, work.source, context.seed + round + 50);
    measured.plain.latencies.push(writeTimed(work.plain, latencyCount));
    measured.copied.latencies.push(writeTimed(work.source, latencyCount));
    check(image.checksum(volumes.target.id) === t0, "the -nocp target still reads as its T0 image after the workload");
    image.withdraw(relationship.id);
    measured.raw.push(rawCopyAll(work.plain, plainPointer));
    measured.engine.push(engineWriteAll(image, volumes.plain, work.plain, work.payloadCopies));
    checkWritten(image, volumes.plain, work.plain, context.seed + round + 20);
    context.progress(`writes: round ${round + 1}: no relationship vs hot set copied, median chunk ratio ${median(measured.chunkRatios).toFixed(2)}`);
  }
  return figures(measured, { writeCount, chunkWrites, latencyCount, rounds, hotBytes, hotTracks });
}

interface Sizes {
  writeCount: number;
  chunkWrites: number;
  latencyCount: number;
  rounds: number;
  hotBytes: number;
  hotTracks: number;
}

function figures(measured: Measured, sizes: Sizes): FigureResult[] {
  const overhead = timerOverheadMs();
  const plain = summary(measured.plain, sizes.chunkWrites);
  const copied = summary(measured.copied, sizes.chunkWrites);
  const first = summary(measured.first, sizes.hotTracks);
  const firstBaseline = summary(measured.firstBaseline, sizes.hotTracks);
  const rawRate = sizes.writeCount / (median(measured.raw) / 1000);
  const engineRate = sizes.writeCount / (median(measured.engine) / 1000);
  const hotRatio = median(measured.chunkRatios);
  // Spreads over the rounds (or chunks) each figure's sides ran side by side in.
  const chunkRates = measured.plain.ms.map((ms) => sizes.chunkWrites / (ms / 1000) / RATE_BAR);
  const plainRoundMs = measured.engine.map((_, round) => measured.plain.ms.slice(round * CHUNKS, (round + 1) * CHUNKS).reduce((total, ms) => total + ms, 0));
  const engineRatios = measured.engine.map((ms, round) => plainRoundMs[round] / ms);
  const firstRatios = measured.first.ms.map((ms, round) => measured.firstBaseline.ms[round] / ms);
  const verified = "sampled blocks hold the last payload written; the -nocp target's checksum equals its T0 checksum";
  const latencyNote = `latencies are single writes timed with performance.now() (its own cost ≈ ${formatMs(overhead)}); hot set ${sizes.hotBytes / MiB} MiB pre-touched on every volume`;
  return [
    {
      key: "writes.core-rate",
      figure: "host 4 KiB random writes through the core, one thread",
      value: `${formatCount(plain.rate)} (raw 4 KiB memory.copy ${formatCount(rawRate)})`,
      bar: "≥ 1,000,000 /s",
      ratio: plain.rate / RATE_BAR,
      spread: spreadOf(chunkRates),
      met: plain.rate >= RATE_BAR,
      verified,
      note: `ratio is against the bar; the core path runs at ${((plain.rate / rawRate) * 100).toFixed(0)}% of a raw copy of the same bytes`,
      details: { writes: sizes.writeCount, rounds: sizes.rounds, chunkMs: measured.plain.ms, rawCopyMs: measured.raw, rawCopyRate: rawRate },
    },
    {
      key: "writes.engine-api",
      figure: "host 4 KiB random writes through StorageImage.write, one thread",
      value: `${formatCount(engineRate)} vs ${formatCount(plain.rate)} through the core`,
      bar: "reported",
      ratio: engineRate / plain.rate,
      spread: spreadOf(engineRatios),
      met: null,
      verified,
      note: "the engine API copies the caller's bytes into the staging buffer and looks the volume up by ID on every call",
      details: { writes: sizes.writeCount, rounds: sizes.rounds, ms: measured.engine },
    },
    {
      key: "writes.nocp-hot",
      figure: "4 KiB random writes, -nocp source with hot set copied vs no relationship",
      value: `${latencyText(copied)} vs ${latencyText(plain)}`,
      bar: `≥ ${HOT_BAR}× no relationship`,
      ratio: hotRatio,
      spread: spreadOf(measured.chunkRatios),
      met: hotRatio >= HOT_BAR,
      verified,
      note: `${latencyNote}; ratio is the median of ${measured.chunkRatios.length} interleaved chunk pairs`,
      details: { none: plain, hotSetCopied: copied, chunkRatios: measured.chunkRatios, timerOverheadMs: overhead, ...sizes },
    },
    {
      key: "writes.nocp-first",
      figure: "4 KiB first writes (copy-on-write of a 64 KiB track) vs no relationship",
      value: `${latencyText(first)} vs ${latencyText(firstBaseline)}`,
      bar: "reported",
      ratio: first.rate / firstBaseline.rate,
      spread: spreadOf(firstRatios),
      met: null,
      verified,
      note: "each first write copies its 64 KiB track to the target before writing 4 KiB",
      details: { copyOnWrite: first, noRelationship: firstBaseline, writesPerRound: sizes.hotTracks },
    },
  ];
}
