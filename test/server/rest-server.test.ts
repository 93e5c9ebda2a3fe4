// The REST API over a Copy Services Server (serverAuth, serverSiteFor): its
// journaled users log in, its sessions' tokens are the REST tokens, and
// volumes and FlashCopies made through REST reach the node that hosts the
// image and the server's catalog.
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { FastifyInstance } from "fastify";
import { CopyServicesServer } from "../../src/server/server.js";
import { ServerStore } from "../../src/server/store.js";
import { restServer, serverAuth, serverSiteFor } from "../../src/server/rest/index.js";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { temporaryDirectory } from "../store/support.js";
import { config } from "./support.js";
import { login, params } from "./rest-support.js";

const IMAGE = "IBM.2107-75SERVE1";

interface Fixture {
  folder: { path: string; remove(): void };
  node: EmbeddedSite;
  server: CopyServicesServer;
  app: FastifyInstance;
  token: string;
  password: string;
}
let fixture: Fixture;

function send(method: "GET" | "POST" | "DELETE", url: string, body?: object, token = fixture.token) {
  return fixture.app.inject({ method, url, headers: { "x-auth-token": token }, ...(body === undefined ? {} : { payload: body }) });
}

const OverServer = suite("REST API over a Copy Services Server");
OverServer.before.each(async () => {
  const folder = temporaryDirectory();
  const node = new EmbeddedSite({ workers: 0, images: [{ model: "2107", id: IMAGE }] });
  const server = new CopyServicesServer({ store: await ServerStore.open(join(folder.path, "state")), nodeId: "n1", users: config });
  await server.registerNode("n1", "http://127.0.0.1:8452", node);
  const { password } = await server.firstStart();
  const app = await restServer({ site: server, auth: serverAuth(server), siteFor: serverSiteFor(server) });
  fixture = { folder, node, server, app, token: await login(app, "admin", password!), password: password! };
});
OverServer.after.each(async () => {
  await fixture.app.close();
  await fixture.server.close();
  await fixture.node.close();
  fixture.folder.remove();
});

OverServer("should create volumes and a FlashCopy through the server, on its node and in its catalog", async () => {
  const created = await send("POST", "/api/v1/volumes", params({ cap: "1", pool: "P0", ids: ["1000", "1001"], name: "r#h" }));
  assert.is(created.statusCode, 201, created.body);
  assert.equal((await fixture.node.listVolumes(IMAGE)).map((volume) => [volume.id, volume.name]), [["1000", "r1000"], ["1001", "r1001"]]);
  const flash = await send("POST", "/api/v1/cs/flashcopies", params({ volume_pairs: [{ source_volume: "1000", target_volume: "1001" }], options: ["no_background_copy"] }));
  assert.is(flash.statusCode, 201, flash.body);
  const catalog = fixture.server.state.images.find((image) => image.info.id === IMAGE)!.catalog;
  assert.equal(catalog.volumes.map((volume) => volume.id), ["1000", "1001"]);
  assert.equal(catalog.flash.map((relationship) => relationship.id), ["1000:1001"]);
  const listed = await send("GET", "/api/v1/cs/flashcopies");
  assert.equal(listed.json().data.flashcopies.map((item: any) => item.id), ["1000:1001"]);
});

OverServer("should give the server's idle time as the login reply's max_idle_interval, in milliseconds as DS8000 does", async () => {
  const reply = await fixture.app.inject({ method: "POST", url: "/api/v1/tokens", payload: params({ username: "admin", password: fixture.password }) });
  assert.is(reply.statusCode, 200, reply.body);
  assert.match(reply.json().token.max_idle_interval, /^[1-9]\d*$/);
});

OverServer("should refuse a token the server does not know, and one logged out", async () => {
  assert.is((await send("GET", "/api/v1/volumes", undefined, "B".repeat(43))).json().server.code, "TOKEN_UNKNOWN");
  await fixture.server.logout(fixture.token);
  const reply = await send("GET", "/api/v1/volumes");
  assert.is(reply.statusCode, 401);
  assert.is(reply.json().server.code, "TOKEN_UNKNOWN");
});

OverServer("should refuse a user whose password is temporary with 403 PASSWORD_EXPIRED", async () => {
  await fixture.server.createUserAs("admin", { name: "newop", password: "tempor4ry", groups: "op_volume" });
  const token = await login(fixture.app, "newop", "tempor4ry");
  const reply = await send("GET", "/api/v1/volumes", undefined, token);
  assert.is(reply.statusCode, 403, reply.body);
  assert.is(reply.json().server.code, "PASSWORD_EXPIRED");
});

OverServer.run();
