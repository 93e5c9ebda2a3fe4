// freezepprc across `tzero serve` nodes (src/site/freeze-across.ts): the
// server S routes one freeze whose LSS pairs have primaries on node A (two
// LSS pairs, A 10 → B 20 and A 11 → B 21) and node C (C 12 → B 22), all
// secondaries on node B. Writers in this process run chains of dependent
// writes through the server across the three primaries: write k of a chain
// is issued only once write k - 1 was acknowledged. After the freeze the
// secondaries must hold, for every chain, exactly a prefix of it (one point
// in time), and with -consistgrp no write completes until unfreezepprc.
// A node killed before the freeze fails it, naming the node, changing nothing.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import { RemoteSite } from "../../src/site/remote.js";
import type { PairInfo } from "../../src/site/types.js";
import { ServeSandbox, freePort, type ServeProcess } from "../support/serve-process.js";
import { refusal } from "../support/refusal.js";

const S = "IBM.2107-75SITES";
const A = "IBM.2107-75SITEA";
const B = "IBM.2107-75SITEB";
const C = "IBM.2107-75SITEC";
const PASSWORD = "Adm1npass";
const WAIT_MS = 60_000;
const BLOCK_BYTES = 4096;
const WRITERS = 6;
const BLOCKS_PER_WRITER = 64; // per volume and round: a chain of 192 writes at most
const ROUNDS = 2; // each round's chains write a region of their own
const TRACK_BYTES = 65536;
const VOLUME_BYTES = ROUNDS * WRITERS * BLOCKS_PER_WRITER * BLOCK_BYTES;
const HELD_MS = 300; // how long the test watches held writers not complete
// The primaries of the chains, in the order a chain writes them, and their secondaries on B.
const PRIMARIES: Array<[string, string]> = [[A, "1000"], [C, "1200"], [A, "1100"]];
const SECONDARIES = ["2000", "2200", "2100"];
const PAIRS: Array<[string, string]> = [[A, "1000:2000"], [C, "1200:2200"], [A, "1100:2100"]];
const FREEZE_IDS = ["10:20", "11:21", `${C}/12:${B}/22`];
const writers = Array.from({ length: WRITERS }, (_, index) => index);

interface Site4 {
  sandbox: ServeSandbox;
  server: ServeProcess;
  nodes: Map<string, ServeProcess>; // by image
  shell: RemoteSite; // the administrator's
  hosts: RemoteSite; // the chains' own connection, as hosts write beside the administrator
}

async function fourNodes(sandbox: ServeSandbox): Promise<Site4> {
  writeFileSync(sandbox.path("admin.pw"), `${PASSWORD}\n`, { mode: 0o600 });
  const server = sandbox.start("--image", S, "--server-state", sandbox.path("s.server"), "--admin-password-file", sandbox.path("admin.pw"));
  await server.waitFor(/primary Copy Services Server/, 1, WAIT_MS);
  const key = sandbox.path("s.server/site.key");
  const nodes = new Map<string, ServeProcess>();
  for (const [image, node] of [[A, "node-a"], [C, "node-c"], [B, "node-b"]]) {
    const link = image === B ? ["--link-listen", `127.0.0.1:${await freePort()}`] : [];
    nodes.set(image, sandbox.start("--image", image, "--join", server.url, "--site-key-file", key, "--node-id", node, ...link));
  }
  for (const node of ["node-a", "node-c", "node-b"]) await server.waitFor(new RegExp(`node ${node} joined`), 1, WAIT_MS);
  const { hostname, port } = new URL(server.url);
  const connect = () => RemoteSite.connect({ servers: [{ host: hostname, port: Number(port) }], user: "admin", password: PASSWORD });
  return { sandbox, server, nodes, shell: await connect(), hosts: await connect() };
}

async function makePaths(shell: RemoteSite, consistgrp: boolean): Promise<void> {
  const wwnnB = (await shell.listImages()).find((image) => image.id === B)!.wwnn;
  for (const [index, [image, volume]] of PRIMARIES.entries()) {
    const path = await shell.makePath(image, { remoteImageId: B, remoteWwnn: wwnnB, sourceLss: volume.slice(0, 2), targetLss: SECONDARIES[index].slice(0, 2), ports: ["I0010:I0143"], consistgrp });
    assert.is(path.state, "Success", `the path ${image} ${volume.slice(0, 2)} → B is up (${path.reason})`);
  }
}

// Metro Mirror (-tgtread) of every primary to its secondary on B, in sync.
async function mirrored(site: Site4, consistgrp: boolean): Promise<void> {
  const { shell } = site;
  for (const [index, [image, volume]] of PRIMARIES.entries()) {
    await shell.createVolumes(image, { ids: [volume], capacity: VOLUME_BYTES / 512, unit: "blocks" });
    await shell.createVolumes(B, { ids: [SECONDARIES[index]], capacity: VOLUME_BYTES / 512, unit: "blocks" });
  }
  await makePaths(shell, consistgrp);
  for (const [index, [image, volume]] of PRIMARIES.entries()) {
    await shell.makePairs(image, { remoteImageId: B, pairs: [[volume, SECONDARIES[index]]], type: "mmir", tgtread: true });
  }
  for (const [image, id] of PAIRS) await shell.waitForPairs(image, [id], { timeoutMs: WAIT_MS });
}

async function pairOn(shell: RemoteSite, imageId: string, id: string): Promise<PairInfo> {
  const found = (await shell.listPairs(imageId)).find((candidate) => candidate.id === id);
  if (found === undefined) throw new Error(`no PPRC pair ${id} on ${imageId}`);
  return found;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// ---- chains of dependent writes ---------------------------------------------------------

// Write k of writer `index` in round `round`: its number + 1 and the round in every u32 (0 is never written).
function chainBlock(round: number, k: number): Uint8Array {
  return new Uint8Array(new Uint32Array(BLOCK_BYTES / 4).fill((round << 16) | (k + 1)).buffer);
}

const regionStart = (round: number, index: number) => (round * WRITERS + index) * BLOCKS_PER_WRITER * BLOCK_BYTES;
const offsetOf = (round: number, index: number, k: number) => regionStart(round, index) + Math.floor(k / PRIMARIES.length) * BLOCK_BYTES;

interface Chains {
  completed: number[]; // by writer: writes 0 .. completed - 1 acknowledged
  longBusy: number; // tries refused as long busy (a consistency group holds them), retried as a host retries
  stop: boolean;
  done: Promise<void>;
}

function startChains(shell: RemoteSite, round: number): Chains {
  const chains: Chains = { completed: writers.map(() => 0), longBusy: 0, stop: false, done: Promise.resolve() };
  const chain = async (index: number) => {
    for (let k = 0; k < PRIMARIES.length * BLOCKS_PER_WRITER && !chains.stop;) {
      const [image, volume] = PRIMARIES[k % PRIMARIES.length];
      try {
        await shell.write(image, volume, offsetOf(round, index, k), chainBlock(round, k));
      } catch (error) {
        if ((error as { code?: string }).code !== "LONG_BUSY") throw error;
        chains.longBusy++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      chains.completed[index] = ++k;
    }
  };
  chains.done = Promise.all(writers.map(chain)).then(() => undefined);
  return chains;
}

// How many of writer `index`'s writes the secondaries hold, checking they are a prefix of its chain.
async function prefixOnSecondaries(shell: RemoteSite, round: number, index: number): Promise<number> {
  const regions = await Promise.all(SECONDARIES.map((volume) => shell.read(B, volume, regionStart(round, index), BLOCKS_PER_WRITER * BLOCK_BYTES)));
  let prefix = -1;
  for (let k = 0; k < PRIMARIES.length * BLOCKS_PER_WRITER; k++) {
    const start = Math.floor(k / PRIMARIES.length) * BLOCK_BYTES;
    const bytes = regions[k % PRIMARIES.length].subarray(start, start + BLOCK_BYTES);
    const present = Buffer.compare(bytes, chainBlock(round, k)) === 0;
    if (!present) assert.ok(bytes.every((byte) => byte === 0), `round ${round} writer ${index}: block of write ${k} is neither written nor blank`);
    if (present && prefix >= 0) assert.unreachable(`round ${round} writer ${index}: write ${k} is on a secondary but write ${prefix} before it is not`);
    if (!present && prefix < 0) prefix = k;
  }
  return prefix < 0 ? PRIMARIES.length * BLOCKS_PER_WRITER : prefix;
}

const freeze = (shell: RemoteSite) => shell.changePairs(A, "freezepprc", { remoteImageId: B, ids: FREEZE_IDS });

async function chainsUnderFreeze(site: Site4, round: number, consistgrp: boolean): Promise<void> {
  const { shell } = site;
  const chains = startChains(site.hosts, round);
  const chainEnd = PRIMARIES.length * BLOCKS_PER_WRITER;
  try {
    await until(() => writers.every((index) => chains.completed[index] >= 12), "every writer to write");
    // Acknowledged before the freeze began: mirrored (Full Duplex), so on the secondaries.
    const beforeFreeze = [...chains.completed];
    assert.equal(await freeze(shell), FREEZE_IDS);
    for (const [image, id] of PAIRS) {
      const pair = await pairOn(shell, image, id);
      assert.is(`${pair.state} ${pair.reason}`, "Suspended Freeze", `${image} ${id}`);
    }
    if (!consistgrp) {
      const afterFreeze = [...chains.completed];
      await until(() => writers.every((index) => chains.completed[index] >= Math.min(afterFreeze[index] + 6, chainEnd)), "writes after the freeze");
    }
    const prefixes = await Promise.all(writers.map((index) => prefixOnSecondaries(shell, round, index)));
    for (const index of writers) {
      assert.ok(prefixes[index] >= beforeFreeze[index], `writer ${index}: ${prefixes[index]} writes on the secondaries, ${beforeFreeze[index]} acknowledged before the freeze`);
    }
    if (consistgrp) {
      await new Promise((resolve) => setTimeout(resolve, HELD_MS));
      for (const index of writers) assert.is(chains.completed[index], prefixes[index], `writer ${index}: held writes do not complete`);
      assert.equal(await shell.changePairs(A, "unfreezepprc", { remoteImageId: B, ids: FREEZE_IDS }), FREEZE_IDS);
      await until(() => writers.every((index) => chains.completed[index] > prefixes[index] || prefixes[index] === chainEnd), "writes after unfreezepprc");
      assert.ok(chains.longBusy > 0, "a writer met the hold");
    }
  } finally {
    chains.stop = true;
    await chains.done;
  }
}

// The freeze removed the paths: new ones, resumepprc, and every pair back in sync.
async function resumed(shell: RemoteSite, consistgrp: boolean): Promise<void> {
  await makePaths(shell, consistgrp);
  for (const [image, id] of PAIRS) await shell.changePairs(image, "resumepprc", { remoteImageId: B, ids: [id], type: "mmir" });
  for (const [image, id] of PAIRS) await shell.waitForPairs(image, [id], { timeoutMs: WAIT_MS });
}

// Four nodes with every pair mirrored (paths with or without -consistgrp) for `body`, stopped after it.
async function withMirroredNodes(consistgrp: boolean, body: (site: Site4) => Promise<void>): Promise<void> {
  const sandbox = new ServeSandbox();
  let site: Site4 | null = null;
  try {
    site = await fourNodes(sandbox);
    await mirrored(site, consistgrp);
    await body(site);
  } finally {
    await site?.shell.close();
    await site?.hosts.close();
    await sandbox.close();
  }
}

const Cross = suite("freezepprc across tzero serve nodes");

Cross("should leave the secondaries of two nodes' primaries one point in time, with and without -consistgrp", () => withMirroredNodes(false, async (site) => {
  await chainsUnderFreeze(site, 0, false);
  await resumed(site.shell, true);
  await chainsUnderFreeze(site, 1, true);
  await resumed(site.shell, true);
  for (const [index, [image, volume]] of PRIMARIES.entries()) {
    const length = VOLUME_BYTES;
    assert.is(await site.shell.checksum(image, volume, 0, length), await site.shell.checksum(B, SECONDARIES[index], 0, length), `${volume} equals ${SECONDARIES[index]} after the resume`);
  }
}));

Cross("should refuse a freeze naming a node that is down or an image that does not exist, changing nothing", () => withMirroredNodes(true, async (site) => {
  const missing = await refusal(site.shell.changePairs(A, "freezepprc", { remoteImageId: B, ids: ["10:20", `IBM.2107-75NONE/12:${B}/22`] }));
  assert.is(missing.code, "IMAGE_NOT_FOUND");
  site.nodes.get(C)!.kill("SIGKILL");
  await site.nodes.get(C)!.exited;
  const down = await refusal(freeze(site.shell));
  assert.match(down.message, /node-c/, `the refusal names the node that is down: ${down.message}`);
  for (const [image, id] of PAIRS.filter(([image]) => image === A)) assert.is((await pairOn(site.shell, image, id)).state, "Full Duplex", `${id} untouched`);
  assert.is((await site.shell.listPaths(A)).length, 2, "A's paths are still there");
  await site.shell.write(A, "1000", 0, new Uint8Array(BLOCK_BYTES).fill(9));
}));

Cross.run();
