// Malformed frames on an open connection: each closes it with a cause that
// names what was wrong, tells the peer, and delivers nothing of it or after
// it. Random frames (seeded) never crash it and never reach a handler invalid.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { Packr } from "msgpackr";
import { WireError, type WireErrorCode } from "../../src/wire/errors.js";
import { options, recorder, closesWith, RawPeer, messages, concat, until, BULK_RAW_BYTES_MAX } from "./support.js";
import { testSeed } from "../support/random.js";

const seed = testSeed() % 2 ** 31;
console.log(`wire connection-frames seed: ${seed} (replay with TZERO_SEED=${seed})`);

const Frames = suite("wire malformed frames");

async function openPeer(overrides = {}): Promise<{ peer: RawPeer; seen: ReturnType<typeof recorder>; handled: unknown[] }> {
  const peer = new RawPeer(options("b", overrides));
  const seen = recorder(peer.connection);
  const handled: unknown[] = [];
  peer.connection.handle("track.write", (body) => { handled.push(body); return { sequence: body.sequence, bytes: body.data.byteLength }; });
  await peer.handshake();
  await peer.connection.opened;
  return { peer, seen, handled };
}

const good = { type: "note", body: { text: "fine", tags: ["a"] } };
const write = { volume: "1000", track: 1, sequence: 1n, data: new Uint8Array(8) };

const cases: [string, (peer: RawPeer) => Uint8Array, WireErrorCode, RegExp][] = [
  ["an unknown type", (peer) => peer.frame({ type: "format.disk", body: {} }), "UNKNOWN_TYPE", /unknown message type "format.disk"/],
  ["a wrong field type", (peer) => peer.frame({ type: "note", body: { text: 7, tags: [] } }), "BAD_MESSAGE", /message "note": \/body\/text: /],
  ["an extra field", (peer) => peer.frame({ type: "note", body: { text: "x", tags: [], admin: true } }), "BAD_MESSAGE", /\/body\/admin/],
  ["an oversized string", (peer) => peer.frame({ type: "note", body: { text: "x".repeat(17), tags: [] } }), "BAD_MESSAGE", /\/body\/text/],
  ["an oversized array", (peer) => peer.frame({ type: "note", body: { text: "x", tags: ["a", "b", "c", "d", "e"] } }), "BAD_MESSAGE", /\/body\/tags/],
  ["oversized bytes", (peer) => peer.frame({ type: "track.write", id: 1, body: { ...write, data: new Uint8Array(2 * 1024 * 1024 + 1) } }), "BAD_MESSAGE", /\/body\/data/],
  ["a number where a bigint belongs", (peer) => peer.frame({ type: "track.write", id: 1, body: { ...write, sequence: 1 } }), "BAD_MESSAGE", /\/body\/sequence/],
  ["an extra envelope key", (peer) => peer.frame({ ...good, sudo: 1 }), "BAD_MESSAGE", /frame envelope: \/sudo/],
  ["a request without an id", (peer) => peer.frame({ type: "track.write", body: write }), "PROTOCOL_VIOLATION", /without a request id/],
  ["a one-way type as a request", (peer) => peer.frame({ ...good, id: 1 }), "PROTOCOL_VIOLATION", /one-way type "note" as a request/],
  ["a reply to a request never sent", (peer) => peer.frame({ type: "track.ack", reply_to: 5, body: { sequence: 1n, bytes: 0 } }), "PROTOCOL_VIOLATION", /request 5, which was never sent/],
  ["bytes that are not msgpack", () => new Uint8Array([0, 0, 0, 2, 0x92, 0x01]), "BAD_FRAME", /not one msgpack value/],
  ["the never-used byte 0xc1", () => new Uint8Array([0, 0, 0, 1, 0xc1]), "BAD_MESSAGE", /frame envelope/],
  ["a length above the bound", () => new Uint8Array([0x7f, 0xff, 0xff, 0xff]), "FRAME_TOO_LARGE", /declares 2147483647 payload bytes/],
  ["an empty frame", () => new Uint8Array(4), "FRAME_TOO_LARGE", /declares 0 payload bytes/],
  // The raw layout (the prefix's top bit set): a u32 msgpack length, the msgpack value, raw bytes.
  ["raw bytes on a type that takes none", (peer) => peer.rawFrame(good, new Uint8Array(8)), "BAD_MESSAGE", /message "note" takes no raw bytes; the frame carries 8/],
  ["a raw type without its raw bytes", (peer) => peer.frame({ type: "track.bulk", body: bulk(8) }), "BAD_MESSAGE", /"track.bulk" must carry raw bytes/],
  ["raw bytes above the type's bound", (peer) => peer.rawFrame({ type: "track.bulk", body: bulk(8) }, new Uint8Array(BULK_RAW_BYTES_MAX + 1)), "BAD_MESSAGE", /carries 4097 raw bytes; it takes 1 to 4096/],
  ["an empty raw part", (peer) => peer.rawFrame({ type: "track.bulk", body: bulk(8) }, new Uint8Array(0)), "BAD_MESSAGE", /carries 0 raw bytes/],
  ["a raw frame too short for its msgpack length", () => new Uint8Array([0x80, 0, 0, 3, 0, 0, 1]), "FRAME_TOO_LARGE", /declares 3 payload bytes; the bound is 5 to/],
  ["a raw frame's length above the bound", () => new Uint8Array([0xff, 0xff, 0xff, 0xff]), "FRAME_TOO_LARGE", /declares 2147483647 payload bytes/],
  ["a msgpack length past the frame's end", (peer) => withMsgpackLength(peer.rawFrame({ type: "track.bulk", body: bulk(8) }, new Uint8Array(8)), 1000), "BAD_FRAME", /declares a msgpack value of 1000 bytes; it can hold 1 to/],
  ["a msgpack length of zero", (peer) => withMsgpackLength(peer.rawFrame({ type: "track.bulk", body: bulk(8) }, new Uint8Array(8)), 0), "BAD_FRAME", /declares a msgpack value of 0 bytes/],
  ["a msgpack length that cuts the value short", (peer) => withMsgpackLength(peer.rawFrame({ type: "track.bulk", body: bulk(8) }, new Uint8Array(8)), 5), "BAD_FRAME", /not one msgpack value/],
];

function bulk(bytes: number) {
  return { sequence: 1n, bytes };
}

// A copy of raw-layout `frame` whose u32 msgpack length says `length`.
function withMsgpackLength(frame: Uint8Array, length: number): Uint8Array {
  const copy = frame.slice();
  new DataView(copy.buffer).setUint32(4, length);
  return copy;
}

for (const [what, bad, code, message] of cases) {
  Frames(`should close with ${code} on ${what}, delivering nothing of it or after it`, async () => {
    const { peer, seen, handled } = await openPeer();
    peer.sendBytes(concat(peer.frame(good), bad(peer), peer.frame(good), peer.frame({ type: "track.write", id: 2, body: write })));
    const cause = await closesWith(peer.connection, code);
    assert.match(cause.message, message);
    assert.is(seen.length, 1, "only the good frame before the bad one was delivered");
    assert.equal(handled, []);
    await peer.untilEnded;
    const told = peer.received.find((frame) => frame.type === "wire.close");
    assert.is(told?.body.code, code, "the peer is told the cause");
  });
}

Frames("should deliver a raw frame's bytes as they were sent, beside its body, between plain frames", async () => {
  const { peer, seen } = await openPeer();
  const raw = new Uint8Array(3000).map((_, index) => index * 7);
  const stream = concat(peer.frame(good), peer.rawFrame({ type: "track.bulk", body: bulk(3000) }, raw), peer.frame(good));
  // Cut where the raw header, the msgpack value and the raw bytes meet, and inside each.
  const cuts = [0, 2, 6, 30, 40, 1000, stream.byteLength];
  for (let index = 1; index < cuts.length; index++) peer.sendBytes(stream.subarray(cuts[index - 1], cuts[index]));
  await until(() => seen.length === 3, "the three frames delivered");
  assert.equal(seen.map((message) => message.type), ["note", "track.bulk", "note"]);
  assert.equal(seen[1].body, bulk(3000));
  assert.equal(seen[1].raw, raw);
  assert.is(seen[0].raw, null);
  assert.ok(peer.connection.isOpen);
});

Frames("should deliver nothing of a raw frame the stream ends inside", async () => {
  // Inside the prefix, the msgpack length, the msgpack value, the raw bytes.
  for (const cut of [3, 7, 20, 3000]) {
    const { peer, seen } = await openPeer();
    const frame = peer.rawFrame({ type: "track.bulk", body: bulk(3000) }, new Uint8Array(3000));
    peer.sendBytes(frame.subarray(0, cut));
    peer.endStream();
    await closesWith(peer.connection, "CONNECTION_LOST");
    assert.equal(seen, [], `cut at ${cut}`);
  }
});

Frames("should honour a smaller configured frame bound", async () => {
  const { peer } = await openPeer({ frameBytesMax: 1024 });
  peer.sendFrame({ type: "track.write", id: 1, body: { ...write, data: new Uint8Array(2000) } });
  await closesWith(peer.connection, "FRAME_TOO_LARGE");
});

// Random envelopes and bodies: some valid by chance, most not, some as raw bytes.
function randomFrames(packr: Packr) {
  const text = fc.string({ maxLength: 20 });
  const body = fc.oneof(
    fc.record({ text, tags: fc.array(fc.string({ maxLength: 10 }), { maxLength: 6 }) }),
    fc.record({ sequence: fc.bigInt({ min: -1n, max: 2n ** 64n }), bytes: fc.integer({ min: -1, max: 70 }) }),
    fc.record({ volume: text, track: fc.oneof(fc.integer(), fc.bigInt()), sequence: fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.integer()), data: fc.uint8Array({ maxLength: 64 }) }, { requiredKeys: [] }),
    fc.anything({ maxDepth: 2 }),
  );
  const envelope = fc.record({
    type: fc.constantFrom("note", "track.write", "track.ack", "track.run", "track.bulk", "wire.ping", "wire.hello", "wire.close", "wire.error", "nope"),
    id: fc.integer({ min: -1, max: 3 }), reply_to: fc.integer({ min: 0, max: 3 }), body,
  }, { requiredKeys: ["type"] });
  const raw = fc.uint8Array({ minLength: 0, maxLength: 64 });
  const frame = fc.oneof(
    { weight: 4, arbitrary: envelope.map((value) => withHeader(packr.pack(value))) },
    { weight: 2, arbitrary: fc.tuple(envelope, raw, fc.integer({ min: -2, max: 2 })).map(([value, bytes, lie]) => withRawHeader(packr.pack(value), bytes, lie)) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }) },
  );
  return fc.array(frame, { minLength: 1, maxLength: 8 });
}

function withHeader(payload: Uint8Array): Uint8Array {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, payload.byteLength);
  return concat(header, payload);
}

// The raw layout, its msgpack length off by `lie` bytes (0: the truth).
function withRawHeader(payload: Uint8Array, raw: Uint8Array, lie: number): Uint8Array {
  const header = new Uint8Array(8);
  const fields = new DataView(header.buffer);
  fields.setUint32(0, (0x8000_0000 | (4 + payload.byteLength + raw.byteLength)) >>> 0);
  fields.setUint32(4, Math.max(0, payload.byteLength + lie));
  return concat(header, payload, raw);
}

const KNOWN_CODES = new Set(["FRAME_TOO_LARGE", "BAD_FRAME", "BAD_MESSAGE", "UNKNOWN_TYPE", "PROTOCOL_VIOLATION", "UNAUTHENTICATED", "PEER_CLOSED", "CONNECTION_LOST"]);

Frames(`should survive random frames: only valid messages reach the application (seed ${seed})`, async () => {
  const packr = new Packr({ useRecords: false, largeBigIntToFloat: true });
  try {
    await fc.assert(fc.asyncProperty(randomFrames(packr), async (frames) => {
      const { peer, seen, handled } = await openPeer();
      for (const frame of frames) peer.sendBytes(frame);
      // A partial frame may be left waiting for bytes: the end of the stream settles it.
      peer.endStream();
      const cause = await peer.connection.closed;
      assert.instance(cause, WireError);
      assert.ok(KNOWN_CODES.has(cause.code), `closed with ${cause.code}: ${cause.message}`);
      for (const message of seen) assert.is(messages.validate(message.type, message.body), null, "a delivered message is valid");
      for (const message of seen) assert.is(messages.validateRaw(message.type, message.raw === null ? null : message.raw.byteLength), null, "a delivered message has raw bytes exactly when its type takes them");
      for (const body of handled) assert.is(messages.validate("track.write", body), null, "a handled request is valid");
    }), { seed, numRuns: 300 });
  } catch (error) {
    console.error(`wire frame fuzz failed with seed ${seed} (rerun with TZERO_SEED=${seed})`);
    throw error;
  }
});

Frames.run();
