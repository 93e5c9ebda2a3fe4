// The PPRC routes of the REST API (cs/pprcs, cs/pprcs/paths,
// cs/pprcs/physical_links) over two images of one site: paths and pairs
// made through REST are the site's (a DS CLI shell on the same site lists
// them), the shell's are listed by REST, and bad requests change nothing.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Session } from "../../src/lang/session.js";
import { assertFailed, call, dataOf, IMAGE, params, restFixture, type RestFixture } from "./rest-support.js";
import { KIND_FIELDS } from "./fixtures/ds8000-shapes.js";

const REMOTE = "IBM.2107-75REST2";
const LOCAL_SYSTEM = "2107-75REST1";
const REMOTE_SYSTEM = "2107-75REST2";

interface Context {
  fixture: RestFixture;
  shell: Session;
  lines: string[];
  localWwnn: string;
  remoteWwnn: string;
}
const context = {} as Context;
const send = (method: "GET" | "POST" | "DELETE", url: string, body?: object) => call(context.fixture, method, url, body);

async function dscli(command: string): Promise<string> {
  const start = context.lines.length;
  await context.shell.runSource(command, "rest-pprcs.tzs");
  return context.lines.slice(start).join("\n");
}

async function volumes(imageId: string, ids: string[]): Promise<void> {
  await context.fixture.site.createVolumes(imageId, { ids, capacity: 1, unit: "ds" });
}

function pathBody(ports = [{ source_port_id: "I0010", target_port_id: "I0143" }]) {
  return params({ target_system_wwnn: context.remoteWwnn, source_lss_id: "10", target_lss_id: "20", port_pairs: ports });
}

async function pathAndVolumes(): Promise<void> {
  await volumes(IMAGE, ["1000", "1001"]);
  await volumes(REMOTE, ["2000", "2001"]);
  assert.is((await send("POST", "/api/v1/cs/pprcs/paths", pathBody())).statusCode, 201);
}

const Pprcs = suite("REST API cs/pprcs and its paths");
Pprcs.before.each(async () => {
  context.fixture = await restFixture({ images: [REMOTE] });
  const images = await context.fixture.site.listImages();
  context.localWwnn = images[0].wwnn;
  context.remoteWwnn = images[1].wwnn;
  context.lines = [];
  context.shell = new Session({ site: context.fixture.site, imageId: IMAGE, write: (line) => context.lines.push(line), workers: 0 });
});
Pprcs.after.each(async () => {
  await context.fixture.close();
});

Pprcs("should list the port pairs to another image as physical_links, by its WWNN", async () => {
  const links = dataOf(await send("GET", `/api/v1/cs/pprcs/physical_links?target_system_wwnn=${context.remoteWwnn}&source_lss_id=0&target_lss_id=0`), "physical_links");
  const expected = await context.fixture.site.listAvailablePorts(IMAGE, REMOTE);
  assert.equal(links.map((link) => [link.source_port_id, link.target_port_id]), expected.map((pair) => [pair.local, pair.remote]));
  assertFailed(await send("GET", "/api/v1/cs/pprcs/physical_links?target_system_wwnn=5005076303FFC999"), 404, "SYSTEM_NOT_FOUND");
});

Pprcs("should make a path with Cinder's body, list it by its WWNN_LSS ID, and remove it", async () => {
  const made = await send("POST", "/api/v1/cs/pprcs/paths", pathBody());
  assert.is(made.statusCode, 201, made.body);
  const id = `${context.localWwnn}_10:${context.remoteWwnn}_20`;
  assert.is(made.json().link.href, `http://array.example:8452/api/v1/cs/pprcs/paths/${id}`);
  const [path] = dataOf(await send("GET", `/api/v1/cs/pprcs/paths/${id}`), "paths");
  assert.equal([path.id, path.source_lss_id, path.target_lss_id, path.target_system_wwnn], [id, "10", "20", context.remoteWwnn]);
  assert.equal(path.port_pairs, [{ source_port_id: "I0010", target_port_id: "I0143", state: "success" }]);
  assert.match(await dscli(`lspprcpath -dev ${IMAGE} 10`), /10\s+20\s+Success/);
  assert.equal(dataOf(await send("GET", "/api/v1/cs/pprcs/paths?source_lss_id_from=11&source_lss_id_to=FF"), "paths"), []);
  assert.is((await send("DELETE", `/api/v1/cs/pprcs/paths/${id}`)).statusCode, 200);
  assert.equal(await context.fixture.site.listPaths(IMAGE), []);
  assertFailed(await send("GET", `/api/v1/cs/pprcs/paths/${id}`), 404, "PATH_NOT_FOUND");
});

Pprcs("should make a Metro Mirror pair with Cinder's body and list it in DS8000's shape, filtered by volume", async () => {
  await pathAndVolumes();
  const body = params({
    volume_pairs: [{ source_volume: "1000", source_system_id: LOCAL_SYSTEM, target_volume: "2000", target_system_id: REMOTE_SYSTEM }],
    type: "metro_mirror", options: ["permit_space_efficient_target", "initial_copy_full"],
  });
  const made = await send("POST", "/api/v1/cs/pprcs", body);
  assert.is(made.statusCode, 201, made.body);
  const id = `${LOCAL_SYSTEM}_1000:${REMOTE_SYSTEM}_2000`;
  assert.is(made.json().link.href, `http://array.example:8452/api/v1/cs/pprcs/${id}`);
  await context.fixture.site.waitForPairs(IMAGE, ["1000:2000"], { timeoutMs: 30_000 });
  const [pair] = dataOf(await send("GET", "/api/v1/cs/pprcs?volume_id_from=1000&volume_id_to=1000"), "pprcs");
  for (const field of Object.keys(KIND_FIELDS.pprcs)) assert.ok(field in pair, `pprcs carry ${field}`);
  assert.equal([pair.id, pair.type, pair.state, pair.source_volume.name, pair.target_volume.name, pair.target_system.id], [id, "metro_mirror", "full_duplex", "1000", "2000", REMOTE_SYSTEM]);
  assert.equal(dataOf(await send("GET", "/api/v1/cs/pprcs?volume_id_from=1001&volume_id_to=10FF"), "pprcs"), []);
  assert.match(await dscli(`lspprc -dev ${IMAGE} -remotedev ${REMOTE} 1000:2000`), /1000:2000\s+Full Duplex/);
  assert.is(dataOf(await send("GET", `/api/v1/cs/pprcs/${id}`), "pprcs")[0].state, "full_duplex");
  const [byVolume] = dataOf(await send("GET", "/api/v1/volumes/1000/pprc"), "pprc");
  assert.equal([byVolume.sourcevolume.id, byVolume.targetvolume.id, byVolume.targetsystem.id, byVolume.state], ["1000", "2000", REMOTE_SYSTEM, "full_duplex"]);
  assert.equal(dataOf(await send("GET", "/api/v1/volumes/1001/pprc"), "pprc"), []);
});

Pprcs("should pause and resume by pprc_ids, and delete by ID", async () => {
  await pathAndVolumes();
  await dscli(`mkpprc -dev ${IMAGE} -remotedev ${REMOTE} -type mmir -mode nocp 1000:2000`);
  const id = `${LOCAL_SYSTEM}_1000:${REMOTE_SYSTEM}_2000`;
  assert.is((await send("POST", "/api/v1/cs/pprcs/pause", params({ pprc_ids: [id] }))).statusCode, 200);
  assert.is(dataOf(await send("GET", `/api/v1/cs/pprcs/${id}`), "pprcs")[0].state, "suspended");
  const resumed = await send("POST", "/api/v1/cs/pprcs/resume", params({ pprc_ids: [id], type: "metro_mirror", options: ["permit_space_efficient_target", "initial_copy_out_of_sync"] }));
  assert.is(resumed.statusCode, 200, resumed.body);
  await context.fixture.site.waitForPairs(IMAGE, ["1000:2000"], { timeoutMs: 30_000 });
  assert.is(dataOf(await send("GET", "/api/v1/cs/pprcs/1000:2000"), "pprcs")[0].state, "full_duplex");
  assert.is((await send("DELETE", `/api/v1/cs/pprcs/${id}`)).statusCode, 200);
  assert.equal(await context.fixture.site.listPairs(IMAGE), []);
  assert.equal(await context.fixture.site.listPairs(REMOTE), []);
});

Pprcs("should fail over with POST cs/pprcs and fail back with resume, as Cinder's replication does", async () => {
  await pathAndVolumes();
  await send("POST", "/api/v1/cs/pprcs", params({ volume_pairs: [{ source_volume: "1000", target_volume: "2000", target_system_id: REMOTE_SYSTEM }], type: "metro_mirror", options: ["initial_copy_full"] }));
  await context.fixture.site.waitForPairs(IMAGE, ["1000:2000"], { timeoutMs: 30_000 });
  const failover = params({ volume_pairs: [{ source_volume: "2000", source_system_id: REMOTE_SYSTEM, target_volume: "1000", target_system_id: LOCAL_SYSTEM }], type: "metro_mirror", options: ["failover"] });
  const failed = await send("POST", "/api/v1/cs/pprcs", failover);
  assert.is(failed.statusCode, 201, failed.body);
  assert.is(failed.json().data.pprcs[0].id, `${REMOTE_SYSTEM}_2000:${LOCAL_SYSTEM}_1000`);
  assert.is((await context.fixture.site.listPairs(REMOTE)).find((pair) => pair.id === "2000:1000")?.state, "Suspended");
  const back = await send("POST", "/api/v1/cs/pprcs/resume", params({ pprc_ids: [`${LOCAL_SYSTEM}_1000:${REMOTE_SYSTEM}_2000`], type: "metro_mirror", options: ["failback"] }));
  assert.is(back.statusCode, 200, back.body);
  await context.fixture.site.waitForPairs(IMAGE, ["1000:2000"], { timeoutMs: 30_000 });
  assert.is((await context.fixture.site.listPairs(IMAGE))[0].state, "Full Duplex");
});

Pprcs("should delete the pair of a volume with POST cs/pprcs/delete (volume_full_ids), and by ?ids=", async () => {
  await pathAndVolumes();
  await dscli(`mkpprc -dev ${IMAGE} -remotedev ${REMOTE} -type gcp -mode nocp 1000:2000 1001:2001`);
  const byVolume = await send("POST", "/api/v1/cs/pprcs/delete", params({ volume_full_ids: [{ volume_id: "2000", system_id: REMOTE_SYSTEM }], options: ["unconditional", "issue_target"] }));
  assert.is(byVolume.statusCode, 200, byVolume.body);
  assert.equal((await context.fixture.site.listPairs(IMAGE)).map((pair) => pair.id), ["1001:2001"]);
  assert.is((await send("DELETE", `/api/v1/cs/pprcs?ids=${LOCAL_SYSTEM}_1001:${REMOTE_SYSTEM}_2001`)).statusCode, 200);
  assert.equal(await context.fixture.site.listPairs(IMAGE), []);
});

Pprcs("should refuse bad PPRC requests naming the field, and change nothing", async () => {
  await pathAndVolumes();
  const pair = { source_volume: "1000", target_volume: "2000", target_system_id: REMOTE_SYSTEM };
  assert.match(assertFailed(await send("POST", "/api/v1/cs/pprcs", params({ volume_pairs: [pair], options: ["warp_speed"] })), 400, "BAD_OPTION"), /options\[0\].*warp_speed/);
  assert.match(assertFailed(await send("POST", "/api/v1/cs/pprcs", params({ volume_pairs: [pair], type: "sync" })), 400, "BAD_REQUEST"), /type/);
  assert.match(assertFailed(await send("POST", "/api/v1/cs/pprcs", params({ volume_pairs: [{ ...pair, target_system_id: "2107-NOPE" }] })), 404, "SYSTEM_NOT_FOUND"), /target_system_id/);
  assert.match(assertFailed(await send("POST", "/api/v1/cs/pprcs", params({ volume_pairs: [pair, { source_volume: "1001", target_volume: "2FFF", target_system_id: REMOTE_SYSTEM }] })), 404, "VOLUME_NOT_FOUND"), /2FFF/);
  assert.match(assertFailed(await send("POST", "/api/v1/cs/pprcs", params({ volume_pairs: [{ ...pair, mode: "full" }] })), 400, "BAD_REQUEST"), /mode/);
  assertFailed(await send("POST", "/api/v1/cs/pprcs/pause", params({ pprc_ids: ["1000-2000"] })), 400, "BAD_REQUEST");
  assertFailed(await send("POST", "/api/v1/cs/pprcs/pause", params({ pprc_ids: ["1000:2000"] })), 404, "PAIR_NOT_FOUND");
  assertFailed(await send("DELETE", "/api/v1/cs/pprcs/10000:2000"), 400, "BAD_ID");
  assertFailed(await send("POST", "/api/v1/cs/pprcs/paths", pathBody([{ source_port_id: "I0010", target_port_id: "I0999" }])), 400, "BAD_PORT");
  assert.equal(await context.fixture.site.listPairs(IMAGE), []);
  assert.equal((await context.fixture.site.listPaths(IMAGE)).map((path) => path.ports), [[{ local: "I0010", remote: "I0143" }]]);
});

Pprcs.run();
