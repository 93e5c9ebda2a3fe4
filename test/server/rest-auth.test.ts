// Tokens of the REST API: every route but login refuses a missing, unknown,
// expired or idle token with 401 and a stable server.code; a client that is
// refused logs in again and goes on (pyds8k and Cinder log in only after a
// 401); user groups limit what a token may do.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { addUser, assertFailed, call, login, MINUTE, params, restFixture, type RestFixture } from "./rest-support.js";

// Every route of the API, with a body that would be valid where one is needed.
const ROUTES: Array<["GET" | "POST" | "PUT" | "DELETE", string, object?]> = [
  ["GET", "/api/v1/systems"], ["GET", "/api/v1/systems/2107-75REST1"],
  ["GET", "/api/v1/pools"], ["GET", "/api/v1/pools/P0"], ["GET", "/api/v1/pools/P0/volumes"],
  ["GET", "/api/v1/lss"], ["GET", "/api/v1/lss/00"], ["GET", "/api/v1/lss/00/volumes"],
  ["GET", "/api/v1/ioports"], ["GET", "/api/v1/ioports/I0010"],
  ["GET", "/api/v1/volumes"], ["GET", "/api/v1/volumes/0000"], ["GET", "/api/v1/volumes/0000/flashcopy"],
  ["POST", "/api/v1/volumes", params({ cap: "1", id: "0005" })], ["PUT", "/api/v1/volumes/0000", params({ name: "x" })], ["DELETE", "/api/v1/volumes/0000"],
  ["GET", "/api/v1/cs/flashcopies"], ["GET", "/api/v1/cs/flashcopies/0000:0001"],
  ["POST", "/api/v1/cs/flashcopies", params({ volume_pairs: [{ source_volume: "0000", target_volume: "0002" }] })],
  ["DELETE", "/api/v1/cs/flashcopies/0000:0001"], ["POST", "/api/v1/cs/flashcopies/unfreeze", params({ lss_ids: ["00"] })],
  ["GET", "/api/v1/volumes/0000/pprc"], ["GET", "/api/v1/cs/pprcs"], ["GET", "/api/v1/cs/pprcs?volume_id_from=0000&volume_id_to=00FF"], ["GET", "/api/v1/cs/pprcs/0000:0001"],
  ["POST", "/api/v1/cs/pprcs", params({ volume_pairs: [{ source_volume: "0000", target_volume: "0001" }], type: "metro_mirror" })],
  ["POST", "/api/v1/cs/pprcs/pause", params({ pprc_ids: ["0000:0001"] })], ["POST", "/api/v1/cs/pprcs/resume", params({ pprc_ids: ["0000:0001"] })],
  ["DELETE", "/api/v1/cs/pprcs/0000:0001"], ["DELETE", "/api/v1/cs/pprcs?ids=0000:0001"],
  ["POST", "/api/v1/cs/pprcs/delete", params({ volume_full_ids: [{ volume_id: "0000" }] })],
  ["GET", "/api/v1/cs/pprcs/paths"], ["GET", "/api/v1/cs/pprcs/paths/5005076303FFC001_00:5005076303FFC002_00"],
  ["POST", "/api/v1/cs/pprcs/paths", params({ target_system_wwnn: "5005076303FFC002", source_lss_id: "00", target_lss_id: "00", port_pairs: [{ source_port_id: "I0010", target_port_id: "I0143" }] })],
  ["DELETE", "/api/v1/cs/pprcs/paths/5005076303FFC001_00:5005076303FFC002_00"],
  ["GET", "/api/v1/cs/pprcs/physical_links?target_system_wwnn=5005076303FFC002"],
  ["GET", "/api/v1/hosts"], ["GET", "/api/v1/hosts/web1"], ["POST", "/api/v1/hosts", params({ name: "web2", hosttype: "LinuxRHEL" })], ["DELETE", "/api/v1/hosts/web1"],
  ["GET", "/api/v1/hosts/web1/mappings"], ["GET", "/api/v1/hosts/web1/mappings/0000"], ["POST", "/api/v1/hosts/web1/mappings", params({ volumes: ["0001"] })],
  ["DELETE", "/api/v1/hosts/web1/mappings/0000"], ["GET", "/api/v1/hosts/web1/host_ports"], ["GET", "/api/v1/hosts/web1/volumes"],
  ["GET", "/api/v1/hosts%5Bid=H0%5D"], ["DELETE", "/api/v1/hosts%5Bid=H0%5D"], ["GET", "/api/v1/hosts%5Bid=H0%5D/mappings"],
  ["POST", "/api/v1/hosts%5Bid=H0%5D/mappings", params({ volumes: ["0001"] })], ["DELETE", "/api/v1/hosts%5Bid=H0%5D/mappings/0000"],
  ["GET", "/api/v1/host_ports"], ["GET", "/api/v1/host_ports/10000090FA3418BC"], ["POST", "/api/v1/host_ports", params({ wwpn: "10000090FA3418BD", host: "web1" })],
  ["POST", "/api/v1/host_ports/assign", params({ host_id: "H0", host_port_wwpns: ["10000090FA3418BD"] })], ["DELETE", "/api/v1/host_ports/10000090FA3418BC"],
  ["GET", "/api/v1/no-such-route"],
];

let fixture: RestFixture;

async function state(): Promise<string> {
  const image = "IBM.2107-75REST1";
  const hosts = [await fixture.site.listVolumeGroups(image), await fixture.site.listHostConnections(image)];
  return JSON.stringify([await fixture.site.listVolumes(image), (await fixture.site.listFlash(image)).map((flash) => flash.id), hosts]);
}

const Tokens = suite("REST API tokens");
Tokens.before.each(async () => {
  fixture = await restFixture();
  await fixture.site.createVolumes("IBM.2107-75REST1", { ids: ["0000", "0001", "0002"], capacity: 1, unit: "ds" });
  await fixture.site.establishFlash("IBM.2107-75REST1", { pairs: [["0000", "0001"]], options: { nocopy: true } });
  await fixture.site.createVolumeGroup("IBM.2107-75REST1", { name: "web1", volumes: ["0000"] });
  await fixture.site.createHostConnection("IBM.2107-75REST1", { name: "web1", hostType: "LinuxRHEL", wwpn: "10000090FA3418BC", volumeGroup: "V0" });
});
Tokens.after.each(async () => {
  await fixture.close();
});

Tokens("should refuse every route without a token, with a wrong one, and with a forged one, changing nothing", async () => {
  const before = await state();
  const forged = "A".repeat(43);
  for (const [method, url, body] of ROUTES) {
    const missing = await fixture.app.inject({ method, url, ...(body ? { payload: body } : {}) });
    assertFailed(missing, 401, "TOKEN_MISSING");
    assertFailed(await call(fixture, method, url, body, "not-a-token"), 401, "TOKEN_UNKNOWN");
    assertFailed(await call(fixture, method, url, body, forged), 401, "TOKEN_UNKNOWN");
  }
  assert.is(await state(), before);
});

Tokens("should refuse a bad body with 401, not 400, when the token is missing", async () => {
  const reply = await fixture.app.inject({ method: "POST", url: "/api/v1/volumes", payload: "{not json" , headers: { "content-type": "application/json" } });
  assertFailed(reply, 401, "TOKEN_MISSING");
});

Tokens("should refuse an expired token with TOKEN_EXPIRED, then accept a fresh login", async () => {
  for (let minute = 9; minute <= 54; minute += 9) {
    fixture.clock.now += 9 * MINUTE;
    assert.is((await call(fixture, "GET", "/api/v1/systems")).statusCode, 200, `minute ${minute}`);
  }
  fixture.clock.now += 9 * MINUTE;
  assertFailed(await call(fixture, "GET", "/api/v1/systems"), 401, "TOKEN_EXPIRED");
  assertFailed(await call(fixture, "GET", "/api/v1/systems"), 401, "TOKEN_UNKNOWN");
  const fresh = await login(fixture.app, "admin", fixture.adminPassword);
  assert.is((await call(fixture, "GET", "/api/v1/systems", undefined, fresh)).statusCode, 200);
});

Tokens("should refuse an idle token with TOKEN_IDLE", async () => {
  fixture.clock.now += 10 * MINUTE;
  assertFailed(await call(fixture, "GET", "/api/v1/volumes"), 401, "TOKEN_IDLE");
});

Tokens("should let a client that was refused log in again and resend its request, as pyds8k does", async () => {
  fixture.clock.now += 11 * MINUTE;
  const body = params({ cap: "1", id: "0100" });
  assertFailed(await call(fixture, "POST", "/api/v1/volumes", body), 401, "TOKEN_IDLE");
  assert.equal((await fixture.site.listVolumes("IBM.2107-75REST1")).map((volume) => volume.id), ["0000", "0001", "0002"]);
  const token = await login(fixture.app, "admin", fixture.adminPassword);
  const retried = await call(fixture, "POST", "/api/v1/volumes", body, token);
  assert.is(retried.statusCode, 201, retried.body);
});

Tokens("should refuse a wrong password or an unknown user with 401 AUTHENTICATION_FAILED", async () => {
  const wrong = await fixture.app.inject({ method: "POST", url: "/api/v1/tokens", payload: params({ username: "admin", password: "wrong-password-1" }) });
  assertFailed(wrong, 401, "AUTHENTICATION_FAILED");
  const nobody = await fixture.app.inject({ method: "POST", url: "/api/v1/tokens", payload: params({ username: "nobody", password: "whatever1" }) });
  assertFailed(nobody, 401, "AUTHENTICATION_FAILED");
  const bad = await fixture.app.inject({ method: "POST", url: "/api/v1/tokens", payload: params({ username: "admin" }) });
  assert.match(assertFailed(bad, 400, "BAD_REQUEST"), /request\.params\.password/);
});

Tokens("should let a monitor user list but not create, change or copy (403 NOT_AUTHORIZED)", async () => {
  await addUser(fixture, "watcher", "monitor", "monit0rpass");
  const token = await login(fixture.app, "watcher", "monit0rpass");
  assert.is((await call(fixture, "GET", "/api/v1/volumes", undefined, token)).statusCode, 200);
  const before = await state();
  assertFailed(await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1" }), token), 403, "NOT_AUTHORIZED");
  assertFailed(await call(fixture, "DELETE", "/api/v1/volumes/0002", undefined, token), 403, "NOT_AUTHORIZED");
  assertFailed(await call(fixture, "GET", "/api/v1/cs/flashcopies", undefined, token), 403, "NOT_AUTHORIZED");
  assert.is(await state(), before);
});

Tokens.run();
