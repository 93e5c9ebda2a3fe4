// The /cs/shell endpoint and the RemoteSite that talks to it, on a real
// fastify on 127.0.0.1: logins and their refusals (wrong password, lockout
// after three), nothing but a login before a login, tokens that expire and
// idle out, the users' groups (a monitor may list, not create), and failover
// from a dead -hmc1 to -hmc2 and from a server that dies mid-session.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { SiteError } from "../../src/site/errors.js";
import { RemoteSite, parseServerAddress, type ServerAddress } from "../../src/site/remote.js";
import { shellMessages, SHELL_PATH, SHELL_ROLE } from "../../src/site/shell-messages.js";
import { Connection } from "../../src/wire/connection.js";
import { dialWebSocket } from "../../src/wire/websocket.js";
import { WireError } from "../../src/wire/errors.js";
import { ServerError } from "../../src/server/server-errors.js";
import { rejectsWithCode } from "../support/coded-errors.js";
import { serveShellEndpoint, startServer, type ShellServerHandle, type TestServer } from "../support/shell-server.js";

const MINUTE = 60_000;
let clock = 1_800_000_000_000;
let engine: EmbeddedSite;
let css: TestServer;
let server: ShellServerHandle;
const remotes: RemoteSite[] = [];

function address(handle: ShellServerHandle): ServerAddress {
  return { host: "127.0.0.1", port: handle.port };
}

async function connect(user: string, password: string, servers: ServerAddress[] = [address(server)]): Promise<RemoteSite> {
  const remote = await RemoteSite.connect({ servers, user, password, connectTimeoutMs: 2000 });
  remotes.push(remote);
  return remote;
}

function rejectsWith(promise: Promise<unknown>, code: string): Promise<SiteError> {
  return rejectsWithCode(promise, SiteError, code);
}

// A raw shell connection to the endpoint, not logged in.
async function rawConnection(handle: ShellServerHandle): Promise<Connection<typeof shellMessages.specs>> {
  const transport = await dialWebSocket(`ws://127.0.0.1:${handle.port}${SHELL_PATH}`, { timeoutMs: 2000, maxPayload: 1 << 20 });
  const connection = new Connection(transport, "dialer", { handshake: "hello", nodeId: "raw-shell", role: SHELL_ROLE, messages: shellMessages });
  await connection.opened;
  return connection;
}

// A port nothing listens on: a server that was started and stopped.
async function deadAddress(): Promise<ServerAddress> {
  const handle = await serveShellEndpoint(css.backend);
  await handle.close();
  return address(handle);
}

const Shell = suite("the /cs/shell endpoint");
Shell.before.each(async () => {
  clock = 1_800_000_000_000;
  engine = new EmbeddedSite({ workers: 0, images: [{ model: "2107", id: "IBM.2107-75TZ001" }] });
  css = await startServer(engine, { now: () => clock, lifetimeMs: 60 * MINUTE, idleMs: 10 * MINUTE });
  await css.addUser("watcher", "watch1ng", "monitor");
  await css.addUser("copier", "c0pier", "op_copy_services,op_volume");
  server = await serveShellEndpoint(css.backend);
});
Shell.after.each(async () => {
  for (const remote of remotes.splice(0)) await remote.close();
  await server.close();
  await css.close();
  await engine.close();
});

Shell("should log in and run calls on the server's site", async () => {
  const remote = await connect("admin", css.adminPassword);
  assert.equal(await remote.createVolumes("IBM.2107-75TZ001", { ids: ["1000"], capacity: 1, unit: "ds" }), ["1000"]);
  assert.equal((await engine.listVolumes("IBM.2107-75TZ001")).map((volume) => volume.id), ["1000"]);
  assert.equal(remote.server, address(server));
});

Shell("should refuse a wrong password with AUTHENTICATION_FAILED, saying nothing of which was wrong", async () => {
  const refused = await rejectsWith(connect("admin", "wrong1pass"), "AUTHENTICATION_FAILED");
  assert.match(refused.message, /the user name or the password is wrong/);
  assert.not.match(refused.message, /wrong1pass/);
  await rejectsWith(connect("nobody", "wrong1pass"), "AUTHENTICATION_FAILED");
});

Shell("should lock an account after three failed logins, then refuse even its right password", async () => {
  for (let attempt = 1; attempt <= 3; attempt++) await rejectsWith(connect("copier", `bad${attempt}pass`), "AUTHENTICATION_FAILED");
  const locked = await rejectsWith(connect("copier", "c0pier"), "ACCOUNT_LOCKED");
  assert.match(locked.message, /chuser -unlock/);
  const admin = await connect("admin", css.adminPassword);
  assert.is((await admin.user("copier")).state, "locked");
  await admin.changeUser({ name: "copier", unlock: true });
  await connect("copier", "c0pier");
});

Shell("should refuse a monitor's mkfbvol with NOT_AUTHORIZED, naming the group, and let it list", async () => {
  const watcher = await connect("watcher", "watch1ng");
  assert.equal(await watcher.listVolumes("IBM.2107-75TZ001"), []);
  const refused = await rejectsWith(watcher.createVolumes("IBM.2107-75TZ001", { ids: ["1000"], capacity: 1, unit: "ds" }), "NOT_AUTHORIZED");
  assert.match(refused.message, /watcher \(group monitor\) may not run volume commands/);
  assert.equal(await engine.listVolumes("IBM.2107-75TZ001"), []);
  await rejectsWith(watcher.createUser({ name: "other", password: "0ther1pw", groups: "monitor" }), "NOT_AUTHORIZED");
});

Shell("should refuse calls once the session idled out or expired, and log in again by itself", async () => {
  const watcher = await connect("watcher", "watch1ng");
  assert.is(css.logins, 1);
  clock += 11 * MINUTE; // past the idle time: the next call is refused with TOKEN_IDLE, and RemoteSite logs in afresh
  assert.equal(await watcher.listVolumes("IBM.2107-75TZ001"), []);
  assert.is(css.logins, 2, "logged in again after the idle time");
  for (let minute = 5; minute <= 60; minute += 5) {
    clock += 5 * MINUTE;
    await watcher.listPools("IBM.2107-75TZ001");
  }
  assert.is(css.logins, 3, "logged in again once the session's hour was up");
});

Shell("should refuse a token that idled out when a shell resumes with it", async () => {
  const { token } = await css.server.login("watcher", "watch1ng");
  clock += 11 * MINUTE;
  const connection = await rawConnection(server);
  const reply = await connection.request("shell.resume", { token });
  assert.is(reply.error?.code, "TOKEN_IDLE", JSON.stringify(reply));
  assert.match(reply.error!.message, /idle/);
  await connection.close();
});

Shell("should close a connection that sends a Site call before logging in, as UNAUTHENTICATED, and run nothing", async () => {
  const connection = await rawConnection(server);
  const call = connection.request("site.createVolumes", { call: 1, args: ["IBM.2107-75TZ001", { ids: ["1000"], capacity: 1, unit: "ds" }] });
  const cause = await connection.closed;
  await call.catch(() => undefined);
  assert.is(cause.code, "PEER_CLOSED");
  assert.is((cause as WireError).remoteCode, "UNAUTHENTICATED");
  assert.equal(await engine.listVolumes("IBM.2107-75TZ001"), []);
});

Shell("should close a connection after three failed logins on it", async () => {
  const connection = await rawConnection(server);
  for (let attempt = 1; attempt <= 3; attempt++) {
    const reply = await connection.request("shell.login", { user: "nobody", password: `n0body${attempt}x` });
    assert.is(reply.error?.code, "AUTHENTICATION_FAILED");
  }
  const cause = await connection.closed;
  assert.is(cause.code, "PEER_CLOSED");
  assert.match(cause.message, /3 failed logins/);
});

Shell("should say CONNECTION_FAILED, naming each server, when none answers", async () => {
  const dead = await deadAddress();
  const refused = await rejectsWith(connect("admin", css.adminPassword, [dead, { host: "127.0.0.1", port: dead.port }]), "CONNECTION_FAILED");
  assert.match(refused.message, new RegExp(`127\\.0\\.0\\.1:${dead.port}: .*ECONNREFUSED`));
});

Shell("should log in on -hmc2 when -hmc1 is dead", async () => {
  const remote = await connect("admin", css.adminPassword, [await deadAddress(), address(server)]);
  assert.equal(remote.server, address(server));
  assert.equal(await remote.listVolumes("IBM.2107-75TZ001"), []);
});

Shell("should go to -hmc2 when -hmc1 answers but is not the primary (its login refused NOT_PRIMARY)", async () => {
  const backup = await serveShellEndpoint({
    ...css.backend,
    login: async () => { throw new ServerError("NOT_PRIMARY", "this server is the backup; the primary is elsewhere"); },
  });
  try {
    const remote = await connect("admin", css.adminPassword, [{ host: "127.0.0.1", port: backup.port }, address(server)]);
    assert.equal(remote.server, address(server));
    await rejectsWith(connect("admin", css.adminPassword, [{ host: "127.0.0.1", port: backup.port }]), "CONNECTION_FAILED");
  } finally {
    await backup.close();
  }
});

Shell("should send a call again on the other server, logged in afresh, when its server dies", async () => {
  const backup = await serveShellEndpoint(css.backend);
  try {
    const remote = await connect("admin", css.adminPassword, [address(server), address(backup)]);
    await remote.createVolumes("IBM.2107-75TZ001", { ids: ["1000"], capacity: 1, unit: "ds" });
    await server.close(); // the primary goes; its shells' connections with it
    assert.equal(await remote.createVolumes("IBM.2107-75TZ001", { ids: ["1001"], capacity: 1, unit: "ds" }), ["1001"]);
    assert.equal(remote.server, address(backup));
    assert.equal((await engine.listVolumes("IBM.2107-75TZ001")).map((volume) => volume.id), ["1000", "1001"]);
    server = backup;
  } catch (error) {
    await backup.close();
    throw error;
  }
});

Shell("should send a command whose answer was lost again with the same request id, and get the first answer, not a second run", async () => {
  const backup = await serveShellEndpoint(css.backend);
  const requestIds: Array<string | undefined> = [];
  let dropAnswer = true;
  // The primary runs the first createVolumes, then its shells' sockets die before the answer leaves.
  const dying = await serveShellEndpoint({
    ...css.backend,
    siteFor: (user, requestId) => {
      const site = css.backend.siteFor(user, requestId);
      return new Proxy(site, {
        get(target, property, receiver) {
          if (property !== "createVolumes") return Reflect.get(target, property, receiver);
          return async (...args: Parameters<typeof site.createVolumes>) => {
            requestIds.push(requestId);
            const created = await target.createVolumes(...args);
            if (dropAnswer) {
              dropAnswer = false;
              for (const client of dying.app.websocketServer.clients) client.terminate();
            }
            return created;
          };
        },
      });
    },
  });
  try {
    const remote = await connect("admin", css.adminPassword, [{ host: "127.0.0.1", port: dying.port }, address(backup)]);
    assert.equal(await remote.createVolumes("IBM.2107-75TZ001", { ids: ["1000"], capacity: 1, unit: "ds" }), ["1000"], "the first answer, not VOLUME_EXISTS");
    assert.equal(remote.server, address(backup));
    assert.is(requestIds.length, 1);
    assert.match(requestIds[0]!, /^[A-Za-z0-9_-]{16}-\d+$/);
    assert.equal((await engine.listVolumes("IBM.2107-75TZ001")).map((volume) => volume.id), ["1000"]);
    await rejectsWith(remote.createVolumes("IBM.2107-75TZ001", { ids: ["1000"], capacity: 1, unit: "ds" }), "VOLUME_EXISTS");
  } finally {
    await dying.close();
    await backup.close();
  }
});

const Addresses = suite("-hmc1 addresses");

Addresses("should take HOST, HOST:PORT and [IPv6]:PORT, with DS CLI's port 8452 by default", () => {
  assert.equal(parseServerAddress("hmc.example.com", "-hmc1"), { host: "hmc.example.com", port: 8452 });
  assert.equal(parseServerAddress("127.0.0.1:9000", "-hmc1"), { host: "127.0.0.1", port: 9000 });
  assert.equal(parseServerAddress("[::1]:9000", "-hmc2"), { host: "[::1]", port: 9000 });
});

Addresses("should refuse an address that is not HOST[:PORT], naming the option", () => {
  for (const text of ["", "a b", "host:0", "host:70000", "host:port", "http://host"]) {
    let caught: unknown = null;
    try {
      parseServerAddress(text, "-hmc2");
    } catch (error) {
      caught = error;
    }
    assert.instance(caught, SiteError, text);
    assert.is((caught as SiteError).code, "BAD_ARGUMENT");
    assert.match((caught as SiteError).message, /^-hmc2 /);
  }
});

Shell.run();
Addresses.run();
