// Console tasks: saved, listed, replaced and removed through /cs/console/tasks,
// run with their output on /cs/events and their exit status in a bounded
// history, kept in the server's journaled state across a restart and in the
// backup that takes over.
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { AddressInfo } from "node:net";
import { ReplicatedServer, replicationMessages } from "../../../src/server/replication.js";
import { ServerStore } from "../../../src/server/store.js";
import { TASK_HISTORY_MAX } from "../../../src/server/site-state.js";
import { ACTION_PROMPT } from "../../../src/server/console/tasks.js";
import { EmbeddedSite } from "../../../src/site/embedded.js";
import { connectInProcess } from "../../../src/wire/index.js";
import { temporaryDirectory } from "../../store/support.js";
import { config } from "../support.js";
import { call, IMAGE, serveConsole, startConsole, StreamClient, WAIT_MS_MAX, type ConsoleFixture } from "./support.js";

let fixture: ConsoleFixture;
const clients: StreamClient[] = [];

async function ready(port = fixture.port, token = fixture.token, since?: number): Promise<StreamClient> {
  const client = await StreamClient.ready(port, token, since);
  clients.push(client);
  return client;
}

// Runs task `name` and gives its output lines and exit code, from the stream.
async function runTask(client: StreamClient, name: string): Promise<{ lines: string[]; exitCode: number }> {
  const reply = await call(fixture, "POST", `/cs/console/tasks/${encodeURIComponent(name)}/run`);
  assert.is(reply.statusCode, 200, reply.body);
  const runId = reply.json().runId as string;
  assert.type(runId, "string");
  const finished = await client.next((message) => message.type === "task-finished" && message.runId === runId, `the end of ${name}'s run`);
  const lines = client.messages.filter((message) => message.type === "task-output" && message.runId === runId).map((message) => message.line as string);
  return { lines, exitCode: finished.exitCode as number };
}

const Tasks = suite("console tasks");
Tasks.before.each(async () => {
  fixture = await startConsole();
});
Tasks.after.each(async () => {
  for (const client of clients.splice(0)) client.close();
  await fixture.close();
  await fixture.node.close();
  fixture.folder.remove();
});

Tasks("should save an actions task, run it with its output streamed, and keep the run in its history", async () => {
  const body = `mkfbvol -dev ${IMAGE} -cap 1 1000-1001\n\n# a comment\nmkflash -dev ${IMAGE} -nocp 1000:1001`;
  const saved = await call(fixture, "PUT", "/cs/console/tasks/refresh", { kind: "actions", body });
  assert.is(saved.statusCode, 200, saved.body);
  assert.equal(saved.json().task, { name: "refresh", kind: "actions", body, history: [] });
  const client = await ready();
  const run = await runTask(client, "refresh");
  assert.is(run.exitCode, 0, run.lines.join("\n"));
  assert.equal(run.lines.filter((line) => line.startsWith(ACTION_PROMPT)), [`${ACTION_PROMPT}mkfbvol -dev ${IMAGE} -cap 1 1000-1001`, `${ACTION_PROMPT}mkflash -dev ${IMAGE} -nocp 1000:1001`]);
  assert.ok(run.lines.some((line) => line.startsWith("CMUC00137I mkflash:")), run.lines.join("\n"));
  assert.equal((await fixture.node.listFlash(IMAGE)).map((flash) => flash.id), ["1000:1001"]);
  const ran = await client.next((message) => message.kind === "task.ran");
  assert.equal([ran.user, ran.source, ran.ids], ["admin", "console", ["refresh"]], "the run is logged");
  const listed = (await call(fixture, "GET", "/cs/console/tasks")).json().tasks;
  assert.is(listed.length, 1);
  assert.equal(listed[0].history.map((entry: { exitCode: number; user: string }) => [entry.exitCode, entry.user]), [[0, "admin"]]);
  assert.ok(Date.parse(listed[0].history[0].started) <= Date.parse(listed[0].history[0].finished));
  const flash = client.events().find((message) => message.kind === "flash.established")!;
  assert.equal([flash.user, flash.source], ["admin", "console"]);
});

Tasks("should stop actions at the first that fails, with its exit code and error", async () => {
  await call(fixture, "PUT", "/cs/console/tasks/broken", { kind: "actions", body: `mkflash -dev ${IMAGE} 1000:1001\nmkfbvol -dev ${IMAGE} -cap 1 1000` });
  const run = await runTask(await ready(), "broken");
  assert.is(run.exitCode, 6);
  assert.ok(run.lines.some((line) => /CMUN\d{5}E mkflash:/.test(line)), run.lines.join("\n"));
  assert.equal(await fixture.node.listVolumes(IMAGE), [], "the second line never ran");
});

Tasks("should run a script task as a scenario, its failed assertion its exit code 1", async () => {
  const body = `mkfbvol -dev ${IMAGE} -cap 1 -name prod 1000\nlet n = 2\nassert $n == 3`;
  await call(fixture, "PUT", "/cs/console/tasks/check", { kind: "script", body });
  const client = await ready();
  const run = await runTask(client, "check");
  assert.is(run.exitCode, 1, run.lines.join("\n"));
  assert.ok(run.lines.some((line) => line.startsWith("task check:3:")), run.lines.join("\n"));
  const created = await client.next((message) => message.kind === "volume.created");
  assert.is(created.source, "script");
});

Tasks("should replace a task keeping its history, and remove it", async () => {
  await call(fixture, "PUT", "/cs/console/tasks/list", { kind: "actions", body: "lssi" });
  await runTask(await ready(), "list");
  const replaced = await call(fixture, "PUT", "/cs/console/tasks/list", { kind: "script", body: "lssi\nlsfbvol" });
  assert.is(replaced.json().task.history.length, 1);
  assert.is(replaced.json().task.kind, "script");
  const removed = await call(fixture, "DELETE", "/cs/console/tasks/list");
  assert.is(removed.statusCode, 200, removed.body);
  assert.equal((await call(fixture, "GET", "/cs/console/tasks")).json().tasks, []);
  for (const [method, url] of [["DELETE", "/cs/console/tasks/list"], ["POST", "/cs/console/tasks/list/run"]] as const) {
    const reply = await call(fixture, method, url);
    assert.is(reply.statusCode, 404, reply.body);
    assert.is(reply.json().server.code, "TASK_NOT_FOUND");
  }
});

Tasks("should keep only the last runs in a task's history", async () => {
  await call(fixture, "PUT", "/cs/console/tasks/often", { kind: "actions", body: "lssi" });
  const client = await ready();
  for (let run = 0; run < TASK_HISTORY_MAX + 2; run++) await runTask(client, "often");
  assert.is(fixture.server.task("often")!.history.length, TASK_HISTORY_MAX);
});

Tasks("should refuse malformed tasks with 400, saving nothing", async () => {
  const cases: Array<[string, unknown, string]> = [
    ["/cs/console/tasks/ok", { kind: "macro", body: "lssi" }, "kind"],
    ["/cs/console/tasks/ok", { kind: "actions" }, "body"],
    ["/cs/console/tasks/ok", { kind: "actions", body: 5 }, "body"],
    ["/cs/console/tasks/ok", { kind: "actions", body: "  " }, "body"],
    ["/cs/console/tasks/ok", { kind: "actions", body: "x".repeat(70_000) }, "body"],
    ["/cs/console/tasks/ok", { kind: "actions", body: "lssi", owner: "me" }, "owner"],
    ["/cs/console/tasks/ok", { kind: "script", body: "mkflash (" }, "cannot run"],
    ["/cs/console/tasks/ok", { kind: "script", body: "source /etc/passwd" }, "server's files"],
    [`/cs/console/tasks/${encodeURIComponent("../etc")}`, { kind: "actions", body: "lssi" }, "task name"],
    [`/cs/console/tasks/${"n".repeat(70)}`, { kind: "actions", body: "lssi" }, "task name"],
  ];
  for (const [url, body, field] of cases) {
    const reply = await call(fixture, "PUT", url, body);
    assert.is(reply.statusCode, 400, `${url} ${JSON.stringify(body).slice(0, 60)}: ${reply.body}`);
    assert.ok(reply.json().server.message.includes(field), reply.body);
  }
  assert.equal(fixture.server.listTasks(), []);
  const run = await call(fixture, "POST", "/cs/console/tasks/ok/run", { now: true });
  assert.is(run.statusCode, 400, run.body);
});

Tasks("should refuse saving a task to a user without copy services, but let a monitor list them", async () => {
  await fixture.server.createUserAs("admin", { name: "watcher", password: "T3mpwatch", groups: "monitor" });
  await fixture.server.changeUserAs("watcher", { name: "watcher", password: "watch1ng" });
  const token = (await fixture.server.login("watcher", "watch1ng")).token;
  const refused = await call(fixture, "PUT", "/cs/console/tasks/mine", { kind: "actions", body: "lssi" }, token);
  assert.is(refused.statusCode, 403, refused.body);
  assert.is((await call(fixture, "GET", "/cs/console/tasks", undefined, token)).statusCode, 200);
  assert.equal(fixture.server.listTasks(), []);
});

Tasks("should have its tasks, their history and the event log again after a restart", async () => {
  await call(fixture, "PUT", "/cs/console/tasks/keep", { kind: "actions", body: "lssi" });
  await runTask(await ready(), "keep");
  const before = (await call(fixture, "GET", "/cs/console/events?limit=2000")).json().events;
  for (const client of clients.splice(0)) client.close();
  await fixture.close();
  fixture = await startConsole({ folder: fixture.folder, node: fixture.node, password: fixture.adminPassword });
  const tasks = (await call(fixture, "GET", "/cs/console/tasks")).json().tasks;
  assert.equal(tasks.map((task: { name: string; history: unknown[] }) => [task.name, task.history.length]), [["keep", 1]]);
  const after = (await call(fixture, "GET", "/cs/console/events?limit=2000")).json().events;
  assert.equal(after.slice(0, before.length), before);
  assert.is(after[before.length].kind, "node.joined", "the restart's own joining comes next");
});

Tasks.run();

// ---- the backup that takes over ----

const SITE_KEY = new Uint8Array(32).fill(7);
const HEARTBEAT_INTERVAL_MS = 20;
const TAKEOVER_TIMEOUT_MS = 1000;

async function replicated(directory: string, nodeId: string, role: "primary" | "backup"): Promise<ReplicatedServer> {
  return ReplicatedServer.start({
    store: await ServerStore.open(directory), nodeId, role, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, heartbeatTimeoutMs: TAKEOVER_TIMEOUT_MS, server: { users: config }, log: () => {},
  });
}

async function until(done: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !done(); waited += 10) {
    if (waited > WAIT_MS_MAX) throw new Error(`${what}: not within ${WAIT_MS_MAX} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const Takeover = suite("console tasks and events in a backup that takes over");

Takeover("should serve the primary's tasks, their runs and its event log from the backup after it takes over", async () => {
  const folder = temporaryDirectory();
  const node = new EmbeddedSite({ workers: 0, images: [{ model: "2107", id: IMAGE }] });
  const primary = await replicated(join(folder.path, "a"), "a", "primary");
  const backup = await replicated(join(folder.path, "b"), "b", "backup");
  try {
    await primary.server!.registerNode("node-1", "http://127.0.0.1:8460", node);
    const { password } = await primary.server!.firstStart();
    const options = (nodeId: string) => ({ siteKey: SITE_KEY, nodeId, role: "server", messages: replicationMessages, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, heartbeatTimeoutMs: 60_000 });
    const [dialer, acceptor] = connectInProcess(options("b"), options("a"));
    await Promise.all([backup.attach(dialer), primary.attach(acceptor)]);
    const caller = { user: "admin", source: "console" as const };
    await primary.server!.saveTask(caller, { name: "dr-test", kind: "script", body: "lssi" });
    await primary.server!.recordTaskRun(caller, "dr-test", { startedMs: 1_800_000_000_000, finishedMs: 1_800_000_001_000, exitCode: 0, user: "admin" });
    await primary.server!.forCaller(caller).createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "ds" });
    const seen = primary.server!.lastEventSeq;
    const log = primary.server!.eventsSince(0, 2000);
    void acceptor.close("the primary dies");
    await until(() => backup.role === "primary" && backup.server !== null, "the takeover");
    const server = backup.server!;
    await server.registerNode("node-1", "http://127.0.0.1:8460", node);
    const app = await serveConsole(() => server, server);
    try {
      const port = (app.server.address() as AddressInfo).port;
      const token = (await server.login("admin", password!)).token;
      const tasks = (await app.inject({ method: "GET", url: "/cs/console/tasks", headers: { "x-auth-token": token } })).json().tasks;
      assert.equal(tasks, [{ name: "dr-test", kind: "script", body: "lssi", history: [{ started: "2027-01-15T08:00:00.000Z", finished: "2027-01-15T08:00:01.000Z", exitCode: 0, user: "admin" }] }]);
      assert.equal(server.eventsSince(0, 2000).slice(0, log.length), log);
      const client = await StreamClient.ready(port, token, seen);
      try {
        const takeover = await client.next((message) => message.kind === "server.takeover", "the takeover's event");
        assert.equal([takeover.source, takeover.user, takeover.ids], ["server", null, ["b"]]);
        assert.ok((takeover.seq as number) > seen);
      } finally {
        client.close();
      }
    } finally {
      await app.close();
    }
  } finally {
    await backup.close();
    await primary.close();
    await node.close();
    folder.remove();
  }
});

Takeover.run();
