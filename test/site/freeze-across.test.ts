// freezepprc and unfreezepprc over LSS pairs whose primaries are on two
// storage images (src/site/freeze-across.ts), in one process: the two
// phases, the fully qualified LSS pairs (IMAGE/10:REMOTE/20), bad input
// refused with nothing changed, and an image that never answers phase 1.
// Across real `tzero serve` nodes under dependent-write chains:
// test/site/serve-freeze.test.ts.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { acrossImages, lssPairMembers } from "../../src/site/freeze-across.js";
import type { Site } from "../../src/site/site.js";
import type { PairInfo, PairsRequest } from "../../src/site/types.js";
import { refusal } from "../support/refusal.js";

const A = "IBM.2107-75FRZA";
const C = "IBM.2107-75FRZC";
const B = "IBM.2107-75FRZB";
const BLOCKS = 16 * 128; // 16 tracks
const IDS = ["10:20", `${C}/11:${B}/21`];
const PAIRS: Array<[string, string]> = [[A, "1000:2000"], [C, "1100:2100"]];
const block = (fill: number) => new Uint8Array(4096).fill(fill);

let site: EmbeddedSite;

// Metro Mirror A 1000 → B 2000 over A 10 → B 20 and C 1100 → B 2100 over C 11 → B 21, in sync.
async function setUp(consistgrp: boolean): Promise<void> {
  site = new EmbeddedSite({ workers: 0, images: [{ model: "2107", id: A }, { model: "2107", id: C }, { model: "2107", id: B }], mirrorAckTimeoutMs: 30_000 });
  const wwnnB = (await site.listImages()).find((image) => image.id === B)!.wwnn;
  for (const [image, source, target] of [[A, "10", "20"], [C, "11", "21"]]) {
    await site.makePath(image, { remoteImageId: B, remoteWwnn: wwnnB, sourceLss: source, targetLss: target, ports: ["I0010:I0143"], consistgrp });
    await site.createVolumes(image, { ids: [`${source}00`], capacity: BLOCKS, unit: "blocks" });
    await site.createVolumes(B, { ids: [`${target}00`], capacity: BLOCKS, unit: "blocks" });
    await site.makePairs(image, { remoteImageId: B, pairs: [[`${source}00`, `${target}00`]], type: "mmir", tgtread: true });
    await site.waitForPairs(image, [`${source}00:${target}00`], { timeoutMs: 60_000 });
  }
}

async function pairOn(imageId: string, id: string): Promise<PairInfo> {
  const found = (await site.listPairs(imageId)).find((pair) => pair.id === id);
  if (found === undefined) throw new Error(`no pair ${id} on ${imageId}`);
  return found;
}

const freeze = (ids = IDS) => site.changePairs(A, "freezepprc", { remoteImageId: B, ids });
const unfreeze = (ids = IDS) => site.changePairs(A, "unfreezepprc", { remoteImageId: B, ids });

async function untouched(): Promise<void> {
  for (const [image, id] of PAIRS) assert.is((await pairOn(image, id)).state, "Full Duplex", `${id} untouched`);
  assert.is((await site.listPaths(A)).length, 1, "A's path still there");
  assert.is((await site.listPaths(C)).length, 1, "C's path still there");
}

const Across = suite("freezepprc across storage images");
Across.after.each(() => site.close());

Across("should freeze the LSS pairs of both images and release the holds once both froze, without -consistgrp", async () => {
  await setUp(false);
  assert.equal(await freeze(), ["10:20", `${C}/11:${B}/21`]);
  for (const [image, id] of PAIRS) {
    const pair = await pairOn(image, id);
    assert.is(pair.state, "Suspended", id);
    assert.is(pair.reason, "Freeze", id);
  }
  assert.equal(await site.listPaths(C), [], "the freeze removed C's path");
  // Phase 2 released the holds of phase 1: writes go on locally, recorded.
  await site.write(A, "1000", 0, block(1));
  await site.write(C, "1100", 0, block(2));
  assert.is((await pairOn(C, "1100:2100")).outOfSyncTracks, 1);
});

Across("should hold both images' writes with -consistgrp until an unfreezepprc naming both", async () => {
  await setUp(true);
  await freeze();
  assert.is((await refusal(site.write(A, "1000", 0, block(1)))).code, "LONG_BUSY");
  assert.is((await refusal(site.write(C, "1100", 0, block(1)))).code, "LONG_BUSY");
  assert.equal(await unfreeze(), ["10:20", `${C}/11:${B}/21`]);
  await site.write(A, "1000", 0, block(2));
  await site.write(C, "1100", 0, block(3));
  assert.is((await pairOn(C, "1100:2100")).state, "Suspended", "unfreezepprc leaves the pairs suspended");
});

Across("should refuse a malformed or misdirected LSS pair and a missing path on either image, changing nothing", async () => {
  await setUp(true);
  const cases: Array<[string[], string, RegExp, number]> = [
    [["10:20", `${C}/11-${B}/21`], "BAD_ARGUMENT", /is not an LSS pair/, 1],
    [["10:20", `${C}/11:${A}/21`], "BAD_ARGUMENT", /is not -remotedev/, 1],
    [["10:20", `${C}/12:${B}/22`], "PATH_NOT_FOUND", new RegExp(`image ${C}: .*12:22`), 1],
    [[`${C}/11:${B}/21`, "13:23"], "PATH_NOT_FOUND", new RegExp(`image ${A}: .*13:23`), 1],
    [["10:20", "IBM.2107-75NONE/11:IBM.2107-75FRZB/21"], "IMAGE_NOT_FOUND", /75NONE/, -1],
  ];
  for (const [ids, code, message, item] of cases) {
    const refused = await refusal(freeze(ids));
    assert.is(refused.code, code, ids.join(" "));
    assert.match(refused.message, message);
    if (item >= 0) assert.is((refused as { item?: number }).item, item, `${ids.join(" ")}: the refused item`);
  }
  await untouched();
  await site.write(A, "1000", 0, block(4));
});

// A Site whose changePairs never answers: a node that passed the checks and then went silent.
function silentChanges(inner: Site): Site {
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (key === "changePairs") return () => new Promise<never>(() => {});
      const value = Reflect.get(target, key, receiver) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Across("should fail naming an image that does not answer phase 1, while the image that froze holds its writes", async () => {
  await setUp(false);
  const request: PairsRequest = { remoteImageId: B, ids: IDS };
  const reach = (imageId: string) => ({ site: imageId === C ? silentChanges(site) : site, where: `image ${imageId}` });
  const refused = await refusal(acrossImages("freezepprc", lssPairMembers(A, request), request, reach, 200));
  assert.is(refused.code, "FREEZE_INCOMPLETE");
  assert.match(refused.message, new RegExp(`image ${C} did not answer within 200 ms`));
  assert.match(refused.message, new RegExp(`image ${A}: the others froze and hold`));
  // A froze and holds its writes though its path had no -consistgrp: nothing completes unmirrored.
  const frozen = await pairOn(A, "1000:2000");
  assert.is(frozen.state, "Suspended");
  assert.is((await refusal(site.write(A, "1000", 0, block(5)))).code, "LONG_BUSY");
  assert.is((await pairOn(A, "1000:2000")).outOfSyncTracks, 0, "the held write changed nothing");
  assert.equal(await site.changePairs(A, "unfreezepprc", { remoteImageId: B, ids: ["10:20"] }), ["10:20"]);
  await site.write(A, "1000", 0, block(6));
});

// ---- one point in time when one image freezes late ---------------------------------------

const LATE_MS = 200; // how long the late image's phase 1 waits before it freezes
const CHAIN_WRITERS = 2;
const CHAIN_BLOCKS = 64; // per volume and writer: a chain of 128 writes at most

// Chains of dependent writes from this thread: write k of writer w goes to A 1000 when k is even,
// C 1100 when odd, at block k div 2 of the writer's region, and is issued only once write k - 1
// completed; a long busy write is retried, as a host retries queue full.
function chainBlock(writer: number, k: number): Uint8Array {
  return new Uint8Array(new Uint32Array(1024).fill((writer << 16) | (k + 1)).buffer);
}

const chainOffset = (writer: number, k: number) => (writer * CHAIN_BLOCKS + Math.floor(k / 2)) * 4096;

async function chain(writer: number, completed: number[], stop: { now: boolean }): Promise<void> {
  for (let k = 0; k < 2 * CHAIN_BLOCKS && !stop.now;) {
    await new Promise((resolve) => setImmediate(resolve));
    try {
      await site.write(k % 2 === 0 ? A : C, k % 2 === 0 ? "1000" : "1100", chainOffset(writer, k), chainBlock(writer, k));
    } catch (error) {
      if ((error as { code?: string }).code !== "LONG_BUSY") throw error;
      continue;
    }
    completed[writer] = ++k;
  }
}

// Writer `writer`'s writes on the secondaries, which must be a prefix of its chain.
function prefixOnSecondaries(writer: number): number {
  const secondary = site.engineImage(B);
  let prefix = -1;
  for (let k = 0; k < 2 * CHAIN_BLOCKS; k++) {
    const bytes = secondary.read(k % 2 === 0 ? "2000" : "2100", chainOffset(writer, k), 4096);
    const present = Buffer.compare(bytes, chainBlock(writer, k)) === 0;
    if (present && prefix >= 0) assert.unreachable(`writer ${writer}: write ${k} is on a secondary but write ${prefix} before it is not`);
    if (!present && prefix < 0) prefix = k;
  }
  return prefix < 0 ? 2 * CHAIN_BLOCKS : prefix;
}

// A Site whose freezes take LATE_MS to begin: an image whose node answers late.
function lateFreezes(inner: Site): Site {
  return new Proxy(inner, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (key !== "changePairs" || typeof value !== "function") return typeof value === "function" ? value.bind(target) : value;
      return async (...args: Parameters<Site["changePairs"]>) => {
        if (args[1] === "freezepprc") await new Promise((resolve) => setTimeout(resolve, LATE_MS));
        return (value as Site["changePairs"]).apply(target, args);
      };
    },
  });
}

Across("should keep the secondaries one point in time while one image freezes late under chains of dependent writes", async () => {
  await setUp(false);
  const completed = Array.from({ length: CHAIN_WRITERS }, () => 0);
  const stop = { now: false };
  const writers = Array.from({ length: CHAIN_WRITERS }, (_, writer) => chain(writer, completed, stop));
  try {
    await until(() => completed.every((count) => count >= 8), "every writer to write");
    const beforeFreeze = [...completed];
    const request: PairsRequest = { remoteImageId: B, ids: IDS };
    const reach = (imageId: string) => ({ site: imageId === C ? lateFreezes(site) : site, where: `image ${imageId}` });
    await acrossImages("freezepprc", lssPairMembers(A, request), request, reach);
    const afterFreeze = [...completed];
    await until(() => completed.every((count, writer) => count >= Math.min(afterFreeze[writer] + 4, 2 * CHAIN_BLOCKS)), "writes after the freeze");
    for (let writer = 0; writer < CHAIN_WRITERS; writer++) {
      assert.ok(prefixOnSecondaries(writer) >= beforeFreeze[writer], `writer ${writer}: what was acknowledged before the freeze is on the secondaries`);
    }
  } finally {
    stop.now = true;
    await Promise.all(writers);
  }
});

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Across.run();
