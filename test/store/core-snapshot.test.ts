// The core's snapshot exports (assembly/snapshot.ts) keep the invariants the
// rest of the core relies on, whatever the host asks of them.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageImage } from "../../src/engine/image.js";
import { CoreCode, TRACK_SIZE, RelFlag } from "../../src/core/codes.js";
import { testSeed, Random } from "../support/random.js";
import { claimChanges } from "../../src/engine/snapshot.js";
import { EngineError } from "../../src/engine/errors.js";

const seed = testSeed();
console.log(`store core-snapshot seed: ${seed} (replay with TZERO_SEED=${seed})`);

let image: StorageImage;
const Core = suite("core snapshot support");
Core.before.each(() => {
  image = new StorageImage({ workers: 0 });
  image.createVolume({ id: "1000", capacity: 40 * 128 });
  image.createVolume({ id: "1001", capacity: 40 * 128 });
});
Core.after.each(() => image.close());

Core("should find the one non-zero byte of a track wherever it is", () => {
  const random = new Random(seed);
  const exports = image.core.exports;
  for (let round = 0; round < 40; round++) {
    image.reinitVolume("1000");
    const track = random.int(0, 39);
    const offset = random.pick([0, TRACK_SIZE - 1, random.int(0, TRACK_SIZE - 1)]);
    image.fill("1000", 0, TRACK_SIZE * 40, 0); // allocates the extents, all zero
    image.fill("1000", track * TRACK_SIZE + offset, 1, random.int(1, 255));
    const masks = [0, 1, 2].map((extent) => exports.extent_nonzero_mask(image.volume("1000").slot, extent));
    const expected = [0, 0, 0];
    expected[track >> 4] = 1 << (track & 15);
    assert.equal(masks, expected, `track ${track}, byte ${offset} (seed ${seed})`);
    const wanted = random.int(0, 0xffff);
    const asked = [0, 1, 2].map((extent) => exports.extent_nonzero_tracks(image.volume("1000").slot, extent, wanted));
    assert.equal(asked, expected.map((mask) => mask & wanted), `track ${track} among tracks ${wanted.toString(2)} (seed ${seed})`);
  }
});

Core("should refuse raw writes to a volume in a relationship", () => {
  const slot = image.volume("1000").slot;
  const staging = image.core.stagingPointer;
  assert.is(image.core.exports.raw_write(slot, 0, 16, staging), CoreCode.OK);
  image.establish("1000", "1001", { nocopy: true });
  assert.is(image.core.exports.raw_write(slot, 0, 16, staging), CoreCode.BUSY);
  assert.is(image.core.exports.raw_write(image.volume("1001").slot, 0, 16, staging), CoreCode.BUSY);
  assert.is(image.core.exports.raw_write(slot, 40 * TRACK_SIZE - 8, 16, staging), CoreCode.RANGE);
});

Core("should refuse a restored bitmap with bits past the last track", () => {
  const exports = image.core.exports;
  const bytes = 16; // 40 tracks: one word, rounded up to two
  const staging = image.core.staging(bytes);
  staging.fill(0);
  staging[5] = 0x01; // track 40: past the end
  const source = image.volume("1000").slot;
  const target = image.volume("1001").slot;
  assert.is(exports.rel_restore(0, source, target, RelFlag.BACKGROUND, image.core.stagingPointer, 0n), CoreCode.BAD_ARGUMENT);
  staging[5] = 0;
  staging[0] = 0x0f;
  assert.is(exports.rel_restore(0, source, target, RelFlag.BACKGROUND, image.core.stagingPointer, 0n), 4, "returns the pending count");
  assert.is(exports.rel_count_pending(0), 4);
  assert.is(exports.rel_restore(1, source, target, 0, image.core.stagingPointer, 0n), CoreCode.BUSY, "one source per target");
  assert.is(exports.rel_restore(2, source, image.volume("1001").slot, 0x40, image.core.stagingPointer, 0n), CoreCode.BAD_ARGUMENT, "unknown flag");
  assert.is(exports.rel_withdraw(0), 1);
});

Core("should quiesce once and resume only what it quiesced", () => {
  const exports = image.core.exports;
  assert.is(exports.image_resume(), CoreCode.BAD_ARGUMENT, "nothing to resume");
  assert.is(exports.image_quiesce(), CoreCode.OK);
  assert.is(exports.image_quiesce(), CoreCode.BUSY);
  assert.is(exports.image_resume(), CoreCode.OK);
  image.fill("1000", 0, 1, 1);
  assert.is(image.read("1000", 0, 1)[0], 1);
});

Core("should mark a volume unusable unless it is a target now", () => {
  const exports = image.core.exports;
  assert.is(exports.volume_mark_unusable(image.volume("1000").slot), CoreCode.OK);
  assert.is(image.dataState("1000"), "Unusable");
  image.establish("1001", "1000", { nocopy: true }); // a new FlashCopy onto it makes it usable again
  assert.is(image.dataState("1000"), "Normal");
  assert.is(exports.volume_mark_unusable(image.volume("1000").slot), CoreCode.BUSY);
});

Core("should mark every change to a track's own bytes, and hand each mark out once", () => {
  const claim = claimChanges(image);
  try {
    const taken = (id: string) => claim.take(image.volume(id));
    assert.equal(taken("1000"), [], "nothing changed since the volume was created");
    image.fill("1000", 10 * TRACK_SIZE - 1, TRACK_SIZE + 2, 1); // tracks 9, 10 and 11
    image.writePattern("1000", 39 * TRACK_SIZE, 5, 2);
    assert.equal(taken("1000"), [9, 10, 11, 39]);
    assert.equal(taken("1000"), [], "taken once");
    image.establish("1000", "1001", { nocopy: true });
    image.fill("1000", 20 * TRACK_SIZE, 1, 3); // copy-on-write: the target's track changes too
    assert.equal(taken("1000"), [20]);
    assert.equal(taken("1001"), [20]);
    image.fill("1001", 21 * TRACK_SIZE + 5, 1, 4); // a partial target write brings the T0 track over first
    assert.equal(taken("1001"), [21]);
    assert.equal(taken("1000"), [], "reads and copies from the source leave it unmarked");
    image.withdraw("1000:1001");
    image.reinitVolume("1001"); // its allocated extent (tracks 16 to 31) now reads as zeros
    assert.equal(taken("1001"), [...Array(16).keys()].map((index) => 16 + index));
    image.establish("1000", "1001");
    image.copyTracks("1000:1001", 9, 3); // background copy writes the target
    assert.equal(taken("1001"), [9, 10, 11]);
  } finally {
    claim.release();
  }
});

Core("should let one save at a time hold the change bitmaps", () => {
  const claim = claimChanges(image);
  try {
    assert.throws(() => claimChanges(image), (error: unknown) => error instanceof EngineError && error.code === "BUSY");
  } finally {
    claim.release();
  }
  claimChanges(image).release();
  assert.is(image.core.exports.volume_take_changed(4095, 0, 1, image.core.stagingPointer), CoreCode.NO_VOLUME);
  assert.is(image.core.exports.volume_take_changed(image.volume("1000").slot, 0, 3, image.core.stagingPointer), CoreCode.RANGE, "past the bitmap's words");
});

Core.run();
