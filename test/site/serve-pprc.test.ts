// PPRC between `tzero serve` nodes: the server (S) routes the commands to
// the primary's node (A) and the secondary's (B), the data flows A → B over
// the link, not through S, and goes on while S is killed; B stopped (SIGSTOP)
// or killed (kill -9) suspends the pair within the link's heartbeat bound;
// either node restarted from its --state file comes back with its side of
// the pair, and resumepprc makes the volumes equal again; failover and
// failback across the two nodes.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { RemoteSite } from "../../src/site/remote.js";
import type { PairInfo } from "../../src/site/types.js";
import { LINK_HEARTBEAT_TIMEOUT_MS } from "../../src/pprc/link-protocol.js";
import { ServeSandbox, type ServeProcess } from "../support/serve-process.js";
import { Random, testSeed } from "../support/random.js";

const S = "IBM.2107-75SITES";
const A = "IBM.2107-75SITEA";
const B = "IBM.2107-75SITEB";
const TRACK_BYTES = 65536;
const TRACKS = 32;
const BLOCKS = (TRACKS * TRACK_BYTES) / 512;
const PASSWORD = "Adm1npass";
const WAIT_MS = 60_000;
// Loose on purpose: the machine is shared; the bound itself is the link's heartbeat timeout.
const SUSPEND_WAIT_MS = LINK_HEARTBEAT_TIMEOUT_MS + 15_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Site3 {
  sandbox: ServeSandbox;
  server: ServeProcess;
  serverArgs: string[];
  a: ServeProcess;
  aArgs: string[];
  b: ServeProcess;
  bArgs: string[];
  shell: RemoteSite;
}

async function connectShell(server: ServeProcess): Promise<RemoteSite> {
  const { hostname, port } = new URL(server.url);
  return RemoteSite.connect({ servers: [{ host: hostname, port: Number(port) }], user: "admin", password: PASSWORD });
}

async function threeNodes(sandbox: ServeSandbox): Promise<Site3> {
  writeFileSync(sandbox.path("admin.pw"), `${PASSWORD}\n`, { mode: 0o600 });
  const serverArgs = ["--image", S, "--server-state", sandbox.path("s.server"), "--admin-password-file", sandbox.path("admin.pw")];
  const server = sandbox.start(...serverArgs);
  await server.waitFor(/primary Copy Services Server/, 1, WAIT_MS);
  const key = sandbox.path("s.server/site.key");
  const aArgs = ["--image", A, "--join", server.url, "--site-key-file", key, "--node-id", "node-a", "--state", sandbox.path("a.tzs")];
  const a = sandbox.start(...aArgs);
  const bArgs = ["--image", B, "--join", server.url, "--site-key-file", key, "--node-id", "node-b", "--link-listen", `127.0.0.1:${await freePort()}`, "--state", sandbox.path("b.tzs")];
  const b = sandbox.start(...bArgs);
  await server.waitFor(/node node-a joined/, 1, WAIT_MS);
  await server.waitFor(/node node-b joined/, 1, WAIT_MS);
  return { sandbox, server, serverArgs, a, aArgs, b, bArgs, shell: await connectShell(server) };
}

async function pair(shell: RemoteSite, imageId: string, id: string): Promise<PairInfo> {
  const found = (await shell.listPairs(imageId)).find((candidate) => candidate.id === id);
  if (found === undefined) throw new Error(`no PPRC pair ${id} on ${imageId}`);
  return found;
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Volumes 1000 on A (filled) and 2000 on B, a path A 10 → B 20, and Metro Mirror 1000:2000 (-tgtread) made and in sync.
async function mirrored(site: Site3, seed: number): Promise<void> {
  const { shell } = site;
  await shell.createVolumes(A, { ids: ["1000"], capacity: BLOCKS, unit: "blocks" });
  await shell.createVolumes(B, { ids: ["2000"], capacity: BLOCKS, unit: "blocks" });
  await shell.fill(A, "1000", { offset: 0, length: TRACKS * TRACK_BYTES }, { kind: "pattern", seed });
  const wwnnB = (await shell.listImages()).find((image) => image.id === B)!.wwnn;
  const path = await shell.makePath(A, { remoteImageId: B, remoteWwnn: wwnnB, sourceLss: "10", targetLss: "20", ports: ["I0010:I0143"] });
  assert.is(path.state, "Success", `the path across nodes is up (${path.reason})`);
  assert.equal(await shell.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir", tgtread: true }), ["1000:2000"]);
  await shell.waitForPairs(A, ["1000:2000"], { timeoutMs: WAIT_MS });
}

async function equal(shell: RemoteSite, primary: [string, string], secondary: [string, string]): Promise<boolean> {
  const length = TRACKS * TRACK_BYTES;
  return (await shell.checksum(primary[0], primary[1], 0, length)) === (await shell.checksum(secondary[0], secondary[1], 0, length));
}

const Cross = suite("PPRC between tzero serve nodes");

Cross("should mirror across nodes from Copy Pending to Full Duplex, keep mirroring while the server is killed, and fail over and back", async () => {
  const seed = testSeed();
  console.log(`# serve-pprc seed ${seed} (TZERO_SEED=${seed} replays it)`);
  const random = new Random(seed);
  const sandbox = new ServeSandbox();
  let site: Site3 | null = null;
  try {
    site = await threeNodes(sandbox);
    await mirrored(site, seed & 0xffff);
    assert.is((await pair(site.shell, A, "1000:2000")).state, "Full Duplex");
    assert.is((await pair(site.shell, B, "1000:2000")).state, "Target Full Duplex", "the secondary's node knows its side of the pair");
    assert.ok(await equal(site.shell, [A, "1000"], [B, "2000"]), "equal byte for byte after Copy Pending");
    for (let index = 0; index < 40; index++) {
      const offset = random.int(0, TRACKS * 16 - 1) * 4096;
      await site.shell.write(A, "1000", offset, random.bytes(4096));
    }
    const held = await refusedWrite(site.shell, B, "2000");
    assert.ok(held, "the secondary refuses host writes");
    assert.ok(await equal(site.shell, [A, "1000"], [B, "2000"]), `every acknowledged write is on the secondary (seed ${seed})`);

    // The server killed under a workload on A: the mirror never waits for it.
    await site.shell.startWorkload(A, { name: "oltp", volumeId: "1000", rw: "write", pattern: "random", blockBytes: 4096, iopsMax: 500, seed });
    await until(async () => ((await site!.shell.listWorkloads()).find((workload) => workload.spec.name === "oltp")?.stats.ios ?? 0) > 50, "the workload to write");
    await site.shell.close();
    site.server.kill("SIGKILL");
    await site.server.exited;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // The same port: the nodes dial the server they knew.
    site.server = sandbox.start(...site.serverArgs, "--listen", new URL(site.server.url).port);
    await site.server.waitFor(/node node-a joined/, 1, WAIT_MS);
    await site.server.waitFor(/node node-b joined/, 1, WAIT_MS);
    site.shell = await connectShell(site.server);
    const stopped = await site.shell.stopWorkload("oltp");
    assert.ok(stopped.stats.ios > 50);
    const afterServer = await pair(site.shell, A, "1000:2000");
    assert.is(afterServer.state, "Full Duplex", `the pair stayed Full Duplex while the server was gone (${afterServer.reason}: ${afterServer.detail})`);
    assert.ok(await equal(site.shell, [A, "1000"], [B, "2000"]), "the workload's writes reached the secondary without the server");

    // Failover to B, writes there, failback to A over a path B → A, then home again.
    assert.equal(await site.shell.changePairs(B, "failoverpprc", { remoteImageId: A, ids: ["2000:1000"], type: "mmir" }), ["2000:1000"]);
    const failedOver = await pair(site.shell, B, "2000:1000");
    assert.is(failedOver.state, "Suspended");
    assert.is(failedOver.reason, "Host Source");
    await site.shell.write(B, "2000", 7 * TRACK_BYTES, new Uint8Array(8192).fill(0x5a));
    const wwnnA = (await site.shell.listImages()).find((image) => image.id === A)!.wwnn;
    await site.shell.makePath(B, { remoteImageId: A, remoteWwnn: wwnnA, sourceLss: "20", targetLss: "10", ports: ["I0143:I0010"] });
    assert.equal(await site.shell.changePairs(B, "failbackpprc", { remoteImageId: A, ids: ["2000:1000"], type: "mmir" }), ["2000:1000"]);
    await site.shell.waitForPairs(B, ["2000:1000"], { timeoutMs: WAIT_MS });
    assert.is((await pair(site.shell, A, "2000:1000")).state, "Target Full Duplex", "A is now the secondary");
    assert.ok(await equal(site.shell, [B, "2000"], [A, "1000"]), "failback copied B's writes to A");
    assert.equal(await site.shell.changePairs(A, "failoverpprc", { remoteImageId: B, ids: ["1000:2000"], type: "mmir" }), ["1000:2000"]);
    assert.equal(await site.shell.changePairs(A, "failbackpprc", { remoteImageId: B, ids: ["1000:2000"], type: "mmir" }), ["1000:2000"]);
    await site.shell.waitForPairs(A, ["1000:2000"], { timeoutMs: WAIT_MS });
    assert.is((await pair(site.shell, B, "1000:2000")).state, "Target Full Duplex", "home again: B is the secondary");
    assert.ok(await equal(site.shell, [A, "1000"], [B, "2000"]));
  } finally {
    await site?.shell.close();
    await sandbox.close();
  }
});

async function refusedWrite(shell: RemoteSite, imageId: string, volumeId: string): Promise<boolean> {
  return shell.write(imageId, volumeId, 0, new Uint8Array(512)).then(() => false, () => true);
}

Cross("should suspend the pair when the secondary's node is stopped or killed, and resume to equal once it is back", async () => {
  const seed = testSeed();
  console.log(`# serve-pprc loss seed ${seed}`);
  const sandbox = new ServeSandbox();
  let site: Site3 | null = null;
  try {
    site = await threeNodes(sandbox);
    await mirrored(site, seed & 0xffff);
    // Stopped cleanly (its --state saved) and started again: it comes back the pair's secondary.
    await site.b.stop();
    await restartNode(site, "b");
    await resumed(site, B, "after the secondary's node restarted", seed);
    await site.shell.startWorkload(A, { name: "writes", volumeId: "1000", rw: "write", pattern: "random", blockBytes: 4096, iopsMax: 300, seed });
    await until(async () => ((await site!.shell.listWorkloads())[0]?.stats.ios ?? 0) > 20, "the workload to write");

    // Silent (SIGSTOP): the heartbeat fails the link, the writes go on locally with their tracks marked.
    site.b.kill("SIGSTOP");
    await until(async () => (await pair(site!.shell, A, "1000:2000")).state === "Suspended", "the pair to suspend", SUSPEND_WAIT_MS);
    await until(async () => (await pair(site!.shell, A, "1000:2000")).outOfSyncTracks > 0, "writes to mark tracks out of sync");
    site.b.kill("SIGCONT");
    await site.shell.stopWorkload("writes");
    await until(async () => (await site!.shell.listPaths(A))[0]?.state === "Success", "the path to come back");
    assert.equal(await site.shell.changePairs(A, "resumepprc", { remoteImageId: B, ids: ["1000:2000"], type: "mmir" }), ["1000:2000"]);
    await site.shell.waitForPairs(A, ["1000:2000"], { timeoutMs: WAIT_MS });
    assert.ok(await equal(site.shell, [A, "1000"], [B, "2000"]), `resumepprc made the volumes equal (seed ${seed})`);

    // Killed (kill -9) during writes: suspended, the writes go on on A with their tracks marked.
    await site.shell.startWorkload(A, { name: "more", volumeId: "1000", rw: "write", pattern: "random", blockBytes: 4096, iopsMax: 300, seed: seed + 1 });
    site.b.kill("SIGKILL");
    await site.b.exited;
    await until(async () => (await pair(site!.shell, A, "1000:2000")).state === "Suspended", "the pair to suspend at the kill", SUSPEND_WAIT_MS);
    const suspended = await pair(site.shell, A, "1000:2000");
    assert.is(suspended.reason, "Internal Conditions Target");
    await until(async () => (await pair(site!.shell, A, "1000:2000")).outOfSyncTracks > 0, "writes after the kill to mark tracks");
    const stats = await site.shell.stopWorkload("more");
    assert.ok(stats.stats.ios > 0, "host writes went on after the secondary's node died");
    assert.is(stats.state === "failed", false, `the workload did not fail (${stats.failureReason})`);

    // Back from its last --state (the clean stop's): a secondary still, its data older than
    // writes it had acknowledged, so resumepprc copies it whole once and the volumes are equal.
    await restartNode(site, "b");
    await resumed(site, B, "after the kill -9 of the secondary's node", seed);
  } finally {
    await site?.shell.close();
    await sandbox.close();
  }
});

// Starts the node `which` again from its --state and waits until the server has it back.
async function restartNode(site: Site3, which: "a" | "b"): Promise<void> {
  const joined = new RegExp(`node node-${which} joined`);
  const before = site.server.log.split("\n").filter((line) => joined.test(line)).length;
  site[which] = site.sandbox.start(...(which === "a" ? site.aArgs : site.bArgs));
  await site[which].waitFor(/loaded .*\.tzs/, 1, WAIT_MS);
  await site.server.waitFor(joined, before + 1, WAIT_MS);
}

// The pair Suspended on A once `restarted`'s node is back; the path up, resumepprc, Full Duplex and equal; the secondary refuses host writes.
async function resumed(site: Site3, restarted: string, when: string, seed: number): Promise<void> {
  await until(async () => (await site.shell.listPaths(A))[0]?.state === "Success", `the path ${when}`);
  await until(async () => (await pair(site.shell, A, "1000:2000")).state === "Suspended", `the pair to be suspended ${when}`, SUSPEND_WAIT_MS);
  assert.is((await pair(site.shell, B, "1000:2000")).role, "secondary", `B holds the secondary ${when} (${restarted} restarted)`);
  assert.ok(await refusedWrite(site.shell, B, "2000"), `the secondary refuses host writes ${when}`);
  assert.equal(await site.shell.changePairs(A, "resumepprc", { remoteImageId: B, ids: ["1000:2000"], type: "mmir" }), ["1000:2000"]);
  await site.shell.waitForPairs(A, ["1000:2000"], { timeoutMs: WAIT_MS });
  assert.ok(await equal(site.shell, [A, "1000"], [B, "2000"]), `equal byte for byte ${when} (seed ${seed})`);
}

Cross("should bring the primary's node back Suspended from its --state, after a clean stop and after kill -9 under a workload, and resume to equal", async () => {
  const seed = testSeed();
  console.log(`# serve-pprc primary restart seed ${seed}`);
  const sandbox = new ServeSandbox();
  let site: Site3 | null = null;
  try {
    site = await threeNodes(sandbox);
    await mirrored(site, seed & 0xffff);
    await site.a.stop();
    await restartNode(site, "a");
    const back = await pair(site.shell, A, "1000:2000");
    assert.is(back.state, "Suspended", "the primary comes back suspended: its secondary went on without it");
    assert.is(back.reason, "Internal Conditions Target");
    assert.match(back.detail ?? "", /restarted from its state file/);
    assert.is(back.outOfSyncTracks, TRACKS, "every track might have been written after the save");
    assert.ok(back.tgtread, "its options came back");
    await resumed(site, A, "after the primary's node restarted", seed);

    await site.shell.startWorkload(A, { name: "writes", volumeId: "1000", rw: "write", pattern: "random", blockBytes: 4096, iopsMax: 300, seed });
    await until(async () => ((await site!.shell.listWorkloads())[0]?.stats.ios ?? 0) > 20, "the workload to write");
    site.a.kill("SIGKILL");
    await site.a.exited;
    await restartNode(site, "a");
    await resumed(site, A, "after the kill -9 of the primary's node", seed);
  } finally {
    await site?.shell.close();
    await sandbox.close();
  }
});

Cross.run();
