// PPRC between `tzero serve` nodes: the server (S) routes the commands to
// the primary's node (A) and the secondary's (B), the data flows A → B over
// the link, not through S, and goes on while S is killed; B stopped (SIGSTOP)
// or killed (kill -9) suspends the pair within the link's heartbeat bound;
// either node restarted from its --state file comes back with its side of
// the pair, and resumepprc makes the volumes equal again; failover and
// failback across the two nodes.
import { suite } from "uvu";
import { createServer, type Server } from "node:net";
import * as assert from "uvu/assert";
import { ServeSandbox, type ServeProcess } from "../support/serve-process.js";
import { Random, testSeed } from "../support/random.js";
import {
  A, B, PASSWORD, SUSPEND_WAIT_MS, TRACK_BYTES, TRACKS, WAIT_MS, connectShell, dscli, equal, mirrored, pair, refusedWrite, restartNode, resumed,
  threeNodes, until, type Site3,
} from "../support/serve-pprc-site.js";

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

// B's node without a fixed --link-listen: killed, it comes back taking links
// on another port. The server tells A's node the new address when B
// registers, so that A's path goes from Failed to Success by itself and
// resumepprc works without mkpprcpath again; and mkpprcpath again with the
// same ports is Success at once.
Cross("should give A's path the new link address of B's node restarted from its --state on another port, so that resumepprc makes the volumes equal", async () => {
  const seed = testSeed();
  console.log(`# serve-pprc new link port seed ${seed}`);
  const sandbox = new ServeSandbox();
  const blockers: Server[] = [];
  let site: Site3 | null = null;
  try {
    site = await threeNodes(sandbox, { fixedLinks: false });
    await mirrored(site, seed & 0xffff);
    await savedAfterChange(site, "b");
    const before = linkPort(site.b);
    site.b.kill("SIGKILL");
    await site.b.exited;
    await until(async () => (await pair(site!.shell, A, "1000:2000")).state === "Suspended", "the pair to suspend at the kill", SUSPEND_WAIT_MS);
    const [failed] = await site.shell.listPaths(A);
    assert.is(failed?.state, "Failed", "A's path fails while B's node is down");
    assert.match(failed.reason ?? "", new RegExp(`127\\.0\\.0\\.1:${before}`), `it names the address it cannot reach (${failed.reason})`);

    // The old port taken meanwhile (by a listener that drops every connection): B's node must take another.
    const taken = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => taken.once("error", reject).listen(before, "127.0.0.1", resolve));
    blockers.push(taken);
    await restartNode(site, "b");
    const after = linkPort(site.b);
    assert.ok(after !== before, `B's node took links on another port (${before}, then ${after})`);
    await until(async () => (await site!.shell.listPaths(A))[0]?.state === "Success", "A's path to link to B's new port by itself");
    const shown = dscli(site.server, "lspprcpath", "-dev", A, "10");
    assert.match(shown.stdout, /10\s+20\s+Success/, `lspprcpath shows it Success: ${shown.stdout}${shown.stderr}`);
    await resumed(site, B, "after B's node came back on another link port", seed);

    // mkpprcpath again with the same ports: Success at once, the pair untouched.
    const wwnnB = (await site.shell.listImages()).find((image) => image.id === B)!.wwnn;
    const again = await site.shell.makePath(A, { remoteImageId: B, remoteWwnn: wwnnB, sourceLss: "10", targetLss: "20", ports: ["I0010:I0143"] });
    assert.is(again.state, "Success", `mkpprcpath again is Success at once (${again.reason})`);
    assert.is((await pair(site.shell, A, "1000:2000")).state, "Full Duplex");
  } finally {
    for (const blocker of blockers) blocker.close();
    await site?.shell.close();
    await sandbox.close();
  }
});

// A configuration change on the node `which` after the pair (a volume made
// there), then its next save: no save runs beside a change, one in flight is
// abandoned, so that save started after it and holds the pair's side.
async function savedAfterChange(site: Site3, which: "a" | "b"): Promise<void> {
  const image = which === "a" ? A : B;
  await site.shell.createVolumes(image, { ids: [which === "a" ? "1001" : "2001"], capacity: 128, unit: "blocks" });
  const saves = site[which].log.split("\n").filter((line) => /saved .*\.tzs/.test(line)).length;
  await site[which].waitFor(/saved .*\.tzs/, saves + 1, WAIT_MS);
}

// The port where `node` last said it takes PPRC links.
function linkPort(node: ServeProcess): number {
  const said = [...node.log.matchAll(/PPRC links are taken at 127\.0\.0\.1:(\d+)/g)];
  assert.ok(said.length > 0, "the node said where it takes links");
  return Number(said[said.length - 1][1]);
}

// The pair and its path on A, as the server last knew them: Full Duplex, and said to be so.
async function lastKnownOnA(site: Site3, server: ServeProcess, when: string): Promise<void> {
  const [listed] = await site.shell.listPairs(A);
  assert.is(listed?.id, "1000:2000", `the server still lists A's pair ${when}`);
  assert.is(listed.state, "Full Duplex", `its last known state ${when}`);
  assert.ok(listed.tgtread, "with its options");
  assert.match(listed.lastKnown ?? "", /node node-a .*is not connected: this is the Copy Services Server's last known state/, `marked last known ${when}`);
  const [path] = await site.shell.listPaths(A);
  assert.equal([path?.sourceLss, path?.targetLss, path?.targetImageId, path?.state], ["10", "20", B, "Success"], `A's path ${when}`);
  assert.ok(path.lastKnown !== undefined, `the path is marked last known ${when}`);
  const shown = dscli(server, "lspprc", "-dev", A, "-l", "-bnr", "off", "1000:2000");
  assert.is(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /1000:2000\s+Full Duplex/);
  assert.match(shown.stdout, /CMUC09034W lspprc: node node-a .*last known state/, `lspprc says the state is the server's last known ${when}`);
}

Cross("should answer for PPRC pairs and paths from the server's catalog after a takeover, with their node down, and after the server's restart", async () => {
  const seed = testSeed();
  console.log(`# serve-pprc catalog seed ${seed}`);
  const sandbox = new ServeSandbox();
  let site: Site3 | null = null;
  try {
    site = await threeNodes(sandbox, { backup: true });
    await mirrored(site, seed & 0xffff);
    // The pair may have gone Full Duplex by itself after mkpprc's read-back: the server's pair
    // watcher, looking every second, records that in the catalog with an event. The newest
    // event about the pair saying Full Duplex (mkpprc's own or the watcher's) means the catalog does.
    const token = await restToken(site.server.url);
    await until(async () => /\b1000:2000 Full Duplex\b/.test((await pairEvents(site!.server.url, token, A, "1000:2000")).at(-1) ?? ""),
      "the server's events to say that A's pair 1000:2000 is Full Duplex (the pair watcher's record of it)", WAIT_MS);
    // The primary server killed: B's node takes over; A re-registers there and answers live.
    await site.shell.close();
    site.server.kill("SIGKILL");
    await site.server.exited;
    await site.b.waitFor(/took over as primary/, 1, WAIT_MS);
    await site.b.waitFor(/node node-a joined/, 1, WAIT_MS);
    site.shell = await connectShell(site.b);
    assert.is((await pair(site.shell, A, "1000:2000")).lastKnown, undefined, "a connected node answers itself");
    const rest = await restPprcs(site.b.url);
    assert.equal(rest.map((item) => [item.id, item.state]), [[`${A.slice(4)}_1000:${B.slice(4)}_2000`, "target_full_duplex"]], "REST cs/pprcs on the new primary");

    // A's node killed: the new primary answers for its pair from the catalog the old one replicated.
    site.a.kill("SIGKILL");
    await site.a.exited;
    await site.b.waitFor(/node node-a lost/, 1, WAIT_MS);
    await lastKnownOnA(site, site.b, "after the takeover, with A's node down");

    // Both gone; the first server restarted from its journal, alone: it still knows A's pair.
    await site.shell.close();
    site.b.kill("SIGKILL");
    await site.b.exited;
    site.server = sandbox.start(...site.serverArgs, "--listen", new URL(site.server.url).port);
    await site.server.waitFor(/primary Copy Services Server/, 1, WAIT_MS);
    site.shell = await connectShell(site.server);
    await lastKnownOnA(site, site.server, "after the server's restart");
  } finally {
    await site?.shell.close();
    await sandbox.close();
  }
});

// GET /api/v1/cs/pprcs on a server: its items' id and state.
// The texts of the server's logged events about pair `id` of `imageId`, oldest first.
// Full Duplex under steady writes across nodes: workloads on A's node write
// without pause from before mkpprc on, each write waiting for B's node to
// acknowledge it over the link; the wait returns while they write, and lspprc
// (through the server) shows the pair Full Duplex with 0 tracks out of sync
// LOOKS times in a row. A write in flight holds its
// track's out-of-sync bit, but it is no backlog: before the core counted such
// writes apart, nearly every look showed Copy Pending.
const LOOKS = 30;
Cross("should reach Full Duplex with 0 tracks out of sync, and stay so, while workloads on the primary's node write", async () => {
  const seed = testSeed();
  console.log(`# serve-pprc steady-writes seed ${seed}`);
  const sandbox = new ServeSandbox();
  let site: Site3 | null = null;
  try {
    site = await threeNodes(sandbox);
    const names = ["steady0", "steady1"];
    const written = async () => (await site!.shell.listWorkloads()).filter((workload) => names.includes(workload.spec.name)).map((workload) => workload.stats.ios);
    await mirrored(site, seed & 0xffff, TRACKS, async () => {
      for (const [index, name] of names.entries()) {
        await site!.shell.startWorkload(A, { name, volumeId: "1000", rw: "write", pattern: index === 0 ? "random" : "seq", blockBytes: 4096, seed: seed + index });
      }
      await until(async () => (await written()).every((ios) => ios > 20), "the workloads to write");
    });
    const before = await written();
    for (let look = 0; look < LOOKS; look++) {
      const shown = await pair(site.shell, A, "1000:2000");
      assert.is(`${shown.state}, ${shown.outOfSyncTracks}`, "Full Duplex, 0", `look ${look} (seed ${seed})`);
    }
    // The workloads' counts reach the server about once a second: they still run, and their count grows.
    const total = (counts: number[]) => counts.reduce((sum, ios) => sum + ios, 0);
    const states = (await site.shell.listWorkloads()).filter((workload) => names.includes(workload.spec.name)).map((workload) => workload.state);
    assert.equal(states, ["running", "running"], "the workloads wrote on through the looks");
    await until(async () => total(await written()) > total(before), "the workloads' count to grow");
    for (const name of names) await site.shell.stopWorkload(name);
    assert.is((await pair(site.shell, A, "1000:2000")).state, "Full Duplex");
    assert.ok(await equal(site.shell, [A, "1000"], [B, "2000"]), `every acknowledged write is on the secondary (seed ${seed})`);
  } finally {
    await site?.shell.close();
    await sandbox.close();
  }
});

async function pairEvents(url: string, token: string, imageId: string, id: string): Promise<string[]> {
  const reply = await fetch(`${url}/cs/console/events?limit=2000`, { headers: { "x-auth-token": token } });
  assert.is(reply.status, 200);
  const { events } = (await reply.json()) as { events: Array<{ image: string | null; ids: string[]; text: string }> };
  return events.filter((event) => event.image === imageId && event.ids.includes(id)).map((event) => event.text);
}

async function restToken(url: string): Promise<string> {
  const login = await fetch(`${url}/api/v1/tokens`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ request: { params: { username: "admin", password: PASSWORD } } }) });
  return ((await login.json()) as { token: { token: string } }).token.token;
}

async function restPprcs(url: string): Promise<Array<{ id: string; state: string }>> {
  const reply = await fetch(`${url}/api/v1/cs/pprcs`, { headers: { "x-auth-token": await restToken(url) } });
  assert.is(reply.status, 200);
  return ((await reply.json()) as { data: { pprcs: Array<{ id: string; state: string }> } }).data.pprcs;
}

Cross.run();
