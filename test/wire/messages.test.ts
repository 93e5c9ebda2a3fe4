// The message registry: schemas must bound every value a peer could send, and
// validation names the field at fault.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Type } from "@sinclair/typebox";
import { defineMessages, checkEnvelope } from "../../src/wire/messages.js";
import { messages, throwsWith } from "./support.js";

const Registry = suite("wire message registry");
const closed = { additionalProperties: false } as const;

Registry("should refuse schemas that leave a string, an array, bytes or an object unbounded", () => {
  const cases: [string, ReturnType<typeof Type.Object>, RegExp][] = [
    ["string", Type.Object({ name: Type.String() }, closed), /unbounded\/name: a string without maxLength/],
    ["array", Type.Object({ list: Type.Array(Type.Integer()) }, closed), /a\/list: an array without maxItems/],
    ["array items", Type.Object({ list: Type.Array(Type.String(), { maxItems: 3 }) }, closed), /a\/list\/items: a string without maxLength/],
    ["bytes", Type.Object({ data: Type.Uint8Array() }, closed), /a\/data: a Uint8Array without maxByteLength/],
    ["open object", Type.Object({ n: Type.Integer() }), /a: an object without additionalProperties: false/],
    ["unknown", Type.Object({ anything: Type.Unknown() }, closed), /a\/anything: a Unknown/],
    ["record", Type.Object({ map: Type.Record(Type.String({ maxLength: 3 }), Type.Integer()) }, closed), /a\/map: a Record/],
  ];
  for (const [what, body, message] of cases) {
    const name = what === "string" ? "unbounded" : "a";
    const error = throwsWith(() => defineMessages({ [name]: { body } }), "BAD_ARGUMENT");
    assert.match(error.message, message, what);
  }
});

Registry("should take raw bytes only on one-way types that declare a whole bound for them", () => {
  const body = Type.Object({}, closed);
  assert.match(throwsWith(() => defineMessages({ ask: { body, reply: "answer", rawBytesMax: 10 }, answer: { body } }), "BAD_ARGUMENT").message, /"ask": only a one-way type may take raw bytes/);
  assert.match(throwsWith(() => defineMessages({ bulk: { body, rawBytesMax: 0 } }), "BAD_ARGUMENT").message, /rawBytesMax 0 is not a whole number/);
  assert.is(messages.validateRaw("track.bulk", 4096), null);
  assert.is(messages.validateRaw("note", null), null);
  assert.match(messages.validateRaw("track.bulk", 4097)!.message, /carries 4097 raw bytes; it takes 1 to 4096/);
  assert.match(messages.validateRaw("note", 1)!.message, /takes no raw bytes/);
  assert.is(messages.validateRaw("track.bulk", null)!.code, "BAD_MESSAGE");
});

Registry("should refuse the protocol's prefix, over-long names and replies to types it does not hold", () => {
  const body = Type.Object({}, closed);
  assert.match(throwsWith(() => defineMessages({ "wire.mine": { body } }), "BAD_ARGUMENT").message, /prefix "wire\." is the protocol's own/);
  throwsWith(() => defineMessages({ ["x".repeat(65)]: { body } }), "BAD_ARGUMENT");
  assert.match(throwsWith(() => defineMessages({ ask: { body, reply: "answer" } }), "BAD_ARGUMENT").message, /answered by "answer", which is not in the registry/);
});

Registry("should name the field of a wrong type, an extra field, an oversized string and an oversized array", () => {
  const good = { text: "hello", tags: ["a", "b"] };
  assert.is(messages.validate("note", good), null);
  const cases: [unknown, string][] = [
    [{ ...good, text: 5 }, "/body/text"],
    [{ ...good, extra: 1 }, "/body/extra"],
    [{ ...good, text: "x".repeat(17) }, "/body/text"],
    [{ ...good, tags: ["a", "b", "c", "d", "e"] }, "/body/tags"],
    [{ ...good, tags: ["123456789"] }, "/body/tags/0"],
    [{ tags: [] }, "/body/text"],
  ];
  for (const [body, field] of cases) {
    const error = messages.validate("note", body);
    assert.ok(error, `${JSON.stringify(body)} is refused`);
    assert.is(error!.code, "BAD_MESSAGE");
    assert.is(error!.field, field);
    assert.ok(error!.message.startsWith(`message "note": ${field}: `), error!.message);
  }
  assert.is(messages.validate("nosuch", {})!.code, "UNKNOWN_TYPE");
});

Registry("should take bigints only where the schema says BigInt, and numbers only where it says Integer", () => {
  const body = { volume: "1000", track: 3, sequence: 7n, data: new Uint8Array(4) };
  assert.is(messages.validate("track.write", body), null);
  assert.is(messages.validate("track.write", { ...body, sequence: 7 })!.field, "/body/sequence");
  assert.is(messages.validate("track.write", { ...body, track: 3n })!.field, "/body/track");
  assert.is(messages.validate("track.write", { ...body, data: [1, 2, 3, 4] })!.field, "/body/data");
  assert.is(messages.validate("track.write", { ...body, data: new Uint8Array(2 * 1024 * 1024 + 1) })!.field, "/body/data");
});

Registry("should refuse envelopes with extra keys, both ids, a bad id or no type", () => {
  assert.is(checkEnvelope({ type: "note", body: {} }), null);
  assert.is(checkEnvelope({ type: "note", id: 1, body: {} }), null);
  for (const envelope of [
    { type: "note", body: {}, extra: 1 }, { type: "note", id: 1, reply_to: 2, body: {} }, { type: "note", id: 0, body: {} },
    { type: "note", id: 1.5, body: {} }, { body: {} }, { type: "", body: {} }, [1, 2], "note", null, 5,
  ]) {
    const error = checkEnvelope(envelope);
    assert.ok(error, `${JSON.stringify(envelope)} is refused`);
    assert.is(error!.code, "BAD_MESSAGE");
  }
});

Registry.run();
