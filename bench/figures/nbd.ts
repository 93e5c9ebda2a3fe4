// tzero's NBD endpoints under fio's nbd engine (libnbd), against nbdkit on
// the same machine in the same run, every side over a unix socket:
//
// - nbd.memory: 4 KiB random writes, queue depth 16, on a volume vs
//   `nbdkit memory` of the same size. Bar ≥ 1.0.
// - nbd.nocp: the same on a volume that is the source of a -nocp
//   relationship whose hot set (the region fio writes) is already copied, vs
//   a volume of the same size in no relationship, their rounds alternating,
//   four times as many as the other figures', each half as long (its bar's
//   margin is narrow). Bar ≥ 0.9.
// - nbd.nocp.cpu: from the nbd.nocp rounds, tzero's CPU time per request on
//   each side. Reported (ratio = without / with -nocp, above 1 is ahead).
// - nbd.cpu: from the nbd.memory rounds, CPU time per request of the
//   server: tzero's process (its endpoint thread; the main thread waits for
//   fio meanwhile) vs nbdkit's, from /proc/PID/stat. On a crowded machine
//   IOPS says more about the scheduler than about the server; CPU per
//   request does not. Reported (ratio = nbdkit / tzero, above 1 is ahead).
// - nbd.client.cpu: from the same rounds, fio's own CPU time per request
//   against each server (its usr_cpu and sys_cpu), which says whether the
//   client or the server is what limits a round: on this machine fio's nbd
//   engine (libnbd: two sends, one receive and one poll per request) costs
//   about 10 µs a request, so one job cannot pass about 100k IOPS even
//   against `nbdkit null`, and fio and the server share the two cores.
//   Reported (ratio = against nbdkit / against tzero, above 1 is ahead).
// - nbd.cow: first writes after a -nocp establish (each a copy-on-write of
//   its track: one 4 KiB write to each of three quarters of the tracks, in
//   order) vs `nbdkit --filter=cow memory` (each a first write to its
//   overlay block). Reported.
// - nbd.seq: sequential 1 MiB writes at queue depth 4 through tzero's
//   endpoint vs a raw loopback stream of the same bytes (a unix socket that
//   discards them). Reported, with tzero's CPU time per MiB in its details.
// - nbd.seq.read: sequential 1 MiB reads at queue depth 4 through tzero's
//   endpoint vs a raw loopback stream the other way (a unix socket whose
//   server writes 1 MiB buffers as fast as the client takes them). Reported,
//   with tzero's CPU time per MiB.
// Rounds interleave the sides of a figure, so both see the same machine, and
// swap which side goes first every round; the ratio is the median of the
// per-round ratios, with their min–max.
// Before anything is timed, a pattern written through the endpoint is read
// back through the core, and the nbd.memory volume and nbdkit's disk are each
// written whole once (round 1 was otherwise a first-touch figure); after the
// -nocp rounds, the target still equals the source at T0.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { EmbeddedSite, EMBEDDED_IMAGE_ID } from "../../src/site/embedded.js";
import { check, type FigureResult, type Suite, type SuiteContext } from "../harness/suite.js";
import { median, spreadOf, MiB } from "../harness/stats.js";

const run = promisify(execFile);
const IMAGE = EMBEDDED_IMAGE_ID;
const VOLUME_BYTES = 256 * MiB;
const NBDKIT_START_MS_MAX = 10_000;

interface Sides { a: number[]; b: number[] }

export const nbdSuite: Suite = {
  name: "nbd",
  figures: ["nbd.memory", "nbd.cpu", "nbd.client.cpu", "nbd.nocp", "nbd.nocp.cpu", "nbd.cow", "nbd.seq", "nbd.seq.read"],
  async run(context) {
    for (const tool of ["fio", "nbdkit"]) {
      await run("sh", ["-c", `command -v ${tool}`]).catch(() => { throw new Error(`the nbd suite needs ${tool} (Debian: fio, nbdkit)`); });
    }
    const folder = mkdtempSync(join(tmpdir(), "tzero-bench-nbd-"));
    const site = new EmbeddedSite({ workers: 1 });
    try {
      const socket = await setUpSite(site, folder);
      await checkRoundTrip(site, socket);
      const seconds = context.quick ? 2 : 4;
      const rounds = context.quick ? 3 : 5;
      const results: FigureResult[] = [];
      results.push(...(await memoryFigures(context, folder, socket, seconds, rounds)));
      // Four times the rounds, each half as long: a round's two sides then run closer together in time.
      results.push(...(await nocpFigures(context, site, socket, seconds / 2, 4 * rounds)));
      results.push(await cowFigure(context, site, folder, socket, rounds));
      results.push(...(await seqFigures(context, folder, socket, seconds, rounds)));
      return results;
    } finally {
      await site.close();
      rmSync(folder, { recursive: true, force: true });
    }
  },
};

// Volumes 1000 (the measured one), 1001 (its -nocp target), 1002 (for first writes), 1003 (its target),
// 1004 (the -nocp figure's volume in no relationship), in one host's group.
const VOLUMES = ["1000", "1001", "1002", "1003", "1004"];
async function setUpSite(site: EmbeddedSite, folder: string): Promise<string> {
  await site.createVolumes(IMAGE, { ids: VOLUMES, capacity: VOLUME_BYTES / 512, unit: "blocks", os: "aix" });
  await site.createVolumeGroup(IMAGE, { name: "bench", volumes: VOLUMES });
  const path = join(folder, "tzero.sock");
  await site.createHostConnection(IMAGE, { name: "bench", hostType: "LinuxRHEL", volumeGroup: "V0", nbd: path });
  return path;
}

const uriOf = (socket: string, volume?: string) => `nbd+unix:///${volume ?? ""}?socket=${socket}`;

const FIO_BASE = ["--name=bench", "--ioengine=nbd", "--output-format=json"];

interface FioSide { iops: number; bw_bytes: number; total_ios: number }
interface FioJob { error: number; usr_cpu: number; sys_cpu: number; job_runtime: number; read: FioSide; write: FioSide }

// The run's IOPS and bytes per second, and fio's own CPU microseconds per request (its usr and sys percentages of its runtime).
async function fio(uri: string, args: string[]): Promise<{ iops: number; bytesPerSecond: number; fioCpuMicros: number }> {
  const { stdout } = await run("fio", [...FIO_BASE, `--uri=${uri}`, ...args], { maxBuffer: 16 * MiB });
  // fio's nbd engine says "fio: connected to NBD server" before the report.
  const job = (JSON.parse(stdout.slice(stdout.indexOf("{"))) as { jobs: FioJob[] }).jobs[0];
  check(job.error === 0, `fio reported error ${job.error}`);
  const cpuMicros = ((job.usr_cpu + job.sys_cpu) / 100) * job.job_runtime * 1000;
  // A job here either reads or writes.
  const side = job.read.total_ios > 0 ? job.read : job.write;
  return { iops: side.iops, bytesPerSecond: side.bw_bytes, fioCpuMicros: cpuMicros / Math.max(1, side.total_ios) };
}

const randomWrites = (seconds: number, seed: number, size = VOLUME_BYTES) => [
  "--rw=randwrite", "--bs=4k", "--iodepth=16", `--size=${size}`, "--time_based", `--runtime=${seconds}`, `--randseed=${seed}`,
];

// 4 KiB writes, each at the start of the next 64 KiB block (a track; nbdkit cow's block): fio's sequential
// writes with a 60 KiB hole after each (random offsets would hit some blocks twice), over three quarters
// of the blocks, so that every write is a first write.
const FIRST_WRITES = (VOLUME_BYTES / 65536) * 3 / 4;
const firstWrites = () => ["--rw=write:60k", "--bs=4k", "--iodepth=16", `--size=${VOLUME_BYTES}`, `--number_ios=${FIRST_WRITES}`];

// One sequential pass over the whole volume.
const WHOLE_VOLUME_WRITE = ["--rw=write", "--bs=1M", `--size=${VOLUME_BYTES}`, "--iodepth=4"];

async function checkRoundTrip(site: EmbeddedSite, socket: string): Promise<void> {
  await fio(uriOf(socket, "1002"), ["--rw=write", "--bs=1M", "--size=4M", "--buffer_pattern=0x5a", "--iodepth=1"]);
  const bytes = await site.read(IMAGE, "1002", 0, 4 * MiB);
  check(bytes.every((byte) => byte === 0x5a), "4 MiB of 0x5a written with fio through the endpoint read back through the core");
}

async function startNbdkit(folder: string, name: string, args: string[]): Promise<{ child: ChildProcess; socket: string }> {
  const socket = join(folder, `${name}.sock`);
  const child = spawn("nbdkit", ["--foreground", "--unix", socket, ...args], { stdio: "ignore" });
  const started = Date.now();
  while (!existsSync(socket)) {
    if (Date.now() - started > NBDKIT_START_MS_MAX || child.exitCode !== null) throw new Error(`nbdkit ${args.join(" ")} did not listen within ${NBDKIT_START_MS_MAX} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { child, socket };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

// Side a then b in even rounds, b then a in odd ones: whatever the running
// order favours (a warmer cache, a load that grows or fades) favours each side
// equally often.
async function alternate(rounds: number, first: () => Promise<number>, second: () => Promise<number>, progress: (round: number, sides: Sides) => void): Promise<Sides> {
  const sides: Sides = { a: [], b: [] };
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      sides.a.push(await first());
      sides.b.push(await second());
    } else {
      sides.b.push(await second());
      sides.a.push(await first());
    }
    progress(round, sides);
  }
  return sides;
}

function figure(key: string, what: string, sides: Sides, unit: (value: number) => string, labels: [string, string], bar: number | null, verified: string): FigureResult {
  const ratios = sides.a.map((value, index) => value / sides.b[index]);
  const ratio = median(ratios);
  const span = (values: number[]) => `${unit(median(values))} (${unit(Math.min(...values))}–${unit(Math.max(...values))})`;
  return {
    key, figure: what, value: `${labels[0]} ${span(sides.a)}, ${labels[1]} ${span(sides.b)}`,
    bar: bar === null ? "reported" : `≥ ${bar.toFixed(1)}`, ratio, spread: spreadOf(ratios), met: bar === null ? null : ratio >= bar,
    verified, note: `ratio = ${labels[0]} / ${labels[1]} per round, ${ratios.length} interleaved rounds (min–max of the round ratios)`,
    details: { ...sides },
  };
}

const iopsText = (value: number) => `${(value / 1000).toFixed(1)}k IOPS`;
const rateText = (value: number) => `${(value / MiB).toFixed(0)} MiB/s`;

async function memoryFigures(context: SuiteContext, folder: string, socket: string, seconds: number, rounds: number): Promise<FigureResult[]> {
  const nbdkit = await startNbdkit(folder, "memory", ["memory", String(VOLUME_BYTES)]);
  // CPU microseconds per request of each server and of fio against each, per round (nbdkit first, so that the ratios read "above 1 is ahead").
  const cpu: Sides = { a: [], b: [] };
  const client: Sides = { a: [], b: [] };
  try {
    // Both sides' memory is allocated and touched before the first round: first touch costs seconds per GiB here.
    for (const uri of [uriOf(socket, "1000"), uriOf(nbdkit.socket)]) await fio(uri, WHOLE_VOLUME_WRITE);
    const sides = await alternate(rounds,
      async () => {
        const { iops, cpuMicros, fioCpuMicros } = await tzeroRandomWrites(uriOf(socket, "1000"), seconds, context.seed);
        cpu.b.push(cpuMicros);
        client.b.push(fioCpuMicros);
        return iops;
      },
      async () => {
        const before = processCpuMicros(nbdkit.child.pid!);
        const { iops, fioCpuMicros } = await fio(uriOf(nbdkit.socket), randomWrites(seconds, context.seed));
        cpu.a.push((processCpuMicros(nbdkit.child.pid!) - before) / (iops * seconds));
        client.a.push(fioCpuMicros);
        return iops;
      },
      (round, measured) => context.progress(`nbd: round ${round + 1}: tzero ${iopsText(measured.a[round])} ${cpuText(cpu.b[round])} (fio ${cpuText(client.b[round])}), `
        + `nbdkit memory ${iopsText(measured.b[round])} ${cpuText(cpu.a[round])} (fio ${cpuText(client.a[round])})`));
    return [
      figure("nbd.memory", "fio nbd 4 KiB random writes QD16 over a unix socket: tzero's export vs nbdkit memory (256 MiB)", sides, iopsText,
        ["tzero", "nbdkit memory"], 1.0, `fio wrote 0x5a through the endpoint and the core read it back; fio reported no error; both sides ran fio ${[...FIO_BASE, ...randomWrites(seconds, context.seed)].join(" ")} (one job, one connection) after one whole-volume write each`),
      figure("nbd.cpu", "server CPU time per 4 KiB random write in the nbd.memory rounds: nbdkit memory vs tzero (above 1: tzero uses less)", cpu, cpuText,
        ["nbdkit memory", "tzero"], null, "tzero: process.cpuUsage over the fio run (the endpoint thread; the rest of the process waits); nbdkit: utime+stime of /proc/PID/stat"),
      figure("nbd.client.cpu", "fio's own CPU time per 4 KiB random write in the nbd.memory rounds: against nbdkit memory vs against tzero (above 1: tzero costs the client less)", client, cpuText,
        ["against nbdkit memory", "against tzero"], null, "fio's usr_cpu + sys_cpu over its job_runtime, per request"),
    ];
  } finally {
    await stop(nbdkit.child);
  }
}

// fio's random writes through tzero's endpoint, with the CPU time this
// process spent per request meanwhile (its endpoint thread: the main thread
// only waits for fio).
async function tzeroRandomWrites(uri: string, seconds: number, seed: number): Promise<{ iops: number; cpuMicros: number; fioCpuMicros: number }> {
  const before = process.cpuUsage();
  const { iops, fioCpuMicros } = await fio(uri, randomWrites(seconds, seed));
  const used = process.cpuUsage(before);
  return { iops, cpuMicros: (used.user + used.system) / (iops * seconds), fioCpuMicros };
}

const CLOCK_TICK_MICROS = 10_000; // USER_HZ is 100 on Linux

// utime + stime of a process, in microseconds.
function processCpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MICROS;
}

const cpuText = (micros: number) => `${micros.toFixed(1)} µs CPU/request`;

// Volume 1000 with a -nocp relationship whose hot set (the whole volume) is
// copied, against volume 1004 in none, both written whole before and on the
// same endpoint, in rounds that alternate between them: timing all of one side
// and then all of the other (on one volume, before and after the withdraw) made
// the ratio follow the machine's load from 0.5 to 1.4 between runs. CPU time
// per write, from the same rounds, is the figure the load moves least.
async function nocpFigures(context: SuiteContext, site: EmbeddedSite, socket: string, seconds: number, rounds: number): Promise<FigureResult[]> {
  // The hot set is written before the establish so that T0 has data; then copied by one sequential pass.
  const t0 = await site.checksum(IMAGE, "1000", 0, VOLUME_BYTES);
  await site.establishFlash(IMAGE, { pairs: [["1000", "1001"]], options: { nocopy: true } });
  for (const volume of ["1000", "1004"]) await fio(uriOf(socket, volume), WHOLE_VOLUME_WRITE);
  const pending = async () => (await site.listFlash(IMAGE)).find((relationship) => relationship.id === "1000:1001")!.pendingTracks;
  check(await pending() === 0, "one sequential pass over the source copied every track of the hot set");
  // CPU per write, "without" first, so that its ratio reads like the IOPS one (above 1: -nocp is ahead).
  const cpu: Sides = { a: [], b: [] };
  const writes = (volume: string, into: number[]) => async () => {
    const { iops, cpuMicros } = await tzeroRandomWrites(uriOf(socket, volume), seconds, context.seed);
    into.push(cpuMicros);
    return iops;
  };
  const sides = await alternate(rounds, writes("1000", cpu.b), writes("1004", cpu.a),
    (round, measured) => context.progress(`nbd: round ${round + 1}: -nocp source ${iopsText(measured.a[round])} ${cpuText(cpu.b[round])}, no relationship ${iopsText(measured.b[round])} ${cpuText(cpu.a[round])}`));
  check(await pending() === 0, "no track of the relationship was pending during the timed writes");
  check(await site.checksum(IMAGE, "1001", 0, VOLUME_BYTES) === t0, "the -nocp target still equals the source at T0");
  await site.withdrawFlash(IMAGE, ["1000:1001"]);
  const verified = `every track copied before timing and none pending after; the target equals the source's T0 checksum after the timed writes; both volumes written whole before; rounds alternate the two, ${rounds} of ${seconds} s each`;
  return [
    figure("nbd.nocp", "fio nbd 4 KiB random writes QD16: source of a -nocp relationship, hot set copied, vs a volume in no relationship", sides, iopsText,
      ["with -nocp", "without"], 0.9, verified),
    figure("nbd.nocp.cpu", "server CPU time per 4 KiB random write in the nbd.nocp rounds: no relationship vs -nocp source (above 1: -nocp uses less)", cpu, cpuText,
      ["without", "with -nocp"], null, `${verified}; process.cpuUsage over each fio run`),
  ];
}

async function cowFigure(context: SuiteContext, site: EmbeddedSite, folder: string, socket: string, rounds: number): Promise<FigureResult> {
  await site.fill(IMAGE, "1002", { offset: 0, length: VOLUME_BYTES }, { kind: "pattern", seed: context.seed >>> 0 });
  const sides: Sides = { a: [], b: [] };
  for (let round = 0; round < rounds; round++) {
    // A fresh relationship each round: every track starts pending, so the first write to each is a copy-on-write.
    await site.establishFlash(IMAGE, { pairs: [["1002", "1003"]], options: { nocopy: true } });
    sides.a.push((await fio(uriOf(socket, "1002"), firstWrites())).iops);
    const pending = (await site.listFlash(IMAGE))[0].pendingTracks;
    check(pending === VOLUME_BYTES / 65536 - FIRST_WRITES, `each timed write was the first to its track (${pending} tracks still pending)`);
    await site.withdrawFlash(IMAGE, ["1002:1003"]);
    await site.reinitVolumes(IMAGE, ["1003"]);
    const nbdkit = await startNbdkit(folder, `cow${round}`, ["--filter=cow", "memory", String(VOLUME_BYTES)]);
    try {
      sides.b.push((await fio(uriOf(nbdkit.socket), firstWrites())).iops);
    } finally {
      await stop(nbdkit.child);
    }
    context.progress(`nbd: round ${round + 1}: copy-on-write ${iopsText(sides.a[round])}, nbdkit cow ${iopsText(sides.b[round])}`);
  }
  return figure("nbd.cow", "fio nbd 4 KiB first writes QD16 (one per track) after a -nocp establish vs nbdkit --filter=cow memory", sides, iopsText,
    ["tzero copy-on-write", "nbdkit cow"], null, "after each run exactly the tracks fio did not write were pending: every write was a first write");
}

// Sequential 1 MiB writes, then reads, each against a raw stream the same way.
async function seqFigures(context: SuiteContext, folder: string, socket: string, seconds: number, rounds: number): Promise<FigureResult[]> {
  const sink = join(folder, "sink.sock");
  const server = createServer((connection) => connection.resume());
  await new Promise<void>((resolve) => server.listen(sink, resolve));
  const source = join(folder, "source.sock");
  const sourceServer = createServer(pushUntilClosed);
  await new Promise<void>((resolve) => sourceServer.listen(source, resolve));
  try {
    const results: FigureResult[] = [];
    for (const [key, rw, raw, what] of [
      ["nbd.seq", "write", () => rawStream(sink, seconds), "sequential 1 MiB writes QD4 through tzero's endpoint vs a raw unix-socket stream of 1 MiB writes"],
      ["nbd.seq.read", "read", () => rawReadStream(source, seconds), "sequential 1 MiB reads QD4 through tzero's endpoint vs a raw unix-socket stream read from a server writing 1 MiB buffers"],
    ] as const) {
      const cpuPerMiB: number[] = [];
      const sides = await alternate(rounds,
        async () => {
          const before = process.cpuUsage();
          const { bytesPerSecond } = await fio(uriOf(socket, "1000"), [`--rw=${rw}`, "--bs=1M", "--iodepth=4", `--size=${VOLUME_BYTES}`, "--time_based", `--runtime=${seconds}`]);
          const used = process.cpuUsage(before);
          cpuPerMiB.push((used.user + used.system) / (bytesPerSecond * seconds / MiB));
          return bytesPerSecond;
        },
        raw,
        (round, measured) => context.progress(`nbd: round ${round + 1}: 1 MiB ${rw}s ${rateText(measured.a[round])} (tzero ${cpuPerMiB[round].toFixed(0)} µs CPU per MiB), raw stream ${rateText(measured.b[round])}`));
      const result = figure(key, what, sides, rateText, ["tzero", "raw stream"], null, `fio reported no error; the raw stream counts bytes the socket ${rw === "write" ? "accepted" : "delivered"}`);
      result.details = { ...result.details, tzeroCpuMicrosPerMiB: cpuPerMiB };
      result.note += `; tzero's CPU per MiB (process.cpuUsage over each fio run) ${median(cpuPerMiB).toFixed(0)} µs (${Math.min(...cpuPerMiB).toFixed(0)}–${Math.max(...cpuPerMiB).toFixed(0)})`;
      results.push(result);
    }
    return results;
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => sourceServer.close(resolve));
  }
}

// Writes 1 MiB buffers to a connection as fast as it takes them, until it closes.
function pushUntilClosed(connection: Socket): void {
  const chunk = Buffer.alloc(MiB, 0x5a);
  let open = true;
  connection.on("error", () => undefined);
  connection.on("close", () => { open = false; });
  const pump = () => {
    while (open && connection.write(chunk));
    if (open) connection.once("drain", pump);
  };
  pump();
}

// Bytes per second a client reads from a server that writes as fast as it can, for `seconds`.
function rawReadStream(path: string, seconds: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = createConnection(path);
    let received = 0;
    let started = 0;
    client.once("connect", () => {
      started = performance.now();
      setTimeout(() => {
        const rate = received / ((performance.now() - started) / 1000);
        client.destroy();
        resolve(rate);
      }, seconds * 1000);
    });
    client.on("data", (data: Buffer) => { received += data.length; });
    client.once("error", reject);
  });
}

// Bytes per second a client pushes into a socket that discards them, for `seconds`.
function rawStream(path: string, seconds: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(MiB, 0x5a);
    const client = createConnection(path);
    let sent = 0;
    const started = performance.now();
    const pump = () => {
      while (performance.now() - started < seconds * 1000) {
        sent += chunk.length;
        if (!client.write(chunk)) return void client.once("drain", pump);
      }
      client.end(() => resolve(sent / ((performance.now() - started) / 1000)));
    };
    client.once("connect", pump);
    client.once("error", reject);
  });
}
