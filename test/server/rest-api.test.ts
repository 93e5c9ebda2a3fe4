// The DS8000 REST API's routes over an EmbeddedSite, through fastify's
// inject: every route's reply shape (against fields written from IBM's
// pyds8k, test/server/fixtures/ds8000-shapes.ts), absolute links, and what
// each route does to the site.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { COUNTS_FIELDS, ENVELOPE_SERVER_FIELDS, KIND_FIELDS, TOKEN_FIELDS } from "./fixtures/ds8000-shapes.js";
import { assertFailed, call, dataOf, IMAGE, params, restFixture, type RestFixture } from "./rest-support.js";

const BASE = "http://array.example:8452/api/v1";
let fixture: RestFixture;

function assertShape(kind: string, item: Record<string, any>): void {
  const fields = KIND_FIELDS[kind];
  assert.type(item.link?.href, "string", `${kind} item has a link`);
  const segments = new URL(item.link.href).pathname.split("/");
  assert.is(segments[segments.length - 2], kind === "flashcopy" ? "flashcopies" : kind, `${item.link.href}: second-to-last segment is the kind`);
  assert.ok(item.link.href.startsWith(`${BASE}/`), `${item.link.href} is absolute, from the Host`);
  for (const [field, type] of Object.entries(fields)) {
    const value = item[field];
    if (type === "string") assert.type(value, "string", `${kind}.${field}`);
    else if (type === "ref") assert.ok(value === "" || (typeof value.id === "string" && value.link.href.startsWith(BASE)), `${kind}.${field} is {id, link}`);
    else if (type === "link") assert.ok(value.link.href.startsWith(BASE), `${kind}.${field} is {link}`);
    else assert.ok(field in item, `${kind}.${field}`);
  }
}

function assertList(reply: { json(): any }, kind: string, count: number): Array<Record<string, any>> {
  const body = reply.json();
  assert.equal(Object.keys(body.server).sort(), [...ENVELOPE_SERVER_FIELDS].sort());
  for (const field of COUNTS_FIELDS) assert.is(body.counts[field], count, `counts.${field}`);
  const items = dataOf(reply as never, kind);
  assert.is(items.length, count);
  for (const item of items) assertShape(kind, item);
  return items;
}

async function volumes(count: number, extra: object = {}): Promise<void> {
  const reply = await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1", captype: "gib", pool: "P0", quantity: String(count), ...extra }));
  assert.is(reply.statusCode, 201, reply.body);
}

const Routes = suite("REST API routes");
Routes.before.each(async () => {
  fixture = await restFixture();
});
Routes.after.each(async () => {
  await fixture.close();
});

Routes("should log in with a top-level token object and no data", async () => {
  const reply = await fixture.app.inject({ method: "POST", url: "/api/v1/tokens", payload: params({ username: "admin", password: fixture.adminPassword, hmc1: "" }) });
  const body = reply.json();
  assert.is(reply.statusCode, 200);
  assert.is(body.server.status, "ok");
  assert.is(body.data, undefined);
  for (const field of TOKEN_FIELDS) assert.type(body.token[field], "string", `token.${field}`);
  assert.is(body.token.max_idle_interval, String(10 * 60_000));
  assert.is(new Date(body.token.expired_time).getTime(), fixture.clock.now + 60 * 60_000);
});

Routes("should describe the image as the one system, with a DS8000-style bundle", async () => {
  const [system] = assertList(await call(fixture, "GET", "/api/v1/systems"), "systems", 1);
  assert.is(system.id, IMAGE.replace("IBM.", ""));
  assert.match(system.bundle, /^\d+\.\d+\.\d+\.\d+$/);
  assert.is(system.sn, "75REST1");
  assertList(await call(fixture, "GET", `/api/v1/systems/${system.id}`), "systems", 1);
  assertFailed(await call(fixture, "GET", "/api/v1/systems/2107-75OTHER"), 404, "SYSTEM_NOT_FOUND");
});

Routes("should list pools, one pool and a pool's volumes", async () => {
  const pools = assertList(await call(fixture, "GET", "/api/v1/pools"), "pools", 2);
  assert.equal(pools.map((pool) => [pool.id, pool.node]), [["P0", "0"], ["P1", "1"]]);
  await volumes(2);
  const [p0] = assertList(await call(fixture, "GET", "/api/v1/pools/p0"), "pools", 1);
  assert.is(p0.id, "P0");
  assertList(await call(fixture, "GET", "/api/v1/pools/P0/volumes"), "volumes", 2);
  assertList(await call(fixture, "GET", "/api/v1/pools/P1/volumes"), "volumes", 0);
  assertFailed(await call(fixture, "GET", "/api/v1/pools/P9"), 404, "POOL_NOT_FOUND");
});

Routes("should list LSSs made by volumes, one LSS and its volumes", async () => {
  assertList(await call(fixture, "GET", "/api/v1/lss"), "lss", 0);
  await volumes(1, { lss: "10" });
  await volumes(2, { lss: "12" });
  const lsses = assertList(await call(fixture, "GET", "/api/v1/lss"), "lss", 2);
  assert.equal(lsses.map((lss) => [lss.id, lss.configvols, lss.type]), [["10", "1", "fb"], ["12", "2", "fb"]]);
  assertList(await call(fixture, "GET", "/api/v1/lss?type=ckd"), "lss", 0);
  assertList(await call(fixture, "GET", "/api/v1/lss/12"), "lss", 1);
  const inLss = assertList(await call(fixture, "GET", "/api/v1/lss/12/volumes"), "volumes", 2);
  assert.equal(inLss.map((volume) => volume.id), ["1200", "1201"]);
  assertFailed(await call(fixture, "GET", "/api/v1/lss/20"), 404, "LSS_NOT_FOUND");
});

Routes("should list the I/O ports and one port", async () => {
  const ports = assertList(await call(fixture, "GET", "/api/v1/ioports"), "ioports", 4);
  const one = assertList(await call(fixture, "GET", `/api/v1/ioports/${ports[1].id}`), "ioports", 1);
  assert.equal(one[0], ports[1]);
  assertFailed(await call(fixture, "GET", "/api/v1/ioports/I0999"), 404, "IOPORT_NOT_FOUND");
});

Routes("should create volumes by quantity in free IDs of the pool's rank group, named", async () => {
  await volumes(1, { id: "0001" });
  const reply = await call(fixture, "POST", "/api/v1/volumes", params({ cap: "2", pool: "P1", quantity: 3, name: "db_#h", lss: "", id: "", tp: "" }));
  assert.is(reply.statusCode, 201, reply.body);
  const body = reply.json();
  assert.is(body.responses.length, 3);
  const ids = body.responses.map((entry: any) => {
    assert.is(entry.server.status, "ok");
    assertShape("volumes", entry.data.volumes[0]);
    assert.is(entry.link.href, entry.data.volumes[0].link.href);
    return entry.data.volumes[0].id;
  });
  assert.equal(ids, ["0100", "0101", "0102"], "odd LSS for a rank group 1 pool");
  const volume = (await fixture.site.volume(IMAGE, "0101"));
  assert.is(volume.name, "db_0101");
  assert.is(volume.sizeBytes, 2 * 2 ** 30);
  assert.is(volume.pool, "P1");
  const [listed] = assertList(await call(fixture, "GET", "/api/v1/volumes/0101"), "volumes", 1);
  assert.is(listed.cap, String(2 * 2 ** 30));
  assert.is(listed.pool.id, "P1");
  assert.is(listed.lss.id, "01");
});

Routes("should create one volume with its link at the top, in bytes, at a given ID", async () => {
  const reply = await call(fixture, "POST", "/api/v1/volumes", params({ cap: String(64 * 1024 * 1024), captype: "bytes", pool: "P0", id: "1234", name: "one" }));
  assert.is(reply.statusCode, 201, reply.body);
  const body = reply.json();
  assert.is(body.link.href, `${BASE}/volumes/1234`);
  assert.is(body.data.volumes[0].name, "one");
  assert.is((await fixture.site.volume(IMAGE, "1234")).blocks, 64 * 2048);
});

Routes("should make tp none a standard volume (every extent allocated, as mkfbvol -sam standard), tp ese or empty a thin one", async () => {
  const pool = async () => (await fixture.site.listPools(IMAGE)).find((candidate) => candidate.id === "P0")!.allocatedExtents;
  const before = await pool();
  for (const [id, tp] of [["0010", "none"], ["0011", "ese"], ["0012", ""]]) {
    const reply = await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1", captype: "gib", pool: "P0", id, tp }));
    assert.is(reply.statusCode, 201, reply.body);
  }
  const standard = await fixture.site.volume(IMAGE, "0010");
  assert.is(standard.sam, "standard");
  assert.is(standard.allocatedBytes, 2 ** 30, "a standard volume holds its whole capacity from its creation");
  assert.ok(await pool() > before, "the pool gave the standard volume its extents");
  for (const id of ["0011", "0012"]) {
    const thin = await fixture.site.volume(IMAGE, id);
    assert.is(thin.sam, "ese");
    assert.is(thin.allocatedBytes, 0, `thin volume ${id} holds nothing before a write`);
  }
  const listed = assertList(await call(fixture, "GET", "/api/v1/volumes"), "volumes", 3);
  assert.equal(listed.map((volume) => [volume.id, volume.tp]), [["0010", "none"], ["0011", "ese"], ["0012", "ese"]]);
});

Routes("should create volumes with one name each from namecol, at given ids", async () => {
  const reply = await call(fixture, "POST", "/api/v1/volumes", params({ cap: 1, pool: "P0", ids: ["0a00", "0A01"], namecol: ["alpha", "beta"] }));
  assert.is(reply.statusCode, 201, reply.body);
  const listed = (await fixture.site.listVolumes(IMAGE)).map((volume) => [volume.id, volume.name]);
  assert.equal(listed, [["0A00", "alpha"], ["0A01", "beta"]]);
});

Routes("should rename and grow a volume with PUT and remove it with DELETE", async () => {
  await volumes(1, { id: "0010" });
  let reply = await call(fixture, "PUT", "/api/v1/volumes/0010", params({ name: "renamed" }));
  assert.is(reply.statusCode, 200, reply.body);
  reply = await call(fixture, "PUT", "/api/v1/volumes/0010", params({ cap: "3", captype: "gib" }));
  assert.is(reply.statusCode, 200, reply.body);
  const volume = await fixture.site.volume(IMAGE, "0010");
  assert.is(volume.name, "renamed");
  assert.is(volume.sizeBytes, 3 * 2 ** 30);
  reply = await call(fixture, "DELETE", "/api/v1/volumes/0010");
  assert.is(reply.statusCode, 200, reply.body);
  assert.is(reply.json().server.status, "ok");
  assert.equal(await fixture.site.listVolumes(IMAGE), []);
  assertFailed(await call(fixture, "GET", "/api/v1/volumes/0010"), 404, "VOLUME_NOT_FOUND");
  assertFailed(await call(fixture, "DELETE", "/api/v1/volumes/0010"), 404, "VOLUME_NOT_FOUND");
});

Routes("should list what changed since the last listing: a new name, size, state and Host", async () => {
  await volumes(2, { id: "0020" });
  const names = async (host: string) => dataOf(await fixture.app.inject({ method: "GET", url: "/api/v1/volumes", headers: { "x-auth-token": fixture.token, host } }), "volumes");
  assert.equal((await names("array.example:8452")).map((volume) => volume.name), ["", ""]);
  assert.is((await call(fixture, "PUT", "/api/v1/volumes/0021", params({ name: "later", cap: "2" }))).statusCode, 200);
  const [first, second] = await names("array.example:8452");
  assert.is(first.cap, String(2 ** 30));
  assert.equal([second.name, second.cap], ["later", String(2 * 2 ** 30)]);
  const [moved] = await names("other.example:1");
  assert.is(moved.link.href, "http://other.example:1/api/v1/volumes/0020");
  await fixture.site.establishFlash(IMAGE, { pairs: [["0020", "0021"]], options: { nocopy: true } });
  await fixture.site.write(IMAGE, "0020", 0, new Uint8Array(512).fill(1));
  await fixture.site.withdrawFlash(IMAGE, ["0020:0021"]);
  const [, unusable] = await names("array.example:8452");
  assert.is(unusable.state, "inaccessible", "a target withdrawn before its copy completed");
});

Routes("should establish FlashCopy pairs with DS8000 options, list, show and withdraw them", async () => {
  await volumes(4, { id: "0000" });
  const reply = await call(fixture, "POST", "/api/v1/cs/flashcopies", params({
    volume_pairs: [{ source_volume: "0000", target_volume: "0001" }, { source_volume: "0002", target_volume: "0003" }],
    options: ["no_background_copy", "persistent", "record_changes", "permit_space_efficient_target"],
  }));
  assert.is(reply.statusCode, 201, reply.body);
  const created = reply.json().responses.map((entry: any) => entry.data.flashcopies[0]);
  assert.equal(created.map((flash: any) => flash.id), ["0000:0001", "0002:0003"]);
  const flashes = await fixture.site.listFlash(IMAGE);
  assert.equal(flashes.map((flash) => [flash.id, flash.nocopy, flash.persist, flash.record]), [["0000:0001", true, true, true], ["0002:0003", true, true, true]]);
  const listed = assertList(await call(fixture, "GET", "/api/v1/cs/flashcopies"), "flashcopies", 2);
  assert.equal(listed[0].source_volume.id, "0000");
  assert.is(listed[0].backgroundcopy, "disabled");
  assert.is(listed[0].persistent, "enabled");
  assert.is(listed[0].state, "valid");
  assertList(await call(fixture, "GET", "/api/v1/cs/flashcopies/0002:0003"), "flashcopies", 1);
  assertList(await call(fixture, "GET", "/api/v1/volumes/0001/flashcopy"), "flashcopy", 1);
  assertList(await call(fixture, "GET", "/api/v1/volumes/0002/flashcopy"), "flashcopy", 1);
  const withdrawn = await call(fixture, "DELETE", "/api/v1/cs/flashcopies/0000:0001");
  assert.is(withdrawn.statusCode, 200, withdrawn.body);
  assert.equal((await fixture.site.listFlash(IMAGE)).map((flash) => flash.id), ["0002:0003"]);
  assertFailed(await call(fixture, "DELETE", "/api/v1/cs/flashcopies/0000:0001"), 404, "RELATIONSHIP_NOT_FOUND");
  assertFailed(await call(fixture, "GET", "/api/v1/cs/flashcopies/0000:0001"), 404, "RELATIONSHIP_NOT_FOUND");
});

Routes("should hold a freeze_consistency group's writes until POST cs/flashcopies/unfreeze", async () => {
  await volumes(2, { id: "0000" });
  const reply = await call(fixture, "POST", "/api/v1/cs/flashcopies", params({ volume_pairs: [{ source_volume: "0000", target_volume: "0001" }], options: ["freeze_consistency", "no_background_copy"] }));
  assert.is(reply.statusCode, 201, reply.body);
  assert.ok((await fixture.site.listFlash(IMAGE))[0].writesHeld);
  const unfrozen = await call(fixture, "POST", "/api/v1/cs/flashcopies/unfreeze", params({ lss_ids: ["00"] }));
  assert.is(unfrozen.statusCode, 200, unfrozen.body);
  assert.not.ok((await fixture.site.listFlash(IMAGE))[0].writesHeld);
});

Routes("should answer a route tzero does not have (nodes, marrays, users) 404 in the envelope", async () => {
  for (const url of ["/api/v1/nodes", "/api/v1/marrays", "/api/v1/users"]) assertFailed(await call(fixture, "GET", url), 404, "NOT_FOUND");
});

Routes("should build links from baseUrl when one is given", async () => {
  await fixture.close();
  fixture = await restFixture({ baseUrl: "https://hmc.example:8452/" });
  const [system] = dataOf(await call(fixture, "GET", "/api/v1/systems"), "systems");
  assert.is(system.link.href, "https://hmc.example:8452/api/v1/systems/2107-75REST1");
});

Routes.run();
