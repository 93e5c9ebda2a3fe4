// FlashCopy with PPRC (design.md §4): a PPRC primary as FlashCopy source; a
// FlashCopy onto a PPRC primary, only with -tgtpprc, whose new image then
// flows to the secondary (every target track goes out of sync at T0 and the
// link sends the tracks' logical bytes); and a FlashCopy of a PPRC secondary,
// the disaster-recovery test copy at the remote site. The data is compared
// with the T0 image each copy must hold.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { EmbeddedSite } from "../../src/site/embedded.js";
import { refusal } from "../support/refusal.js";
import { testSeed } from "../support/random.js";
import { A, B, TRACK_BLOCKS, TRACK_BYTES, pairOn, sameData, twoImages, until, type TwoImages } from "./support.js";

const TRACKS = 32;
const BYTES = TRACKS * TRACK_BYTES;

let images: TwoImages;
const seed = testSeed();

// 1000, 1001 on A (LSS 10), 2000, 2001 on B (LSS 20), paths both ways, 1000 filled; no pair yet.
async function setUp(workers = 0): Promise<EmbeddedSite> {
  images = await twoImages({ workers });
  const { site } = images;
  await site.makePath(A, { remoteImageId: B, remoteWwnn: images.wwnnB, sourceLss: "10", targetLss: "20", ports: ["I0010:I0143"] });
  await site.createVolumes(A, { ids: ["1000", "1001"], capacity: TRACKS * TRACK_BLOCKS, unit: "blocks" });
  await site.createVolumes(B, { ids: ["2000", "2001"], capacity: TRACKS * TRACK_BLOCKS, unit: "blocks" });
  await site.fill(A, "1000", { offset: 0, length: BYTES }, { kind: "pattern", seed });
  return site;
}

async function mirror(site: EmbeddedSite, primary: string, secondary: string): Promise<void> {
  await site.makePairs(A, { remoteImageId: B, pairs: [[primary, secondary]], type: "mmir" });
  await site.waitForPairs(A, [`${primary}:${secondary}`], { timeoutMs: 60_000 });
}

const block = (fill: number, length = 4096) => new Uint8Array(length).fill(fill);

const Flash = suite("FlashCopy with PPRC");
Flash.after.each(() => images.site.close());

Flash("should take a PPRC primary as FlashCopy source and keep mirroring its writes", async () => {
  const site = await setUp();
  await mirror(site, "1000", "2000");
  const t0 = await site.checksum(A, "1000", 0, BYTES);
  await site.establishFlash(A, { pairs: [["1000", "1001"]], options: { nocopy: true } });
  await site.write(A, "1000", 3 * TRACK_BYTES, block(0x31));
  await site.write(A, "1000", 7 * TRACK_BYTES + 512, block(0x32, TRACK_BYTES));
  assert.is(await site.checksum(A, "1001", 0, BYTES), t0, `seed ${seed}: the target keeps the T0 image`);
  const pair = await pairOn(site, A, "1000:2000");
  assert.is(pair.state, "Full Duplex", `${pair.reason}: ${pair.detail}`);
  assert.ok(sameData(site, "1000", "2000"), "the source's writes are mirrored");
});

Flash("should refuse a FlashCopy onto a PPRC primary without -tgtpprc, and onto a secondary, changing nothing", async () => {
  const site = await setUp();
  await mirror(site, "1001", "2001");
  const refused = await refusal(site.establishFlash(A, { pairs: [["1000", "1001"]], options: {} }));
  assert.is(refused.code, "VOLUME_IN_PAIR");
  assert.match(refused.message, /1001 is the primary of PPRC pair 1001:2001/);
  assert.match(refused.message, /-tgtpprc/);
  const onSecondary = await refusal(site.establishFlash(B, { pairs: [["2000", "2001"]], options: { tgtpprc: true } }));
  assert.is(onSecondary.code, "VOLUME_IN_PAIR");
  assert.match(onSecondary.message, /2001 is the secondary of PPRC pair 1001:2001/);
  assert.equal(await site.listFlash(A), []);
  assert.equal(await site.listFlash(B), []);
  const pair = await pairOn(site, A, "1001:2001");
  assert.is(pair.state, "Full Duplex");
  assert.is(pair.outOfSyncTracks, 0);
});

async function ontoPrimary(copy: "background" | "nocp"): Promise<void> {
  const site = await setUp();
  await mirror(site, "1001", "2001");
  const t0 = await site.checksum(A, "1000", 0, BYTES);
  await site.establishFlash(A, { pairs: [["1000", "1001"]], options: { tgtpprc: true, nocopy: copy === "nocp" } });
  await site.waitForPairs(A, ["1001:2001"], { timeoutMs: 60_000 });
  assert.is(await site.checksum(A, "1001", 0, BYTES), t0, `seed ${seed}: the target holds the T0 image`);
  assert.ok(sameData(site, "1001", "2001"), `seed ${seed}: the T0 image reached the secondary`);
  // Writes on either side of the FlashCopy afterwards: the source's copy on write, the target's mirrored.
  await site.write(A, "1000", 2 * TRACK_BYTES, block(0x41));
  await site.write(A, "1001", 5 * TRACK_BYTES + 4096, block(0x42));
  await site.write(A, "1001", 9 * TRACK_BYTES, block(0x43, TRACK_BYTES));
  await site.waitForPairs(A, ["1001:2001"], { timeoutMs: 60_000 });
  assert.ok(sameData(site, "1001", "2001"), `seed ${seed}: the target's writes reached the secondary`);
}

Flash("should send a -tgtpprc FlashCopy's image to the secondary with background copy", () => ontoPrimary("background"));
Flash("should send a -tgtpprc FlashCopy's image to the secondary without background copy", () => ontoPrimary("nocp"));

Flash("should put every track of a suspended primary out of sync at a -tgtpprc T0, and resume sends exactly those", async () => {
  const site = await setUp();
  await mirror(site, "1001", "2001");
  await site.changePairs(A, "pausepprc", { ids: ["1001:2001"] });
  await site.establishFlash(A, { pairs: [["1000", "1001"]], options: { tgtpprc: true, nocopy: true } });
  const pair = await pairOn(site, A, "1001:2001");
  assert.is(pair.outOfSyncTracks, TRACKS);
  await site.changePairs(A, "resumepprc", { ids: ["1001:2001"] });
  await site.waitForPairs(A, ["1001:2001"], { timeoutMs: 60_000 });
  assert.is((await pairOn(site, A, "1001:2001")).sentTracks - pair.sentTracks, TRACKS);
  assert.ok(sameData(site, "1001", "2001"));
});

Flash("should keep the secondary equal to a -tgtpprc target written by a workload thread during the background copy", async () => {
  const site = await setUp(1);
  await mirror(site, "1001", "2001");
  await site.startWorkload(A, { name: "target-writer", volumeId: "1001", rw: "write", pattern: "random", blockBytes: 4096, seed });
  await site.startWorkload(A, { name: "source-writer", volumeId: "1000", rw: "write", pattern: "random", blockBytes: 4096, seed: seed + 1 });
  try {
    await until(async () => (await site.listWorkloads()).every((workload) => workload.stats.ios > 0), "the writers to write", 60_000);
    await site.establishFlash(A, { pairs: [["1000", "1001"]], options: { tgtpprc: true } });
    await site.waitForCopy(A, ["1000:1001"], { timeoutMs: 60_000 });
  } finally {
    await site.stopWorkload("target-writer");
    await site.stopWorkload("source-writer");
  }
  await site.waitForPairs(A, ["1001:2001"], { timeoutMs: 60_000 });
  assert.ok(sameData(site, "1001", "2001"), `seed ${seed}: the secondary equals the target`);
  assert.equal(site.enginePprc().linkFailures, []);
});

Flash("should take a FlashCopy of a PPRC secondary as the remote site's test copy, at T0 while mirroring goes on", async () => {
  const site = await setUp();
  await mirror(site, "1000", "2000");
  const t0 = await site.checksum(A, "1000", 0, BYTES);
  await site.establishFlash(B, { pairs: [["2000", "2001"]], options: { nocopy: true } });
  await site.write(A, "1000", 0, block(0x51, TRACK_BYTES));
  await site.write(A, "1000", 11 * TRACK_BYTES + 4096, block(0x52));
  assert.ok(sameData(site, "1000", "2000"), "the secondary still follows its primary");
  assert.is(await site.checksum(B, "2001", 0, BYTES), t0, `seed ${seed}: the test copy holds the T0 image`);
  await site.write(B, "2001", 0, block(0x53));
  assert.ok(sameData(site, "1000", "2000"), "writes to the test copy touch neither volume of the pair");
});

Flash.run();
