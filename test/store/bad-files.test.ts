// Bad state files: each kind of damage is refused with its own error code and
// a message that says where, and the running images are left as they were.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StorageImage } from "../../src/engine/image.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import { saveState, loadState, StoreError, type StoreErrorCode } from "../../src/store/index.js";
import { PREAMBLE_SIZE, FORMAT_VERSION, FRAME_HEADER_SIZE } from "../../src/store/format.js";
import { testSeed, Random } from "../support/random.js";
import {
  describeState, temporaryDirectory, rejectsWithStore, splitFrames, replaceFrame, editRecord, frameOfType,
  encodeRecord, joinBytes, encodeFrame, joinFrames, saveIdOf,
} from "./support.js";

const seed = testSeed();
console.log(`store bad-files seed: ${seed} (replay with TZERO_SEED=${seed})`);

let folder: ReturnType<typeof temporaryDirectory>;
let running: StorageImage;
let good: Uint8Array;

// Loads `bytes` as a state file: it must be refused with `code`, and the
// running image must not change.
async function refused(bytes: Uint8Array, code: StoreErrorCode): Promise<StoreError> {
  const file = join(folder.path, "bad.tzs");
  writeFileSync(file, bytes);
  const before = describeState([running]);
  const error = await rejectsWithStore(loadState(file, { workers: 0 }), code);
  assert.ok(error.message.includes(file), `"${error.message}" names the file`);
  assert.equal(describeState([running]), before, "the running image is unchanged");
  return error;
}

const Bad = suite("bad state files");
// The image the good file holds; `seed` gives the data of volume 1002.
function buildImage(seed: number): StorageImage {
  const image = new StorageImage({ workers: 0 });
  for (const id of ["1000", "1001", "1002", "1003"]) image.createVolume({ id, capacity: 40 * 128 + 3 });
  image.writePattern("1000", 0, 40 * TRACK_SIZE, 1);
  image.writePattern("1002", 7 * TRACK_SIZE, 9 * TRACK_SIZE, seed);
  image.establish("1000", "1001", { nocopy: true, record: true, persist: true });
  image.establish("1002", "1003");
  image.fill("1000", 0, 100, 3);
  return image;
}

// Frame `index` of a file as it lies there, header and all.
function wholeFrame(file: Uint8Array, frames: readonly { offset: number; payload: Uint8Array }[], index: number): Uint8Array {
  return file.subarray(frames[index].offset, frames[index].offset + FRAME_HEADER_SIZE + frames[index].payload.byteLength);
}

Bad.before(async () => {
  folder = temporaryDirectory();
  running = buildImage(2);
  const file = join(folder.path, "good.tzs");
  await saveState([running], file);
  good = new Uint8Array(readFileSync(file)); // a copy: Buffer.slice() would share its bytes
});
Bad.after(async () => {
  await running.close();
  folder.remove();
});

Bad("should load the untouched file (the cases below damage it)", async () => {
  const file = join(folder.path, "good-copy.tzs");
  writeFileSync(file, good);
  const [loaded] = await loadState(file, { workers: 0 });
  assert.equal(describeState([loaded]), describeState([running]));
  await loaded.close();
});

Bad("should report a missing file as NOT_FOUND", async () => {
  await rejectsWithStore(loadState(join(folder.path, "absent.tzs")), "NOT_FOUND");
});

Bad("should refuse a file without the magic word", async () => {
  await refused(new TextEncoder().encode('{"images": []}\n'), "BAD_MAGIC");
  const renamed = good.slice();
  renamed[3] = "X".charCodeAt(0);
  const error = await refused(renamed, "BAD_MAGIC");
  assert.is(error.offset, 0);
});

Bad("should refuse a newer format version", async () => {
  const newer = good.slice();
  const view = new DataView(newer.buffer);
  view.setUint32(8, FORMAT_VERSION + 1, true);
  view.setUint32(12, ~(FORMAT_VERSION + 1) >>> 0, true);
  const error = await refused(newer, "UNSUPPORTED_VERSION");
  assert.ok(error.message.includes(String(FORMAT_VERSION + 1)));
});

Bad("should refuse a file cut short anywhere, as incomplete", async () => {
  const random = new Random(seed);
  const { frames } = splitFrames(good);
  const cuts = [0, 5, PREAMBLE_SIZE, ...frames.map((frame) => frame.offset), ...frames.map((frame) => frame.offset + 7)];
  for (let extra = 0; extra < 12; extra++) cuts.push(random.int(PREAMBLE_SIZE, good.byteLength - 1));
  for (const cut of cuts) {
    const error = await refused(good.subarray(0, cut), "TRUNCATED");
    assert.ok(error.incomplete, `cut at ${cut} is incomplete`);
  }
});

Bad("should call a file cut inside its preamble or right after it truncated", async () => {
  for (const cut of [8, 10, 16, 20, PREAMBLE_SIZE]) {
    const error = await refused(good.subarray(0, cut), "TRUNCATED");
    // The words after the file's name: a temporary folder's random name may hold "-1" itself.
    const said = error.message.slice(error.message.indexOf("bad.tzs"));
    assert.ok(said.includes("truncated"), `cut at ${cut}: ${error.message}`);
    assert.not.ok(said.includes("corrupt"), `cut at ${cut}: ${error.message}`);
    assert.not.ok(said.includes("-1"), `cut at ${cut}: ${error.message}`);
  }
});

Bad("should refuse a file spliced from two saves at a frame boundary", async () => {
  // A save of an image built alike, but for the data of 1002: its frames line up with the good file's.
  const other = buildImage(3);
  const otherFile = join(folder.path, "other.tzs");
  try {
    await saveState([other], otherFile);
  } finally {
    await other.close();
  }
  const otherBytes = new Uint8Array(readFileSync(otherFile));
  const first = splitFrames(good);
  const second = splitFrames(otherBytes);
  assert.is(second.frames.length, first.frames.length);
  const cut = frameOfType(good, "tracks") + 2; // inside the data of 1000; 1002's comes after
  const spliced = joinBytes([
    first.preamble,
    ...first.frames.slice(0, cut).map((_, index) => wholeFrame(good, first.frames, index)),
    ...second.frames.slice(cut).map((_, index) => wholeFrame(otherBytes, second.frames, cut + index)),
  ]);
  const error = await refused(spliced, "CHECKSUM_MISMATCH");
  assert.is(error.frame, cut, error.message);
  assert.ok(error.message.includes("another save"), error.message);
  // The same frames keyed as this file's (what a format without the key would
  // accept) load as a mixture of both saves: the key is what refuses it.
  const rekeyed = joinFrames(first.preamble, [...first.frames.slice(0, cut), ...second.frames.slice(cut)].map((frame) => frame.payload));
  const mixtureFile = join(folder.path, "mixture.tzs");
  writeFileSync(mixtureFile, rekeyed);
  const [mixture] = await loadState(mixtureFile, { workers: 0 });
  try {
    assert.is(mixture.checksum("1000"), running.checksum("1000"), "the mixture holds the first save's 1000");
    assert.is.not(mixture.checksum("1002"), running.checksum("1002"), "and the second save's 1002");
  } finally {
    await mixture.close();
  }
});

Bad("should refuse frames moved within one file", async () => {
  const { preamble, frames } = splitFrames(good);
  const tracks = frameOfType(good, "tracks");
  const order = frames.map((_, index) => index);
  [order[tracks], order[tracks + 1]] = [order[tracks + 1], order[tracks]];
  const error = await refused(joinBytes([preamble, ...order.map((index) => wholeFrame(good, frames, index))]), "CHECKSUM_MISMATCH");
  assert.is(error.frame, tracks);
});

Bad("should refuse a file with any single bit flipped", async () => {
  const random = new Random(seed ^ 0x5a5a5a5a);
  const { frames } = splitFrames(good);
  // Every region of a frame, then random bits anywhere.
  const positions = [1, 8 * 8 + 2, 12 * 8 + 5];
  for (const frame of frames.slice(0, 4)) positions.push(frame.offset * 8, (frame.offset + 5) * 8 + 1, (frame.offset + 9) * 8 + 3, (frame.offset + FRAME_HEADER_SIZE) * 8 + 6);
  for (let extra = 0; extra < 24; extra++) positions.push(random.int(0, good.byteLength * 8 - 1));
  for (const bit of positions) {
    const flipped = good.slice();
    flipped[bit >> 3] ^= 1 << (bit & 7);
    const expected: StoreErrorCode = bit >> 3 < 8 ? "BAD_MAGIC" : "CHECKSUM_MISMATCH";
    await refused(flipped, expected);
  }
});

Bad("should refuse a frame whose payload is not msgpack", async () => {
  await refused(replaceFrame(good, 1, [Uint8Array.of(0x81, 0xa4, 0x74, 0x79)]), "NOT_MSGPACK"); // cut inside a string
  await refused(replaceFrame(good, 1, [joinBytes([encodeRecord({ type: "image" }), Uint8Array.of(1, 2)])]), "NOT_MSGPACK"); // two values
  await refused(replaceFrame(good, 1, [Uint8Array.of(0xc6, 0x7f, 0xff, 0xff, 0xff, 0)]), "NOT_MSGPACK"); // bin of 2 GiB in 6 bytes
});

Bad("should refuse absurd length fields before using them", async () => {
  const { preamble } = splitFrames(good);
  const header = new Uint8Array(FRAME_HEADER_SIZE);
  const view = new DataView(header.buffer);
  for (const length of [0, 0x7fffffff, 0xffffffff]) {
    view.setUint32(0, length, true);
    view.setUint32(4, ~length >>> 0, true);
    const error = await refused(joinBytes([preamble, header]), "BAD_LENGTH");
    assert.is(error.frame, 0);
  }
});

Bad("should name the field of a record that is wrong", async () => {
  const cases: [string, (record: Record<string, unknown>) => void, string][] = [
    ["header", (record) => { record.images = 1e9; }, "images"],
    ["image", (record) => { record.model = "3990"; }, "model"],
    ["image", (record) => { record.volumes = 1e12; }, "volumes"],
    ["volume", (record) => { record.blocks = 2 ** 40; }, "blocks"],
    ["volume", (record) => { delete record.os; }, "os"],
    ["volume", (record) => { record.id = "10000"; }, "id"],
    ["volume", (record) => { record.pool = "pool zero"; }, "pool"],
    ["image", (record) => { record.pools = "P0"; }, "pools"],
    ["image", (record) => { record.pools = [7]; }, "pools"],
    ["image", (record) => { record.pools = [{ id: "P0", name: "a", rankGroup: 2, capacityGiB: 1 }]; }, "rankGroup"],
    ["image", (record) => { record.pools = [{ id: "P0", name: "a", rankGroup: 0, capacityGiB: -1 }]; }, "capacityGiB"],
    ["tracks", (record) => { record.track = -1; }, "track"],
    ["tracks", (record) => { record.volume = "1FFF"; }, "volume"],
    ["relationship", (record) => { record.bitmap = new Uint8Array(3); }, "bitmap"],
    ["relationship", (record) => { record.pendingTracks = 1; }, "pendingTracks"],
    ["relationship", (record) => { record.recordSource = null; }, "recordSource"],
    ["relationship", (record) => { record.seqnum = "seven"; }, "seqnum"],
    ["relationship", (record) => { record.bitmap = Uint8Array.of(3); }, "bitmap"],
    ["leaf", (record) => { record.chunk = 1; }, "chunk"],
    ["leaf", (record) => { record.data = new Uint8Array(24); }, "data"],
    ["end", (record) => { record.volumes = 5; }, "volumes"],
    ["end", (record) => { record.dataBytes = 1; }, "dataBytes"],
  ];
  for (const [type, change, field] of cases) {
    const error = await refused(editRecord(good, frameOfType(good, type), change), "BAD_RECORD");
    assert.is(error.field, field, error.message);
    assert.ok(error.message.includes(field), `"${error.message}" names ${field}`);
  }
});

Bad("should refuse records out of order or missing", async () => {
  const tracks = frameOfType(good, "tracks");
  const volume = frameOfType(good, "volume");
  const { frames } = splitFrames(good);
  // Track data before the volume records of its image.
  const early = replaceFrame(good, volume, [frames[tracks].payload, frames[volume].payload]);
  await refused(replaceFrame(early, tracks + 1, []), "BAD_RECORD");
  // A volume dropped: the image announced more.
  await refused(replaceFrame(good, volume, []), "BAD_RECORD");
  // A second header.
  await refused(replaceFrame(good, volume, [frames[0].payload, frames[volume].payload]), "BAD_RECORD");
  // A payload that is msgpack but not a map (0xc1, "never used", decodes to an object of msgpackr's).
  await refused(replaceFrame(good, volume, [Uint8Array.of(0xc1)]), "BAD_RECORD");
  await refused(replaceFrame(good, volume, [encodeRecord(["volume"])]), "BAD_RECORD");
  // A record of an unknown type.
  const error = await refused(replaceFrame(good, volume, [encodeRecord({ type: "pprc" }), frames[volume].payload]), "BAD_RECORD");
  assert.is(error.field, "type");
  // The end record dropped, at a frame boundary: the file is incomplete.
  const end = frameOfType(good, "end");
  await refused(replaceFrame(good, end, []), "TRUNCATED");
});

Bad("should refuse a missing leaf, a leaf of another relationship and bits past the last track", async () => {
  const leaf = frameOfType(good, "leaf");
  const { frames } = splitFrames(good);
  const skipped = await refused(replaceFrame(good, leaf, []), "BAD_RECORD");
  assert.is(skipped.field, "chunk", skipped.message);
  const lastLeaf = frameOfType(good, "relationship", 1) - 1;
  const missing = await refused(replaceFrame(good, lastLeaf, []), "BAD_RECORD");
  assert.ok(missing.message.includes("missing"), missing.message);
  const stray = await refused(replaceFrame(good, leaf - 1, [frames[leaf].payload, frames[leaf - 1].payload]), "BAD_RECORD");
  assert.is(stray.field, "type", stray.message);
  // 41 tracks (40 and 3 blocks): bit 127 of the control leaf lies past the end.
  const tail = await refused(editRecord(good, leaf, (record) => {
    const data = new Uint8Array(record.data as Uint8Array);
    data[15] |= 0x80;
    record.data = data;
  }), "BAD_RECORD");
  assert.ok(tail.message.includes("past"), tail.message);
});

Bad("should refuse a relationship that breaks the image model's rules", async () => {
  // 2105: one relationship per volume; make the second pair reuse source 1000.
  const second = frameOfType(good, "relationship", 1);
  const error = await refused(editRecord(good, second, (record) => { record.source = "1000"; }), "BAD_RECORD");
  assert.ok(error.message.includes("1000"));
});

Bad("should refuse bytes after the end record", async () => {
  await refused(joinBytes([good, Uint8Array.of(0)]), "TRAILING_DATA");
  const { preamble, frames } = splitFrames(good);
  await refused(joinBytes([good, encodeFrame(encodeRecord({ type: "end" }), saveIdOf(preamble), frames.length)]), "TRAILING_DATA");
});

Bad("should abandon a load when its signal aborts, building nothing", async () => {
  const file = join(folder.path, "good-copy.tzs");
  writeFileSync(file, good);
  const controller = new AbortController();
  const load = loadState(file, { workers: 0, signal: controller.signal });
  controller.abort(); // the load is reading by now: it stops at its next frame
  const error = await rejectsWithStore(load, "ABANDONED");
  assert.ok(error.message.includes(file), error.message);
  await rejectsWithStore(loadState(file, { workers: 0, signal: AbortSignal.abort() }), "ABANDONED");
});

Bad.run();
