// freezepprc and unfreezepprc (design.md §4): a freeze suspends every pair of
// its LSS pairs (reason Freeze) at one point in time and removes their paths;
// over a -consistgrp path it then holds the primaries' writes (long busy)
// until unfreezepprc or the LSS's long-busy timeout. Real writer threads run
// chains of dependent writes across two LSS pairs during the freeze: the
// secondaries must hold, for every writer, exactly a prefix of its chain.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Worker } from "node:worker_threads";
import type { EmbeddedSite } from "../../src/site/embedded.js";
import { refusal } from "../support/refusal.js";
import { A, B, TRACK_BLOCKS, TRACK_BYTES, pairOn, sameData, twoImages, until, type TwoImages } from "./support.js";
import { CHAIN_BLOCK_BYTES, chainBlock, type ChainWriterData, type ChainWriterResult } from "./fixtures/chain.js";

const WRITERS = 3;
const BLOCKS_PER_WRITER = 256; // per volume: a chain of 512 writes at most
const TRACKS = (WRITERS * BLOCKS_PER_WRITER * CHAIN_BLOCK_BYTES) / TRACK_BYTES;
const PAIRS = ["1000:2000", "1100:2100"];
const HELD_MS = 100; // how long the test watches held writers not complete
const writers = Array.from({ length: WRITERS }, (_, index) => index);

let images: TwoImages;

async function setUp(options: { consistgrp: boolean; freezeTimeoutMs?: number }): Promise<EmbeddedSite> {
  images = await twoImages({ pprcFreezeTimeoutMs: options.freezeTimeoutMs });
  const { site } = images;
  for (const [source, target] of [["10", "20"], ["11", "21"]]) {
    await site.makePath(A, { remoteImageId: B, remoteWwnn: images.wwnnB, sourceLss: source, targetLss: target, ports: ["I0010:I0143"], consistgrp: options.consistgrp });
    await site.createVolumes(A, { ids: [`${source}00`], capacity: TRACKS * TRACK_BLOCKS, unit: "blocks" });
    await site.createVolumes(B, { ids: [`${target}00`], capacity: TRACKS * TRACK_BLOCKS, unit: "blocks" });
  }
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"], ["1100", "2100"]], type: "mmir", tgtread: true });
  await site.waitForPairs(A, PAIRS, { timeoutMs: 60_000 });
  return site;
}

const freeze = (site: EmbeddedSite, ids = ["10:20", "11:21"]) => site.changePairs(A, "freezepprc", { remoteImageId: B, ids });
const unfreeze = (site: EmbeddedSite, ids = ["10:20", "11:21"]) => site.changePairs(A, "unfreezepprc", { remoteImageId: B, ids });
const block = (fill: number) => new Uint8Array(CHAIN_BLOCK_BYTES).fill(fill);

// ---- the rules, one thread --------------------------------------------------------------

const Rules = suite("freezepprc and unfreezepprc");
Rules.after.each(() => images.site.close());

Rules("should suspend every pair of the LSS pairs with reason Freeze and remove their paths", async () => {
  const site = await setUp({ consistgrp: false });
  assert.equal(await freeze(site), ["10:20", "11:21"]);
  for (const id of PAIRS) {
    const pair = await pairOn(site, A, id);
    assert.is(pair.state, "Suspended", id);
    assert.is(pair.reason, "Freeze", id);
    assert.is((await pairOn(site, B, id)).state, "Target Suspended", id);
  }
  assert.equal(await site.listPaths(A), []);
  // Without -consistgrp writes go on locally and are recorded.
  await site.write(A, "1000", 0, block(7));
  assert.is((await pairOn(site, A, "1000:2000")).outOfSyncTracks, 1);
  const resumed = await refusal(site.changePairs(A, "resumepprc", { ids: ["1000:2000"] }));
  assert.is(resumed.code, "PATH_NOT_FOUND", "the freeze removed the path a resume needs");
  await site.makePath(A, { remoteImageId: B, remoteWwnn: images.wwnnB, sourceLss: "10", targetLss: "20", ports: ["I0010:I0143"] });
  await site.changePairs(A, "resumepprc", { ids: ["1000:2000"] });
  await site.waitForPairs(A, ["1000:2000"], { timeoutMs: 60_000 });
  assert.ok(sameData(site, "1000", "2000"));
});

Rules("should hold writes to the primaries of a -consistgrp freeze until unfreezepprc", async () => {
  const site = await setUp({ consistgrp: true });
  await freeze(site, ["10:20"]);
  const held = await refusal(site.write(A, "1000", 0, block(1)));
  assert.is(held.code, "LONG_BUSY");
  assert.match(held.message, /freezepprc/);
  assert.match(held.message, /unfreezepprc/);
  assert.is((await pairOn(site, A, "1000:2000")).outOfSyncTracks, 0, "a held write changes nothing");
  // LSS 11's pair was not in the freeze: still Full Duplex, its writes mirrored.
  await site.write(A, "1100", 0, block(2));
  assert.is((await pairOn(site, A, "1100:2100")).state, "Full Duplex");
  assert.equal(await unfreeze(site, ["10:20"]), ["10:20"]);
  await site.write(A, "1000", 0, block(3));
  const pair = await pairOn(site, A, "1000:2000");
  assert.is(pair.state, "Suspended", "unfreezepprc leaves the pairs suspended");
  assert.is(pair.outOfSyncTracks, 1);
});

Rules("should release the hold at the LSS's long-busy timeout", async () => {
  const site = await setUp({ consistgrp: true, freezeTimeoutMs: 200 });
  await freeze(site);
  assert.is((await refusal(site.write(A, "1100", 0, block(1)))).code, "LONG_BUSY");
  await until(async () => {
    try {
      await site.write(A, "1100", 0, block(2));
      return true;
    } catch {
      return false;
    }
  }, "the long-busy timeout to release the writes");
  assert.is((await pairOn(site, A, "1100:2100")).state, "Suspended");
});

Rules("should refuse a freeze naming a missing path, an LSS pair twice or a bad LSS, changing nothing", async () => {
  const site = await setUp({ consistgrp: true });
  const cases: Array<[string[], string, RegExp]> = [
    [["10:20", "12:22"], "PATH_NOT_FOUND", /12:22/],
    [["10:20", "10:20"], "BAD_ARGUMENT", /twice/],
    [["10:2G"], "BAD_ARGUMENT", /2G/],
    [["1020"], "BAD_ARGUMENT", /1020/],
  ];
  for (const [ids, code, message] of cases) {
    const refused = await refusal(freeze(site, ids));
    assert.is(refused.code, code, ids.join(" "));
    assert.match(refused.message, message);
  }
  const missingRemote = await refusal(site.changePairs(A, "freezepprc", { ids: ["10:20"] }));
  assert.is(missingRemote.code, "BAD_ARGUMENT");
  for (const id of PAIRS) assert.is((await pairOn(site, A, id)).state, "Full Duplex", `${id} untouched`);
  assert.is((await site.listPaths(A)).length, 2, "both paths still there");
  await site.write(A, "1000", 0, block(4));
  assert.is((await refusal(unfreeze(site, ["30:20"]))).code, "LSS_NOT_FOUND");
});

// ---- one point in time under writer threads -----------------------------------------------

interface Chains {
  control: Int32Array;
  done: Promise<ChainWriterResult[]>;
}

function startChains(site: EmbeddedSite): Chains {
  const image = site.engineImage(A);
  const control = new Int32Array(new SharedArrayBuffer(4 * (1 + WRITERS)));
  const slots: [number, number] = [image.volume("1000").slot, image.volume("1100").slot];
  const done = Promise.all(Array.from({ length: WRITERS }, (_, index) => new Promise<ChainWriterResult>((resolve, reject) => {
    const threadId = image.threadIds.take();
    const workerData: ChainWriterData = {
      memory: image.memory, module: image.core.module, threadId, slots, control: control.buffer, index,
      regionStart: index * BLOCKS_PER_WRITER * CHAIN_BLOCK_BYTES, blocksMax: BLOCKS_PER_WRITER,
    };
    const worker = new Worker(new URL("./fixtures/chain-writer.js", import.meta.url), { workerData });
    let result: ChainWriterResult | null = null;
    worker.on("message", (message: ChainWriterResult) => { result = message; });
    worker.on("error", reject);
    worker.on("exit", () => {
      image.core.exports.reap_thread(threadId);
      image.threadIds.release(threadId);
      if (result === null) reject(new Error(`chain writer ${index} exited without its result`));
      else if (result.error !== null) reject(new Error(`chain writer ${index} got core error ${result.error}`));
      else resolve(result);
    });
  })));
  return { control, done };
}

const completedBy = (chains: Chains, index: number) => Atomics.load(chains.control, 1 + index);

// How many of writer `index`'s writes the secondaries hold, checking they are a prefix of its chain.
function prefixOnSecondaries(site: EmbeddedSite, index: number): number {
  const secondary = site.engineImage(B);
  const regionStart = index * BLOCKS_PER_WRITER * CHAIN_BLOCK_BYTES;
  let prefix = -1;
  for (let k = 0; k < 2 * BLOCKS_PER_WRITER; k++) {
    const bytes = secondary.read(k % 2 === 0 ? "2000" : "2100", regionStart + Math.floor(k / 2) * CHAIN_BLOCK_BYTES, CHAIN_BLOCK_BYTES);
    const present = Buffer.compare(bytes, chainBlock(k)) === 0;
    if (!present) assert.ok(bytes.every((byte) => byte === 0), `writer ${index}: block of write ${k} is neither written nor blank`);
    if (present && prefix >= 0) assert.unreachable(`writer ${index}: write ${k} is on a secondary but write ${prefix} before it is not`);
    if (!present && prefix < 0) prefix = k;
  }
  return prefix < 0 ? 2 * BLOCKS_PER_WRITER : prefix;
}

async function chainsUnderFreeze(consistgrp: boolean): Promise<void> {
  const site = await setUp({ consistgrp });
  const chains = startChains(site);
  try {
    await until(() => writers.every((index) => completedBy(chains, index) >= 16), "every writer to write", 60_000);
    // Acknowledged before the freeze began: mirrored (Full Duplex), so on the secondaries.
    const beforeFreeze = writers.map((index) => completedBy(chains, index));
    await freeze(site);
    // Without -consistgrp the writers go on locally as soon as the freeze is done.
    const afterFreeze = writers.map((index) => completedBy(chains, index));
    if (!consistgrp) {
      await until(() => writers.every((index) => completedBy(chains, index) >= Math.min(afterFreeze[index] + 8, 2 * BLOCKS_PER_WRITER)), "writes after the freeze");
    }
    const prefixes = writers.map((index) => prefixOnSecondaries(site, index));
    for (const index of writers) {
      assert.ok(prefixes[index] >= beforeFreeze[index], `writer ${index}: ${prefixes[index]} writes on the secondaries, ${beforeFreeze[index]} acknowledged before the freeze`);
    }
    if (consistgrp) {
      // A write drained by the freeze may count itself just after it; then nothing more completes.
      await until(() => writers.every((index) => completedBy(chains, index) === prefixes[index]), "the writes drained by the freeze to be counted");
      await new Promise((resolve) => setTimeout(resolve, HELD_MS));
      for (const index of writers) assert.is(completedBy(chains, index), prefixes[index], `writer ${index}: held writes do not complete`);
      await unfreeze(site);
      await until(() => writers.every((index) => completedBy(chains, index) > prefixes[index] || prefixes[index] === 2 * BLOCKS_PER_WRITER), "writes after unfreezepprc");
      assert.equal(writers.map((index) => prefixOnSecondaries(site, index)), prefixes, "the pairs stay suspended after unfreezepprc");
    }
  } finally {
    Atomics.store(chains.control, 0, 1);
  }
  const results = await chains.done;
  if (consistgrp) assert.ok(results.some((result) => result.longBusy > 0), "a writer met the hold");
  for (const [source, target] of [["10", "20"], ["11", "21"]]) {
    await site.makePath(A, { remoteImageId: B, remoteWwnn: images.wwnnB, sourceLss: source, targetLss: target, ports: ["I0010:I0143"], consistgrp });
  }
  await site.changePairs(A, "resumepprc", { ids: PAIRS });
  await site.waitForPairs(A, PAIRS, { timeoutMs: 60_000 });
  assert.ok(sameData(site, "1000", "2000"), "1000 equals 2000 after the resume");
  assert.ok(sameData(site, "1100", "2100"), "1100 equals 2100 after the resume");
  assert.equal(site.enginePprc().linkFailures, []);
}

const Instant = suite("freezepprc under writer threads");
Instant.after.each(() => images.site.close());

Instant("should leave the secondaries one point in time while writers go on locally", () => chainsUnderFreeze(false));
Instant("should leave the secondaries one point in time and hold the writers with -consistgrp", () => chainsUnderFreeze(true));

Rules.run();
Instant.run();
