// Real writer threads (workload workers) on a PPRC primary while the sender
// thread copies and mirrors: during Copy Pending and Full Duplex the
// secondary ends equal to the primary once quiet, also when writes meet the
// very tracks being copied; and when the link is cut
// under load, every track whose out-of-sync bit is clear is equal on both
// sides (a write's bit is set before it reaches either side), and a resume
// makes the volumes equal again.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { testSeed } from "../support/random.js";
import { A, B, TRACK_BLOCKS, TRACK_BYTES, mirrored, pairOn, sameData, twoImages, until, type TwoImages } from "./support.js";

const TRACKS = 256;
const RUN_MS = 300;

const Concurrency = suite("PPRC with writer threads");
let images: TwoImages;
const seed = testSeed();
Concurrency.before.each(async () => {
  images = await twoImages();
  await mirrored(images, 1, TRACKS);
  await images.site.fill(A, "1000", { offset: 0, length: TRACKS * TRACK_BYTES }, { kind: "pattern", seed: 3 });
});
Concurrency.after.each(() => images.site.close());

async function startWriters(count: number, patterns: Array<"random" | "seq"> = ["random"], volumeId = "1000"): Promise<string[]> {
  const names: string[] = [];
  for (let index = 0; index < count; index++) {
    const name = `writer${index}`;
    const pattern = patterns[index % patterns.length];
    await images.site.startWorkload(A, { name, volumeId, rw: "write", pattern, blockBytes: 4096, seed: seed + index });
    names.push(name);
  }
  // Threads start at their own pace on a loaded machine: the test runs once each has written.
  await until(async () => (await images.site.listWorkloads()).filter((workload) => names.includes(workload.spec.name) && workload.stats.ios > 0).length === count, "the writer threads to write", 60_000);
  return names;
}

async function stopWriters(names: string[]): Promise<void> {
  for (const name of names) {
    const stats = await images.site.stopWorkload(name);
    assert.ok(stats.stats.ios > 0, `${name} wrote`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Concurrency("should leave the secondary equal to the primary after Copy Pending and Full Duplex under writer threads", async () => {
  const { site } = images;
  const writers = await startWriters(2);
  try {
    await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir" });
    await site.waitForPairs(A, ["1000:2000"], { timeoutMs: 60_000 });
    await sleep(RUN_MS);
  } finally {
    await stopWriters(writers);
  }
  const pair = await pairOn(site, A, "1000:2000");
  assert.is(pair.state, "Full Duplex", `seed ${seed}`);
  assert.ok(sameData(site, "1000", "2000"), `seed ${seed}: secondary equals primary`);
  assert.equal(site.enginePprc().linkFailures, []);
});

// Copy Pending copies runs of tracks straight from the primary's memory into
// the secondary's while writer threads write: each round makes the pair
// again (every track out of sync), and the volumes must be equal once Full
// Duplex and quiet. One writer writes at random; the other sequentially,
// which soon puts it at the copy's front (behind it each write waits for the
// sender, ahead of it none does), on the very tracks being copied. Were the
// run's tracks not locked, a write landing on one after the copy read its
// bytes would be left off the secondary while its bit is cleared (the check
// of each round); with those locks taken out of the core, this test's Copy
// Pending did not even finish. The volumes are large (BIG_TRACKS) so that a
// Copy Pending lasts long enough for the writer threads to get the cores
// many times on a loaded machine: on 256 tracks a whole copy could pass
// between two of their turns, and the test passed without the locks. Rounds
// go on until some write has met a track while the sender's copy held it,
// at least ROUNDS_MIN and at most ROUNDS_MAX.
const ROUNDS_MIN = 3;
const ROUNDS_MAX = 8;
const BIG_TRACKS = 4096; // 256 MiB
// Full Duplex under steady writes: each write in flight holds its track's
// out-of-sync bit until the secondary acknowledges it, but that is no
// backlog, so lspprc shows the pair Full Duplex with 0 tracks out of sync
// while writers never leave the primary idle. SAMPLES looks at the pair while
// the writers run; at least one look must catch a write in flight (its bit
// set), else the test proves nothing. Before the core counted those writes
// apart, the looks that caught one showed Copy Pending.
const SAMPLES = 200;
const WRITERS = 3;
// Also on the debug core, which asserts that no count of writes in flight goes negative.
for (const build of ["release", "debug"] as const) {
  Concurrency(`should show a Metro Mirror pair Full Duplex with 0 tracks out of sync while writer threads keep writing (${build} core)`, async () => {
    if (build === "debug") {
      await images.site.close();
      images = await twoImages({ build });
      await mirrored(images, 1, TRACKS);
      await images.site.fill(A, "1000", { offset: 0, length: TRACKS * TRACK_BYTES }, { kind: "pattern", seed: 3 });
    }
    await fullDuplexUnderWriters();
  });
}

async function fullDuplexUnderWriters(): Promise<void> {
  const { site } = images;
  const writers = await startWriters(WRITERS, ["random", "seq"]);
  const primary = site.engineImage(A);
  const slot = primary.volume("1000").slot;
  let caught = 0;
  try {
    await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir" });
    await site.waitForPairs(A, ["1000:2000"], { timeoutMs: 60_000 });
    const iosBefore = await writtenSoFar(writers);
    const seen = new Map<string, number>();
    for (let sample = 0; sample < SAMPLES; sample++) {
      const bits = primary.core.exports.pprc_out_of_sync(slot);
      const pair = await pairOn(site, A, "1000:2000");
      if (bits > 0) caught++;
      const shown = `${pair.state}, ${pair.outOfSyncTracks} out of sync`;
      seen.set(shown, (seen.get(shown) ?? 0) + 1);
      if (sample % 8 === 7) await sleep(1);
    }
    assert.equal([...seen.keys()], ["Full Duplex, 0 out of sync"], `seed ${seed}: ${JSON.stringify([...seen])}`);
    assert.ok(caught > 0, `seed ${seed}: no look caught a write in flight in ${SAMPLES}`);
    assert.ok(await writtenSoFar(writers) > iosBefore, "the writers wrote while the pair was looked at");
  } finally {
    await stopWriters(writers);
  }
  assert.ok(sameData(site, "1000", "2000"), `seed ${seed}: secondary equals primary`);
  console.log(`seed ${seed}: ${caught} of ${SAMPLES} looks at the Full Duplex pair caught a write in flight`);
  assert.equal(site.enginePprc().linkFailures, []);
}

async function writtenSoFar(names: string[]): Promise<number> {
  return (await images.site.listWorkloads()).filter((workload) => names.includes(workload.spec.name)).reduce((sum, workload) => sum + workload.stats.ios, 0);
}

Concurrency("should leave the volumes equal after Copy Pending when writer threads hit the tracks being copied", async () => {
  const { site } = images;
  await site.createVolumes(A, { ids: ["1001"], capacity: BIG_TRACKS * TRACK_BLOCKS, unit: "blocks" });
  await site.createVolumes(B, { ids: ["2001"], capacity: BIG_TRACKS * TRACK_BLOCKS, unit: "blocks" });
  await site.fill(A, "1001", { offset: 0, length: BIG_TRACKS * TRACK_BYTES }, { kind: "pattern", seed: 5 });
  let met = 0;
  let rounds = 0;
  while ((met === 0 || rounds < ROUNDS_MIN) && rounds < ROUNDS_MAX) {
    rounds++;
    const writers = await startWriters(2, ["random", "seq"], "1001");
    try {
      await site.makePairs(A, { remoteImageId: B, pairs: [["1001", "2001"]], type: "mmir" });
      // The writers keep writing until the pair is Full Duplex: their writes in flight are no backlog.
      await site.waitForPairs(A, ["1001:2001"], { timeoutMs: 60_000 });
      const pair = await pairOn(site, A, "1001:2001");
      assert.is(pair.state, "Full Duplex", `seed ${seed}, round ${rounds}`);
      assert.is(pair.outOfSyncTracks, 0, `seed ${seed}, round ${rounds}`);
    } finally {
      await stopWriters(writers);
    }
    assert.ok(sameData(site, "1001", "2001"), `seed ${seed}, round ${rounds}: the checksums of the two volumes are equal`);
    met = site.enginePprc().writesMetCopy(A, B) ?? 0;
    await site.changePairs(A, "rmpprc", { ids: ["1001:2001"] });
  }
  assert.ok(met > 0, `seed ${seed}: no write met a track being copied in ${rounds} rounds`);
  console.log(`seed ${seed}: ${met} writes met a track the sender's copy held, in ${rounds} round${rounds === 1 ? "" : "s"} of Copy Pending`);
  assert.equal(site.enginePprc().linkFailures, []);
});

Concurrency("should keep every in-sync track equal on both sides when the link is cut under writer threads", async () => {
  const { site } = images;
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir" });
  await site.waitForPairs(A, ["1000:2000"], { timeoutMs: 60_000 });
  const writers = await startWriters(3);
  try {
    await sleep(RUN_MS);
    await site.setLink(A, B, false);
    await sleep(RUN_MS / 3);
  } finally {
    await stopWriters(writers);
  }
  const pair = await pairOn(site, A, "1000:2000");
  assert.is(pair.state, "Suspended");
  assert.ok(pair.outOfSyncTracks > 0, `seed ${seed}: writes after the cut are out of sync`);
  const primary = site.engineImage(A);
  const secondary = site.engineImage(B);
  const slot = primary.volume("1000").slot;
  let inSync = 0;
  for (let track = 0; track < TRACKS; track++) {
    const next = primary.core.exports.pprc_next_out_of_sync(slot, track);
    if (next === track) continue;
    inSync++;
    assert.is(secondary.checksum("2000", track * TRACK_BYTES, TRACK_BYTES), primary.checksum("1000", track * TRACK_BYTES, TRACK_BYTES), `seed ${seed}: in-sync track ${track}`);
  }
  assert.is(inSync, TRACKS - pair.outOfSyncTracks);
  await site.setLink(A, B, true);
  await site.changePairs(A, "resumepprc", { ids: ["1000:2000"] });
  await site.waitForPairs(A, ["1000:2000"], { timeoutMs: 60_000 });
  assert.ok(sameData(site, "1000", "2000"), `seed ${seed}: equal after resume`);
});

Concurrency("should drain Global Copy under writer threads until the volumes are equal once quiet", async () => {
  const { site } = images;
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "gcp" });
  const writers = await startWriters(2);
  try {
    await sleep(RUN_MS);
  } finally {
    await stopWriters(writers);
  }
  await until(async () => (await pairOn(site, A, "1000:2000")).outOfSyncTracks === 0, "Global Copy to drain", 60_000);
  assert.ok(sameData(site, "1000", "2000"), `seed ${seed}`);
});

Concurrency.run();
