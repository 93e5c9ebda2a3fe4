// The host routes of the REST API (hosts, host_ports, hosts/NAME/mappings
// and DS8000's hosts[id=H3] selector) over volume groups and host
// connections: what REST makes a DS CLI shell on the same site lists, what
// the shell makes REST lists, and bad requests change nothing.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Session } from "../../src/lang/session.js";
import { KIND_FIELDS } from "./fixtures/ds8000-shapes.js";
import { assertFailed, call, dataOf, IMAGE, params, restFixture, type RestFixture } from "./rest-support.js";

const WWPN_1 = "10000090FA3418BC";
const WWPN_2 = "10000090FA3418BD";

interface Context {
  fixture: RestFixture;
  shell: Session;
  lines: string[];
}
const context = {} as Context;
const send = (method: "GET" | "POST" | "DELETE", url: string, body?: object) => call(context.fixture, method, url, body);

async function dscli(command: string): Promise<string> {
  const start = context.lines.length;
  await context.shell.runSource(command, "rest-hosts.tzs");
  return context.lines.slice(start).join("\n");
}

async function siteState(): Promise<string> {
  return JSON.stringify([await context.fixture.site.listVolumeGroups(IMAGE), await context.fixture.site.listHostConnections(IMAGE)]);
}

function assertFields(kind: string, item: Record<string, unknown>): void {
  for (const field of Object.keys(KIND_FIELDS[kind])) assert.ok(field in item, `${kind} carry ${field}`);
}

const Hosts = suite("REST API hosts, host_ports and mappings");
Hosts.before.each(async () => {
  context.fixture = await restFixture();
  await context.fixture.site.createVolumes(IMAGE, { ids: ["1000", "1001", "1002"], capacity: 1, unit: "ds" });
  context.lines = [];
  context.shell = new Session({ site: context.fixture.site, imageId: IMAGE, write: (line) => context.lines.push(line), workers: 0 });
});
Hosts.after.each(async () => {
  await context.fixture.close();
});

Hosts("should attach a volume as Cinder's DS8K driver does, through hosts[id=...] selectors, and the shell should see it", async () => {
  const made = await send("POST", "/api/v1/hosts", params({ name: "OShost:fake", hosttype: "LinuxRHEL" }));
  assert.is(made.statusCode, 201, made.body);
  const hostId = made.json().data.hosts[0].id;
  assert.match(hostId, /^H\d+$/);
  assert.is(made.json().link.href, "http://array.example:8452/api/v1/hosts/OShost:fake");
  assert.is((await send("POST", "/api/v1/host_ports/assign", params({ host_id: hostId, host_port_wwpns: [WWPN_1, WWPN_2] }))).statusCode, 200);
  const mapped = await send("POST", `/api/v1/hosts%5Bid=${hostId}%5D/mappings`, params({ volumes: ["1001"] }));
  assert.is(mapped.statusCode, 201, mapped.body);
  assert.is(mapped.json().data.mappings[0].lunid, "1001");
  assert.is(mapped.json().link.href, "http://array.example:8452/api/v1/hosts/OShost:fake/mappings/1001");
  const ports = dataOf(await send("GET", `/api/v1/host_ports?wwpns=${WWPN_1},${WWPN_2}&state=logged%20in,logged%20out`), "host_ports");
  assert.equal(ports.map((port) => [port.wwpn, port.host_id, port.host.name]), [[WWPN_1, hostId, "OShost:fake"], [WWPN_2, hostId, "OShost:fake"]]);
  ports.forEach((port) => assertFields("host_ports", port));
  const connections = await dscli("lshostconnect");
  assert.match(connections, new RegExp(`${WWPN_1}.*LinuxRHEL`));
  assert.match(await dscli("lsvolgrp"), /OShost:fake/);
  const mappings = dataOf(await send("GET", `/api/v1/hosts%5Bid=${hostId}%5D/mappings`), "mappings");
  assert.equal(mappings.map((mapping) => [mapping.lunid, mapping.volume.id]), [["1001", "1001"]]);
  assert.is((await send("DELETE", `/api/v1/hosts%5Bid=${hostId}%5D/mappings/1001`)).statusCode, 200);
  assert.equal((await context.fixture.site.listVolumeGroups(IMAGE))[0].volumes, []);
  assert.is((await send("DELETE", `/api/v1/host_ports/${WWPN_1}`)).statusCode, 200);
  assert.is((await send("DELETE", `/api/v1/hosts%5Bid=${hostId}%5D`)).statusCode, 200);
  assert.is(await siteState(), JSON.stringify([[], []]));
});

Hosts("should list a host the shell made with its port and mappings, as pyds8k reads them", async () => {
  await dscli(`mkvolgrp -type scsimask -volume 1000-1001 web1\nmkhostconnect -volgrp V0 -hosttype LinuxRHEL -wwname ${WWPN_1} web1`);
  const [host] = dataOf(await send("GET", "/api/v1/hosts"), "hosts");
  assertFields("hosts", host);
  assert.equal([host.id, host.name, host.hosttype, host.link.href], ["H0", "web1", "LinuxRHEL", "http://array.example:8452/api/v1/hosts/web1"]);
  assert.equal(host.mappings_briefs, [{ lunid: "1000", volume_id: "1000" }, { lunid: "1001", volume_id: "1001" }]);
  const byName = dataOf(await send("GET", "/api/v1/hosts/web1/mappings"), "mappings");
  byName.forEach((mapping) => assertFields("mappings", mapping));
  assert.equal(byName.map((mapping) => mapping.volume.id), ["1000", "1001"]);
  assert.equal(dataOf(await send("GET", "/api/v1/hosts/web1/volumes"), "volumes").map((volume) => volume.id), ["1000", "1001"]);
  assert.equal(dataOf(await send("GET", "/api/v1/hosts/web1/host_ports"), "host_ports").map((port) => port.wwpn), [WWPN_1]);
  assert.is(dataOf(await send("GET", `/api/v1/host_ports/${WWPN_1}`), "host_ports")[0].host.name, "web1");
  assert.is((await send("POST", "/api/v1/hosts/web1/mappings", params({ mappings: [{ "1002": "1002" }] }))).statusCode, 201);
  assert.match(await dscli("showvolgrp V0"), /1000 1001 1002|1000-1002/);
});

Hosts("should make a host port with create_host_port's body and remove a host with its ports", async () => {
  await send("POST", "/api/v1/hosts", params({ name: "db1", hosttype: "VMware" }));
  const port = await send("POST", "/api/v1/host_ports", params({ wwpn: WWPN_2, host: "db1" }));
  assert.is(port.statusCode, 201, port.body);
  assert.is(port.json().link.href, `http://array.example:8452/api/v1/host_ports/${WWPN_2}`);
  assert.is((await context.fixture.site.listHostConnections(IMAGE)).find((connection) => connection.wwpn === WWPN_2)?.hostType, "VMware");
  assert.is((await send("DELETE", "/api/v1/hosts/db1")).statusCode, 200);
  assert.is(await siteState(), JSON.stringify([[], []]));
});

Hosts("should refuse bad host requests naming the field, and change nothing", async () => {
  await send("POST", "/api/v1/hosts", params({ name: "db1", hosttype: "LinuxRHEL" }));
  const before = await siteState();
  assertFailed(await send("POST", "/api/v1/hosts", params({ name: "db2", hosttype: "Amiga" })), 400, "BAD_HOST_TYPE");
  assertFailed(await send("POST", "/api/v1/hosts", params({ name: "db1", hosttype: "LinuxRHEL" })), 409, "HOST_EXISTS");
  assert.match(assertFailed(await send("POST", "/api/v1/hosts", params({ name: "a name with spaces", hosttype: "LinuxRHEL" })), 400, "BAD_REQUEST"), /name/);
  assert.match(assertFailed(await send("POST", "/api/v1/hosts/db1/mappings", params({ volumes: ["1000"], lun: "1" })), 400, "BAD_REQUEST"), /lun/);
  assertFailed(await send("POST", "/api/v1/hosts/db1/mappings", params({ mappings: [{ "00": "1000" }] })), 400, "BAD_LUN_ID");
  assertFailed(await send("POST", "/api/v1/hosts/db1/mappings", params({ volumes: ["1000", "1FFF"] })), 404, "VOLUME_NOT_FOUND");
  assertFailed(await send("POST", "/api/v1/host_ports/assign", params({ host_id: "H9", host_port_wwpns: [WWPN_1] })), 404, "HOST_NOT_FOUND");
  assertFailed(await send("POST", "/api/v1/host_ports/assign", params({ host_id: "H0", host_port_wwpns: [WWPN_1, WWPN_1] })), 409, "HOST_EXISTS");
  assertFailed(await send("DELETE", "/api/v1/hosts/db1/mappings/1000"), 404, "MAPPING_NOT_FOUND");
  assertFailed(await send("GET", "/api/v1/hosts%5Bname=db1%5D"), 404, "NOT_FOUND");
  assertFailed(await send("GET", "/api/v1/no-such-route"), 404, "NOT_FOUND");
  assert.is(await siteState(), before);
});

Hosts.run();
