// PPRC pairs in one process: paths, Metro Mirror pairs through Copy Pending
// to Full Duplex, mirrored writes, pause and resume, removal, and the rules.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { refusal } from "../support/refusal.js";
import { A, B, TRACK_BYTES, mirrored, pairOn, sameData, twoImages, until, type TwoImages } from "./support.js";

const Pairs = suite("PPRC pairs in one process");
let images: TwoImages;
Pairs.before.each(async () => {
  images = await twoImages();
  await mirrored(images, 2, 64);
});
Pairs.after.each(() => images.site.close());

Pairs("should copy a primary to its secondary in Copy Pending and then be Full Duplex", async () => {
  const { site } = images;
  await site.fill(A, "1000", { offset: 0, length: 64 * TRACK_BYTES }, { kind: "pattern", seed: 7 });
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir" });
  await site.waitForPairs(A, ["1000:2000"], { timeoutMs: 20_000 });
  const pair = await pairOn(site, A, "1000:2000");
  assert.is(pair.state, "Full Duplex");
  assert.is(pair.outOfSyncTracks, 0);
  assert.is(pair.sentTracks, 64);
  assert.is((await pairOn(site, B, "1000:2000")).state, "Target Full Duplex");
  assert.ok(sameData(site, "1000", "2000"));
});

Pairs("should mirror a write in Full Duplex before it completes", async () => {
  const { site } = images;
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir" });
  await site.waitForPairs(A, ["1000:2000"]);
  await site.write(A, "1000", 4096 * 3, new Uint8Array(4096).fill(0x5a));
  // No wait: the write returned only once the secondary had it.
  assert.ok(sameData(site, "1000", "2000"));
  assert.is((await pairOn(site, A, "1000:2000")).outOfSyncTracks, 0);
});

Pairs("should record writes while paused and send exactly those tracks on resume", async () => {
  const { site } = images;
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir" });
  await site.waitForPairs(A, ["1000:2000"]);
  const before = (await pairOn(site, A, "1000:2000")).sentTracks;
  await site.changePairs(A, "pausepprc", { remoteImageId: B, ids: ["1000:2000"] });
  const paused = await pairOn(site, A, "1000:2000");
  assert.is(paused.state, "Suspended");
  assert.is(paused.reason, "Host Source");
  for (const track of [1, 5, 9]) await site.write(A, "1000", track * TRACK_BYTES + 100, new Uint8Array(10).fill(track));
  await site.write(A, "1000", 5 * TRACK_BYTES, new Uint8Array(10).fill(1));
  assert.is((await pairOn(site, A, "1000:2000")).outOfSyncTracks, 3);
  assert.not.ok(sameData(site, "1000", "2000"));
  await site.changePairs(A, "resumepprc", { remoteImageId: B, ids: ["1000:2000"] });
  await site.waitForPairs(A, ["1000:2000"]);
  assert.is((await pairOn(site, A, "1000:2000")).sentTracks - before, 3);
  assert.ok(sameData(site, "1000", "2000"));
});

Pairs("should refuse host writes to a secondary, and reads unless the pair has -tgtread", async () => {
  const { site } = images;
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"], ["1001", "2001"]], type: "mmir", mode: "nocp" });
  await site.changePairs(A, "rmpprc", { remoteImageId: B, ids: ["1001:2001"] });
  await site.makePairs(A, { remoteImageId: B, pairs: [["1001", "2001"]], type: "mmir", mode: "nocp", tgtread: true });
  assert.is((await refusal(site.write(B, "2000", 0, new Uint8Array(512)))).code, "PPRC_SECONDARY");
  assert.is((await refusal(site.read(B, "2000", 0, 512))).code, "PPRC_SECONDARY");
  assert.is((await site.read(B, "2001", 0, 512)).byteLength, 512);
  assert.is((await refusal(site.write(B, "2001", 0, new Uint8Array(512)))).code, "PPRC_SECONDARY");
});

Pairs("should make an rmpprc'd secondary an ordinary volume again", async () => {
  const { site } = images;
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir", mode: "nocp" });
  await site.changePairs(A, "rmpprc", { remoteImageId: B, ids: ["1000:2000"] });
  assert.equal(await site.listPairs(A), []);
  assert.equal(await site.listPairs(B), []);
  await site.write(B, "2000", 0, new Uint8Array(512).fill(1));
  assert.is((await site.read(B, "2000", 0, 1))[0], 1);
});

Pairs("should refuse a pair without a path, a smaller secondary, a volume already paired, and change nothing", async () => {
  const { site } = images;
  await site.createVolumes(A, { ids: ["1100"], capacity: 64 * 128, unit: "blocks" });
  await site.createVolumes(B, { ids: ["2002"], capacity: 32 * 128, unit: "blocks" });
  const noPath = await refusal(site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"], ["1100", "2001"]], type: "mmir" }));
  assert.is(noPath.code, "PATH_NOT_FOUND");
  assert.is(noPath.item, 1);
  const small = await refusal(site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2002"]], type: "mmir" }));
  assert.is(small.code, "TARGET_TOO_SMALL");
  const twice = await refusal(site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"], ["1001", "2000"]], type: "mmir" }));
  assert.is(twice.code, "VOLUME_IN_PAIR");
  assert.is(twice.item, 1);
  assert.equal(await site.listPairs(A), []);
  await site.write(B, "2000", 0, new Uint8Array(512));
});

Pairs("should refuse rmpprcpath while a pair uses the path, unless -force, which suspends the pair", async () => {
  const { site } = images;
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir", mode: "nocp" });
  const inUse = await refusal(site.removePaths(A, { remoteImageId: B, lssPairs: ["10:20"] }));
  assert.is(inUse.code, "PATH_IN_USE");
  assert.is((await site.listPaths(A)).length, 1);
  await site.removePaths(A, { remoteImageId: B, lssPairs: ["10:20"], force: true });
  assert.equal(await site.listPaths(A), []);
  assert.is((await pairOn(site, A, "1000:2000")).state, "Suspended");
});

Pairs("should suspend a Full Duplex pair when its link is cut, the write completing with its track out of sync", async () => {
  const { site } = images;
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir" });
  await site.waitForPairs(A, ["1000:2000"]);
  await site.setLink(A, B, false);
  assert.is((await site.listPaths(A))[0].state, "Failed");
  await site.write(A, "1000", 0, new Uint8Array(512).fill(3));
  const pair = await pairOn(site, A, "1000:2000");
  assert.is(pair.state, "Suspended");
  assert.is(pair.reason, "Internal Conditions Target");
  assert.is(pair.outOfSyncTracks, 1);
  await site.setLink(A, B, true);
  await site.changePairs(A, "resumepprc", { remoteImageId: B, ids: ["1000:2000"] });
  await site.waitForPairs(A, ["1000:2000"]);
  assert.ok(sameData(site, "1000", "2000"));
});

Pairs("should fail writes to a -critmode pair whose link is down, until it is resumed", async () => {
  const { site } = images;
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir", critmode: true });
  await site.waitForPairs(A, ["1000:2000"]);
  await site.setLink(A, B, false);
  assert.is((await refusal(site.write(A, "1000", 0, new Uint8Array(512)))).code, "MIRROR_FAILED");
  await site.setLink(A, B, true);
  await site.changePairs(A, "resumepprc", { remoteImageId: B, ids: ["1000:2000"] });
  await site.write(A, "1000", 0, new Uint8Array(512).fill(9));
  await site.waitForPairs(A, ["1000:2000"]);
  assert.ok(sameData(site, "1000", "2000"));
});

Pairs("should fail over to the secondary and fail back, copying the tracks changed on either side", async () => {
  const { site } = images;
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir" });
  await site.waitForPairs(A, ["1000:2000"]);
  const failed = await site.changePairs(B, "failoverpprc", { remoteImageId: A, ids: ["2000:1000"] });
  assert.equal(failed, ["2000:1000"]);
  const onB = await pairOn(site, B, "2000:1000");
  assert.is(onB.state, "Suspended");
  assert.is(onB.reason, "Host Source");
  await site.write(B, "2000", 2 * TRACK_BYTES, new Uint8Array(512).fill(2));
  // A's write cannot reach B any more: A's pair suspends and records it.
  await site.write(A, "1000", 7 * TRACK_BYTES, new Uint8Array(512).fill(7));
  assert.is((await pairOn(site, A, "1000:2000")).state, "Suspended");
  await site.changePairs(B, "failbackpprc", { remoteImageId: A, ids: ["2000:1000"] });
  await site.waitForPairs(B, ["2000:1000"]);
  assert.ok(sameData(site, "2000", "1000", B, A));
  assert.is((await pairOn(site, A, "2000:1000")).state, "Target Full Duplex");
  assert.equal((await site.listPairs(A)).map((pair) => pair.id), ["2000:1000"]);
});

Pairs.run();

const Global = suite("Global Copy in one process");
Global.before.each(async () => {
  images = await twoImages();
  await mirrored(images, 1, 32);
});
Global.after.each(() => images.site.close());

Global("should complete writes at once and drain them to the secondary", async () => {
  const { site } = images;
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "gcp" });
  await site.waitForPairs(A, ["1000:2000"]);
  await site.write(A, "1000", 3 * TRACK_BYTES, new Uint8Array(4096).fill(4));
  await until(() => sameData(site, "1000", "2000"), "Global Copy to drain the write");
  const pair = await pairOn(site, A, "1000:2000");
  assert.is(pair.state, "Copy Pending");
  assert.ok(pair.firstPassDone);
});

Global.run();
