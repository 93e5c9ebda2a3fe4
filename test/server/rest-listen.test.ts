// The REST API on a real listening server (127.0.0.1, a port of the
// system's choosing), spoken to over HTTP as a client would: links carry the
// server's own address and can be followed, a literal `..` in a path is
// refused, and what REST does a DS CLI shell on the same site sees, and the
// other way round.
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Session } from "../../src/lang/session.js";
import { IMAGE, params, restFixture, type RestFixture } from "./rest-support.js";

interface Context {
  fixture: RestFixture;
  origin: string;
  shell: Session;
  lines: string[];
}
const context = {} as Context;

async function http(method: string, path: string, body?: object, token: string | null = context.fixture.token): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = {};
  if (token !== null) headers["X-Auth-Token"] = token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const url = path.startsWith("http") ? path : `${context.origin}${path}`;
  const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: response.status, json: await response.json() };
}

// The shell's output of one command.
async function dscli(command: string): Promise<string> {
  const start = context.lines.length;
  await context.shell.runSource(command, "rest-listen.tzs");
  return context.lines.slice(start).join("\n");
}

// Sends bytes as they are, for paths that fetch would normalise.
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => socket.end(text));
    let answer = "";
    socket.on("data", (chunk) => { answer += chunk.toString("latin1"); });
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
  });
}

const Listening = suite("REST API on a listening server");
Listening.before.each(async () => {
  context.fixture = await restFixture();
  await context.fixture.app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = context.fixture.app.server.address() as AddressInfo;
  context.origin = `http://127.0.0.1:${port}`;
  context.lines = [];
  context.shell = new Session({ site: context.fixture.site, imageId: IMAGE, write: (text) => context.lines.push(text), workers: 0 });
});
Listening.after.each(async () => {
  await context.fixture.close();
});

Listening("should log in over HTTP and give links to its own address that can be followed", async () => {
  const login = await http("POST", "/api/v1/tokens", params({ username: "admin", password: context.fixture.adminPassword }), null);
  assert.is(login.status, 200);
  const token = login.json.token.token;
  const created = await http("POST", "/api/v1/volumes", params({ cap: "1", pool: "P0", id: "0200", name: "web" }), token);
  assert.is(created.status, 201, JSON.stringify(created.json));
  assert.is(created.json.link.href, `${context.origin}/api/v1/volumes/0200`);
  const followed = await http("GET", created.json.link.href, undefined, token);
  assert.is(followed.json.data.volumes[0].name, "web");
  const pool = await http("GET", followed.json.data.volumes[0].pool.link.href, undefined, token);
  assert.is(pool.json.data.pools[0].id, "P0");
  const poolVolumes = await http("GET", pool.json.data.pools[0].volumes.link.href, undefined, token);
  assert.equal(poolVolumes.json.data.volumes.map((volume: any) => volume.id), ["0200"]);
});

Listening("should answer 401 without a token over HTTP, and serve after a fresh login", async () => {
  const refused = await http("GET", "/api/v1/volumes", undefined, null);
  assert.is(refused.status, 401);
  assert.is(refused.json.server.code, "TOKEN_MISSING");
  const login = await http("POST", "/api/v1/tokens", params({ username: "admin", password: context.fixture.adminPassword }), null);
  assert.is((await http("GET", "/api/v1/volumes", undefined, login.json.token.token)).status, 200);
});

Listening("should refuse a literal .. path and a raw bad request, and go on serving", async () => {
  const { port } = context.fixture.app.server.address() as AddressInfo;
  const dotted = await rawRequest(port, `GET /api/v1/volumes/../systems HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: ${context.fixture.token}\r\nConnection: close\r\n\r\n`);
  assert.match(dotted, /^HTTP\/1\.1 40[04] /);
  assert.match(dotted, /"status":"failed"/);
  const garbage = await rawRequest(port, "NONSENSE \u0001\r\n\r\n");
  assert.match(garbage, /^HTTP\/1\.1 400 /);
  assert.is((await http("GET", "/api/v1/systems")).status, 200);
});

Listening("should show volumes and FlashCopies made through REST in the DS CLI shell, and the other way round", async () => {
  const created = await http("POST", "/api/v1/volumes", params({ cap: "1", pool: "P0", ids: ["1000", "1001"], namecol: ["prod", "copy"] }));
  assert.is(created.status, 201, JSON.stringify(created.json));
  const listing = await dscli("lsfbvol");
  assert.match(listing, /prod\s+1000/);
  assert.match(listing, /copy\s+1001/);
  const flash = await http("POST", "/api/v1/cs/flashcopies", params({ volume_pairs: [{ source_volume: "1000", target_volume: "1001" }], options: ["no_background_copy"] }));
  assert.is(flash.status, 201, JSON.stringify(flash.json));
  assert.match(await dscli("lsflash 1000:1001"), /1000:1001/);
  await dscli("mkfbvol -cap 1 -name shell 1002\nmkfbvol -cap 1 -name shell2 1003\nmkflash -nocp 1002:1003");
  const volumes = await http("GET", "/api/v1/volumes");
  assert.equal(volumes.json.data.volumes.map((volume: any) => [volume.id, volume.name]), [["1000", "prod"], ["1001", "copy"], ["1002", "shell"], ["1003", "shell2"]]);
  const flashes = await http("GET", "/api/v1/cs/flashcopies");
  assert.equal(flashes.json.data.flashcopies.map((item: any) => item.id), ["1000:1001", "1002:1003"]);
  await dscli("rmflash -quiet 1000:1001");
  assert.is((await http("GET", "/api/v1/cs/flashcopies/1000:1001")).status, 404);
});

Listening.run();
