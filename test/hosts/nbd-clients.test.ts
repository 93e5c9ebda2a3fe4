// The NBD endpoints of host connections, driven by Debian's real clients:
// nbdinfo, nbdcopy, qemu-img, qemu-io and fio. Each suite is skipped, and
// says so, where its client is not installed (and fails in CI).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { findTool, skipUnless } from "../support/tools.js";
import { Random, testSeed } from "../support/random.js";

const run = promisify(execFile);
const IMAGE = "IBM.2105-75TZ001";
const MIB = 1024 * 1024;
const WAIT_MS_MAX = 30_000;

interface Fixture {
  site: EmbeddedSite;
  folder: string;
  logs: string[];
  uri(host: string, volume: string): string;
}

let fixture: Fixture;
const endpoints = new Map<string, string>();

// Volumes 1000-1003 (64 MiB, 1 GiB, ...), two hosts: prod sees V0 = 1000-1001, backup sees V1 = 1002-1003.
async function setUp(): Promise<void> {
  const logs: string[] = [];
  const site = new EmbeddedSite({ workers: 1, log: (line) => logs.push(line) });
  await site.createVolumes(IMAGE, { ids: ["1000", "1001", "1002", "1003"], capacity: 512 * 1024, unit: "blocks", os: "aix" });
  await site.createVolumes(IMAGE, { ids: ["1004"], capacity: 1, unit: "ds", os: "aix" });
  await site.createVolumeGroup(IMAGE, { name: "prod", volumes: ["1000", "1001", "1004"] });
  await site.createVolumeGroup(IMAGE, { name: "backup", volumes: ["1002", "1003"] });
  const prod = await site.createHostConnection(IMAGE, { name: "prod", hostType: "LinuxRHEL", volumeGroup: "V0", nbd: "127.0.0.1:0" });
  const folder = mkdtempSync(join(tmpdir(), "tzero-nbd-"));
  const backup = await site.createHostConnection(IMAGE, { name: "backup", hostType: "LinuxRHEL", volumeGroup: "V1", nbd: join(folder, "backup.sock") });
  endpoints.set("prod", `nbd://${prod.nbd}`);
  endpoints.set("backup", `nbd+unix:///?socket=${backup.nbd}`);
  fixture = {
    site, folder, logs,
    uri: (host, volume) => {
      const base = endpoints.get(host)!;
      return base.startsWith("nbd+unix") ? `nbd+unix:///${volume}?socket=${base.split("socket=")[1]}` : `${base}/${volume}`;
    },
  };
}

async function tearDown(): Promise<void> {
  await fixture.site.close();
  rmSync(fixture.folder, { recursive: true, force: true });
}

function seededFile(name: string, bytes: number, seed: number): string {
  const path = join(fixture.folder, name);
  writeFileSync(path, new Random(seed).bytes(bytes));
  return path;
}

async function volumeBytes(volume: string, length: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < length; offset += 16 * MIB) parts.push(Buffer.from(await fixture.site.read(IMAGE, volume, offset, Math.min(16 * MIB, length - offset))));
  return Buffer.concat(parts);
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > WAIT_MS_MAX) throw new Error(`${what}: not within ${WAIT_MS_MAX} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function clientsOf(host: string): Promise<number> {
  return (await fixture.site.listHostConnections(IMAGE)).find((candidate) => candidate.name === host)!.clients;
}

// ---- nbdinfo -------------------------------------------------------------------------------------

const Info = skipUnless(suite("NBD endpoints: nbdinfo"), findTool("nbdinfo"));
Info.before(setUp);
Info.after(tearDown);

Info("should list exactly the host's volume group, by volume ID", async () => {
  const { stdout } = await run("nbdinfo", ["--list", "--json", endpoints.get("prod")!]);
  const listed = JSON.parse(stdout) as { exports: Array<{ "export-name": string; "export-size": number; block_size_minimum: number; is_read_only: boolean }> };
  assert.equal(listed.exports.map((entry) => entry["export-name"]), ["1000", "1001", "1004"]);
  assert.equal(listed.exports.map((entry) => entry["export-size"]), [256 * MIB, 256 * MIB, 1024 * MIB]);
  assert.ok(listed.exports.every((entry) => entry.block_size_minimum === 512 && !entry.is_read_only));
  const backup = JSON.parse((await run("nbdinfo", ["--list", "--json", endpoints.get("backup")!])).stdout) as typeof listed;
  assert.equal(backup.exports.map((entry) => entry["export-name"]), ["1002", "1003"]);
});

Info("should open a volume by its fully qualified ID, and refuse another host's volume", async () => {
  const { stdout } = await run("nbdinfo", ["--size", fixture.uri("prod", `${IMAGE}/1001`)]);
  assert.is(stdout.trim(), String(256 * MIB));
  const refused = await run("nbdinfo", ["--size", fixture.uri("prod", "1002")]).then(() => null, (error: Error & { stderr: string }) => error);
  assert.ok(refused !== null, "volume 1002 is not in prod's volume group");
  assert.match(refused!.stderr, /no export named '1002'/);
  // chvolgrp takes effect for new connections at once.
  await fixture.site.changeVolumeGroup(IMAGE, { id: "V0", action: "add", volumes: ["1002"] });
  assert.is((await run("nbdinfo", ["--size", fixture.uri("prod", "1002")])).stdout.trim(), String(256 * MIB));
  await fixture.site.changeVolumeGroup(IMAGE, { id: "V0", action: "remove", volumes: ["1002"] });
});

Info.run();

// ---- nbdinfo on the node's default endpoint, two images ---------------------------------------------

const DefaultInfo = skipUnless(suite("NBD default endpoint over two images: nbdinfo"), findTool("nbdinfo"));
const OTHER_IMAGE = "IBM.2107-75SITEB";

DefaultInfo("should list every image's hosts, the second image's as HOST/IMAGE/VOLUME, and open each image's own volume", async () => {
  const site = new EmbeddedSite({ workers: 0, log: () => undefined, images: [{ model: "2105", id: IMAGE }, { model: "2107", id: OTHER_IMAGE }] });
  try {
    // A host named prod on each image, each seeing a volume 1000 of its image: 4 MiB on the first, 8 MiB on the second.
    for (const [image, blocks] of [[IMAGE, 8192], [OTHER_IMAGE, 16384]] as const) {
      await site.createVolumes(image, { ids: ["1000"], capacity: blocks, unit: "blocks" });
      await site.createVolumeGroup(image, { name: "prod", volumes: ["1000"] });
      await site.createHostConnection(image, { name: "prod", hostType: "LinuxRHEL", volumeGroup: "V0" });
    }
    const base = `nbd://${await site.startDefaultNbd("127.0.0.1:0")}`;
    const listed = JSON.parse((await run("nbdinfo", ["--list", "--json", base])).stdout) as { exports: Array<{ "export-name": string; "export-size": number }> };
    assert.equal(listed.exports.map((entry) => entry["export-name"]), ["prod/1000", `prod/${OTHER_IMAGE}/1000`]);
    assert.equal(listed.exports.map((entry) => entry["export-size"]), [4 * MIB, 8 * MIB]);
    assert.is((await run("nbdinfo", ["--size", `${base}/prod/${IMAGE}/1000`])).stdout.trim(), String(4 * MIB));
    assert.is((await run("nbdinfo", ["--size", `${base}/prod/${OTHER_IMAGE}/1000`])).stdout.trim(), String(8 * MIB));
  } finally {
    await site.close();
  }
});

DefaultInfo.run();

// ---- qemu-io and qemu-img --------------------------------------------------------------------------

const Qemu = skipUnless(suite("NBD endpoints: qemu-io and qemu-img"), findTool("qemu-img"));
Qemu.before(setUp);
Qemu.after(tearDown);

Qemu("should write a pattern with qemu-io and read it back, through the core", async () => {
  const { stdout } = await run("qemu-io", ["-f", "raw", "-c", "write -P 0xab 0 4k", "-c", "flush", "-c", "read -P 0xab 0 4k", fixture.uri("prod", "1000")]);
  assert.match(stdout, /wrote 4096\/4096 bytes at offset 0/);
  assert.match(stdout, /read 4096\/4096 bytes at offset 0/);
  assert.equal([...(await fixture.site.read(IMAGE, "1000", 0, 4096))].every((byte) => byte === 0xab), true);
  assert.is((await fixture.site.read(IMAGE, "1000", 4096, 1))[0], 0);
  const mismatch = await run("qemu-io", ["-f", "raw", "-c", "read -P 0xcd 0 4k", fixture.uri("prod", "1000")]).then((result) => result.stdout, (error: { stdout: string }) => error.stdout);
  assert.match(mismatch, /Pattern verification failed/);
});

Qemu("should convert a qcow2 image onto a volume with qemu-img, equal to the image", async () => {
  const qcow2 = join(fixture.folder, "disk.qcow2");
  await run("qemu-img", ["create", "-q", "-f", "qcow2", qcow2, "64M"]);
  await run("qemu-io", ["-f", "qcow2", "-c", "write -P 0x5a 1M 3M", "-c", "write -P 0x17 40M 64k", qcow2]);
  await run("qemu-img", ["convert", "-n", "-f", "qcow2", "-O", "raw", qcow2, fixture.uri("prod", "1001")]);
  await run("qemu-img", ["compare", "-f", "qcow2", "-F", "raw", qcow2, fixture.uri("prod", "1001")]);
  const data = await volumeBytes("1001", 64 * MIB);
  assert.is(data.subarray(MIB, 4 * MIB).every((byte) => byte === 0x5a), true);
  assert.is(data.subarray(40 * MIB, 40 * MIB + 65536).every((byte) => byte === 0x17), true);
  assert.is(data.subarray(0, MIB).every((byte) => byte === 0), true);
});

Qemu("should refuse unaligned requests with an error and go on serving the connection", async () => {
  const result = await run("qemu-io", ["-f", "raw", "-c", "write -P 0x11 100 512", "-c", "read -P 0 4096 512", fixture.uri("prod", "1004")])
    .then((ok) => ok.stdout, (error: { stdout: string; stderr: string }) => error.stdout + error.stderr);
  // qemu's block layer aligns to the advertised 512 bytes itself (read-modify-write): the write lands whole.
  assert.match(result, /wrote 512\/512 bytes at offset 100/);
  assert.match(result, /read 512\/512 bytes at offset 4096/);
  const bytes = await fixture.site.read(IMAGE, "1004", 0, 1024);
  assert.is(bytes[99], 0);
  assert.is(bytes[100], 0x11);
  assert.is(bytes[611], 0x11);
  assert.is(bytes[612], 0);
});

Qemu("should release space on qemu-io discard and zero on write -z, the pool's allocation going down", async () => {
  await run("qemu-io", ["-f", "raw", "-c", "write -P 0x5a 0 16M", fixture.uri("prod", "1001")]);
  const before = await fixture.site.volume(IMAGE, "1001");
  const poolBefore = (await fixture.site.listPools(IMAGE)).find((pool) => pool.id === before.pool)!.allocatedExtents;
  const { stdout } = await run("qemu-io", [
    "-f", "raw", "-d", "unmap", "-c", "discard 1M 8M", "-c", "write -z 12M 2M", "-c", "read -P 0 1M 8M", "-c", "read -P 0 12M 2M", "-c", "read -P 0x5a 0 1M",
    fixture.uri("prod", "1001"),
  ]);
  assert.match(stdout, /discard 8388608\/8388608 bytes at offset 1048576/);
  assert.not.match(stdout, /Pattern verification failed/);
  const after = await fixture.site.volume(IMAGE, "1001");
  assert.is(after.allocatedBytes, before.allocatedBytes - 8 * MIB, "the discarded 8 MiB were released");
  assert.is((await fixture.site.listPools(IMAGE)).find((pool) => pool.id === after.pool)!.allocatedExtents, poolBefore - 8);
  const data = await volumeBytes("1001", 16 * MIB);
  assert.ok(data.subarray(MIB, 9 * MIB).every((byte) => byte === 0) && data.subarray(12 * MIB, 14 * MIB).every((byte) => byte === 0), "the ranges read as zeros");
  assert.ok(data.subarray(9 * MIB, 12 * MIB).every((byte) => byte === 0x5a), "the bytes between are kept");
});

Qemu.run();

// ---- nbdcopy -----------------------------------------------------------------------------------------

const Copy = skipUnless(suite("NBD endpoints: nbdcopy"), findTool("nbdcopy"));
Copy.before(setUp);
Copy.after(tearDown);

Copy("should copy 256 MiB of seeded random data into a volume and back out byte for byte", async () => {
  const seed = testSeed();
  console.log(`# nbdcopy round trip seed ${seed} (TZERO_SEED=${seed} replays it)`);
  const source = seededFile("in.raw", 256 * MIB, seed);
  await run("nbdcopy", [source, fixture.uri("prod", "1000")]);
  const back = join(fixture.folder, "out.raw");
  await run("nbdcopy", [fixture.uri("prod", "1000"), back]);
  const original = readFileSync(source);
  assert.ok(readFileSync(back).equals(original), `seed ${seed}: the copy back differs`);
  assert.ok((await volumeBytes("1000", 256 * MIB)).equals(original), `seed ${seed}: the volume differs`);
});

Copy("should keep serving other connections when a client is killed mid-write", async () => {
  const source = seededFile("big.raw", 256 * MIB, 5);
  const before = (await fixture.site.listHostConnections(IMAGE)).find((host) => host.name === "prod")!.ios;
  const child = spawn("nbdcopy", ["--request-size=1048576", source, fixture.uri("prod", "1001")], { stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await waitFor("nbdcopy's first writes", async () => (await fixture.site.listHostConnections(IMAGE)).find((host) => host.name === "prod")!.ios > before + 8);
  child.kill("SIGKILL");
  await exited;
  await waitFor("the killed client's connections to close", async () => (await clientsOf("prod")) === 0);
  const { stdout } = await run("qemu-io", ["-f", "raw", "-c", "write -P 0x42 0 64k", "-c", "read -P 0x42 0 64k", fixture.uri("prod", "1004")]);
  assert.match(stdout, /read 65536\/65536 bytes at offset 0/);
  assert.match((await run("nbdinfo", ["--list", endpoints.get("backup")!])).stdout, /export="1002"/);
});

Copy.run();

// ---- FlashCopy under real host I/O ---------------------------------------------------------------------

const FlashCopy = skipUnless(suite("NBD endpoints: FlashCopy under fio"), findTool("fio"));
FlashCopy.before(setUp);
FlashCopy.after(tearDown);

FlashCopy("should read the T0 image of a -nocp target with nbdcopy while fio writes the source", async () => {
  const seed = testSeed();
  console.log(`# T0 under fio seed ${seed} (TZERO_SEED=${seed} replays it)`);
  const t0 = seededFile("t0.raw", 256 * MIB, seed);
  await run("nbdcopy", [t0, fixture.uri("prod", "1000")]);
  // The target 1002 is in the backup host's volume group only: prod writes the source, backup reads the copy.
  await fixture.site.establishFlash(IMAGE, { pairs: [["1000", "1002"]], options: { nocopy: true } });
  const fio = run("fio", [
    "--name=prod", "--ioengine=nbd", `--uri=${fixture.uri("prod", "1000")}`, "--rw=randwrite", "--bs=4k", "--iodepth=16",
    "--size=256M", "--time_based", "--runtime=4", `--randseed=${seed}`, "--output-format=json",
  ]);
  await waitFor("fio's first writes", async () => (await fixture.site.listFlash(IMAGE))[0].pendingTracks < 4096);
  const copied = join(fixture.folder, "copy.raw");
  await run("nbdcopy", [fixture.uri("backup", "1002"), copied]);
  const fioOutput = (await fio).stdout;
  // fio's nbd engine says "fio: connected to NBD server" before the report.
  const report = JSON.parse(fioOutput.slice(fioOutput.indexOf("{"))) as { jobs: Array<{ write: { total_ios: number } }> };
  assert.ok(report.jobs[0].write.total_ios > 0, "fio wrote");
  const pending = (await fixture.site.listFlash(IMAGE))[0].pendingTracks;
  assert.ok(pending < 4096, `the source's writes copied tracks first (${pending} of 4096 pending)`);
  assert.ok(readFileSync(copied).equals(readFileSync(t0)), `seed ${seed}: the target read through NBD is not the source at T0`);
  assert.not.ok((await volumeBytes("1000", 256 * MIB)).equals(readFileSync(t0)), "the source changed after T0");
});

FlashCopy("should export a -tgtinhibit target read-only, and fail reads of an unusable one with EIO and a log line", async () => {
  await fixture.site.establishFlash(IMAGE, { pairs: [["1001", "1003"]], options: { nocopy: true, tgtinhibit: true } });
  const info = JSON.parse((await run("nbdinfo", ["--json", fixture.uri("backup", "1003")])).stdout) as { exports: Array<{ is_read_only: boolean }> };
  assert.is(info.exports[0].is_read_only, true);
  const refused = await run("qemu-io", ["-f", "raw", "-c", "write -P 1 0 4k", fixture.uri("backup", "1003")]).then((ok) => ok.stdout, (error: { stdout: string; stderr: string }) => error.stdout + error.stderr);
  assert.match(refused, /read-only|Operation not permitted|Permission denied/i);
  assert.is((await fixture.site.read(IMAGE, "1003", 0, 1))[0], 0);
  // Withdrawn before its copy completed, the target becomes unusable: reads fail, and the log says why.
  await fixture.site.write(IMAGE, "1001", 0, new Uint8Array(65536).fill(9));
  await fixture.site.withdrawFlash(IMAGE, ["1001:1003"]);
  const failed = await run("qemu-io", ["-f", "raw", "-c", "read 0 4k", fixture.uri("backup", "1003")]).then((ok) => ok.stdout, (error: { stdout: string; stderr: string }) => error.stdout + error.stderr);
  assert.match(failed, /Input\/output error/);
  assert.ok(fixture.logs.some((line) => /read of volume 1003 failed with EIO: the volume is not usable/.test(line)), fixture.logs.join("\n"));
});

FlashCopy.run();
