// Replication to the backup and takeover, in one process over in-process
// wire connections with short timeouts: every command acknowledged before the
// primary "dies" (its connection cut, no process involved) is in the backup's
// state when it takes over with a higher term; a primary without its backup
// serves alone and says so; a returning former primary meets the higher term
// and becomes the backup; two backups refuse each other; a backup that was
// never in step does not take over.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { ReplicatedServer, replicationMessages } from "../../src/server/replication.js";
import type { ServerEvent } from "../../src/server/server.js";
import { ServerStore } from "../../src/server/store.js";
import { findRequest } from "../../src/server/site-state.js";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { SiteError } from "../../src/site/errors.js";
import { connectInProcess, WireError } from "../../src/wire/index.js";
import { Random, testSeed } from "../support/random.js";
import { temporaryDirectory } from "../store/support.js";
import { config } from "./support.js";
import { refusal } from "../support/refusal.js";

const seed = testSeed();
console.log(`replication seed: ${seed} (replay with TZERO_SEED=${seed})`);

const SITE_KEY = new Uint8Array(32).fill(7);
const HEARTBEAT_INTERVAL_MS = 20;
// Long enough that a loaded machine's stalls do not look like a dead primary;
// a test that expects no takeover at all waits far longer.
const TAKEOVER_TIMEOUT_MS = 1000;
const NO_TAKEOVER_TIMEOUT_MS = 60_000;
const WAIT_MS_MAX = 10_000; // a bound on waits for events, not a timing assertion
const IMAGE = "IBM.2107-75REPL01";

function connect(dialer: string, acceptor: string) {
  const options = (nodeId: string) => ({
    siteKey: SITE_KEY, nodeId, role: "server", messages: replicationMessages, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, heartbeatTimeoutMs: NO_TAKEOVER_TIMEOUT_MS,
  });
  return connectInProcess(options(dialer), options(acceptor));
}

async function start(directory: string, nodeId: string, role: "primary" | "backup", heartbeatTimeoutMs: number, lines: string[] = []): Promise<ReplicatedServer> {
  return ReplicatedServer.start({
    store: await ServerStore.open(directory), nodeId, role, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, heartbeatTimeoutMs,
    server: { users: config }, log: (line) => lines.push(line),
  });
}

function nextEvent(server: ReplicatedServer, type: ServerEvent["type"]): Promise<ServerEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} event within ${WAIT_MS_MAX} ms`)), WAIT_MS_MAX);
    const stop = server.events((event) => {
      if (event.type !== type) return;
      clearTimeout(timer);
      stop();
      resolve(event);
    });
  });
}

async function until(done: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !done(); waited += 10) {
    if (waited > WAIT_MS_MAX) throw new Error(`${what}: not within ${WAIT_MS_MAX} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const Takeover = suite("replication and takeover");
let folder: { path: string; remove(): void };
let node: EmbeddedSite;
let servers: ReplicatedServer[];
Takeover.before.each(() => {
  folder = temporaryDirectory();
  node = new EmbeddedSite({ workers: 0, images: [{ model: "2107", id: IMAGE }] });
  servers = [];
});
Takeover.after.each(async () => {
  for (const server of servers) await server.close();
  await node.close();
  folder.remove();
});

async function pair(heartbeatTimeoutMs: number): Promise<{ primary: ReplicatedServer; backup: ReplicatedServer; cut: () => void }> {
  const primary = await start(join(folder.path, "a"), "a", "primary", heartbeatTimeoutMs);
  const backup = await start(join(folder.path, "b"), "b", "backup", heartbeatTimeoutMs);
  servers.push(primary, backup);
  await primary.server!.registerNode("node-1", "http://127.0.0.1:8460", node);
  const [dialer, acceptor] = connect("b", "a");
  const joined = nextEvent(primary, "backup-joined");
  assert.equal(await Promise.all([backup.attach(dialer), primary.attach(acceptor)]), ["follow", "lead"]);
  await joined;
  return { primary, backup, cut: () => void acceptor.close("the primary dies") };
}

Takeover("should have every command acknowledged before the primary dies in the backup that takes over with term + 1", async () => {
  const random = new Random(seed);
  const { primary, backup, cut } = await pair(TAKEOVER_TIMEOUT_MS);
  const acked = new Map<string, unknown>();
  let dead = false;
  const command = async (index: number) => {
    const requestId = `cmd-${index}`;
    const view = primary.server!.forCaller({ user: "admin", requestId });
    const id = (0x1000 + random.int(0, 63)).toString(16).toUpperCase();
    let answer: unknown;
    try {
      answer = { ok: await view.createVolumes(IMAGE, { ids: [id], capacity: 1, unit: "ds" }) };
    } catch (error) {
      answer = { error: (error as SiteError).toData() };
    }
    if (!dead) acked.set(requestId, answer);
  };
  const rounds = random.int(5, 25);
  for (let round = 0; round < rounds; round++) await Promise.all(Array.from({ length: random.int(1, 6) }, (_, index) => command(round * 10 + index)));
  // The last commands are in flight when the primary dies: only those answered before count.
  const inFlight = Array.from({ length: 8 }, (_, index) => command(1000 + index));
  await new Promise((resolve) => setTimeout(resolve, random.int(0, 3)));
  dead = true;
  const takeover = nextEvent(backup, "takeover");
  cut();
  await Promise.all(inFlight);
  assert.equal(await takeover, { type: "takeover", nodeId: "b", term: 2 });
  assert.is(backup.role, "primary");
  const state = backup.server!.state;
  assert.is(state.term, 2);
  assert.ok(acked.size > 0);
  for (const [requestId, answer] of acked) {
    const recorded = findRequest(state, requestId);
    assert.ok(recorded !== undefined, `${requestId} was acknowledged but the backup lacks it (seed ${seed})`);
    const outcome = recorded!.outcome;
    assert.equal(outcome.ok ? { ok: outcome.result } : { error: outcome.error }, answer, `${requestId} (seed ${seed})`);
  }
  // The node re-registers with the new primary, and commands go on.
  await backup.server!.registerNode("node-1", "http://127.0.0.1:8460", node);
  const volumes = (await node.listVolumes(IMAGE)).map((volume) => volume.id);
  assert.equal(backup.server!.state.images[0].catalog.volumes.map((volume) => volume.id), volumes);
  await backup.server!.createVolumes(IMAGE, { ids: ["1100"], capacity: 1, unit: "ds" });
  console.log(`replication: ${acked.size} commands acknowledged before the cut, all on the backup`);
});

Takeover("should take the primary's sessions over: a live token works on the backup, a logged-out or expired one nowhere", async () => {
  const { primary, backup, cut } = await pair(TAKEOVER_TIMEOUT_MS);
  const { password } = await primary.server!.firstStart();
  const live = await primary.server!.login("admin", password!);
  const out = await primary.server!.login("admin", password!);
  await primary.server!.logout(out.token);
  const takeover = nextEvent(backup, "takeover");
  cut();
  await takeover;
  const server = backup.server!;
  assert.equal(server.authenticate(live.token), { user: "admin", passwordExpired: false, expiresAt: live.expiresAt });
  assert.throws(() => server.authenticate(out.token), /not one of a live session/);
  const session = server.state.sessions!.find((entry) => entry.expiresAtMs === live.expiresAt)!;
  assert.not.ok(JSON.stringify(server.state).includes(live.token), "the token itself is in the state");
  assert.match(session.key, /^[0-9a-f]{64}$/);
});

Takeover("should serve alone when the backup is gone, and say so", async () => {
  const { primary, backup } = await pair(NO_TAKEOVER_TIMEOUT_MS);
  await primary.server!.createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "ds" });
  const lost = nextEvent(primary, "backup-lost");
  await backup.close();
  assert.is((await lost).type, "backup-lost");
  assert.equal(await primary.server!.createVolumes(IMAGE, { ids: ["1001"], capacity: 1, unit: "ds" }), ["1001"]);
  assert.is(primary.role, "primary");
});

Takeover("should give a backup that joins late the snapshot and then the tail", async () => {
  const primary = await start(join(folder.path, "a"), "a", "primary", NO_TAKEOVER_TIMEOUT_MS);
  servers.push(primary);
  await primary.server!.registerNode("node-1", "http://127.0.0.1:8460", node);
  await primary.server!.createVolumes(IMAGE, { ids: ["1000", "1001"], capacity: 1, unit: "ds" });
  await primary.server!.firstStart();
  const backup = await start(join(folder.path, "b"), "b", "backup", NO_TAKEOVER_TIMEOUT_MS);
  servers.push(backup);
  const [dialer, acceptor] = connect("b", "a");
  await Promise.all([backup.attach(dialer), primary.attach(acceptor)]);
  await primary.server!.establishFlash(IMAGE, { pairs: [["1000", "1001"]], options: { nocopy: true } });
  assert.equal(backup.store.state, primary.store.state);
  assert.is(backup.sequence, primary.sequence);
});

Takeover("should make a returning former primary the backup of the one with the higher term, never two primaries", async () => {
  const { primary, backup, cut } = await pair(TAKEOVER_TIMEOUT_MS);
  await primary.server!.createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "ds" });
  const oldServer = primary.server!;
  const takeover = nextEvent(backup, "takeover");
  cut();
  await takeover;
  await backup.server!.registerNode("node-1", "http://127.0.0.1:8460", node);
  await backup.server!.createVolumes(IMAGE, { ids: ["1001"], capacity: 1, unit: "ds" });
  assert.equal([primary.role, backup.role], ["primary", "primary"], "cut off from each other, each thinks it leads (terms 1 and 2)");
  // They meet again: the old primary dials the new one.
  const demoted = nextEvent(primary, "demoted");
  const [dialer, acceptor] = connect("a", "b");
  assert.equal(await Promise.all([primary.attach(dialer), backup.attach(acceptor)]), ["follow", "lead"]);
  assert.equal(await demoted, { type: "demoted", nodeId: "a", term: 2 });
  assert.equal([primary.role, backup.role], ["backup", "primary"]);
  assert.is(primary.server, null);
  assert.is((await refusal(oldServer.createVolumes(IMAGE, { ids: ["1002"], capacity: 1, unit: "ds" }))).code, "NOT_PRIMARY");
  await backup.server!.createVolumes(IMAGE, { ids: ["1003"], capacity: 1, unit: "ds" });
  assert.equal(primary.store.state, backup.store.state, "the former primary resynced to the new one's state");
  assert.is(primary.store.term, 2);
});

Takeover("should refuse two backups, and not take over from a primary it was never in step with", async () => {
  const lines: string[] = [];
  const one = await start(join(folder.path, "a"), "a", "backup", 50, lines);
  const two = await start(join(folder.path, "b"), "b", "backup", NO_TAKEOVER_TIMEOUT_MS);
  servers.push(one, two);
  const [dialer, acceptor] = connect("a", "b");
  const [left, right] = await Promise.allSettled([one.attach(dialer), two.attach(acceptor)]);
  assert.is(left.status, "rejected");
  assert.is(right.status, "rejected");
  assert.match(String((left as PromiseRejectedResult).reason), /both servers are backups/);
  // A primary that welcomes the backup and is gone before it sends the snapshot.
  const [toPrimary, fakePrimary] = connect("a", "c");
  fakePrimary.handle("repl.hello", () => ({ term: 1, sequence: 0, role: "primary" as const, leader: "acceptor" as const }));
  assert.is(await one.attach(toPrimary), "follow");
  await fakePrimary.close("gone before the snapshot");
  await until(() => lines.some((line) => line.includes("never in step")), "the backup's silence timer");
  assert.is(one.role, "backup");
  assert.is(one.server, null);
});

Takeover("should refuse the snapshot and entries of a primary whose term is below the backup's", async () => {
  const backup = await start(join(folder.path, "b"), "b", "backup", NO_TAKEOVER_TIMEOUT_MS);
  servers.push(backup);
  await backup.store.commit([{ type: "term.raised", term: 2 }], { term: 2 });
  const [toPrimary, stalePrimary] = connect("b", "a");
  stalePrimary.handle("repl.hello", () => ({ term: 1, sequence: 0, role: "primary" as const, leader: "acceptor" as const }));
  assert.is(await backup.attach(toPrimary), "follow");
  const state = backup.store.state;
  try {
    await stalePrimary.request("repl.snapshot", { term: 1, sequence: 0, index: 0, count: 1, bytes: new Uint8Array([0x80]) });
    assert.unreachable("the snapshot was taken");
  } catch (error) {
    assert.instance(error, WireError);
    assert.is((error as WireError).remoteCode, "STALE_TERM");
    assert.match((error as Error).message, /term 1 is below this backup's 2/);
  }
  assert.equal(backup.store.state, state, "nothing changed");
  try {
    await stalePrimary.request("repl.append", { term: 2, first_sequence: 1, count: 1, entries: new Uint8Array([0x90]) });
    assert.unreachable("entries were taken before a snapshot");
  } catch (error) {
    assert.instance(error, WireError);
    assert.is((error as WireError).remoteCode, "REPLICATION");
  }
  await stalePrimary.close();
});

Takeover.run();
