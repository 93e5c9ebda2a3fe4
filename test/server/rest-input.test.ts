// Bad input to the REST API: malformed JSON, wrong types, unknown fields,
// oversized bodies, IDs out of range, path tricks, refused operations and
// seeded random requests. Each is a 4xx that names the problem, changes
// nothing, and leaves the server serving; a multi-volume create or a
// multi-pair establish is all or nothing.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Random, testSeed } from "../support/random.js";
import { assertFailed, call, IMAGE, params, restFixture, type RestFixture } from "./rest-support.js";

let fixture: RestFixture;

async function state(): Promise<string> {
  return JSON.stringify([await fixture.site.listVolumes(IMAGE), await fixture.site.listFlash(IMAGE)]);
}

// Sends a raw body with the admin's token.
function raw(method: "POST" | "PUT", url: string, payload: string, contentType: string | null = "application/json") {
  const headers: Record<string, string> = { "x-auth-token": fixture.token, host: "array.example" };
  if (contentType !== null) headers["content-type"] = contentType;
  return fixture.app.inject({ method, url, headers, payload });
}

async function stillServing(): Promise<void> {
  assert.is((await call(fixture, "GET", "/api/v1/systems")).statusCode, 200);
}

const Input = suite("REST API bad input");
Input.before.each(async () => {
  fixture = await restFixture();
  await fixture.site.createVolumes(IMAGE, { ids: ["1000", "1001", "1002"], capacity: 1, unit: "ds" });
});
Input.after.each(async () => {
  await fixture.close();
});

Input("should parse a body sent without a Content-Type as JSON, as pyds8k resends some", async () => {
  const reply = await raw("POST", "/api/v1/volumes", JSON.stringify(params({ cap: "1", id: "1003" })), null);
  assert.is(reply.statusCode, 201, reply.body);
  assert.is(reply.json().data.volumes[0].id, "1003");
});

Input("should refuse malformed and empty JSON with BAD_JSON, changing nothing", async () => {
  const before = await state();
  assert.match(assertFailed(await raw("POST", "/api/v1/volumes", "{\"request\": {"), 400, "BAD_JSON"), /not JSON/);
  assert.match(assertFailed(await raw("POST", "/api/v1/volumes", ""), 400, "BAD_JSON"), /empty/);
  assertFailed(await raw("POST", "/api/v1/volumes", "[1, 2]"), 400, "BAD_REQUEST");
  assertFailed(await raw("POST", "/api/v1/volumes", "\"text\"", "text/plain"), 400, "BAD_REQUEST");
  assert.is(await state(), before);
  await stillServing();
});

Input("should name the field of a wrong type, a missing field and an unknown field", async () => {
  const before = await state();
  const cases: Array<[object, RegExp]> = [
    [params({ cap: true }), /body field request\.params\.cap: expected union value, not true/],
    [params({ name: "x" }), /body field request\.params\.cap: is required/],
    [params({ cap: "1", colour: "red" }), /body field request\.params\.colour: is not a field this request takes/],
    [{ request: { params: { cap: "1" } }, extra: 1 }, /body field extra: is not a field/],
    [{ params: { cap: "1" } }, /body field params: is not a field|request: is required/],
    [params({ cap: "1", ids: ["10000"] }), /request\.params\.ids\[0\]/],
    [params({ cap: "1", captype: "cyl" }), /request\.params\.captype/],
    [params({ cap: "1", name: "x".repeat(17) }), /request\.params\.name/],
    [params({ cap: "1", stgtype: "ckd" }), /request\.params\.stgtype/],
    [params({ cap: "1", tp: "thick" }), /request\.params\.tp/],
  ];
  for (const [body, pattern] of cases) assert.match(assertFailed(await call(fixture, "POST", "/api/v1/volumes", body), 400, "BAD_REQUEST"), pattern);
  const flashCases: Array<[object, RegExp]> = [
    [params({ volume_pairs: [] }), /request\.params\.volume_pairs/],
    [params({ volume_pairs: [{ source_volume: "1000" }] }), /request\.params\.volume_pairs\[0\]\.target_volume: is required/],
    [params({ volume_pairs: [{ source_volume: 1000, target_volume: "1001" }] }), /request\.params\.volume_pairs\[0\]\.source_volume/],
  ];
  for (const [body, pattern] of flashCases) assert.match(assertFailed(await call(fixture, "POST", "/api/v1/cs/flashcopies", body), 400, "BAD_REQUEST"), pattern);
  assert.is(await state(), before);
});

Input("should refuse values out of range by name: capacity, quantity, FlashCopy options", async () => {
  const before = await state();
  assert.match(assertFailed(await call(fixture, "POST", "/api/v1/volumes", params({ cap: "-1" })), 400, "BAD_CAPACITY"), /request\.params\.cap/);
  assert.match(assertFailed(await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1000", captype: "bytes" })), 400, "BAD_CAPACITY"), /512-byte blocks/);
  assertFailed(await call(fixture, "POST", "/api/v1/volumes", params({ cap: "99999999" })), 400, "BAD_CAPACITY");
  assert.match(assertFailed(await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1", quantity: "0" })), 400, "BAD_REQUEST"), /quantity/);
  assert.match(assertFailed(await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1", id: "10FF", quantity: 2 })), 400, "BAD_REQUEST"), /past the end of LSS 10/);
  assert.match(assertFailed(await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1", ids: ["2000"], namecol: ["a", "b"] })), 400, "BAD_REQUEST"), /namecol/);
  assert.match(assertFailed(await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1", tp: "tse" })), 400, "NOT_SUPPORTED"), /request\.params\.tp tse .*not supported: ese \(thin\) or none \(standard\)/);
  const pairs = [{ source_volume: "1000", target_volume: "1001" }];
  assert.match(assertFailed(await call(fixture, "POST", "/api/v1/cs/flashcopies", params({ volume_pairs: pairs, options: ["fast_reverse_restore"] })), 400, "NOT_SUPPORTED"), /options\[0\]/);
  assert.match(assertFailed(await call(fixture, "POST", "/api/v1/cs/flashcopies", params({ volume_pairs: pairs, options: ["bogus"] })), 400, "BAD_OPTION"), /options\[0\]: "bogus"/);
  assert.match(assertFailed(await call(fixture, "PUT", "/api/v1/volumes/1000", params({ pool: "P2" })), 400, "NOT_SUPPORTED"), /request\.params\.pool/);
  assertFailed(await call(fixture, "PUT", "/api/v1/volumes/1000", params({})), 400, "BAD_REQUEST");
  assert.match(assertFailed(await call(fixture, "PUT", "/api/v1/volumes/1000", params({ name: "tab\there" })), 400, "BAD_REQUEST"), /request\.params\.name/);
  assertFailed(await call(fixture, "PUT", "/api/v1/volumes/1000", params({ cap: "0.5" })), 400, "BAD_CAPACITY");
  assert.is(await state(), before);
});

Input("should refuse an oversized body with 413 BODY_TOO_LARGE", async () => {
  const before = await state();
  const reply = await raw("POST", "/api/v1/volumes", JSON.stringify(params({ cap: "1", name: "x".repeat(300 * 1024) })));
  assertFailed(reply, 413, "BODY_TOO_LARGE");
  assert.is(await state(), before);
  await stillServing();
});

Input("should refuse path tricks and malformed IDs in the path", async () => {
  const before = await state();
  for (const url of ["/api/v1/volumes/..%2F..%2Fetc", "/api/v1/volumes/10000", "/api/v1/volumes/ZZZZ", "/api/v1/pools/P100", "/api/v1/lss/1", "/api/v1/cs/flashcopies/1000-1001", "/api/v1/ioports/..%5c"]) {
    assertFailed(await call(fixture, "GET", url), 400, "BAD_ID");
  }
  for (const url of ["/api/v1/volumes/%2e%2e", "/api/v1/volumes/1000/../../x"]) {
    const reply = await call(fixture, "GET", url);
    assert.ok(reply.statusCode === 404 || reply.statusCode === 400, `${url}: ${reply.statusCode}`);
    assert.is(reply.json().server.status, "failed");
  }
  assertFailed(await call(fixture, "DELETE", "/api/v1/volumes/..%2F1000"), 400, "BAD_ID");
  for (const url of ["/api/v1/volumes/%E0%A4%A", "/api/v1/volumes/%zz"]) assert.match(assertFailed(await call(fixture, "GET", url), 400, "BAD_URL"), /not a valid url/);
  assert.is(await state(), before);
  await stillServing();
});

Input("should refuse a Host header that is not a host, since links are built from it", async () => {
  const reply = await fixture.app.inject({ method: "GET", url: "/api/v1/systems", headers: { "x-auth-token": fixture.token, host: "evil.example/\"><x" } });
  assertFailed(reply, 400, "BAD_HOST");
});

Input("should create several volumes all or nothing: one taken ID refuses them all", async () => {
  const before = await state();
  const reply = await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1", ids: ["2000", "2001", "1001", "2002"] }));
  assert.match(assertFailed(reply, 409, "VOLUME_EXISTS"), /1001/);
  assert.is(await state(), before);
  const repeated = await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1", ids: ["2000", "2000"] }));
  assertFailed(repeated, 409, "VOLUME_EXISTS");
  const named = await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1", ids: ["2000", "2001"], namecol: ["ok", "bad#h#h#h#h"] }));
  assertFailed(named, 400, "BAD_ARGUMENT");
  assert.is(await state(), before);
  const wrongPool = await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1", ids: ["2000", "2101"], pool: "P0" }));
  assert.is(wrongPool.statusCode, 400, wrongPool.body);
  assert.is(await state(), before);
  // A failed request can be sent again without harm, and a fixed one succeeds whole.
  assertFailed(await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1", ids: ["2000", "2001", "1001"] })), 409, "VOLUME_EXISTS");
  const fixed = await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1", ids: ["2000", "2001"] }));
  assert.is(fixed.statusCode, 201, fixed.body);
  assert.is((await fixture.site.listVolumes(IMAGE)).length, 5);
});

Input("should establish several pairs all or nothing, naming the refused pair", async () => {
  const before = await state();
  const reply = await call(fixture, "POST", "/api/v1/cs/flashcopies", params({
    volume_pairs: [{ source_volume: "1000", target_volume: "1001" }, { source_volume: "1002", target_volume: "1FFF" }],
  }));
  const message = assertFailed(reply, 404, "VOLUME_NOT_FOUND");
  assert.match(message, /1FFF/);
  assert.is(reply.json().server.status, "failed");
  assert.is(await state(), before);
  const self = await call(fixture, "POST", "/api/v1/cs/flashcopies", params({ volume_pairs: [{ source_volume: "1000", target_volume: "1000" }] }));
  assertFailed(self, 400, "SOURCE_EQUALS_TARGET");
  assert.is(await state(), before);
});

Input("should refuse removing a volume in a relationship, changing nothing", async () => {
  await fixture.site.establishFlash(IMAGE, { pairs: [["1000", "1001"]], options: { nocopy: true } });
  const before = await state();
  assertFailed(await call(fixture, "DELETE", "/api/v1/volumes/1000"), 409, "VOLUME_IN_RELATIONSHIP");
  assert.is(await state(), before);
});

// Random bodies and paths: never a 5xx, never a change, never a crash.
Input("should answer seeded random requests with a 4xx and change nothing", async () => {
  const seed = testSeed();
  const random = new Random(seed);
  const before = await state();
  const values = () => random.pick<unknown>([null, true, -1, 1.5, 2 ** 60, "", "1000", "x".repeat(random.int(0, 40)), [], {}, ["1000"], { "__proto__": { polluted: 1 } }, "\u0000", "../"]);
  const urls = ["/api/v1/volumes", "/api/v1/cs/flashcopies", "/api/v1/volumes/1000", "/api/v1/cs/flashcopies/unfreeze", "/api/v1/tokens"];
  for (let round = 0; round < 300; round++) {
    const url = random.pick(urls);
    const method = url === "/api/v1/volumes/1000" ? "PUT" : "POST";
    const fields = ["cap", "ids", "volume_pairs", "options", "lss_ids", "name", "quantity", "username", "password"];
    const inner: Record<string, unknown> = {};
    for (let field = random.int(0, 3); field > 0; field--) inner[random.pick(fields)] = values();
    // Each request has a defect: an unknown field, no request wrapper, not an object, or cut short.
    const shape = random.int(0, 3);
    if (shape === 0) inner[`bogus_${random.int(0, 9)}`] = values();
    const body = shape === 0 ? JSON.stringify(params(inner)) : shape === 1 ? JSON.stringify(inner) : shape === 2 ? JSON.stringify(values()) : JSON.stringify(params(inner)).slice(0, random.int(0, 20));
    const reply = await raw(method, url, body);
    assert.ok(reply.statusCode >= 400 && reply.statusCode < 500, `seed ${seed} round ${round}: ${method} ${url} ${body} → ${reply.statusCode} ${reply.body}`);
    assert.is(reply.json().server.status, "failed", `seed ${seed} round ${round}`);
  }
  assert.is(({} as Record<string, unknown>).polluted, undefined, `seed ${seed}: no prototype pollution`);
  assert.is(await state(), before, `seed ${seed}`);
  await stillServing();
});

Input.run();
