// Round trips: everything an image holds comes back from a state file as it
// was, and FlashCopy carries on from there (T0 images, background copies).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { statSync } from "node:fs";
import { join } from "node:path";
import { StorageImage } from "../../src/engine/image.js";
import { EngineError } from "../../src/engine/errors.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import { saveState, loadState } from "../../src/store/index.js";
import { testSeed, Random } from "../support/random.js";
import { describeState, pendingTracks, temporaryDirectory } from "./support.js";

const MiB = 1 << 20;
const seed = testSeed();
console.log(`store round-trip seed: ${seed} (replay with TZERO_SEED=${seed})`);

let folder: ReturnType<typeof temporaryDirectory>;
let open: StorageImage[] = [];

function image(options: ConstructorParameters<typeof StorageImage>[0] = {}): StorageImage {
  const created = new StorageImage({ workers: 0, ...options });
  open.push(created);
  return created;
}

async function roundTrip(images: StorageImage[], workers = 0): Promise<StorageImage[]> {
  const file = join(folder.path, "state.tzs");
  await saveState(images, file);
  const loaded = await loadState(file, { workers });
  open.push(...loaded);
  return loaded;
}

function expectRefusal(action: () => unknown, code: string): void {
  try {
    action();
  } catch (error) {
    assert.instance(error, EngineError);
    assert.is((error as EngineError).code, code);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

const RoundTrip = suite("round trips");
RoundTrip.before.each(() => {
  folder = temporaryDirectory();
  open = [];
});
RoundTrip.after.each(async () => {
  await Promise.all(open.map((each) => each.close()));
  folder.remove();
});

RoundTrip("should bring back images of both models, their LSSs and volumes with every attribute", async () => {
  const ess = image({ model: "2105", serial: "75TZ001" });
  ess.createVolume({ id: "1000", capacity: 1, unit: "ds", os: "linux", name: "prod" });
  ess.createVolume({ id: "1001", capacity: 0.5, unit: "ess", os: "windows", name: "données" });
  ess.createVolume({ id: "1100", capacity: 1000, unit: "blocks", name: "odd size" }); // not whole tracks
  ess.writePattern("1000", 5 * MiB + 77, 3 * TRACK_SIZE, 3);
  ess.writePattern("1100", 0, 1000 * 512, 4); // to its very last byte
  const ds = image({ model: "2107", serial: "75DS002" });
  ds.createVolume({ id: "2000", capacity: 2048, os: "aix" });
  ds.createVolume({ id: "FE01", capacity: 4096, os: "vms" });
  ds.fill("FE01", 0, 4096 * 512, 0x5a);
  const before = describeState([ess, ds]);
  const loaded = await roundTrip([ess, ds]);
  assert.equal(describeState(loaded), before);
  assert.equal(loaded.map((each) => each.listVolumes().map((volume) => volume.slot)), [[0, 1, 2], [0, 1]]);
  assert.equal(describeState(await roundTrip(loaded)), before, "loaded images save and load again alike");
  // The loaded images are ordinary images: they take new work.
  loaded[0].createVolume({ id: "1002", capacity: 1, unit: "ds", os: "linux" });
  loaded[0].establish("1000", "1002", { nocopy: true });
});

RoundTrip("should write only non-zero tracks", async () => {
  const source = image();
  source.createVolume({ id: "1000", capacity: 64 * MiB / 512 });
  source.writePattern("1000", 0, TRACK_SIZE, 1);
  source.writePattern("1000", 40 * MiB, 2 * TRACK_SIZE, 2);
  source.fill("1000", 3 * TRACK_SIZE, TRACK_SIZE, 0); // allocated, but all zero
  const file = join(folder.path, "sparse.tzs");
  const report = await saveState([source], file);
  assert.is(report.dataBytes, 3 * TRACK_SIZE);
  assert.ok(statSync(file).size < 3 * TRACK_SIZE + 4096, `file of ${statSync(file).size} bytes for 3 live tracks`);
  const [loaded] = await loadState(file, { workers: 0 });
  open.push(loaded);
  assert.is(loaded.checksum("1000"), source.checksum("1000"));
});

RoundTrip("should save what changed after the provisional copy, as of the quiesced moment", async () => {
  const source = image();
  source.createVolume({ id: "1000", capacity: 64 * MiB / 512 });
  source.createVolume({ id: "1001", capacity: 64 * MiB / 512 });
  source.writePattern("1000", 0, 40 * TRACK_SIZE, 1);
  source.establish("1000", "1001");
  source.copyTracks("1000:1001", 0, 10);
  const file = join(folder.path, "changing.tzs");
  let expected: unknown;
  const report = await saveState([source], file, {
    beforeQuiesce: () => {
      source.writePattern("1000", 3 * TRACK_SIZE + 5, 100, 2); // changed (copy-on-write first: track 3 is copied)
      source.fill("1000", 20 * TRACK_SIZE, 2 * TRACK_SIZE, 0); // saved non-zero, now zero
      source.writePattern("1000", 50 * MiB, TRACK_SIZE, 3); // in an extent that was unallocated
      source.copyTracks("1000:1001", 10, 5); // background copy goes on
      expected = describeState([source]);
    },
  });
  assert.ok(report.changedBytes > 0, "the quiesced pass wrote the changed tracks again");
  assert.ok(report.changedBytes < report.dataBytes);
  const [loaded] = await loadState(file, { workers: 0 });
  open.push(loaded);
  assert.equal(describeState([loaded]), expected);
  assert.is(loaded.read("1000", 20 * TRACK_SIZE, 2 * TRACK_SIZE).some((byte) => byte !== 0), false, "the zeroed tracks read as zeros");
});

RoundTrip("should keep a NOCOPY target at its T0 image after source writes", async () => {
  const random = new Random(seed);
  const source = image();
  source.createVolume({ id: "1000", capacity: 64 * 128 });
  source.createVolume({ id: "1001", capacity: 64 * 128 });
  source.writePattern("1000", 0, 64 * TRACK_SIZE, random.next());
  const t0 = source.read("1000", 0, 64 * TRACK_SIZE);
  source.establish("1000", "1001", { nocopy: true });
  for (let write = 0; write < 20; write++) source.fill("1000", random.int(0, 63) * TRACK_SIZE + random.int(0, 1000), random.int(1, 3000), random.int(1, 255));
  source.write("1001", 5 * TRACK_SIZE + 9, new Uint8Array([7, 7, 7])); // a target write of its own
  const expectedTarget = source.read("1001", 0, 64 * TRACK_SIZE);
  const [loaded] = await roundTrip([source]);
  assert.equal(describeState([loaded]), describeState([source]));
  assert.equal(loaded.read("1001", 0, 64 * TRACK_SIZE), expectedTarget);
  assert.ok(pendingTracks(loaded, "1000:1001").length > 30, "most tracks are still read from the source");
  // Copy-on-write goes on after the load: the target stays at T0.
  loaded.fill("1000", 0, 64 * TRACK_SIZE, 0xff);
  const target = loaded.read("1001", 0, 64 * TRACK_SIZE);
  assert.equal(target.subarray(6 * TRACK_SIZE), t0.subarray(6 * TRACK_SIZE));
  assert.equal(target, expectedTarget);
});

RoundTrip("should resume a background copy where it stopped and complete it", async () => {
  const source = image();
  source.createVolume({ id: "1000", capacity: 256 * 128 });
  source.createVolume({ id: "1001", capacity: 256 * 128 });
  source.writePattern("1000", 0, 256 * TRACK_SIZE, 9);
  const t0 = source.checksum("1000");
  source.establish("1000", "1001");
  assert.is(source.copyTracks("1000:1001", 0, 100), 100);
  source.fill("1000", 200 * TRACK_SIZE, 10, 1); // copy-on-write of track 200
  const saved = describeState([source]);
  const [paused] = await roundTrip([source]);
  assert.equal(describeState([paused]), saved);
  assert.is(paused.status("1000:1001").pendingTracks, 155);
  assert.is(paused.status("1000:1001").copiedBytes, 100 * TRACK_SIZE);
  const [copying] = await roundTrip([source], 1);
  let copied = false;
  copying.on("copied", () => { copied = true; });
  await copying.waitForCopy(["1000:1001"], { timeoutMs: 20_000 });
  copying.poll();
  assert.ok(copied, "the copy completes and the relationship ends");
  assert.not.ok(copying.hasRelationship("1000:1001"));
  assert.is(copying.checksum("1001"), t0);
});

RoundTrip("should keep -record, -tgtinhibit, -tgtpprc, -persist, sequence numbers and times", async () => {
  const source = image({ model: "2107" });
  for (const id of ["1000", "1001", "1002", "2000", "2001", "2002"]) source.createVolume({ id, capacity: 16 * 128 });
  source.writePattern("1000", 0, 16 * TRACK_SIZE, 5);
  source.writePattern("2000", 0, 16 * TRACK_SIZE, 6);
  source.establish("1000", "1001", { nocopy: true, persist: true, record: true, seqnum: 0xfffffffe });
  source.establish("1000", "1002", { tgtinhibit: true, tgtpprc: true, seqnum: 7 }); // two targets of one source (2107)
  source.establish("2000", "2001", { persist: true });
  source.copyTracks("2000:2001", 0, 16);
  source.poll(); // completes: persistent, so it stays, with its sync time
  source.fill("1000", 3 * TRACK_SIZE, 10, 1);
  source.fill("1001", 9 * TRACK_SIZE, 10, 1);
  assert.ok(source.status("2000:2001").syncedAt !== null);
  const [loaded] = await roundTrip([source]);
  assert.equal(describeState([loaded]), describeState([source]));
  assert.is(loaded.recordedTracks("1000:1001", "source"), 1);
  assert.is(loaded.recordedTracks("1000:1001", "target"), 1);
  assert.is(loaded.status("1000:1001").seqnum, 0xfffffffe);
  assert.is(loaded.status("1000:1002").tgtpprc, true);
  assert.is(loaded.status("1000:1001").tgtpprc, false);
  expectRefusal(() => loaded.fill("1002", 0, 1, 1), "TARGET_WRITE_INHIBITED");
  // The change records go on counting.
  loaded.fill("1000", 12 * TRACK_SIZE, 1, 1);
  assert.is(loaded.recordedTracks("1000:1001", "source"), 2);
});

RoundTrip("should keep a volume unusable after a withdrawn incomplete copy", async () => {
  const source = image();
  source.createVolume({ id: "1000", capacity: 8 * 128 });
  source.createVolume({ id: "1001", capacity: 8 * 128 });
  source.writePattern("1000", 0, 8 * TRACK_SIZE, 2);
  source.establish("1000", "1001");
  source.copyTracks("1000:1001", 0, 3);
  assert.not.ok(source.withdraw("1000:1001"));
  const [loaded] = await roundTrip([source]);
  assert.is(loaded.dataState("1001"), "Unusable");
  expectRefusal(() => loaded.read("1001", 0, 1), "VOLUME_UNUSABLE");
  loaded.reinitVolume("1001");
  assert.is(loaded.dataState("1001"), "Normal");
});

RoundTrip("should bring back random histories exactly", async () => {
  let relationshipsSaved = 0;
  for (let round = 0; round < 6; round++) {
    const random = new Random(seed + round);
    const source = image({ model: random.pick(["2105", "2107"] as const) });
    const ids = ["1000", "1001", "1002", "1003", "1004", "1005"];
    for (const id of ids) source.createVolume({ id, capacity: random.int(1, 24) * 128 + random.int(0, 1) * 5 });
    for (let step = 0; step < 40; step++) {
      const [a, b] = [random.pick(ids), random.pick(ids)];
      const volume = source.volume(a);
      try {
        switch (random.int(0, 5)) {
          case 0: source.establish(a, b, { nocopy: random.int(0, 1) === 1, persist: random.int(0, 1) === 1, record: random.int(0, 1) === 1 }); break;
          case 1: source.withdraw(`${a}:${b}`); break;
          case 2: source.copyTracks(source.relationshipsOf(a)[0]?.id ?? `${a}:${b}`, random.int(0, 20), random.int(1, 8)); break;
          default: {
            const offset = random.int(0, volume.sizeBytes - 1);
            source.writePattern(a, offset, random.int(1, Math.min(3 * TRACK_SIZE, volume.sizeBytes - offset)), random.next());
          }
        }
      } catch (error) {
        if (!(error instanceof EngineError)) throw error; // refused by the rules: fine, nothing changed
      }
    }
    source.poll();
    relationshipsSaved += source.listRelationships().length;
    const [loaded] = await roundTrip([source]);
    assert.equal(describeState([loaded]), describeState([source]), `round ${round} of seed ${seed}`);
  }
  assert.ok(relationshipsSaved > 0, `the histories of seed ${seed} left relationships to save`);
});

RoundTrip("should bring back 16 TiB volumes and their relationships in a few KiB of bitmaps", async () => {
  const TiB = 2 ** 40;
  const huge = image({ model: "2107" });
  for (const id of ["1000", "1001", "1002"]) huge.createVolume({ id, capacity: (16 * TiB) / 512 });
  const offsets = [0, 2 ** 32 - 100, 5 * TiB + 12345, 16 * TiB - 3 * TRACK_SIZE];
  offsets.forEach((offset, index) => huge.writePattern("1000", offset, 2 * TRACK_SIZE, index + 1));
  huge.establish("1000", "1001", { nocopy: true, record: true, persist: true });
  huge.establish("1000", "1002", { persist: true });
  huge.fill("1000", 2 ** 32, 10, 7); // copy-on-write of a track past 4 GiB, recorded
  huge.fill("1001", 16 * TiB - 10, 10, 8); // a target write at the very end
  huge.copyTracks("1000:1002", 2 ** 26, 40); // tracks at 4 TiB
  const file = join(folder.path, "state.tzs");
  await saveState([huge], file);
  assert.ok(statSync(file).size < 2 * MiB, "the file holds the written tracks and a few KiB of bitmaps");
  const [loaded] = await loadState(file, { workers: 0 });
  open.push(loaded);
  for (const id of ["1000", "1001", "1002"]) {
    assert.is(loaded.checksum(id), huge.checksum(id), `checksum of ${id}`);
    for (const offset of offsets) assert.equal(loaded.read(id, offset, 2 * TRACK_SIZE), huge.read(id, offset, 2 * TRACK_SIZE), `${id} at ${offset}`);
  }
  for (const pair of ["1000:1001", "1000:1002"]) {
    const [before, after] = [huge, loaded].map((each) => each.status(pair));
    assert.is(after.pendingTracks, before.pendingTracks, `pending tracks of ${pair}`);
    const probes = [0, 2 ** 16, 2 ** 26, 2 ** 26 + 40, 2 ** 28 - 5].map((track) =>
      [huge, loaded].map((each) => each.core.exports.rel_find_pending(each.relationship(pair).slot, track)));
    for (const [expected, actual] of probes) assert.is(actual, expected, `next pending track of ${pair}`);
  }
  assert.is(loaded.recordedTracks("1000:1001", "source"), 1);
  assert.is(loaded.recordedTracks("1000:1001", "target"), 1);
});

RoundTrip.run();
