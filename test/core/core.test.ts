// The WebAssembly core on its own: hash, patterns, bitmap scans, the allocator.
import { test, suite } from "uvu";
import * as assert from "uvu/assert";
import { CoreThread, createImageMemory, coreModule } from "../../src/core/core.js";
import { CoreCode, TRACK_SIZE } from "../../src/core/codes.js";
import { xxhash64 } from "../../src/model/xxhash.js";
import { ZERO_EXTENT_DIGEST, ZERO_GROUP_DIGEST } from "../../src/model/checksum.js";
import { patternWord } from "../../src/model/pattern.js";
import { Random, testSeed } from "../support/random.js";

const seed = testSeed();
console.log(`core tests seed ${seed} (TZERO_SEED=${seed} replays)`);

for (const build of ["release", "debug"] as const) {
  const core = new CoreThread(createImageMemory(), 0, coreModule(build), true);
  const hash = (bytes: Uint8Array) => {
    core.staging().set(bytes);
    return BigInt.asUintN(64, core.exports.hash_memory(core.stagingPointer, bytes.length));
  };
  const Hash = suite(`xxHash64 (${build})`);

  Hash("should match the published xxHash64 test vectors", () => {
    const text = (value: string) => new TextEncoder().encode(value);
    assert.is(hash(text("")), 0xef46db3751d8e999n);
    assert.is(hash(text("a")), 0xd24ec4f1a98c6e5bn);
    assert.is(hash(text("abc")), 0x44bc2cf5ad770999n);
  });

  Hash("should equal the TypeScript reference on random lengths", () => {
    const random = new Random(seed);
    for (let round = 0; round < 200; round++) {
      const bytes = random.bytes(random.int(0, 300));
      assert.is(hash(bytes), xxhash64(bytes), `length ${bytes.length}, seed ${seed}`);
    }
  });

  Hash("should hash a volume range the same however the range straddles tracks", () => {
    const slot = 7;
    assert.is(core.exports.volume_create(slot, BigInt(3 * TRACK_SIZE)), CoreCode.OK);
    const random = new Random(seed ^ 1);
    const bytes = random.bytes(3 * TRACK_SIZE);
    core.staging().set(bytes.subarray(0, 1 << 20));
    assert.is(core.exports.io_write(slot, 0, bytes.length, core.stagingPointer), CoreCode.OK);
    for (let round = 0; round < 20; round++) {
      const offset = random.int(0, bytes.length - 1);
      const length = random.int(0, bytes.length - offset);
      assert.is(core.exports.checksum(slot, offset, length), CoreCode.OK);
      const got = BigInt.asUintN(64, core.exports.checksum_result());
      assert.is(got, xxhash64(bytes.subarray(offset, offset + length)), `offset ${offset} length ${length}`);
    }
    assert.is(core.exports.volume_destroy(slot), CoreCode.OK);
  });
  Hash.run();

  const Pattern = suite(`patterns (${build})`);
  Pattern("should produce splitmix64 words keyed by seed and offset", () => {
    for (const [patternSeed, word] of [[0, 0], [7, 1], [42, 123456], [0xffffffff, 99]]) {
      assert.is(BigInt.asUintN(64, core.exports.pattern_value(patternSeed, word)), patternWord(patternSeed, word));
    }
  });
  Pattern("should write the same bytes at an offset whatever the request's alignment", () => {
    const slot = 8;
    assert.is(core.exports.volume_create(slot, BigInt(TRACK_SIZE)), CoreCode.OK);
    assert.is(core.exports.io_write_pattern(slot, 0, TRACK_SIZE, 5), CoreCode.OK);
    assert.is(core.exports.io_read(slot, 0, TRACK_SIZE, core.stagingPointer), CoreCode.OK);
    const whole = core.staging(TRACK_SIZE).slice();
    assert.is(core.exports.io_fill(slot, 0, TRACK_SIZE, 0), CoreCode.OK);
    assert.is(core.exports.io_write_pattern(slot, 3, 1000, 5), CoreCode.OK);
    assert.is(core.exports.io_write_pattern(slot, 1003, TRACK_SIZE - 1003, 5), CoreCode.OK);
    assert.is(core.exports.io_write_pattern(slot, 0, 3, 5), CoreCode.OK);
    assert.is(core.exports.io_read(slot, 0, TRACK_SIZE, core.stagingPointer), CoreCode.OK);
    assert.equal(core.staging(TRACK_SIZE).slice(), whole);
    assert.is(core.exports.volume_destroy(slot), CoreCode.OK);
  });
  Pattern.run();

  const Scan = suite(`bitmap scan (${build})`);
  Scan("should find and count pending tracks like a bit-by-bit scan", () => {
    const random = new Random(seed ^ 2);
    const wordCount = 64; // even, as the core requires
    const pointer = core.stagingPointer;
    for (let round = 0; round < 50; round++) {
      const bits = new Uint8Array(wordCount * 64);
      const density = random.pick([0, 1, 5, 50]);
      for (let index = 0; index < bits.length; index++) bits[index] = random.int(0, 999) < density ? 1 : 0;
      const bytes = core.staging(wordCount * 8);
      bytes.fill(0);
      bits.forEach((bit, index) => { if (bit) bytes[index >> 3] |= 1 << (index & 7); });
      assert.is(core.exports.scan_count(pointer, wordCount), bits.reduce((a, b) => a + b, 0));
      for (let probe = 0; probe < 20; probe++) {
        const from = random.int(0, bits.length - 1);
        const expected = bits.indexOf(1, from);
        assert.is(core.exports.scan_find(pointer, wordCount, from), expected, `from ${from}, seed ${seed}`);
      }
    }
  });
  Scan.run();

  const Volumes = suite(`volumes (${build})`);
  Volumes("should read unwritten data as zeros and allocate only written extents", () => {
    const slot = 9;
    assert.is(core.exports.volume_create(slot, BigInt(64 << 20)), CoreCode.OK);
    assert.is(core.exports.volume_allocated_bytes(slot), 0n);
    assert.is(core.exports.io_fill(slot, (5 << 20) + 17, 10, 0xab), CoreCode.OK);
    assert.is(core.exports.volume_allocated_bytes(slot), BigInt(1 << 20));
    assert.is(core.exports.io_read(slot, 5 << 20, 64, core.stagingPointer), CoreCode.OK);
    const read = core.staging(64);
    assert.is(read[16], 0);
    assert.is(read[17], 0xab);
    assert.is(read[26], 0xab);
    assert.is(read[27], 0);
    assert.is(core.exports.volume_destroy(slot), CoreCode.OK);
  });
  Volumes("should refuse ranges past the end and unknown slots", () => {
    const slot = 10;
    assert.is(core.exports.volume_create(slot, 1000n), CoreCode.OK);
    assert.is(core.exports.io_read(slot, 990, 11, core.stagingPointer), CoreCode.RANGE);
    assert.is(core.exports.io_write(slot, 1000, 1, core.stagingPointer), CoreCode.RANGE);
    assert.is(core.exports.io_read(slot, 0xffffffff, 2, core.stagingPointer), CoreCode.RANGE);
    assert.is(core.exports.io_read(11, 0, 1, core.stagingPointer), CoreCode.NO_VOLUME);
    assert.is(core.exports.volume_create(slot, 10n), CoreCode.BAD_ARGUMENT);
    assert.is(core.exports.volume_destroy(slot), CoreCode.OK);
    assert.is(core.exports.volume_destroy(slot), CoreCode.NO_VOLUME);
  });
  Volumes("should reuse the memory of removed volumes", () => {
    const slot = 12;
    assert.is(core.exports.volume_create(slot, BigInt(8 << 20)), CoreCode.OK);
    assert.is(core.exports.io_fill(slot, 0, 8 << 20, 1), CoreCode.OK);
    assert.is(core.exports.volume_destroy(slot), CoreCode.OK);
    const top = core.exports.heap_top();
    assert.is(core.exports.volume_create(slot, BigInt(8 << 20)), CoreCode.OK);
    assert.is(core.exports.io_fill(slot, 0, 8 << 20, 2), CoreCode.OK);
    assert.is(core.exports.heap_top(), top);
    assert.is(core.exports.checksum(slot, 0, 8 << 20), CoreCode.OK);
    assert.is(core.exports.volume_destroy(slot), CoreCode.OK);
  });
  Volumes.run();

  const Huge = suite(`64-bit volumes (${build})`);
  const TiB = 2 ** 40;
  Huge("should create, write and read a 16 TiB volume, across its 4 GiB boundaries and at its last byte", () => {
    const slot = 20;
    const top = core.exports.heap_top();
    assert.is(core.exports.volume_create(slot, BigInt(16 * TiB)), CoreCode.OK);
    assert.ok(core.exports.heap_top() - top <= 64n * 1024n, "an untouched 16 TiB volume costs its directory and lock stripes only");
    for (const offset of [2 ** 32 - 3, 2 ** 33 + 5, 16 * TiB - 8]) {
      core.staging(8).set([1, 2, 3, 4, 5, 6, 7, 8]);
      assert.is(core.exports.io_write(slot, offset, 8, core.stagingPointer), CoreCode.OK, `write at ${offset}`);
      core.staging(8).fill(0);
      assert.is(core.exports.io_read(slot, offset, 8, core.stagingPointer), CoreCode.OK);
      assert.equal([...core.staging(8)], [1, 2, 3, 4, 5, 6, 7, 8], `read back at ${offset}`);
    }
    assert.is(core.exports.volume_allocated_bytes(slot), BigInt(4 << 20), "four extents: the first write spans two");
    assert.is(core.exports.io_read(slot, 16 * TiB - 7, 8, core.stagingPointer), CoreCode.RANGE);
    assert.is(core.exports.volume_destroy(slot), CoreCode.OK);
    assert.is(core.exports.volume_create(slot, BigInt(16 * TiB + 512)), CoreCode.BAD_ARGUMENT, "beyond 16 TiB");
  });
  Huge("should refuse offsets that are not whole numbers from 0 to 2^53", () => {
    const slot = 21;
    assert.is(core.exports.volume_create(slot, BigInt(TiB)), CoreCode.OK);
    for (const offset of [-1, 0.5, Number.NaN, Infinity, 2 ** 53, 2 ** 60]) {
      assert.is(core.exports.io_read(slot, offset, 1, core.stagingPointer), CoreCode.RANGE, `read at ${offset}`);
      assert.is(core.exports.io_fill(slot, offset, 1, 1), CoreCode.RANGE, `fill at ${offset}`);
      assert.is(core.exports.checksum(slot, 0, offset), CoreCode.RANGE, `checksum of ${offset} bytes`);
    }
    assert.is(core.exports.volume_allocated_bytes(slot), 0n, "nothing was written");
    assert.is(core.exports.volume_destroy(slot), CoreCode.OK);
  });
  Huge("should checksum an untouched 16 TiB volume as the two-level digest of zeros, without reading it", () => {
    const slot = 22;
    assert.is(core.exports.volume_create(slot, BigInt(16 * TiB)), CoreCode.OK);
    assert.is(core.exports.checksum(slot, 0, 16 * TiB), CoreCode.OK);
    const groups = new Uint8Array(4096 * 8);
    const view = new DataView(groups.buffer);
    for (let index = 0; index < 4096; index++) view.setBigUint64(index * 8, ZERO_GROUP_DIGEST, true);
    assert.is(BigInt.asUintN(64, core.exports.checksum_result()), hash(groups));
    assert.is(core.exports.volume_destroy(slot), CoreCode.OK);
  });
  Huge("should zero a 16 TiB volume in no relationship without allocating its unwritten extents", () => {
    const slot = 23;
    assert.is(core.exports.volume_create(slot, BigInt(16 * TiB)), CoreCode.OK);
    assert.is(core.exports.io_fill(slot, 16 * TiB - 100, 100, 0xee), CoreCode.OK);
    assert.is(core.exports.io_fill(slot, 0, 16 * TiB, 0), CoreCode.OK);
    assert.is(core.exports.volume_allocated_bytes(slot), BigInt(1 << 20), "only the extent written before");
    assert.is(core.exports.io_read(slot, 16 * TiB - 100, 100, core.stagingPointer), CoreCode.OK);
    assert.ok(core.staging(100).every((byte) => byte === 0), "the written bytes are zeros now");
    assert.is(core.exports.volume_destroy(slot), CoreCode.OK);
  });
  Huge.run();
}

test("the zero digests of the two-level checksum should be xxHash64 of 1 MiB of zeros and of 4096 of those", () => {
  assert.is(xxhash64(new Uint8Array(1 << 20)), ZERO_EXTENT_DIGEST);
  const extents = new Uint8Array(4096 * 8);
  const view = new DataView(extents.buffer);
  for (let index = 0; index < 4096; index++) view.setBigUint64(index * 8, ZERO_EXTENT_DIGEST, true);
  assert.is(xxhash64(extents), ZERO_GROUP_DIGEST);
});

test("the core module should instantiate on a second thread id over the same memory", () => {
  const memory = createImageMemory();
  const main = new CoreThread(memory, 0, coreModule(), true);
  const other = new CoreThread(memory, 5, coreModule());
  assert.is.not(main.stagingPointer, other.stagingPointer);
  assert.is(main.exports.volume_create(1, BigInt(TRACK_SIZE)), CoreCode.OK);
  assert.is(main.exports.io_fill(1, 0, 100, 0x5a), CoreCode.OK);
  assert.is(other.exports.io_read(1, 0, 100, other.stagingPointer), CoreCode.OK);
  assert.ok(other.staging(100).every((byte) => byte === 0x5a));
});
test.run();
