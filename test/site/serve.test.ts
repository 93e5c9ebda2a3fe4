// `tzero serve` as real processes on loopback: argument errors, the primary's
// first start (admin's password once, the site key file), a node joining, a
// node killed with kill -9 and coming back from its --state, connections
// without the site key, and SIGTERM's save.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connectWebSocket } from "../../src/wire/websocket.js";
import { nodeMessages } from "../../src/server/node-messages.js";
import { RemoteSite } from "../../src/site/remote.js";
import { MAIN, ServeSandbox } from "../support/serve-process.js";
import { parseServeArgs } from "../../src/cli/serve-args.js";
import { ServeArgumentError } from "../../src/server/http.js";
import { rejectsWith } from "../wire/support.js";

const Args = suite("tzero serve arguments");

function serveSync(args: string[]) {
  const result = spawnSync(process.execPath, [MAIN, "serve", ...args], { encoding: "utf8", timeout: 30_000 });
  return { status: result.status, stderr: result.stderr };
}

for (const [args, flag] of [
  [["--listen", "localhost"], "--listen"],
  [["--listen", "127.0.0.1:99999"], "--listen"],
  [["--image", "IBM.2107-75X"], "--image"],
  [["--image", "IBM.2107-75SITEA:2105"], "--image"],
  [["--backup"], "--backup"],
  [["--tls-cert", "cert.pem"], "--tls-cert"],
  [["--tls-dir", "tls"], "--tls-dir"],
  [["--tls-self-signed", "--tls-cert", "c.pem", "--tls-key", "k.pem"], "--tls-self-signed"],
  [["--join", "ftp://127.0.0.1"], "--join"],
  [["--heartbeat-timeout-ms", "10"], "--heartbeat-timeout-ms"],
  [["--nbd", "nowhere"], "--nbd"],
  [["--save-interval", "5"], "--save-interval"],
  [["--state", "a.tzs", "--save-interval", "-1"], "--save-interval"],
  [["--state", "a.tzs", "--save-interval", "1.5"], "--save-interval"],
  [["--frobnicate"], "--frobnicate"],
] as const) {
  Args(`should refuse ${args.join(" ")}, naming ${flag}`, () => {
    try {
      parseServeArgs([...args]);
      assert.unreachable("accepted");
    } catch (error) {
      assert.instance(error, ServeArgumentError);
      assert.match((error as Error).message, new RegExp(`^${flag}`));
    }
  });
}

Args("should exit 2 with the flag's error and the usage for a bad argument", () => {
  const result = serveSync(["--listen", "localhost"]);
  assert.is(result.status, 2, result.stderr);
  assert.match(result.stderr, /^tzero serve: --listen: "localhost" is not HOST:PORT/);
  assert.match(result.stderr, /usage: tzero serve/);
});

Args("should default to one 2107 image on 127.0.0.1:8452, with the server state next to --state", () => {
  const config = parseServeArgs(["--state", "/x/b.state"], "/x", {});
  assert.equal(config.images, [{ id: "IBM.2107-75TZ001", model: "2107" }]);
  assert.equal(config.listen, { host: "127.0.0.1", port: 8452 });
  assert.is(config.serverStateDir, "/x/b.state.server");
  assert.is(config.siteKeyFile, "/x/b.state.server/site.key");
  assert.is(config.tlsSelfSignedDir, null);
  assert.is(parseServeArgs(["--state", "/x/b.state", "--tls-self-signed"], "/x", {}).tlsSelfSignedDir, "/x/b.state.server/tls");
  assert.is(parseServeArgs(["--tls-self-signed", "--tls-dir", "certs"], "/x", {}).tlsSelfSignedDir, "/x/certs");
  assert.is(parseServeArgs([], "/x", { XDG_STATE_HOME: "/s" }).serverStateDir, "/s/tzero/server");
  assert.is(parseServeArgs(["--join", "http://10.0.0.1"], "/x", {}).join?.href, "ws://10.0.0.1:8452/");
  assert.is(config.saveIntervalMs, 30_000, "--state is saved every 30 s while volumes change");
  assert.is(parseServeArgs(["--state", "b.state", "--save-interval", "0"], "/x", {}).saveIntervalMs, 0);
});



Args("should exit 2 naming --site-key-file when a joining node has no copy of the key", async () => {
  const sandbox = new ServeSandbox();
  try {
    const result = serveSync(["--listen", "0", "--join", "http://127.0.0.1:1", "--site-key-file", sandbox.path("none.key"), "--server-state", sandbox.path("s")]);
    assert.is(result.status, 2, result.stderr);
    assert.match(result.stderr, /^tzero serve: --site-key-file: .*none\.key does not exist: a node that joins needs a copy of the primary's site key file/);
  } finally {
    await sandbox.close();
  }
});

Args.run();

// A primary server on image SITEA with the admin password Adm1npass, and a node on SITEB
// joining it with --state b.state (and `nodeExtra`); nodeArgs restart the node as it was.
async function primaryAndNode(sandbox: ServeSandbox, ...nodeExtra: string[]) {
  writeFileSync(sandbox.path("admin.pw"), "Adm1npass\n", { mode: 0o600 });
  const primary = sandbox.start("--image", "IBM.2107-75SITEA", "--server-state", sandbox.path("a.server"), "--admin-password-file", sandbox.path("admin.pw"));
  await primary.waitFor(/primary Copy Services Server/);
  const nodeArgs = ["--image", "IBM.2107-75SITEB", "--join", primary.url, "--site-key-file", sandbox.path("a.server/site.key"), "--state", sandbox.path("b.state"), ...nodeExtra];
  return { primary, node: sandbox.start(...nodeArgs), nodeArgs };
}

function adminShell(url: string): Promise<RemoteSite> {
  const { hostname, port } = new URL(url);
  return RemoteSite.connect({ servers: [{ host: hostname, port: Number(port) }], user: "admin", password: "Adm1npass" });
}

const Serve = suite("tzero serve");

Serve("should create admin and the site key at the first start only, and come back as the same server", async () => {
  const sandbox = new ServeSandbox();
  try {
    const first = sandbox.start("--image", "IBM.2107-75SITEA", "--server-state", sandbox.path("a.server"));
    const created = await first.waitFor(/created user admin with password \S+ \(shown once/);
    await first.waitFor(/primary Copy Services Server, term 1/);
    const keyFile = sandbox.path("a.server/site.key");
    assert.is(statSync(keyFile).mode & 0o777, 0o600, "only its owner may read the site key");
    const key = readFileSync(keyFile, "utf8");
    assert.is((await first.stop()).code, 0);
    const again = sandbox.start("--image", "IBM.2107-75SITEA", "--server-state", sandbox.path("a.server"));
    await again.waitFor(/primary Copy Services Server, term 1/);
    assert.not.match(again.log, /created user admin/, `no second password (first start said: ${created})`);
    assert.is(readFileSync(keyFile, "utf8"), key, "the same site key");
    assert.is((await again.stop()).code, 0);
  } finally {
    await sandbox.close();
  }
});

Serve("should take admin's password from --admin-password-file and never print it", async () => {
  const sandbox = new ServeSandbox();
  try {
    writeFileSync(sandbox.path("admin.pw"), "Adm1n-secret-pw\n", { mode: 0o600 });
    const primary = sandbox.start("--server-state", sandbox.path("a.server"), "--admin-password-file", sandbox.path("admin.pw"));
    await primary.waitFor(/created user admin with the password of .*admin\.pw/);
    assert.not.match(primary.log, /Adm1n-secret-pw/);
    assert.is((await primary.stop()).code, 0);
  } finally {
    await sandbox.close();
  }
});

Serve("should route commands to a joining node, show its images unreachable at kill -9, and take it back from its --state", async () => {
  const sandbox = new ServeSandbox();
  let shell: RemoteSite | null = null;
  try {
    const { primary, node, nodeArgs } = await primaryAndNode(sandbox);
    await node.waitFor(/registered with ws:\/\/127\.0\.0\.1:\d+ \(term 1\)/);
    await primary.waitFor(/node IBM\.2107-75SITEB joined from http:\/\/127\.0\.0\.1:\d+/);
    shell = await adminShell(primary.url);
    assert.equal((await shell.listImages()).map((image) => image.id), ["IBM.2107-75SITEA", "IBM.2107-75SITEB"], "both nodes' images, through the server");
    assert.equal(await shell.createVolumes("IBM.2107-75SITEB", { ids: ["1000"], capacity: 1, unit: "ds" }), ["1000"]);
    assert.is((await shell.listVolumes("IBM.2107-75SITEA")).length, 0, "the volume went to the node that owns its image");
    assert.is((await node.stop()).code, 0, "SIGTERM stops the node cleanly");
    assert.ok(existsSync(sandbox.path("b.state")), "and saves its --state");
    await primary.waitFor(/node IBM\.2107-75SITEB lost/);
    const back = sandbox.start(...nodeArgs);
    await back.waitFor(/loaded .*b\.state: IBM\.2107-75SITEB \(1 volumes/);
    await primary.waitFor(/node IBM\.2107-75SITEB joined/, 2);
    assert.equal((await shell.listVolumes("IBM.2107-75SITEB")).map((volume) => volume.id), ["1000"], "the node's own state holds the routed volume");
    back.kill("SIGKILL");
    await back.exited;
    await primary.waitFor(/node IBM\.2107-75SITEB lost/, 2);
    try {
      await shell.listVolumes("IBM.2107-75SITEB");
      assert.unreachable("a killed node's image answered");
    } catch (error) {
      assert.is((error as { code?: string }).code, "CONNECTION_LOST", (error as Error).message);
      assert.match((error as Error).message, /IBM\.2107-75SITEB/);
    }
    sandbox.start(...nodeArgs);
    await primary.waitFor(/node IBM\.2107-75SITEB joined/, 3);
    assert.equal((await shell.listVolumes("IBM.2107-75SITEB")).map((volume) => volume.id), ["1000"]);
  } finally {
    await shell?.close();
    await sandbox.close();
  }
});

Serve("should save --state after a configuration change and while volumes change, so that a kill -9 loses neither", async () => {
  const sandbox = new ServeSandbox();
  let shell: RemoteSite | null = null;
  try {
    const { primary, node, nodeArgs } = await primaryAndNode(sandbox, "--save-interval", "1");
    await primary.waitFor(/node IBM\.2107-75SITEB joined/);
    shell = await adminShell(primary.url);
    assert.equal(await shell.createVolumes("IBM.2107-75SITEB", { ids: ["1000", "1001"], capacity: 2048, unit: "blocks" }), ["1000", "1001"]);
    await node.waitFor(/saved .*b\.state \(the configuration changed\): 2 volumes/);
    await shell.establishFlash("IBM.2107-75SITEB", { pairs: [["1000", "1001"]], options: { nocopy: true } });
    await node.waitFor(/saved .*b\.state \(the configuration changed\): 2 volumes, 1 relationships/);
    const data = new Uint8Array(8192).fill(0xa5);
    await shell.write("IBM.2107-75SITEB", "1000", 65536, data);
    await node.waitFor(/saved .*b\.state \(volumes changed\)/);
    const checksum = await shell.checksum("IBM.2107-75SITEB", "1000", 0, 2048 * 512);
    const saves = node.log.split("\n").filter((line) => / saved /.test(line)).length;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.is(node.log.split("\n").filter((line) => / saved /.test(line)).length, saves, "nothing changed: no save");
    node.kill("SIGKILL");
    await node.exited;
    assert.not.match(node.log, /stopping/, "no SIGTERM: the node never stopped cleanly");
    const back = sandbox.start(...nodeArgs);
    await back.waitFor(/loaded .*b\.state: IBM\.2107-75SITEB \(2 volumes, 1 relationships\)/);
    await primary.waitFor(/node IBM\.2107-75SITEB joined/, 2);
    assert.equal((await shell.listVolumes("IBM.2107-75SITEB")).map((volume) => volume.id), ["1000", "1001"]);
    assert.equal((await shell.listFlash("IBM.2107-75SITEB")).map((flash) => flash.id), ["1000:1001"]);
    assert.is(await shell.checksum("IBM.2107-75SITEB", "1000", 0, 2048 * 512), checksum, "the write saved by the interval is back");
  } finally {
    await shell?.close();
    await sandbox.close();
  }
});

Serve("should refuse a node connection without the site key, and go on serving", async () => {
  const sandbox = new ServeSandbox();
  try {
    const primary = sandbox.start("--server-state", sandbox.path("a.server"));
    await primary.waitFor(/primary Copy Services Server/);
    const url = `${primary.url.replace(/^http/, "ws")}/cs/node`;
    const options = { nodeId: "intruder", role: "node", messages: nodeMessages, handshakeTimeoutMs: 5000 };
    await rejectsWith(connectWebSocket({ ...options, siteKey: new Uint8Array(32).fill(9), url }), "AUTH_FAILED");
    await primary.waitFor(/refused a node connection .*AUTH_FAILED/);
    const key = new Uint8Array(Buffer.from(readFileSync(sandbox.path("a.server/site.key"), "utf8").trim(), "hex"));
    const member = await connectWebSocket({ ...options, siteKey: key, url });
    assert.equal(await member.request("node.status", {}), { role: "primary", term: 1, url: primary.url.replace(/^http/, "ws") });
    await member.close();
  } finally {
    await sandbox.close();
  }
});

// The REST API of a node's port: a token from admin's password, then the X-Auth-Token header.
async function rest(url: string, password: string) {
  const login = await fetch(`${url}/api/v1/tokens`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ request: { params: { username: "admin", password } } }) });
  const token = ((await login.json()) as { token?: { token: string } }).token?.token;
  if (login.status !== 200 || token === undefined) return { status: login.status, call: null };
  const call = async (method: string, path: string, params?: Record<string, unknown>) => {
    const reply = await fetch(`${url}/api/v1${path}`, { method, headers: { "x-auth-token": token, "content-type": "application/json" }, body: params === undefined ? undefined : JSON.stringify({ request: { params } }) });
    return { status: reply.status, body: (await reply.json()) as any };
  };
  return { status: login.status, call };
}

Serve("should keep the site across a SIGTERM and a restart: the server's users in --server-state, the volumes in --state", async () => {
  const sandbox = new ServeSandbox();
  try {
    writeFileSync(sandbox.path("admin.pw"), "Adm1n-secret-pw\n", { mode: 0o600 });
    const args = ["--image", "IBM.2107-75SITEA", "--state", sandbox.path("a.state"), "--server-state", sandbox.path("a.server"), "--admin-password-file", sandbox.path("admin.pw")];
    const first = sandbox.start(...args);
    await first.waitFor(/primary Copy Services Server/);
    const before = await rest(first.url, "Adm1n-secret-pw");
    assert.is(before.status, 200);
    const created = await before.call!("POST", "/volumes", { cap: "1", captype: "gib", pool: "P0", ids: ["1000", "1001"], name: "kept" });
    assert.is(created.status, 201, JSON.stringify(created.body));
    assert.is((await first.stop()).code, 0);
    await first.waitFor(/saved .*a\.state/);
    const again = sandbox.start(...args);
    await again.waitFor(/primary Copy Services Server, term 1/);
    const after = await rest(again.url, "Adm1n-secret-pw");
    assert.is(after.status, 200, "admin's password is the server's, kept in --server-state");
    const listed = await after.call!("GET", "/volumes");
    assert.equal(listed.body.data.volumes.map((volume: { id: string }) => volume.id), ["1000", "1001"]);
  } finally {
    await sandbox.close();
  }
});

Serve.run();
