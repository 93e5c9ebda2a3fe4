// PPRC in one process (design.md §11): a resync after a suspend sends exactly
// the tracks written meanwhile, counted by the core; and a Metro Mirror 4 KiB
// write (sent through the link ring to the sender thread, applied on the
// secondary image, acknowledged) against a plain local write, by p50 latency;
// and host writes on a suspended primary against a volume in no pair; and
// Copy Pending against a bulk copy between the two images' memories. The
// two-node figures over TCP are link.ts's.
import { EmbeddedSite } from "../../src/site/embedded.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import { check, type Suite, type SuiteContext, type FigureResult } from "../harness/suite.js";
import { Xorshift32 } from "../harness/random.js";
import { EXTENT_SIZE, extentPointers, writeP50Micros } from "../harness/fixtures.js";
import type { StorageImage } from "../../src/engine/image.js";
import { median, spreadOf, formatBytes, formatMs, formatRate } from "../harness/stats.js";

const PRIMARY = "IBM.2107-75BENCHA";
const SECONDARY = "IBM.2107-75BENCHB";
const CHANGED_FRACTION = 0.01;
const WRITE_BYTES = 4096;
const WAIT_MS = 120_000;

async function pairedSite(trackCount: number): Promise<EmbeddedSite> {
  const site = new EmbeddedSite({ workers: 0, images: [{ model: "2107", id: PRIMARY }, { model: "2107", id: SECONDARY }] });
  const wwnn = (await site.listImages())[1].wwnn;
  await site.makePath(PRIMARY, { remoteImageId: SECONDARY, remoteWwnn: wwnn, sourceLss: "10", targetLss: "20", ports: ["I0010:I0143"] });
  const blocks = (trackCount * TRACK_SIZE) / 512;
  await site.createVolumes(PRIMARY, { ids: ["1000", "1001"], capacity: blocks, unit: "blocks" });
  await site.createVolumes(SECONDARY, { ids: ["2000"], capacity: blocks, unit: "blocks" });
  await site.fill(PRIMARY, "1000", { offset: 0, length: trackCount * TRACK_SIZE }, { kind: "pattern", seed: 5 });
  await site.fill(PRIMARY, "1001", { offset: 0, length: trackCount * TRACK_SIZE }, { kind: "pattern", seed: 6 });
  await site.makePairs(PRIMARY, { remoteImageId: SECONDARY, pairs: [["1000", "2000"]], type: "mmir" });
  await site.waitForPairs(PRIMARY, ["1000:2000"], { timeoutMs: WAIT_MS });
  return site;
}

function equalOnBothSides(site: EmbeddedSite): boolean {
  return site.engineImage(PRIMARY).checksum("1000") === site.engineImage(SECONDARY).checksum("2000");
}

async function sentTracks(site: EmbeddedSite): Promise<number> {
  return (await site.listPairs(PRIMARY)).find((pair) => pair.id === "1000:2000")!.sentTracks;
}

interface ResyncRound {
  changed: number;
  sent: number;
  ms: number;
}

async function resyncRound(site: EmbeddedSite, trackCount: number, seed: number): Promise<ResyncRound> {
  await site.changePairs(PRIMARY, "pausepprc", { ids: ["1000:2000"] });
  const random = new Xorshift32(seed);
  const changed = Math.max(1, Math.round(trackCount * CHANGED_FRACTION));
  const tracks = [...random.permutation(trackCount).subarray(0, changed)];
  const image = site.engineImage(PRIMARY);
  for (const track of tracks) image.writePattern("1000", track * TRACK_SIZE + 512, WRITE_BYTES, seed);
  const pair = (await site.listPairs(PRIMARY))[0];
  check(pair.outOfSyncTracks === changed, "the suspended pair counts exactly the changed tracks out of sync");
  const before = await sentTracks(site);
  const start = performance.now();
  await site.changePairs(PRIMARY, "resumepprc", { ids: ["1000:2000"] });
  await site.waitForPairs(PRIMARY, ["1000:2000"], { timeoutMs: WAIT_MS });
  const ms = performance.now() - start;
  check(equalOnBothSides(site), "the secondary equals the primary after the resync");
  return { changed, sent: (await sentTracks(site)) - before, ms };
}

// p50 of `count` 4 KiB writes at random 4 KiB offsets of `volume`, in µs.
function writeLatencies(site: EmbeddedSite, volume: string, trackCount: number, count: number, seed: number): number {
  return writeP50Micros(site.engineImage(PRIMARY), volume, trackCount * TRACK_SIZE, new Uint8Array(WRITE_BYTES).fill(seed & 0xff), count, seed);
}

async function resyncFigure(context: SuiteContext, site: EmbeddedSite, trackCount: number): Promise<FigureResult> {
  const rounds: ResyncRound[] = [];
  for (let round = 1; round <= (context.quick ? 3 : 5); round++) {
    rounds.push(await resyncRound(site, trackCount, context.seed + round));
    context.progress(`pprc: resync round ${round}: ${rounds.at(-1)!.sent} of ${rounds.at(-1)!.changed} tracks sent in ${formatMs(rounds.at(-1)!.ms)}`);
  }
  const ratios = rounds.map((round) => round.sent / round.changed);
  return {
    key: "pprc.resync-exact",
    figure: `resumepprc after 1% of a ${formatBytes(trackCount * TRACK_SIZE)} Metro Mirror primary's tracks were written while suspended: tracks sent / tracks written`,
    value: `${rounds[0].sent} of ${rounds[0].changed} tracks, resync ${formatMs(median(rounds.map((round) => round.ms)))}`,
    bar: "= 1 (exactly the out-of-sync tracks)",
    ratio: median(ratios),
    spread: spreadOf(ratios),
    met: ratios.every((ratio) => ratio === 1),
    verified: `out-of-sync count equals the tracks written before each resume; the secondary's checksum equals the primary's after each (${rounds.length} rounds)`,
    details: { trackCount, rounds },
  };
}

async function latencyFigure(context: SuiteContext, site: EmbeddedSite, trackCount: number): Promise<FigureResult> {
  const count = context.quick ? 2000 : 10_000;
  const mirrored: number[] = [];
  const local: number[] = [];
  for (let round = 1; round <= (context.quick ? 3 : 7); round++) {
    local.push(writeLatencies(site, "1001", trackCount, count, context.seed + round));
    mirrored.push(writeLatencies(site, "1000", trackCount, count, context.seed + round));
  }
  check((await site.listPairs(PRIMARY))[0].state === "Full Duplex", "the pair stayed Full Duplex through the writes");
  check(equalOnBothSides(site), "every mirrored write is on the secondary");
  const ratios = mirrored.map((value, index) => value / local[index]);
  return {
    key: "pprc.mmir-latency",
    figure: "Metro Mirror 4 KiB write, one writer, in one process (link ring → sender thread → secondary image) vs a local write, p50",
    value: `${median(mirrored).toFixed(1)} µs vs ${median(local).toFixed(1)} µs`,
    bar: "reported (the bar is for two nodes over TCP)",
    ratio: median(ratios),
    spread: spreadOf(ratios),
    met: null,
    verified: `pair Full Duplex throughout; secondary checksum equals the primary's after ${mirrored.length} rounds of ${count} writes`,
    note: "ratio is mirrored / local latency: the cost of the hand-off to the sender thread and its wake-up",
    details: { count, mirroredP50Micros: mirrored, localP50Micros: local },
  };
}

// 4 KiB writes per second at random 4 KiB offsets of `volume`; `written` collects the tracks.
function writeRate(site: EmbeddedSite, volume: string, trackCount: number, count: number, seed: number, written: Set<number>): number {
  const image = site.engineImage(PRIMARY);
  const random = new Xorshift32(seed);
  const data = new Uint8Array(WRITE_BYTES).fill(seed & 0xff);
  const slots = (trackCount * TRACK_SIZE) / WRITE_BYTES;
  const offsets = Array.from({ length: count }, () => (random.next() % slots) * WRITE_BYTES);
  const start = performance.now();
  for (const offset of offsets) image.write(volume, offset, data);
  const seconds = (performance.now() - start) / 1000;
  for (const offset of offsets) written.add(Math.floor(offset / TRACK_SIZE));
  return count / seconds;
}

// Host writes on a suspended primary (each sets its track's out-of-sync bit and completes locally)
// against the same writes on a volume in no pair.
async function suspendedFigure(context: SuiteContext, site: EmbeddedSite, trackCount: number): Promise<FigureResult> {
  await site.changePairs(PRIMARY, "pausepprc", { ids: ["1000:2000"] });
  const secondaryBefore = site.engineImage(SECONDARY).checksum("2000");
  const count = context.quick ? 20_000 : 100_000;
  const suspended: number[] = [];
  const unpaired: number[] = [];
  const written = new Set<number>();
  for (let round = 1; round <= (context.quick ? 3 : 7); round++) {
    unpaired.push(writeRate(site, "1001", trackCount, count, context.seed + round, new Set()));
    suspended.push(writeRate(site, "1000", trackCount, count, context.seed + round, written));
  }
  const pair = (await site.listPairs(PRIMARY))[0];
  check(pair.state === "Suspended", "the pair stayed suspended through the writes");
  check(pair.outOfSyncTracks === written.size, "exactly the tracks written are out of sync");
  check(site.engineImage(SECONDARY).checksum("2000") === secondaryBefore, "no write reached the secondary");
  const ratios = suspended.map((value, index) => value / unpaired[index]);
  return {
    key: "pprc.suspended-writes",
    figure: "host 4 KiB random writes, one thread, on a suspended Metro Mirror primary vs a volume in no pair, writes/s",
    value: `${Math.round(median(suspended))}/s vs ${Math.round(median(unpaired))}/s`,
    bar: "≥ 0.9×",
    ratio: median(ratios),
    spread: spreadOf(ratios),
    met: median(ratios) >= 0.9,
    verified: `pair Suspended throughout; its out-of-sync count equals the ${written.size} distinct tracks written; the secondary unchanged (${suspended.length} rounds of ${count} writes)`,
    details: { count, suspendedPerSecond: suspended, unpairedPerSecond: unpaired },
  };
}

// Copy Pending of a fresh pair in one process (the sender thread copies every
// track to the secondary image) against a bulk copy of the same bytes between
// the two images' memories, extent by extent. Both volumes are written first,
// so that both sides find their memory touched.
// CPU time of the whole process (every thread) since `since`, in µs.
function cpuMicrosSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

interface CopyRound {
  copy: number; // bytes per second
  bulk: number;
  copyCpuMicrosPerMiB: number; // process CPU time: a figure the other processes on the machine disturb far less than wall time
  bulkCpuMicrosPerMiB: number;
}

async function copyRound(site: EmbeddedSite, trackCount: number, round: number, seed: number): Promise<CopyRound> {
  const [primaryId, secondaryId] = [`10${(0x10 + round).toString(16)}`, `20${(0x10 + round).toString(16)}`];
  const bytes = trackCount * TRACK_SIZE;
  await site.createVolumes(PRIMARY, { ids: [primaryId], capacity: bytes / 512, unit: "blocks" });
  await site.createVolumes(SECONDARY, { ids: [secondaryId], capacity: bytes / 512, unit: "blocks" });
  const [primary, secondary] = [site.engineImage(PRIMARY), site.engineImage(SECONDARY)];
  primary.writePattern(primaryId, 0, bytes, seed);
  secondary.writePattern(secondaryId, 0, bytes, seed + 1);
  const mebibytes = bytes / 2 ** 20;
  const [bulkStart, bulkCpu] = [performance.now(), process.cpuUsage()];
  bulkCopy(primary, primaryId, secondary, secondaryId);
  const bulk = bytes / ((performance.now() - bulkStart) / 1000);
  const bulkCpuMicrosPerMiB = cpuMicrosSince(bulkCpu) / mebibytes;
  const pair = `${primaryId}:${secondaryId}`;
  const slot = primary.volume(primaryId).slot;
  const [copyStart, copyCpu] = [performance.now(), process.cpuUsage()];
  await site.makePairs(PRIMARY, { remoteImageId: SECONDARY, pairs: [[primaryId, secondaryId]], type: "mmir" });
  const deadline = copyStart + WAIT_MS;
  while (primary.core.exports.pprc_out_of_sync(slot) > 0) {
    check(performance.now() < deadline, `the Copy Pending of ${pair} ends within ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const copy = bytes / ((performance.now() - copyStart) / 1000);
  const copyCpuMicrosPerMiB = cpuMicrosSince(copyCpu) / mebibytes;
  check(primary.checksum(primaryId) === secondary.checksum(secondaryId), `Copy Pending of ${pair} left the volumes equal`);
  await site.changePairs(PRIMARY, "rmpprc", { ids: [pair] });
  await site.removeVolumes(PRIMARY, [primaryId]);
  await site.removeVolumes(SECONDARY, [secondaryId]);
  return { copy, bulk, copyCpuMicrosPerMiB, bulkCpuMicrosPerMiB };
}

// Every extent of `fromId` copied to the same extent of `toId`, between the two images' memories.
function bulkCopy(from: StorageImage, fromId: string, to: StorageImage, toId: string): void {
  const sources = extentPointers(from, from.volume(fromId));
  const targets = extentPointers(to, to.volume(toId));
  const [fromBytes, toBytes] = [new Uint8Array(from.memory.buffer), new Uint8Array(to.memory.buffer)];
  for (let extent = 0; extent < sources.length; extent++) {
    check(sources[extent] !== 0 && targets[extent] !== 0, `extent ${extent} of both volumes is allocated`);
    toBytes.set(fromBytes.subarray(sources[extent], sources[extent] + EXTENT_SIZE), targets[extent]);
  }
}

async function copyFigure(context: SuiteContext, site: EmbeddedSite, trackCount: number): Promise<FigureResult> {
  const rounds: CopyRound[] = [];
  for (let round = 1; round <= (context.quick ? 3 : 5); round++) {
    rounds.push(await copyRound(site, trackCount, round, context.seed + round));
    const last = rounds.at(-1)!;
    context.progress(`pprc: Copy Pending round ${round}: ${formatRate(last.copy)} vs bulk copy ${formatRate(last.bulk)}; CPU ${last.copyCpuMicrosPerMiB.toFixed(0)} vs ${last.bulkCpuMicrosPerMiB.toFixed(0)} µs/MiB`);
  }
  const ratios = rounds.map((round) => round.copy / round.bulk);
  const copyCpu = rounds.map((round) => round.copyCpuMicrosPerMiB);
  const bulkCpu = rounds.map((round) => round.bulkCpuMicrosPerMiB);
  return {
    key: "pprc.copy",
    figure: `Copy Pending of a ${formatBytes(trackCount * TRACK_SIZE)} Metro Mirror pair in one process vs a bulk copy of its extents between the two images' memories`,
    value: `${formatRate(median(rounds.map((round) => round.copy)))} vs ${formatRate(median(rounds.map((round) => round.bulk)))}`,
    bar: "≥ 0.8×",
    ratio: median(ratios),
    spread: spreadOf(ratios),
    met: median(ratios) >= 0.8,
    verified: `each round's secondary checksum equals its primary's (${rounds.length} rounds)`,
    note: `process CPU time per MiB, median (min–max): Copy Pending ${median(copyCpu).toFixed(0)} µs (${Math.min(...copyCpu).toFixed(0)}–${Math.max(...copyCpu).toFixed(0)}), bulk copy ${median(bulkCpu).toFixed(0)} µs (${Math.min(...bulkCpu).toFixed(0)}–${Math.max(...bulkCpu).toFixed(0)})`,
    details: { trackCount, copyBytesPerSecond: rounds.map((round) => round.copy), bulkBytesPerSecond: rounds.map((round) => round.bulk), copyCpuMicrosPerMiB: copyCpu, bulkCpuMicrosPerMiB: bulkCpu },
  };
}

export const pprcSuite: Suite = {
  name: "pprc",
  figures: ["pprc.resync-exact", "pprc.mmir-latency", "pprc.suspended-writes", "pprc.copy"],
  async run(context) {
    const trackCount = context.quick ? 1024 : 4096;
    const site = await pairedSite(trackCount);
    try {
      const results = [await resyncFigure(context, site, trackCount), await latencyFigure(context, site, trackCount), await suspendedFigure(context, site, trackCount)];
      results.push(await copyFigure(context, site, trackCount));
      return results;
    } finally {
      await site.close();
    }
  },
};
