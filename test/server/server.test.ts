// The Copy Services Server over in-process nodes: calls go to the node that
// hosts the image, a lost node's images answer CONNECTION_LOST naming it, the
// outcome of a mutating call is recorded before it is answered, a retried
// request id gets the first answer without running again (after a restart
// too), and users log in against the journaled accounts.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { CopyServicesServer, type ServerEvent } from "../../src/server/server.js";
import { ServerStore } from "../../src/server/store.js";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { SiteError } from "../../src/site/errors.js";
import type { SiteEvent } from "../../src/site/types.js";
import { temporaryDirectory } from "../store/support.js";
import { config, rejectsWithUser } from "./support.js";
import { refusal } from "../support/refusal.js";

const A = "IBM.2107-75NODEA";
const B = "IBM.2107-75NODEB";

interface Fixture {
  directory: string;
  server: CopyServicesServer;
  nodes: EmbeddedSite[];
}

async function openServer(directory: string): Promise<CopyServicesServer> {
  return new CopyServicesServer({ store: await ServerStore.open(directory), nodeId: "n1", users: config });
}

async function siteOfTwo(directory: string): Promise<Fixture> {
  const nodes = [new EmbeddedSite({ workers: 0, images: [{ model: "2107", id: A }] }), new EmbeddedSite({ workers: 0, images: [{ model: "2107", id: B }] })];
  const server = await openServer(directory);
  await server.registerNode("n1", "http://127.0.0.1:8452", nodes[0]);
  await server.registerNode("n2", "http://127.0.0.1:8453", nodes[1]);
  return { directory, server, nodes };
}

// A node whose link fails one call before it reaches the engine.
class FlakyNode extends EmbeddedSite {
  failNext = false;

  override async createVolumes(...args: Parameters<EmbeddedSite["createVolumes"]>): Promise<string[]> {
    if (this.failNext) {
      this.failNext = false;
      throw new SiteError({ code: "CONNECTION_LOST", message: "the link to the node went down" });
    }
    return super.createVolumes(...args);
  }
}

const Routing = suite("the server routes to nodes");
let folder: { path: string; remove(): void };
let site: Fixture;
Routing.before.each(async () => {
  folder = temporaryDirectory();
  site = await siteOfTwo(join(folder.path, "server-state"));
});
Routing.after.each(async () => {
  await site.server.close();
  for (const node of site.nodes) await node.close();
  folder.remove();
});

Routing("should send each image's calls to its node and list images site-wide with unique WWNNs", async () => {
  await site.server.createVolumes(B, { ids: ["1000", "1001"], capacity: 1, unit: "ds" });
  assert.equal((await site.nodes[1].listVolumes(B)).map((volume) => volume.id), ["1000", "1001"]);
  assert.equal(await site.nodes[0].listVolumes(A), []);
  const images = await site.server.listImages();
  assert.equal(images.map((image) => [image.id, image.wwnn]), [[A, "5005076303FFC001"], [B, "5005076303FFC002"]]);
  const ports = await site.server.listPorts(B);
  assert.ok(ports.every((port) => port.wwpn.endsWith("002")), "ports carry the site's WWNN of their image");
  assert.is((await refusal(site.server.listVolumes("IBM.2107-75NOPE00"))).code, "IMAGE_NOT_FOUND");
});

Routing("should record a command's catalog change before it answers", async () => {
  await site.server.createVolumes(A, { ids: ["1000", "1001"], capacity: 1, unit: "ds", nameTemplate: "db#h" });
  const catalog = () => site.server.state.images.find((image) => image.info.id === A)!.catalog;
  assert.equal(catalog().volumes.map((volume) => [volume.id, volume.name]), [["1000", "db1000"], ["1001", "db1001"]]);
  await site.server.establishFlash(A, { pairs: [["1000", "1001"]], options: { nocopy: true, record: true } });
  assert.equal(catalog().flash.map((flash) => [flash.id, flash.nocopy, flash.record, flash.persist]), [["1000:1001", true, true, false]]);
  await site.server.withdrawFlash(A, ["1000:1001"]);
  assert.equal(catalog().flash, []);
  const error = await refusal(site.server.removeVolumes(A, ["1001", "1009"]));
  assert.is(error.item, 1);
  assert.equal(catalog().volumes.length, 2, "a refused command changes nothing");
});

Routing("should answer CONNECTION_LOST naming the node for a lost node's images, while the other node serves, until it registers again", async () => {
  const events: ServerEvent[] = [];
  site.server.serverEvents((event) => events.push(event));
  await site.server.createVolumes(B, { ids: ["1000"], capacity: 1, unit: "ds" });
  await site.server.nodeLost("n2", "heartbeat timeout");
  const error = await refusal(site.server.listVolumes(B));
  assert.is(error.code, "CONNECTION_LOST");
  assert.match(error.message, /node n2 at http:\/\/127\.0\.0\.1:8453/);
  assert.is((await refusal(site.server.createVolumes(B, { ids: ["1001"], capacity: 1, unit: "ds" }))).code, "CONNECTION_LOST");
  assert.equal((await site.server.listImages()).map((image) => image.id), [A, B], "its images stay in the site");
  await site.server.createVolumes(A, { ids: ["1000"], capacity: 1, unit: "ds" });
  // Meanwhile the node goes on by itself: a volume made there is picked up when it rejoins.
  await site.nodes[1].createVolumes(B, { ids: ["1002"], capacity: 1, unit: "ds" });
  await site.server.registerNode("n2", "http://127.0.0.1:8453", site.nodes[1]);
  assert.equal((await site.server.listVolumes(B)).map((volume) => volume.id), ["1000", "1002"]);
  assert.equal(site.server.state.images[1].catalog.volumes.map((volume) => volume.id), ["1000", "1002"]);
  assert.equal(events.map((event) => event.type), ["node-lost", "node-joined"]);
});

Routing("should refuse a node that brings an image another node hosts", async () => {
  const impostor = new EmbeddedSite({ workers: 0, images: [{ model: "2107", id: A }] });
  try {
    const error = await refusal(site.server.registerNode("n3", "http://127.0.0.1:8454", impostor));
    assert.is(error.code, "IMAGE_EXISTS");
    assert.match(error.message, /node n1 hosts already/);
    assert.equal(site.server.state.nodes.map((node) => node.id), ["n1", "n2"]);
  } finally {
    await impostor.close();
  }
});

Routing("should add images on the server's own node unless told, naming them uniquely across the site", async () => {
  const first = await site.server.addImage({ model: "2107" });
  const second = await site.server.addImageOn("n2", { model: "2105" });
  assert.equal([first.id, second.id], ["IBM.2107-75TZ003", "IBM.2105-75TZ004"]);
  assert.equal((await site.nodes[0].listImages()).map((image) => image.id), [A, first.id]);
  assert.equal((await site.nodes[1].listImages()).map((image) => image.id), [B, second.id]);
  const error = await refusal(site.server.addImageOn("n2", { id: first.id }));
  assert.equal([error.code, error.message], ["IMAGE_EXISTS", `storage image ${first.id} already exists`]);
  assert.equal(site.server.state.images.map((image) => image.nodeId), ["n1", "n2", "n1", "n2"]);
});

Routing("should re-emit the nodes' events", async () => {
  const events: SiteEvent[] = [];
  site.server.events((event) => events.push(event));
  await site.server.addImageOn("n2", { model: "2107" });
  assert.equal(events, [{ type: "image-added", imageId: "IBM.2107-75TZ003" }]);
});

Routing("should refuse a save or load of a site whose images are on several nodes", async () => {
  const error = await refusal(site.server.save(join(folder.path, "site.tzs")));
  assert.is(error.code, "BAD_ARGUMENT");
  assert.match(error.message, /nodes n1, n2/);
});

Routing("should keep workload names unique across the site and find a workload's node by name", async () => {
  await site.server.createVolumes(A, { ids: ["1000"], capacity: 1, unit: "ds" });
  await site.server.createVolumes(B, { ids: ["1000"], capacity: 1, unit: "ds" });
  const spec = { name: "oltp", volumeId: "1000", rw: "write" as const, pattern: "random" as const, blockBytes: 4096, iopsMax: 50, seed: 1 };
  await site.server.startWorkload(B, spec);
  assert.is((await refusal(site.server.startWorkload(A, spec))).code, "WORKLOAD_EXISTS");
  assert.equal((await site.server.listWorkloads()).map((workload) => [workload.spec.name, workload.imageId]), [["oltp", B]]);
  const stopped = await site.server.stopWorkload("oltp");
  assert.is(stopped.imageId, B);
  assert.is((await refusal(site.server.stopWorkload("batch"))).code, "WORKLOAD_NOT_FOUND");
});

const Requests = suite("request ids");
Requests.before.each(async () => {
  folder = temporaryDirectory();
  site = await siteOfTwo(join(folder.path, "server-state"));
});
Requests.after.each(async () => {
  await site.server.close();
  for (const node of site.nodes) await node.close();
  folder.remove();
});

Requests("should answer a retried request id as the first time without running it again, after a restart too", async () => {
  const shell = site.server.forCaller({ user: "admin", requestId: "shell-1-0001" });
  assert.equal(await shell.createVolumes(A, { ids: ["1000"], capacity: 1, unit: "ds" }), ["1000"]);
  assert.equal(await shell.createVolumes(A, { ids: ["1000"], capacity: 1, unit: "ds" }), ["1000"], "run again it would say VOLUME_EXISTS");
  const recorded = site.server.state.requests.find((request) => request.requestId === "shell-1-0001");
  assert.equal(recorded, { requestId: "shell-1-0001", method: "createVolumes", user: "admin", atMs: recorded!.atMs, outcome: { ok: true, result: ["1000"] } });
  const failing = site.server.forCaller({ requestId: "shell-1-0002" });
  const first = await refusal(failing.createVolumes(A, { ids: ["1000"], capacity: 1, unit: "ds" }));
  await site.nodes[0].removeVolumes(A, ["1000"]); // were it run again, it would now succeed
  const again = await refusal(failing.createVolumes(A, { ids: ["1000"], capacity: 1, unit: "ds" }));
  assert.equal(again.toData(), first.toData());
  const misused = await refusal(failing.removeVolumes(A, ["1000"]));
  assert.equal([misused.code, misused.message], ["BAD_ARGUMENT", "request id shell-1-0002 was used for createVolumes, not removeVolumes"]);
  await site.server.close();
  site.server = await openServer(site.directory);
  await site.server.registerNode("n1", "http://127.0.0.1:8452", site.nodes[0]);
  const retried = site.server.forCaller({ user: "admin", requestId: "shell-1-0001" });
  assert.equal(await retried.createVolumes(A, { ids: ["1000"], capacity: 1, unit: "ds" }), ["1000"]);
  assert.equal(await site.nodes[0].listVolumes(A), [], "the recorded answer, not a second run");
});

Requests("should run a retried request again when the first try never got its answer from the node", async () => {
  const flaky = new FlakyNode({ workers: 0, images: [{ model: "2107", id: "IBM.2107-75FLAKY1" }] });
  try {
    await site.server.registerNode("n3", "http://127.0.0.1:8454", flaky);
    flaky.failNext = true;
    const view = site.server.forCaller({ requestId: "r-lost" });
    assert.is((await refusal(view.createVolumes("IBM.2107-75FLAKY1", { ids: ["1000"], capacity: 1, unit: "ds" }))).code, "CONNECTION_LOST");
    assert.is(site.server.state.requests.some((request) => request.requestId === "r-lost"), false, "no answer is recorded");
    assert.equal(await view.createVolumes("IBM.2107-75FLAKY1", { ids: ["1000"], capacity: 1, unit: "ds" }), ["1000"]);
  } finally {
    await flaky.close();
  }
});

Requests("should run a request id once when the retry comes while the first is still running", async () => {
  const view = site.server.forCaller({ requestId: "r-twice" });
  const [left, right] = await Promise.all([
    view.createVolumes(B, { ids: ["1000", "1001"], capacity: 1, unit: "ds" }),
    view.createVolumes(B, { ids: ["1000", "1001"], capacity: 1, unit: "ds" }),
  ]);
  assert.equal(left, right);
  assert.equal((await site.nodes[1].listVolumes(B)).length, 2);
});

const Users = suite("users of the server");
Users.before.each(async () => {
  folder = temporaryDirectory();
  site = await siteOfTwo(join(folder.path, "server-state"));
});
Users.after.each(async () => {
  await site.server.close();
  for (const node of site.nodes) await node.close();
  folder.remove();
});

Users("should create admin once, log users in and out, and keep the accounts over a restart", async () => {
  const start = await site.server.firstStart();
  assert.ok(start.created && start.password !== null);
  assert.equal(await site.server.firstStart(), { created: false, password: null });
  const login = await site.server.login("admin", start.password!);
  assert.equal(site.server.authenticate(login.token), { user: "admin", passwordExpired: false, expiresAt: login.expiresAt });
  await site.server.createUserAs("admin", { name: "csop", password: "Temp0rary", groups: "op_copy_services" });
  const csop = await site.server.login("csop", "Temp0rary");
  assert.ok(csop.passwordExpired, "a password set by an administrator is temporary");
  await site.server.changeUserAs("csop", { name: "csop", password: "Mine0wnpw" });
  assert.equal(site.server.authenticate(csop.token), { user: "csop", passwordExpired: false, expiresAt: csop.expiresAt });
  await rejectsWithUser(site.server.login("csop", "Wrongpass1x"), "AUTHENTICATION_FAILED");
  assert.equal(site.server.listUsersAs("admin"), [{ Name: "admin", Group: "admin", State: "active" }, { Name: "csop", Group: "op_copy_services", State: "active" }]);
  await site.server.logout(login.token);
  assert.throws(() => site.server.authenticate(login.token), /not one of a live session/);
  await site.server.close();
  site.server = await openServer(site.directory);
  assert.equal(site.server.state.users.users.find((user) => user.name === "csop")!.failedLogins, 1, "the failed attempt was journaled");
  assert.is(site.server.authenticate(csop.token).user, "csop", "a session is journaled: its token is good after a restart");
  assert.throws(() => site.server.authenticate(login.token), /not one of a live session/, "a logout is journaled too");
  const again = await site.server.login("csop", "Mine0wnpw");
  await site.server.removeUserAs("admin", "csop");
  assert.throws(() => site.server.authenticate(again.token), /not one of a live session/, "a removed user's sessions end");
});

Routing.run();
Requests.run();
Users.run();
