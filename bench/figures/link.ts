// PPRC between two processes over loopback TCP (design.md §11): the primary
// image here with its link's sender thread, the secondary image in a child
// process (workers/link-peer.ts) that also runs the bare baselines, so that
// both sides of every ratio cross the same two processes in the same run.
//
// - link.mmir-p50: a Metro Mirror 4 KiB write, one writer, p50, vs a bare
//   4 KiB request/8-byte ack round trip plus a local write (bar ≤ 1.5×).
// - link.mmir-16: 16 writer threads, writes/s, vs 16 bare request/ack
//   streams at once (bar ≥ 0.7×); link.mmir-16-cpu: their CPU time per
//   write of both processes, reported.
// - link.copy: Copy Pending of a whole volume onto a standard (-sam standard,
//   fully allocated) secondary, bytes/s, vs a raw TCP stream of as many bytes
//   to the peer (bar ≥ 0.8×); link.copy-cpu: the CPU time of both processes
//   per MiB of each (reported: steadier on a loaded machine); link.copy-thin:
//   the same copy onto a thin (ese) secondary, reported beside it.
// - link.resync: resumepprc after 1% of the tracks were written while
//   suspended: tracks (bytes) sent over the wire / tracks written (= 1).
// Every figure is checked first: the pair Full Duplex, the secondary's
// checksum equal to the primary's, no write failed.
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { CoreCode, MirrorMode, TRACK_SIZE } from "../../src/core/codes.js";
import { StorageImage } from "../../src/engine/image.js";
import type { Sam } from "../../src/engine/provision.js";
import type { TcpLink } from "../../src/pprc/tcp-link.js";
import { linkToPeer, PeerProcess } from "../harness/peer-process.js";
import { cpuMicros } from "../workers/secondary-node.js";
import { check, wanted, type FigureResult, type Suite, type SuiteContext } from "../harness/suite.js";
import { Xorshift32 } from "../harness/random.js";
import { median, percentile, spreadOf, formatBytes, formatRate, MiB } from "../harness/stats.js";
import { writeP50Micros } from "../harness/fixtures.js";
import type { MirrorWriterData } from "../workers/mirror-writer.js";

const PEER = fileURLToPath(new URL("../workers/link-peer.js", import.meta.url));
const WRITER = new URL("../workers/mirror-writer.js", import.meta.url);
const SECONDARY = "IBM.2107-75LBENCHB";
const SITE_KEY = new Uint8Array(randomBytes(32));
const WRITE_BYTES = 4096;
const WRITERS = 16;
const LATENCY_TRACKS = 256;
const ACK_TIMEOUT_MS = 60_000;
const WAIT_MS = 300_000;

interface Ports { link: number; ack: number; sink: number }
type Peer = PeerProcess<Ports>;

interface Bench {
  image: StorageImage;
  link: TcpLink;
  peer: Peer;
  remoteSlot: number; // the slot of 1000's secondary on the peer, once paired
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => resolve(socket));
    socket.setNoDelay(true);
    socket.once("error", reject);
  });
}

// Until the pair of `slot` has no out-of-sync track, unsuspended throughout and within WAIT_MS.
async function untilInSync(image: StorageImage, slot: number, what: string): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  while (image.core.exports.pprc_out_of_sync(slot) > 0) {
    check(performance.now() < deadline, `${what} ends within ${WAIT_MS} ms`);
    check(image.core.exports.pprc_mode(slot) === MirrorMode.SYNC, `the pair stays unsuspended through ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

// A new secondary `secondaryId` of `tracks` tracks on the peer (a standard one allocated and touched first): its slot there.
async function makeSecondary(bench: Bench, secondaryId: string, tracks: number, sam: Sam = "ese"): Promise<number> {
  return (await bench.peer.ask<{ slot: number }>({ op: "secondary", id: secondaryId, blocks: (tracks * TRACK_SIZE) / 512, sam })).slot;
}

// A primary `id` paired Full Duplex with the secondary in `remoteSlot` on the peer, its initial copy done; the copy's ms.
async function pairUp(bench: Bench, id: string, remoteSlot: number): Promise<{ slot: number; remoteSlot: number; copyMs: number }> {
  const volume = bench.image.volume(id);
  const started = performance.now();
  check(bench.image.core.exports.pprc_make_primary(volume.slot, bench.link.ring, remoteSlot, MirrorMode.SYNC, 0, 1) === CoreCode.OK, `${id} becomes a primary`);
  bench.link.setPairs([{ primarySlot: volume.slot, secondarySlot: remoteSlot }]);
  await untilInSync(bench.image, volume.slot, `the initial copy of ${id}`);
  return { slot: volume.slot, remoteSlot, copyMs: performance.now() - started };
}

async function equalOnBothSides(bench: Bench, id: string, secondaryId: string): Promise<boolean> {
  const { checksum } = await bench.peer.ask<{ checksum: string }>({ op: "checksum", id: secondaryId });
  return checksum === bench.image.checksum(id);
}

function writeP50(image: StorageImage, id: string, count: number, seed: number): number {
  return writeP50Micros(image, id, LATENCY_TRACKS * TRACK_SIZE, new Uint8Array(WRITE_BYTES).fill(seed & 0xff), count, seed);
}

// `streams` bare request/ack loops at once, `count` round trips each: their round trips' p50 (µs) and the whole rate (per s).
async function bareRoundTrips(sockets: Socket[], count: number): Promise<{ p50Micros: number; perSecond: number }> {
  const request = Buffer.alloc(WRITE_BYTES, 0x42);
  const samples: number[] = [];
  const started = performance.now();
  await Promise.all(sockets.map((socket) => new Promise<void>((resolve, reject) => {
    let done = 0;
    let buffered = 0;
    let sentAt = 0;
    const send = () => { sentAt = performance.now(); socket.write(request); };
    const onData = (chunk: Buffer) => {
      buffered += chunk.byteLength;
      while (buffered >= 8) {
        buffered -= 8;
        samples.push((performance.now() - sentAt) * 1000);
        if (++done === count) {
          socket.off("data", onData);
          check(buffered === 0, "the bare peer sent exactly one 8-byte ack per request");
          return resolve();
        }
        send();
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    send();
  })));
  return { p50Micros: percentile(samples, 50), perSecond: (sockets.length * count) / ((performance.now() - started) / 1000) };
}

// CPU time of both processes (every thread of each) so far, in µs: less sensitive to a loaded machine than latency.
async function cpuOfBoth(bench: Bench): Promise<number> {
  const { micros } = await bench.peer.ask<{ micros: number }>({ op: "cpu" });
  return micros + cpuMicros();
}

// `body`'s result, and the CPU time of both processes it took per `count`, in µs.
async function perCall<T>(bench: Bench, count: number, body: () => T | Promise<T>): Promise<{ result: T; cpuMicros: number }> {
  const before = await cpuOfBoth(bench);
  const result = await body();
  return { result, cpuMicros: ((await cpuOfBoth(bench)) - before) / count };
}

async function latencyFigures(context: SuiteContext, bench: Bench): Promise<FigureResult[]> {
  const count = context.quick ? 1000 : 4000;
  const rounds = context.quick ? 3 : 7;
  bench.remoteSlot = (await pairUp(bench, "1000", await makeSecondary(bench, "2000", LATENCY_TRACKS))).remoteSlot;
  const socket = await dial(bench.peer.hello.ack);
  const latency = { mirrored: [] as number[], baseline: [] as number[], ratios: [] as number[] };
  const cpu: CpuSamples = { mirrored: [], baseline: [], ratios: [] };
  try {
    writeP50(bench.image, "1000", count / 4, context.seed); // warm-up: JIT, socket buffers
    await bareRoundTrips([socket], count / 4);
    for (let round = 1; round <= rounds; round++) {
      const local = await perCall(bench, count, () => writeP50(bench.image, "1001", count, context.seed + round));
      const bare = await perCall(bench, count, () => bareRoundTrips([socket], count));
      const mirror = await perCall(bench, count, () => writeP50(bench.image, "1000", count, context.seed + round));
      latency.mirrored.push(mirror.result);
      latency.baseline.push(bare.result.p50Micros + local.result);
      latency.ratios.push(mirror.result / (bare.result.p50Micros + local.result));
      cpu.mirrored.push(mirror.cpuMicros);
      cpu.baseline.push(bare.cpuMicros + local.cpuMicros);
      cpu.ratios.push(mirror.cpuMicros / (bare.cpuMicros + local.cpuMicros));
      context.progress(`link: round ${round}: mirrored p50 ${mirror.result.toFixed(1)} µs vs bare ${bare.result.p50Micros.toFixed(1)} + local ${local.result.toFixed(1)} µs; CPU ${mirror.cpuMicros.toFixed(1)} vs ${(bare.cpuMicros + local.cpuMicros).toFixed(1)} µs`);
    }
  } finally {
    socket.destroy();
  }
  const slot = bench.image.volume("1000").slot;
  check(bench.image.core.exports.pprc_mode(slot) === MirrorMode.SYNC && bench.image.core.exports.pprc_out_of_sync(slot) === 0, "the pair stayed Full Duplex through the writes");
  check(await equalOnBothSides(bench, "1000", "2000"), "every mirrored write is on the secondary");
  const verified = `pair Full Duplex throughout, no out-of-sync track; the secondary's checksum equals the primary's after ${rounds} rounds of ${count} writes`;
  return [{
    key: "link.mmir-p50",
    figure: "Metro Mirror 4 KiB write, one writer, two processes over loopback TCP, p50 vs a bare 4 KiB request/ack round trip + a local write",
    value: `${median(latency.mirrored).toFixed(1)} µs vs ${median(latency.baseline).toFixed(1)} µs`,
    bar: "≤ 1.5×",
    ratio: median(latency.ratios),
    spread: spreadOf(latency.ratios),
    met: median(latency.ratios) <= 1.5,
    verified,
    note: "ratio is mirrored / baseline latency (smaller is better)",
    details: { count, mirroredP50Micros: latency.mirrored, baselineP50Micros: latency.baseline },
  }, cpuFigure("link.mmir-cpu", "Metro Mirror 4 KiB write, one writer, CPU time of both processes per write vs per bare 4 KiB request/ack round trip + local write", "latency", cpu, count, verified)];
}

interface CpuSamples { mirrored: number[]; baseline: number[]; ratios: number[] }

// A reported figure: CPU time of both processes per mirrored write vs per baseline round trip, beside a bar on `barOn`.
function cpuFigure(key: string, figure: string, barOn: string, cpu: CpuSamples, count: number, verified: string): FigureResult {
  return {
    key,
    figure,
    value: `${median(cpu.mirrored).toFixed(1)} µs vs ${median(cpu.baseline).toFixed(1)} µs`,
    bar: `reported (the bar is on ${barOn}; CPU time is less sensitive to a loaded machine)`,
    ratio: median(cpu.ratios),
    spread: spreadOf(cpu.ratios),
    met: null,
    verified,
    note: "ratio is mirrored / baseline CPU time (smaller is better)",
    details: { count, mirroredCpuMicros: cpu.mirrored, baselineCpuMicros: cpu.baseline },
  };
}

// One round of WRITERS threads × `count` writes: the rate, the failed writes, and
// the CPU time of both processes per write from the start signal to the last
// write (the threads' start-up and exit are outside it).
async function concurrentRound(bench: Bench, count: number, seed: number): Promise<{ perSecond: number; failed: number; cpuMicros: number }> {
  const start = new Int32Array(new SharedArrayBuffer(8));
  const threadIds = Array.from({ length: WRITERS }, () => bench.image.threadIds.take());
  const slot = bench.image.volume("1000").slot;
  try {
    const workers = threadIds.map((threadId, index) => {
      const data: MirrorWriterData = {
        memory: bench.image.memory, module: bench.image.core.module, threadId, slot, count, seed: seed + index,
        blockSlots: (LATENCY_TRACKS * TRACK_SIZE) / WRITE_BYTES, start,
      };
      return new Worker(WRITER, { workerData: data });
    });
    const results = workers.map((worker) => new Promise<{ ms: number; failed: number }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    }));
    // Every writer started and waiting: on a loaded machine 16 threads' start-up
    // (an isolate each, their modules, the core attached) took longer than a
    // fixed 200 ms, and its CPU time and wall time fell inside the round.
    const readyBy = performance.now() + ACK_TIMEOUT_MS;
    while (Atomics.load(start, 1) < WRITERS) {
      check(performance.now() < readyBy, `all ${WRITERS} writers start within ${ACK_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const cpuBefore = await cpuOfBoth(bench);
    const started = performance.now();
    Atomics.store(start, 0, 1);
    Atomics.notify(start, 0);
    const done = await Promise.all(results);
    const elapsedMs = performance.now() - started;
    const cpuMicros = ((await cpuOfBoth(bench)) - cpuBefore) / (WRITERS * count);
    Atomics.store(start, 0, 2);
    Atomics.notify(start, 0);
    await Promise.all(workers.map((worker) => worker.terminate()));
    return { perSecond: (WRITERS * count) / (elapsedMs / 1000), failed: done.reduce((sum, result) => sum + result.failed, 0), cpuMicros };
  } finally {
    for (const id of threadIds) {
      bench.image.core.exports.reap_thread(id);
      bench.image.threadIds.release(id);
    }
  }
}

// With 16 writers on 2 cores both sides are bound by CPU, so the CPU time of
// both processes per write is reported beside the rates: it says where a
// ratio comes from and moves less with the machine's load than the rates do.
async function concurrencyFigures(context: SuiteContext, bench: Bench): Promise<FigureResult[]> {
  const count = context.quick ? 300 : 1000;
  const rounds = context.quick ? 3 : 5;
  const sockets = await Promise.all(Array.from({ length: WRITERS }, () => dial(bench.peer.hello.ack)));
  const mirrored: number[] = [];
  const bare: number[] = [];
  const ratios: number[] = [];
  const cpu: CpuSamples = { mirrored: [], baseline: [], ratios: [] };
  try {
    for (let round = 1; round <= rounds; round++) {
      const writes = await concurrentRound(bench, count, context.seed + 100 * round);
      check(writes.failed === 0, `no write of round ${round} failed`);
      const trips = await perCall(bench, WRITERS * count, () => bareRoundTrips(sockets, count));
      mirrored.push(writes.perSecond);
      bare.push(trips.result.perSecond);
      ratios.push(writes.perSecond / trips.result.perSecond);
      cpu.mirrored.push(writes.cpuMicros);
      cpu.baseline.push(trips.cpuMicros);
      cpu.ratios.push(writes.cpuMicros / trips.cpuMicros);
      context.progress(`link: ${WRITERS} writers, round ${round}: ${Math.round(writes.perSecond)} mirrored writes/s vs ${Math.round(trips.result.perSecond)} bare round trips/s; CPU ${writes.cpuMicros.toFixed(1)} vs ${trips.cpuMicros.toFixed(1)} µs each`);
    }
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  const slot = bench.image.volume("1000").slot;
  check(bench.image.core.exports.pprc_mode(slot) === MirrorMode.SYNC && bench.image.core.exports.pprc_out_of_sync(slot) === 0, "the pair stayed Full Duplex through the concurrent writes");
  check(await equalOnBothSides(bench, "1000", "2000"), "every concurrent mirrored write is on the secondary");
  const verified = `no write failed; pair Full Duplex; the secondary's checksum equals the primary's after ${rounds} rounds of ${WRITERS} × ${count} writes`;
  return [{
    key: "link.mmir-16",
    figure: `Metro Mirror 4 KiB writes, ${WRITERS} writer threads, two processes over loopback TCP, vs ${WRITERS} bare request/ack streams at once`,
    value: `${Math.round(median(mirrored))} vs ${Math.round(median(bare))} per s`,
    bar: "≥ 0.7×",
    ratio: median(ratios),
    spread: spreadOf(ratios),
    met: median(ratios) >= 0.7,
    verified,
    details: { count, mirroredPerSecond: mirrored, barePerSecond: bare },
  }, cpuFigure("link.mmir-16-cpu", `Metro Mirror 4 KiB writes, ${WRITERS} writer threads, CPU time of both processes per write vs per bare request/ack round trip (${WRITERS} streams)`, "the rate", cpu, count, verified)];
}

// A raw stream of `bytes` to the peer's sink: its rate in bytes/s, once the sink has counted them all.
async function rawStream(socket: Socket, bytes: number, chunk: Buffer): Promise<number> {
  const started = performance.now();
  const answer = new Promise<bigint>((resolve) => socket.once("data", (data: Buffer) => resolve(data.readBigUInt64BE(0))));
  const header = Buffer.alloc(8);
  header.writeBigUInt64BE(BigInt(bytes));
  socket.write(header);
  for (let sent = 0; sent < bytes; sent += chunk.byteLength) {
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once("drain", resolve));
  }
  const counted = await answer;
  check(counted === BigInt(bytes), `the sink counted ${counted} of ${bytes} bytes`);
  return bytes / ((performance.now() - started) / 1000);
}

// Copy Pending rounds of a `tracks`-track volume onto fresh secondaries of
// allocation method `sam`, each after a raw stream of as many bytes: rates,
// ratios and CPU time per MiB of both processes.
async function copyRounds(context: SuiteContext, bench: Bench, sam: Sam, tracks: number, rounds: number) {
  const socket = await dial(bench.peer.hello.sink);
  const chunk = Buffer.alloc(MiB, 0x17);
  const rates = { copies: [] as number[], raws: [] as number[], ratios: [] as number[] };
  const cpu = { copy: [] as number[], raw: [] as number[], ratios: [] as number[] };
  const mebibytes = (tracks * TRACK_SIZE) / MiB;
  const base = sam === "standard" ? 0x3000 : 0x3100;
  try {
    for (let round = 1; round <= rounds; round++) {
      const [id, secondaryId] = [(base + round).toString(16), (base + 0x1000 + round).toString(16)];
      bench.image.createVolume({ id, capacity: (tracks * TRACK_SIZE) / 512, unit: "blocks" });
      bench.image.writePattern(id, 0, tracks * TRACK_SIZE, context.seed + round);
      const { result: raw, cpuMicros: rawCpu } = await perCall(bench, mebibytes, () => rawStream(socket, tracks * TRACK_SIZE, chunk));
      const remoteSlot = await makeSecondary(bench, secondaryId, tracks, sam);
      const { result: { copyMs }, cpuMicros: copyCpu } = await perCall(bench, mebibytes, () => pairUp(bench, id, remoteSlot));
      cpu.copy.push(copyCpu);
      cpu.raw.push(rawCpu);
      cpu.ratios.push(copyCpu / rawCpu);
      check(await equalOnBothSides(bench, id, secondaryId), `Copy Pending of round ${round} (${sam} secondary) left the volumes equal`);
      const rate = (tracks * TRACK_SIZE) / (copyMs / 1000);
      rates.copies.push(rate);
      rates.raws.push(raw);
      rates.ratios.push(rate / raw);
      context.progress(`link: Copy Pending to a ${sam} secondary, round ${round}: ${formatRate(rate)} vs raw TCP ${formatRate(raw)}; CPU ${copyCpu.toFixed(0)} vs ${rawCpu.toFixed(0)} µs/MiB`);
      bench.link.setPairs([]);
      check(bench.image.core.exports.pprc_clear(bench.image.volume(id).slot) === CoreCode.OK, "the copied pair is cleared");
      bench.image.removeVolume(id);
    }
  } finally {
    socket.destroy();
  }
  return { rates, cpu };
}

// The bar's figure copies onto standard secondaries (mkfbvol -sam standard,
// what a Metro Mirror secondary is in practice: its capacity allocated, and
// its pages touched, when it was made); the same copy onto thin (ese)
// secondaries, whose first writes also take the kernel's zero-fill page
// faults, is reported beside it.
async function copyFigures(context: SuiteContext, bench: Bench): Promise<FigureResult[]> {
  const tracks = context.quick ? 1024 : 2048;
  const rounds = context.quick ? 3 : 5;
  const { rates, cpu } = await copyRounds(context, bench, "standard", tracks, rounds);
  const thin = await copyRounds(context, bench, "ese", tracks, rounds);
  const volume = formatBytes(tracks * TRACK_SIZE);
  const verified = `each round's secondary checksum equals its primary's; the raw sink counted every byte (${rounds} rounds each)`;
  return [{
    key: "link.copy",
    figure: `Copy Pending of a ${volume} volume onto a standard (fully allocated) secondary, two processes over loopback TCP, vs a raw TCP stream of the same bytes`,
    value: `${formatRate(median(rates.copies))} vs ${formatRate(median(rates.raws))}`,
    bar: "≥ 0.8×",
    ratio: median(rates.ratios),
    spread: spreadOf(rates.ratios),
    met: median(rates.ratios) >= 0.8,
    verified,
    note: "the secondary is made with -sam standard, its extents allocated and their pages touched before the copy; link.copy-thin is the same onto a thin secondary",
    details: { tracks, copyBytesPerSecond: rates.copies, rawBytesPerSecond: rates.raws },
  }, {
    key: "link.copy-cpu",
    figure: `Copy Pending of a ${volume} volume onto a standard secondary, CPU time of both processes per MiB vs per MiB of the raw TCP stream`,
    value: `${median(cpu.copy).toFixed(0)} µs vs ${median(cpu.raw).toFixed(0)} µs per MiB`,
    bar: "reported (the bar is on throughput; CPU time is less sensitive to a loaded machine)",
    ratio: median(cpu.ratios),
    spread: spreadOf(cpu.ratios),
    met: null,
    verified,
    note: "ratio is copy / raw CPU time (smaller is better)",
    details: { tracks, copyCpuMicrosPerMiB: cpu.copy, rawCpuMicrosPerMiB: cpu.raw },
  }, {
    key: "link.copy-thin",
    figure: `Copy Pending of a ${volume} volume onto a thin (ese, the default) secondary vs a raw TCP stream of the same bytes`,
    value: `${formatRate(median(thin.rates.copies))} vs ${formatRate(median(thin.rates.raws))}; CPU ${median(thin.cpu.copy).toFixed(0)} µs vs ${median(thin.cpu.raw).toFixed(0)} µs per MiB`,
    bar: "reported (the bar is link.copy's)",
    ratio: median(thin.rates.ratios),
    spread: spreadOf(thin.rates.ratios),
    met: null,
    verified,
    note: "the secondary's first write to each 4 KiB page of its fresh memory takes a kernel zero-fill fault, paid here during the copy",
    details: { tracks, copyBytesPerSecond: thin.rates.copies, rawBytesPerSecond: thin.rates.raws, copyCpuMicrosPerMiB: thin.cpu.copy, rawCpuMicrosPerMiB: thin.cpu.raw },
  }];
}

async function resyncFigure(context: SuiteContext, bench: Bench): Promise<FigureResult> {
  const slot = bench.image.volume("1000").slot;
  const exports = bench.image.core.exports;
  const rounds: Array<{ changed: number; sent: number }> = [];
  for (let round = 1; round <= 3; round++) {
    check(exports.pprc_set_mode(slot, MirrorMode.SUSPENDED) === CoreCode.OK, "pause");
    const random = new Xorshift32(context.seed + round);
    const changed = Math.max(1, Math.round(LATENCY_TRACKS * 0.01));
    const tracks = [...random.permutation(LATENCY_TRACKS).subarray(0, changed)];
    for (const track of tracks) bench.image.writePattern("1000", track * TRACK_SIZE + 512, WRITE_BYTES, context.seed + round);
    check(exports.pprc_out_of_sync(slot) === changed, "the suspended pair counts exactly the written tracks");
    const before = exports.pprc_sent_tracks(slot);
    check(exports.pprc_set_mode(slot, MirrorMode.SYNC) === CoreCode.OK, "resume");
    bench.link.setPairs([{ primarySlot: slot, secondarySlot: bench.remoteSlot }]);
    await untilInSync(bench.image, slot, "the resync");
    check(await equalOnBothSides(bench, "1000", "2000"), "equal after the resync");
    rounds.push({ changed, sent: exports.pprc_sent_tracks(slot) - before });
  }
  const ratios = rounds.map((round) => round.sent / round.changed);
  return {
    key: "link.resync",
    figure: `resync over TCP after 1% of a ${formatBytes(LATENCY_TRACKS * TRACK_SIZE)} primary's tracks were written while suspended: tracks sent / tracks written`,
    value: `${rounds[0].sent} of ${rounds[0].changed} tracks, ${formatBytes(rounds[0].sent * TRACK_SIZE)} of track data on the wire`,
    bar: "= 1 (exactly the out-of-sync tracks)",
    ratio: median(ratios),
    spread: spreadOf(ratios),
    met: ratios.every((ratio) => ratio === 1),
    verified: `out-of-sync count equals the tracks written before each resume; the secondary's checksum equals the primary's after each (${rounds.length} rounds)`,
    details: { rounds },
  };
}

export const linkSuite: Suite = {
  name: "link",
  figures: ["link.mmir-p50", "link.mmir-cpu", "link.mmir-16", "link.mmir-16-cpu", "link.copy", "link.copy-cpu", "link.copy-thin", "link.resync"],
  async run(context) {
    const peer = await PeerProcess.start<Ports>(PEER, [Buffer.from(SITE_KEY).toString("hex"), SECONDARY], "inherit");
    const image = new StorageImage({ model: "2107", serial: "75LBENCHA", workers: 0 });
    image.createVolume({ id: "1000", capacity: (LATENCY_TRACKS * TRACK_SIZE) / 512, unit: "blocks" });
    image.createVolume({ id: "1001", capacity: (LATENCY_TRACKS * TRACK_SIZE) / 512, unit: "blocks" });
    image.writePattern("1000", 0, LATENCY_TRACKS * TRACK_SIZE, context.seed);
    image.writePattern("1001", 0, LATENCY_TRACKS * TRACK_SIZE, context.seed);
    const { link, failures } = await linkToPeer(image, { port: peer.hello.link, siteKey: SITE_KEY, nodeId: "link-bench", secondaryImageId: SECONDARY, ackTimeoutMs: ACK_TIMEOUT_MS }).catch(async (error: Error) => {
      await image.close();
      await peer.kill("SIGTERM");
      throw error;
    });
    const bench: Bench = { image, link, peer, remoteSlot: -1 };
    try {
      // The latency pair is made first: the concurrent writers and the resync use it.
      const results = await latencyFigures(context, bench);
      if (wanted(context, "link.mmir-16")) results.push(...await concurrencyFigures(context, bench));
      if (wanted(context, "link.resync")) results.push(await resyncFigure(context, bench));
      if (wanted(context, "link.copy")) results.push(...await copyFigures(context, bench));
      check(failures.length === 0, `the link reported no failure (${failures.join("; ")})`);
      return results;
    } finally {
      await link.close();
      await image.close();
      await peer.kill("SIGTERM");
    }
  },
};
