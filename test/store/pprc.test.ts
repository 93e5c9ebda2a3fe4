// PPRC in state files: paths and both ends of each pair saved with their
// images and loaded as they were (states, reasons, options, out-of-sync
// tracks), the secondary still a secondary; a resume after the load sends
// exactly the tracks that were out of sync; a damaged PPRC record is refused,
// naming its field, and the running site is left as it was.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { isSiteError } from "../../src/site/errors.js";
import type { PairInfo } from "../../src/site/types.js";
import { temporaryDirectory, editRecord, frameOfType, replaceFrame } from "./support.js";
import { A, B, TRACK_BYTES, mirrored, pairOn, sameData, twoImages } from "../pprc/support.js";
import { Random, testSeed } from "../support/random.js";

const TRACKS = 32;
const SUSPENDED_WRITES = 6;

let folder: ReturnType<typeof temporaryDirectory>;
let good: Uint8Array;
let seed: number;
let suspendedTracks: number;

// What lspprc says of a pair, less what a load may change (sentTracks counts this process's sends).
function described(pair: PairInfo): unknown {
  return { ...pair, sentTracks: undefined };
}

async function listed(site: EmbeddedSite): Promise<unknown> {
  return { a: (await site.listPairs(A)).map(described), b: (await site.listPairs(B)).map(described), paths: await site.listPaths(A) };
}

const Saved = suite("PPRC in state files");
let before: unknown;
Saved.before(async () => {
  folder = temporaryDirectory();
  seed = testSeed();
  console.log(`# pprc state seed ${seed} (TZERO_SEED=${seed} replays it)`);
  const random = new Random(seed);
  const images = await twoImages();
  const { site } = images;
  try {
    await mirrored(images, 3, TRACKS);
    for (const id of ["1000", "1001", "1002"]) await site.fill(A, id, { offset: 0, length: TRACKS * TRACK_BYTES }, { kind: "pattern", seed: random.int(1, 1 << 16) });
    await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir", tgtread: true, critmode: true });
    await site.makePairs(A, { remoteImageId: B, pairs: [["1001", "2001"]], type: "gcp" });
    await site.makePairs(A, { remoteImageId: B, pairs: [["1002", "2002"]], type: "mmir" });
    await site.waitForPairs(A, ["1000:2000", "1001:2001", "1002:2002"], { timeoutMs: 30_000 });
    await site.changePairs(A, "pausepprc", { remoteImageId: B, ids: ["1002:2002"] });
    const written = new Set<number>();
    for (let index = 0; index < SUSPENDED_WRITES; index++) {
      const track = random.int(0, TRACKS - 1);
      written.add(track);
      await site.write(A, "1002", track * TRACK_BYTES + random.int(0, 15) * 4096, random.bytes(4096));
    }
    suspendedTracks = written.size;
    before = await listed(site);
    const file = join(folder.path, "good.tzs");
    await site.save(file);
    good = new Uint8Array(readFileSync(file));
  } finally {
    await site.close();
  }
});
Saved.after(() => folder.remove());

async function loaded(): Promise<EmbeddedSite> {
  const file = join(folder.path, "load.tzs");
  writeFileSync(file, good);
  const { site } = await twoImages();
  await site.load(file);
  return site;
}

Saved("should load paths and both ends of every pair as they were saved", async () => {
  const site = await loaded();
  try {
    assert.equal(await listed(site), before, `lspprc and lspprcpath after the load (seed ${seed})`);
    const suspended = await pairOn(site, A, "1002:2002");
    assert.is(suspended.state, "Suspended");
    assert.is(suspended.reason, "Host Source");
    assert.is(suspended.outOfSyncTracks, suspendedTracks, "the out-of-sync tracks came back exactly");
    const secondary = await pairOn(site, B, "1000:2000");
    assert.is(secondary.state, "Target Full Duplex");
    assert.ok(secondary.tgtread && secondary.critmode, "the options came back");
    const refused = await site.write(B, "2000", 0, new Uint8Array(512)).then(() => null, (error: Error) => error);
    assert.ok(refused !== null, "the secondary still refuses host writes");
  } finally {
    await site.close();
  }
});

Saved("should mirror on in Full Duplex after the load and resync exactly the saved out-of-sync tracks on resume", async () => {
  const site = await loaded();
  try {
    await site.write(A, "1000", 5 * TRACK_BYTES, new Uint8Array(4096).fill(0x77));
    assert.ok(sameData(site, "1000", "2000"), "a write after the load is on the secondary when it completes");
    assert.is((await pairOn(site, A, "1000:2000")).state, "Full Duplex");
    assert.not.ok(sameData(site, "1002", "2002"));
    await site.changePairs(A, "resumepprc", { remoteImageId: B, ids: ["1002:2002"] });
    await site.waitForPairs(A, ["1002:2002"], { timeoutMs: 30_000 });
    assert.is((await pairOn(site, A, "1002:2002")).sentTracks, suspendedTracks, "the resync sent exactly the tracks out of sync at the save");
    assert.ok(sameData(site, "1002", "2002"), `equal after the resume (seed ${seed})`);
    assert.ok(sameData(site, "1001", "2001"), "the Global Copy pair is equal");
  } finally {
    await site.close();
  }
});

async function refusedLoad(file: Uint8Array, what: string): Promise<Error> {
  const path = join(folder.path, "bad.tzs");
  writeFileSync(path, file);
  const { site } = await twoImages();
  try {
    await site.createVolumes(A, { ids: ["1100"], capacity: 128, unit: "blocks" });
    const refused = await site.load(path).then(() => null, (error: unknown) => error);
    assert.ok(isSiteError(refused), `the load of ${what} is refused`);
    assert.equal((await site.listVolumes(A)).map((volume) => volume.id), ["1100"], "the running site is unchanged");
    assert.equal(await site.listPairs(A), []);
    return refused as Error;
  } finally {
    await site.close();
  }
}

function pairFrame(file: Uint8Array, pair: string, role: string): number {
  for (let nth = 0; ; nth++) {
    const index = frameOfType(file, "pprc-pair", nth);
    let matches = false;
    editRecord(file, index, (record) => { matches = record.pair === pair && record.role === role; });
    if (matches) return index;
  }
}

for (const [what, role, change, field] of [
  ["an unknown mode", "primary", (record: Record<string, unknown>) => { (record.primary as Record<string, unknown>).mode = "duplex"; }, "primary.mode"],
  ["a pair ID that is not its volumes'", "primary", (record: Record<string, unknown>) => { record.pair = "1000:2001"; }, "pair"],
  ["more out-of-sync tracks than its runs hold", "primary", (record: Record<string, unknown>) => { (record.primary as Record<string, number>).outOfSyncTracks += 1; }, "runs"],
  ["a track count not its volume's", "primary", (record: Record<string, unknown>) => { (record.primary as Record<string, number>).trackCount = TRACKS + 1; }, "primary.trackCount"],
  ["a role of neither kind", "secondary", (record: Record<string, unknown>) => { record.role = "tertiary"; }, "role"],
  ["a secondary's slot that is not the volume's", "primary", (record: Record<string, unknown>) => { record.otherSlot = 9; }, "slot"],
] as const) {
  Saved(`should refuse a pprc-pair record with ${what}, naming ${field}, and change nothing`, async () => {
    const pair = role === "primary" || what.includes("role") ? "1002:2002" : "1000:2000";
    const file = editRecord(good, pairFrame(good, pair, role), change as (record: Record<string, unknown>) => void);
    const error = await refusedLoad(file, what);
    assert.ok(error.message.includes(field), error.message);
  });
}

Saved("should refuse a pair whose secondary in the file has no record of it, and change nothing", async () => {
  const cut = replaceFrame(good, pairFrame(good, "1000:2000", "secondary"), []);
  // The end record counts what is left, so that the loader's own counts pass and PPRC's check is the one that refuses.
  const counted = editRecord(cut, frameOfType(cut, "end"), (record) => {
    record.frames = (record.frames as number) - 1;
    record.pprc = (record.pprc as number) - 1;
  });
  const error = await refusedLoad(counted, "a missing secondary end");
  assert.match(error.message, /1000:2000/);
});

Saved.run();
