// A contract test in place of IBM's pyds8k client (which CI cannot install):
// the requests exactly as pyds8k builds them, and its reply parsing rules,
// both written from reading its source (pyds8k/httpclient.py, base.py,
// dataParser/ds8k.py, resources/ds8k/v1/common/mixins.py):
// - a body is {"request":{"params":{...}}} with None fields dropped and
//   empty strings kept (so "" must mean "not given");
// - a login reply is read at body.data ?? body, key "token", then "token";
// - a list is data[RESOURCE_TYPE]; a POST reply is `responses` (or the
//   reply itself) entries of {server.status ok, data[RESOURCE_TYPE][0], link}
//   whose link.href's second-to-last segment is RESOURCE_TYPE;
// - an error is read as server.code and server.message;
// - on a 401 it logs in once and resends the same request;
// - cs/pprcs items may name their volumes by `name` (a DS8000 quirk it mends
//   into `id`); a host's key is its `name`, a host port's its `wwpn`, a
//   mapping's its `lunid`, and an `id` beside those two is refused (FieldReadOnly).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { IMAGE, params, restFixture, type RestFixture } from "./rest-support.js";

const SUCCESS = ["ok", "successful"];
const REMOTE = "IBM.2107-75REST2";
let fixture: RestFixture;

// What pyds8k's HTTPClient does with one request: X-Auth-Token once logged in, a JSON body, one re-login after a 401.
class Pyds8kLike {
  token = "";
  logins = 0;

  constructor(private readonly user: string, private readonly password: string) {}

  async request(method: "GET" | "POST" | "PUT" | "DELETE", url: string, params?: Record<string, unknown>): Promise<{ status: number; body: any }> {
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = this.token === "" ? {} : { "X-Auth-Token": this.token };
      if (params !== undefined) headers["Content-Type"] = "application/json";
      const payload = params === undefined ? undefined : JSON.stringify({ request: { params: dropNone(params) } });
      const reply = await fixture.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
      const body = reply.body === "" ? null : reply.json();
      // A refused login is not retried (pyds8k counts the login URL as an attempt).
      if (reply.statusCode === 401 && attempt === 0 && !url.endsWith("/tokens")) {
        await this.login();
        continue;
      }
      return { status: reply.statusCode, body };
    }
  }

  async login(): Promise<void> {
    this.logins++;
    const { body } = await this.request("POST", "/api/v1/tokens", { username: this.user, password: this.password });
    this.token = (body.data ?? body).token.token;
  }

  async list(url: string, resourceType: string): Promise<any[]> {
    const { status, body } = await this.request("GET", url);
    assert.is(status, 200, JSON.stringify(body));
    const parsed = (body.data ?? body)[resourceType];
    assert.ok(Array.isArray(parsed), `data.${resourceType} is a list`);
    return parsed;
  }

  // pyds8k's posta: each entry's resource and the ID it takes from the link.
  async posta(url: string, resourceType: string, params: Record<string, unknown>): Promise<Array<{ id: string; info: any }>> {
    const { status, body } = await this.request("POST", url, params);
    assert.ok(status < 300, JSON.stringify(body));
    const entries = Array.isArray(body.responses) ? body.responses : [body];
    return entries.map((entry: any) => {
      assert.ok(SUCCESS.includes(String(entry.server.status).toLowerCase()));
      const segments = entry.link.href.replace(/\/$/, "").split("/");
      assert.is(segments[segments.length - 2], resourceType, entry.link.href);
      return { id: segments[segments.length - 1], info: entry.data[resourceType][0] };
    });
  }
}

// pyds8k's remove_None_fields_from_dict: None (null, undefined here) goes; "" stays.
function dropNone(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== null && value !== undefined));
}

let client: Pyds8kLike;
const Contract = suite("REST API as pyds8k speaks it");
Contract.before.each(async () => {
  fixture = await restFixture({ images: [REMOTE] });
  client = new Pyds8kLike("admin", fixture.adminPassword);
});
Contract.after.each(async () => {
  await fixture.close();
});

Contract("should log in only after its first request is refused, then get the system", async () => {
  const [system] = await client.list("/api/v1/systems", "systems");
  assert.is(client.logins, 1);
  assert.match(system.bundle, /^\d+\.\d+\.\d+\.\d+$/);
});

Contract("should create one volume with create_volume's body (lss, tp, id empty)", async () => {
  const created = await client.posta("/api/v1/volumes", "volumes", { name: "vol_one", cap: "1", captype: "gib", stgtype: "fb", pool: "P0", lss: "", tp: "", id: "" });
  assert.is(created.length, 1);
  assert.is(created[0].info.name, "vol_one");
  assert.is((await fixture.site.volume(IMAGE, created[0].id)).name, "vol_one");
});

Contract("should create several with create_volumes' body (name empty, namecol and ids None)", async () => {
  const created = await client.posta("/api/v1/volumes", "volumes", { name: "", namecol: null, quantity: "3", cap: "1", captype: "gib", stgtype: "fb", pool: "P1", lss: "", tp: "", ids: null });
  assert.equal(created.map((entry) => entry.id), ["0100", "0101", "0102"]);
  const named = await client.posta("/api/v1/volumes", "volumes", { name: "", namecol: ["a1", "a2"], quantity: "", cap: "1", captype: "gib", stgtype: "fb", pool: "P0", lss: "", tp: "", ids: ["0010", "0011"] });
  assert.equal(named.map((entry) => [entry.id, entry.info.name]), [["0010", "a1"], ["0011", "a2"]]);
});

Contract("should rename and extend with update_volume's bodies (captype empty means GiB)", async () => {
  await fixture.site.createVolumes(IMAGE, { ids: ["0000"], capacity: 1, unit: "ds" });
  assert.is((await client.request("PUT", "/api/v1/volumes/0000", { name: "renamed" })).status, 200);
  assert.is((await client.request("PUT", "/api/v1/volumes/0000", { cap: "2", captype: "" })).status, 200);
  const volume = await fixture.site.volume(IMAGE, "0000");
  assert.equal([volume.name, volume.sizeBytes], ["renamed", 2 * 2 ** 30]);
});

Contract("should establish with create_cs_flashcopy's body and read the pair's ID from its link", async () => {
  await fixture.site.createVolumes(IMAGE, { ids: ["0000", "0001"], capacity: 1, unit: "ds" });
  const created = await client.posta("/api/v1/cs/flashcopies", "flashcopies", { volume_pairs: [{ source_volume: "0000", target_volume: "0001" }], options: ["no_background_copy", "inhibit_target_writes"] });
  assert.equal(created.map((entry) => entry.id), ["0000:0001"]);
  const [listed] = await client.list("/api/v1/cs/flashcopies", "flashcopies");
  assert.is(listed.id, "0000:0001");
  const [byVolume] = await client.list("/api/v1/volumes/0001/flashcopy", "flashcopy");
  assert.equal([byVolume.sourcevolume.id, byVolume.targetvolume.id], ["0000", "0001"]);
  assert.is((await client.request("DELETE", "/api/v1/cs/flashcopies/0000:0001")).status, 200);
  assert.equal(await client.list("/api/v1/cs/flashcopies", "flashcopies"), []);
});

Contract("should give errors a code and message where pyds8k's raise_error reads them", async () => {
  await client.login();
  const { status, body } = await client.request("GET", "/api/v1/volumes/0FFF");
  assert.is(status, 404);
  assert.is(body.server.code, "VOLUME_NOT_FOUND");
  assert.match(body.server.message, /0FFF/);
});

Contract("should log in again and resend once its token idled out, and not loop on a bad password", async () => {
  await client.login();
  fixture.clock.now += 11 * 60_000;
  assert.is((await client.list("/api/v1/pools", "pools")).length, 2);
  assert.is(client.logins, 2);
  const stranger = new Pyds8kLike("admin", "wrong-Password1");
  const refused = await stranger.request("GET", "/api/v1/volumes").catch((error: Error) => error);
  assert.instance(refused, TypeError, "the failed re-login gives no token to read");
  assert.is(stranger.logins, 1);
});

Contract("should list PPRC pairs as get_cs_pprcs and get_cs_pprc read them", async () => {
  await fixture.site.createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "ds" });
  await fixture.site.createVolumes(REMOTE, { ids: ["2000"], capacity: 1, unit: "ds" });
  const remoteWwnn = (await fixture.site.listImages())[1].wwnn;
  await fixture.site.makePath(IMAGE, { remoteImageId: REMOTE, remoteWwnn, sourceLss: "10", targetLss: "20", ports: ["I0010:I0143"] });
  await fixture.site.makePairs(IMAGE, { remoteImageId: REMOTE, pairs: [["1000", "2000"]], type: "gcp", mode: "nocp" });
  const [pair] = await client.list("/api/v1/cs/pprcs", "pprcs");
  // pyds8k's PPRC._update_volume_info: `name` becomes `id` only when there is no `id`; either way the ID is the volume's.
  for (const key of ["source_volume", "target_volume"]) assert.is(pair[key].id ?? pair[key].name, key === "source_volume" ? "1000" : "2000");
  assert.equal([pair.source_system.id, pair.target_system.id, pair.type], ["2107-75REST1", "2107-75REST2", "global_copy"]);
  const [one] = await client.list(`/api/v1/cs/pprcs/${pair.id}`, "pprcs");
  assert.is(one.id, "2107-75REST1_1000:2107-75REST2_2000");
});

Contract("should make a host, a port and mappings with create_host, create_host_port and map_volume_to_host's bodies", async () => {
  await fixture.site.createVolumes(IMAGE, { ids: ["0000", "0001"], capacity: 1, unit: "ds" });
  const [host] = await client.posta("/api/v1/hosts", "hosts", { name: "web1", hosttype: "LinuxRHEL" });
  assert.is(host.id, "web1", "a host's ID in its link is its name");
  const [port] = await client.posta("/api/v1/host_ports", "host_ports", { wwpn: "10000090FA3418BC", host: "web1" });
  assert.is(port.id, "10000090FA3418BC");
  assert.not.ok("id" in port.info, "no id beside wwpn");
  await client.posta("/api/v1/hosts/web1/mappings", "mappings", { volumes: ["0000"] });
  const [byLun] = await client.posta("/api/v1/hosts/web1/mappings", "mappings", { mappings: [{ "0001": "0001" }] });
  assert.is(byLun.id, "0001");
  const mappings = await client.list("/api/v1/hosts/web1/mappings", "mappings");
  assert.equal(mappings.map((mapping) => [mapping.lunid, mapping.volume.id, "id" in mapping]), [["0000", "0000", false], ["0001", "0001", false]]);
  assert.is((await client.request("DELETE", "/api/v1/hosts/web1/mappings/0000")).status, 200);
  assert.is((await client.request("DELETE", "/api/v1/host_ports/10000090FA3418BC")).status, 200);
  assert.is((await client.request("DELETE", "/api/v1/hosts/web1")).status, 200);
  assert.equal(await client.list("/api/v1/hosts", "hosts"), []);
});

Contract.run();
