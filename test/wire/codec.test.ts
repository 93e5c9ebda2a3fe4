// Frames: round trips of every value kind messages use, a byte stream cut
// anywhere, zero-copy bin values, the size bound, and random bytes (seeded).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { FrameDecoder, FrameEncoder, FRAME_HEADER_BYTES, FRAME_PAYLOAD_BYTES_MAX_DEFAULT, copyRaw, type DecodedFrame } from "../../src/wire/codec.js";
import { WireError } from "../../src/wire/errors.js";
import { testSeed, Random } from "../support/random.js";
import { concat, throwsWith } from "./support.js";

const seed = testSeed() % 2 ** 31;
console.log(`wire codec seed: ${seed} (replay with TZERO_SEED=${seed})`);

function decodeAll(decoder: FrameDecoder, chunks: Uint8Array[]): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  for (const chunk of chunks) decoder.push(chunk, (frame) => { frames.push(frame); return true; });
  return frames;
}

const frameOf = (encoder: FrameEncoder, value: unknown) => concat(...encoder.encode(value));

// `stream` in chunks of lengths picked at random from `lengths`, each a copy.
function cutAnywhere(random: Random, stream: Uint8Array, lengths: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < stream.byteLength;) {
    const length = random.pick(lengths);
    chunks.push(stream.slice(offset, offset + length));
    offset += length;
  }
  return chunks;
}

// As decodeAll, each frame's raw pieces joined into one copy during delivery.
function decodeCopyingRaw(decoder: FrameDecoder, chunks: Uint8Array[]): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  for (const chunk of chunks) decoder.push(chunk, (frame) => { frames.push({ ...frame, raw: frame.raw === null ? null : [concat(...frame.raw)] }); return true; });
  return frames;
}

const Codec = suite("wire codec");

Codec("should round-trip strings, numbers, bigints, booleans, null, arrays, maps and bytes as they were", () => {
  const encoder = new FrameEncoder();
  const value = {
    text: "volume 1000 é ✓", small: 7, negative: -3, large: 2 ** 40, fraction: 0.25, sequence: 5n, huge: 2n ** 63n + 1n, minus: -(2n ** 40n),
    yes: true, nothing: null, list: [1, "two", [3]], nested: { bytes: new Uint8Array([1, 2, 3]) },
  };
  const [frame] = decodeAll(new FrameDecoder(), [frameOf(encoder, value)]);
  const decoded = frame.value as typeof value;
  assert.equal({ ...decoded, nested: null }, { ...value, nested: null });
  assert.is(typeof decoded.large, "number", "an integer above 32 bits stays a number");
  assert.is(typeof decoded.sequence, "bigint", "a bigint stays a bigint, however small");
  assert.instance(decoded.nested.bytes, Uint8Array);
  assert.equal([...decoded.nested.bytes], [1, 2, 3]);
});

Codec("should leave undefined properties out rather than send them", () => {
  const [frame] = decodeAll(new FrameDecoder(), [frameOf(new FrameEncoder(), { present: 1, absent: undefined })]);
  assert.equal(Object.keys(frame.value as object), ["present"]);
});

Codec("should refuse a bigint beyond 64 bits, and a value above the frame bound, when encoding", () => {
  throwsWith(() => new FrameEncoder().encode({ sequence: 2n ** 64n }), "BAD_ARGUMENT");
  throwsWith(() => new FrameEncoder(1000).encode({ data: new Uint8Array(1000) }), "FRAME_TOO_LARGE");
  throwsWith(() => new FrameEncoder(0), "BAD_ARGUMENT");
});

Codec(`should decode the same frames however the stream is cut (seed ${seed})`, () => {
  const random = new Random(seed);
  const encoder = new FrameEncoder();
  const values = Array.from({ length: 200 }, (_, index) => ({ index, data: random.bytes(random.int(0, 3000)), text: "x".repeat(random.int(0, 40)) }));
  const stream = concat(...values.map((value) => frameOf(encoder, value)));
  for (let round = 0; round < 20; round++) {
    const frames = decodeAll(new FrameDecoder(), cutAnywhere(random, stream, [1, 2, 3, 4, 5, 100, 4096, 20_000]));
    assert.is(frames.length, values.length, `round ${round}: every frame`);
    frames.forEach((frame, index) => assert.equal(frame.value, values[index], `round ${round}: frame ${index}`));
  }
});

Codec(`should decode raw-layout frames, their raw bytes apart from their value, however the stream is cut (seed ${seed})`, () => {
  const random = new Random(seed + 1);
  const encoder = new FrameEncoder();
  const frames = Array.from({ length: 100 }, (_, index) => {
    const raw = random.int(0, 2) === 0 ? null : Array.from({ length: random.int(1, 3) }, () => random.bytes(random.int(0, 5000)));
    return { value: { index, text: "x".repeat(random.int(0, 40)) }, raw };
  });
  const stream = concat(...frames.flatMap((frame) => encoder.encode(frame.value, frame.raw ?? undefined)));
  for (let round = 0; round < 10; round++) {
    const decoded = decodeCopyingRaw(new FrameDecoder(), cutAnywhere(random, stream, [1, 3, 5, 7, 9, 100, 4096, 20_000]));
    assert.is(decoded.length, frames.length, `round ${round}: every frame`);
    decoded.forEach((frame, index) => {
      assert.equal(frame.value, frames[index].value, `round ${round}: frame ${index}'s value`);
      const expected = frames[index].raw;
      assert.equal(frame.raw === null ? null : [...frame.raw[0]], expected === null ? null : [...concat(...expected)], `round ${round}: frame ${index}'s raw bytes`);
    });
  }
});

Codec("should deliver the raw bytes of a frame that spans chunks as views of those chunks, gathering only its head", () => {
  const encoder = new FrameEncoder();
  const decoder = new FrameDecoder();
  const heads: Uint8Array[] = [];
  for (const fill of [1, 2]) {
    const frame = concat(...encoder.encode({ fill }, [new Uint8Array(10_000).fill(fill)]));
    const chunks = [frame.slice(0, 5), frame.slice(5, 100), frame.slice(100, 4000), frame.slice(4000)];
    const delivered: Array<readonly Uint8Array[]> = [];
    for (const chunk of chunks) decoder.push(chunk, (decoded) => {
      delivered.push(decoded.raw!);
      heads.push(decoded.payload);
      return true;
    });
    assert.is(delivered.length, 1, `raw frame ${fill} delivered once`);
    const pieces = delivered[0];
    assert.equal(pieces.map((piece) => piece.buffer === chunks[1].buffer || piece.buffer === chunks[2].buffer || piece.buffer === chunks[3].buffer), pieces.map(() => true), "every piece is a view of a chunk");
    assert.ok(concat(...pieces).every((byte) => byte === fill) && concat(...pieces).byteLength === 10_000, `raw frame ${fill}'s bytes, all of them`);
  }
  assert.is(heads[0].buffer, heads[1].buffer, "the second raw frame's head reused the first one's buffer");
  const plain = decodeAll(decoder, [frameOf(encoder, { data: new Uint8Array(10_000) }).slice(0, 100), frameOf(encoder, { data: new Uint8Array(10_000) }).slice(100)]);
  assert.is.not(plain[0].payload.buffer, heads[0].buffer, "a plain frame gets a buffer of its own");
});

Codec(`should copy any range of raw pieces into a target, and refuse one past their end (seed ${seed})`, () => {
  const random = new Random(seed + 2);
  const bytes = random.bytes(300);
  const cuts = [0, ...Array.from({ length: 5 }, () => random.int(0, 300)).sort((a, b) => a - b), 300];
  const pieces = cuts.slice(1).map((cut, index) => bytes.subarray(cuts[index], cut));
  for (let round = 0; round < 50; round++) {
    const from = random.int(0, 299);
    const length = random.int(0, 300 - from);
    const target = new Uint8Array(length + 3);
    copyRaw(pieces, from, length, target, 3);
    assert.equal([...target.subarray(3)], [...bytes.subarray(from, from + length)], `round ${round}: ${length} bytes from ${from}`);
  }
  assert.match(throwsWith(() => copyRaw(pieces, 250, 51, new Uint8Array(51), 0), "BAD_ARGUMENT").message, /51 bytes from byte 250 run past the 300 raw bytes/);
});

Codec("should bound a raw-layout frame by its value and raw bytes together", () => {
  const encoder = new FrameEncoder(1000);
  const [header] = encoder.encode({ a: 1 }, [new Uint8Array(500), new Uint8Array(480)]);
  assert.is(new DataView(header.buffer).getUint32(0) >>> 0, (0x8000_0000 | (4 + 4 + 980)) >>> 0, "the flag and the length of everything after the prefix");
  throwsWith(() => encoder.encode({ a: 1 }, [new Uint8Array(500), new Uint8Array(495)]), "FRAME_TOO_LARGE");
  const decoder = new FrameDecoder(1000);
  const prefix = new Uint8Array([0x80, 0, 0x03, 0xe9]); // the raw layout, 1001 bytes
  assert.match(throwsWith(() => decodeAll(decoder, [prefix]), "FRAME_TOO_LARGE").message, /1001 payload bytes; the bound is 5 to 1000/);
});

Codec("should give bin values as views of the received bytes, valid after later chunks", () => {
  const encoder = new FrameEncoder();
  const data = new Uint8Array(64 * 1024).map((_, index) => index % 251);
  const whole = frameOf(encoder, { data });
  const decoder = new FrameDecoder();
  const [inPlace] = decodeAll(decoder, [whole]);
  const inPlaceData = (inPlace.value as { data: Uint8Array }).data;
  assert.is(inPlaceData.buffer, whole.buffer, "a frame wholly in one chunk is decoded in place");
  const split = frameOf(encoder, { data });
  const [gathered] = decodeAll(decoder, [split.slice(0, 1000), split.slice(1000)]);
  const gatheredData = (gathered.value as { data: Uint8Array }).data;
  assert.is(gatheredData.buffer, gathered.payload.buffer, "a frame across chunks is a view of its one gathered buffer");
  decodeAll(decoder, [frameOf(encoder, { data: new Uint8Array(64 * 1024) }), frameOf(encoder, { data: new Uint8Array(64 * 1024).fill(9) }).subarray(0, 5000)]);
  assert.equal(inPlaceData, data, "the in-place view is intact");
  assert.equal(gatheredData, data, "the gathered view is intact");
});

Codec("should refuse a length above the bound as soon as the header is in, and an empty frame", () => {
  const decoder = new FrameDecoder(1000);
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, 1001);
  const error = throwsWith(() => decodeAll(decoder, [header]), "FRAME_TOO_LARGE");
  assert.match(error.message, /1001 payload bytes; the bound is 1 to 1000/);
  throwsWith(() => decodeAll(decoder, [new Uint8Array([0x90])]), "FRAME_TOO_LARGE"); // a failed decoder stays failed
  throwsWith(() => decodeAll(new FrameDecoder(), [new Uint8Array(4)]), "FRAME_TOO_LARGE");
  assert.ok(FRAME_PAYLOAD_BYTES_MAX_DEFAULT >= 16 * 1024 * 1024 + 4096, "the default holds a 16 MiB track run and its fields");
});

Codec("should refuse a payload that is not exactly one msgpack value", () => {
  const cases = [
    [0x81, 0x01], // a map of one entry with its key and no value
    [0x92, 0x01], // an array of two with one element
    [0x01, 0x02], // two values
    [0xd9, 0x05, 0x61], // a str8 of 5 bytes with 1 present
  ];
  for (const payload of cases) {
    const header = new Uint8Array(FRAME_HEADER_BYTES);
    new DataView(header.buffer).setUint32(0, payload.length);
    const error = throwsWith(() => decodeAll(new FrameDecoder(), [concat(header, new Uint8Array(payload))]), "BAD_FRAME");
    assert.match(error.message, /frame 0 \(\d+ bytes\) is not one msgpack value/);
  }
});

Codec("should deliver the frames before a bad one and nothing after it", () => {
  const encoder = new FrameEncoder();
  const bad = new Uint8Array([0, 0, 0, 2, 0x92, 0x01]); // an array of two holding one
  const decoder = new FrameDecoder();
  const frames: DecodedFrame[] = [];
  const error = throwsWith(() => decoder.push(concat(frameOf(encoder, 1), bad, frameOf(encoder, 2)), (frame) => { frames.push(frame); return true; }), "BAD_FRAME");
  assert.equal(frames.map((frame) => frame.value), [1]);
  assert.is(decoder.failed, error);
});

Codec(`should decode random bytes into frames or one WireError, never anything else (seed ${seed})`, () => {
  const encoder = new FrameEncoder();
  const valid = fc.array(fc.oneof(fc.string(), fc.integer(), fc.uint8Array({ maxLength: 64 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.integer())), { maxLength: 4 })
    .map((values) => concat(...values.map((value) => frameOf(encoder, value))));
  const stream = fc.tuple(valid, fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 50 }), fc.boolean()).map(([prefix, noise, cut, truncate]) => {
    const bytes = concat(prefix, noise);
    return { bytes: truncate ? bytes.subarray(0, Math.max(0, bytes.byteLength - cut)) : bytes, cut, prefixFrames: prefix };
  });
  try {
    fc.assert(fc.property(stream, ({ bytes, cut }) => {
      const decoder = new FrameDecoder(100_000);
      const chunks = [];
      for (let offset = 0; offset < bytes.byteLength; offset += cut) chunks.push(bytes.subarray(offset, offset + cut));
      try {
        decodeAll(decoder, chunks);
      } catch (error) {
        assert.instance(error, WireError);
        assert.ok(["FRAME_TOO_LARGE", "BAD_FRAME"].includes((error as WireError).code), (error as WireError).code);
        assert.is(decoder.failed, error);
      }
    }), { seed, numRuns: 3000 });
  } catch (error) {
    console.error(`wire codec fuzz failed with seed ${seed} (rerun with TZERO_SEED=${seed})`);
    throw error;
  }
});

Codec.run();
