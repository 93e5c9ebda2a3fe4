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
  assert.is(exports.rel_restore_begin(0, source, target, RelFlag.BACKGROUND, 0n), CoreCode.OK);
  assert.is(exports.rel_restore_chunk(0, 0, 0, 2, image.core.stagingPointer), CoreCode.BAD_ARGUMENT);
  assert.is(exports.rel_restore_chunk(0, 0, 1, 1, image.core.stagingPointer), CoreCode.BAD_ARGUMENT, "no chunk 1");
  assert.is(exports.rel_restore_chunk(0, 1, 0, 1, image.core.stagingPointer), CoreCode.BAD_ARGUMENT, "no change record without -record");
  staging[5] = 0;
  staging[0] = 0x0f;
  assert.is(exports.rel_restore_chunk(0, 0, 0, 2, image.core.stagingPointer), CoreCode.OK);
  assert.is(exports.rel_restore_chunk(0, 0, 0, 1, image.core.stagingPointer), CoreCode.BAD_ARGUMENT, "a chunk is set once");
  assert.is(exports.rel_pending(0), CoreCode.BAD_ARGUMENT, "not active before it is linked");
  assert.is(exports.rel_restore_link(0), 4, "returns the pending count");
  assert.is(exports.rel_count_pending(0), 4);
  assert.is(exports.rel_restore_begin(1, source, target, 0, 0n), CoreCode.BUSY, "one source per target");
  assert.is(exports.rel_restore_begin(2, source, image.volume("1001").slot, 0x40, 0n), CoreCode.BAD_ARGUMENT, "unknown flag");
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

Core("should keep the change bitmap of a 16 TiB volume two-level: a few KiB until written, marks found near its end", () => {
  const TiB = 2 ** 40;
  const huge = new StorageImage({ model: "2107", workers: 0 });
  try {
    const before = huge.core.exports.heap_top();
    huge.createVolume({ id: "1000", capacity: (16 * TiB) / 512 });
    const cost = Number(huge.core.exports.heap_top() - before);
    assert.ok(cost < 128 * 1024, `a 16 TiB volume costs ${cost} bytes at creation, not a flat 32 MiB change bitmap`);
    const offsets = [0, 2 ** 32 - 10, 2 ** 34 - 1, 5 * TiB + 12345, 16 * TiB - TRACK_SIZE - 3];
    for (const offset of offsets) huge.fill("1000", offset, 20, 9);
    const expected = [...new Set(offsets.flatMap((offset) => [offset, offset + 19].map((at) => Math.floor(at / TRACK_SIZE))))].sort((a, b) => a - b);
    const claim = claimChanges(huge);
    try {
      assert.equal(claim.take(huge.volume("1000")), expected);
      assert.equal(claim.take(huge.volume("1000")), [], "taken once");
      huge.reinitVolume("1000"); // every written extent (16 tracks each) now reads as zeros
      const extents = [...new Set(expected.map((track) => Math.floor(track / 16)))];
      assert.equal(claim.take(huge.volume("1000")), extents.flatMap((extent) => [...Array(16).keys()].map((index) => extent * 16 + index)));
    } finally {
      claim.release();
    }
  } finally {
    huge.close();
  }
});

Core("should grow a thin volume across extent groups and bitmap chunks, keeping its data and its change marks", () => {
  const GiB = 2 ** 30;
  const TiB = 2 ** 40;
  const grown = new StorageImage({ model: "2107", workers: 0 });
  try {
    // 17 GiB + 5 blocks: a partial last extent group (4 GiB each) and a partial last bitmap chunk (16 GiB each).
    const before = 17 * GiB + 5 * 512;
    grown.createVolume({ id: "1000", capacity: before / 512 });
    const writes = [0, 4 * GiB + 100, 16 * GiB + 3, before - 700];
    writes.forEach((offset, index) => grown.fill("1000", offset, 500, index + 1));
    const claim = claimChanges(grown);
    try {
      claim.take(grown.volume("1000")); // only the changes from here on count below
      grown.fill("1000", before - 10, 10, 9); // marked, not yet taken, when the volume grows
      const slot = grown.volume("1000").slot;
      const after = 3 * TiB + 7 * 512;
      assert.is(grown.core.exports.volume_grow(slot, BigInt(after)), CoreCode.OK);
      assert.is(grown.core.exports.volume_grow(slot, BigInt(after)), CoreCode.RANGE, "the same size does not grow it");
      grown.growVolume("1000", after / 512 + 1, "blocks"); // the engine's view follows
      writes.forEach((offset, index) => assert.ok(grown.read("1000", offset, 500).every((byte) => byte === index + 1), `data at ${offset} kept`));
      assert.is(grown.read("1000", before - 1, 1)[0], 9);
      assert.ok(grown.read("1000", before, 4096).every((byte) => byte === 0), "the new tracks read as zeros");
      grown.fill("1000", 2 * TiB, 500, 7);
      assert.is(grown.read("1000", 2 * TiB + 499, 1)[0], 7);
      const expected = [Math.floor((before - 10) / TRACK_SIZE), 2 * TiB / TRACK_SIZE];
      assert.equal(claim.take(grown.volume("1000")), expected, "the mark made before growing and the write after it, none of the new tracks");
    } finally {
      claim.release();
    }
  } finally {
    grown.close();
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
