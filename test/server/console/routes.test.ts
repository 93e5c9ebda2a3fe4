// The /cs/console routes: the token on every one, POST /cs/console/run
// (one DS CLI line, as the token's user, with the shell's messages and exit
// codes), and the event log.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { call, IMAGE, startConsole, type ConsoleFixture } from "./support.js";

let fixture: ConsoleFixture;

const ROUTES: Array<["GET" | "POST" | "PUT" | "DELETE", string, unknown?]> = [
  ["GET", "/cs/console/events"],
  ["POST", "/cs/console/run", { command: "lssi" }],
  ["GET", "/cs/console/tasks"],
  ["PUT", "/cs/console/tasks/nightly", { kind: "actions", body: "lssi" }],
  ["DELETE", "/cs/console/tasks/nightly"],
  ["POST", "/cs/console/tasks/nightly/run"],
  ["GET", "/cs/console/images"],
  ["GET", "/cs/console/flashcopies"],
  ["GET", "/cs/console/pprcs"],
  ["GET", "/cs/console/paths"],
];

const Routes = suite("the /cs/console routes");
Routes.before.each(async () => {
  fixture = await startConsole();
});
Routes.after.each(async () => {
  await fixture.close();
  await fixture.node.close();
  fixture.folder.remove();
});

Routes("should refuse every route without a token, or with a wrong one, with 401 in the REST error shape", async () => {
  for (const [method, url, body] of ROUTES) {
    for (const [token, code] of [[null, "TOKEN_MISSING"], ["B".repeat(43), "TOKEN_UNKNOWN"]] as const) {
      const reply = await call(fixture, method, url, body, token);
      assert.is(reply.statusCode, 401, `${method} ${url}: ${reply.body}`);
      assert.equal(reply.json(), { server: { status: "failed", code, message: reply.json().server.message } }, `${method} ${url}`);
    }
  }
  assert.equal(fixture.server.listTasks(), [], "nothing was saved");
});

Routes("should run one DS CLI line as the token's user and log it as the console's", async () => {
  const reply = await call(fixture, "POST", "/cs/console/run", { command: `mkfbvol -dev ${IMAGE} -cap 1 -name app 1000-1001` });
  assert.is(reply.statusCode, 200, reply.body);
  const result = reply.json();
  assert.is(result.exitCode, 0, reply.body);
  assert.equal(result.errors, []);
  assert.ok(result.output.some((line: string) => /^CMUC00025I mkfbvol: FB volume 1000 successfully created\.$/.test(line)), reply.body);
  const events = (await call(fixture, "GET", "/cs/console/events?since=0")).json().events;
  const created = events.find((event: { kind: string }) => event.kind === "volume.created");
  assert.equal([created.user, created.source, created.ids], ["admin", "console", ["1000", "1001"]]);
});

Routes("should answer a refused command with its exit code and CMUN error, changing nothing", async () => {
  await call(fixture, "POST", "/cs/console/run", { command: `mkfbvol -dev ${IMAGE} -cap 1 1000` });
  const reply = await call(fixture, "POST", "/cs/console/run", { command: `mkflash -dev ${IMAGE} 1000:1001` });
  assert.is(reply.statusCode, 200, reply.body);
  const result = reply.json();
  assert.is(result.exitCode, 6);
  assert.match(result.errors.join("\n"), /CMUN\d{5}E mkflash: /);
  assert.equal(await fixture.node.listFlash(IMAGE), []);
  const syntax = (await call(fixture, "POST", "/cs/console/run", { command: "mkflash (" })).json();
  assert.is(syntax.exitCode, 2);
  assert.match(syntax.errors[0], /^console:1:\d+: /);
});

Routes("should refuse a command that reads or writes the server's files, before it runs", async () => {
  for (const command of ["source /etc/passwd", "save /tmp/x.tzs", "load /tmp/x.tzs", "let x = 1; source /etc/hostname"]) {
    const result = (await call(fixture, "POST", "/cs/console/run", { command })).json();
    assert.is(result.exitCode, 6, command);
    assert.match(result.errors.join("\n"), /NOT_IN_CONSOLE|the console does not allow/, command);
  }
});

Routes("should refuse a malformed run body with 400 naming what was wrong", async () => {
  const bodies: Array<[unknown, string]> = [
    [{ command: 7 }, "command"], [{}, "command"], [{ command: "" }, "command"], [{ command: "lssi\nlssi" }, "command"],
    [{ command: "x".repeat(5000) }, "command"], [{ command: "lssi", extra: true }, "extra"], [["lssi"], "body"],
  ];
  for (const [body, field] of bodies) {
    const reply = await call(fixture, "POST", "/cs/console/run", body);
    assert.is(reply.statusCode, 400, `${JSON.stringify(body).slice(0, 40)}: ${reply.body}`);
    assert.is(reply.json().server.status, "failed");
    assert.ok(reply.json().server.message.includes(field), reply.body);
  }
  const text = await fixture.app.inject({ method: "POST", url: "/cs/console/run", headers: { "x-auth-token": fixture.token, "content-type": "application/json" }, payload: "{not json" });
  assert.is(text.statusCode, 400, text.body);
  assert.is(text.json().server.code, "BAD_JSON");
});

Routes("should refuse through the run what the user's groups do not allow", async () => {
  await fixture.server.createUserAs("admin", { name: "watcher", password: "T3mpwatch", groups: "monitor" });
  await fixture.server.changeUserAs("watcher", { name: "watcher", password: "watch1ng" });
  const token = (await fixture.server.login("watcher", "watch1ng")).token;
  const listed = (await call(fixture, "POST", "/cs/console/run", { command: "lssi" }, token)).json();
  assert.is(listed.exitCode, 0, JSON.stringify(listed));
  const refused = (await call(fixture, "POST", "/cs/console/run", { command: `mkfbvol -dev ${IMAGE} -cap 1 1000` }, token)).json();
  assert.is(refused.exitCode, 6, JSON.stringify(refused));
  assert.match(refused.errors.join("\n"), /may not run volume commands/);
  assert.equal(await fixture.node.listVolumes(IMAGE), []);
});

Routes("should log user commands with who made them, never their passwords, and a lockout as the server's", async () => {
  const made = (await call(fixture, "POST", "/cs/console/run", { command: "mkuser -pw T3mpsecret -group monitor bob" })).json();
  assert.is(made.exitCode, 0, JSON.stringify(made));
  for (let attempt = 0; attempt < fixture.server.state.users.failedLoginsMax; attempt++) {
    await fixture.server.login("bob", "wrong-pass").catch(() => undefined);
  }
  const events = (await call(fixture, "GET", "/cs/console/events")).json().events as Array<Record<string, unknown>>;
  const created = events.find((event) => event.kind === "user.created")!;
  assert.equal([created.user, created.source, created.ids, created.text], ["admin", "console", ["bob"], "user bob created (monitor)"]);
  const locked = events.find((event) => event.kind === "user.locked")!;
  assert.equal([locked.user, locked.source, locked.ids], [null, "server", ["bob"]]);
  assert.not.match(JSON.stringify(events), /T3mpsecret|wrong-pass/);
});

Routes("should page the event log with since and limit, and refuse bad ones", async () => {
  const site = fixture.server.forCaller({ user: "admin", source: "rest" });
  for (const id of ["1000", "1001", "1002"]) await site.createVolumes(IMAGE, { ids: [id], capacity: 1, unit: "ds" });
  const all = (await call(fixture, "GET", "/cs/console/events")).json().events;
  const seqs = all.map((event: { seq: number }) => event.seq);
  assert.equal(seqs, [...seqs].sort((a: number, b: number) => a - b));
  const last = seqs[seqs.length - 1];
  const page = (await call(fixture, "GET", `/cs/console/events?since=${last - 3}&limit=2`)).json().events;
  assert.equal(page.map((event: { seq: number }) => event.seq), [last - 2, last - 1]);
  assert.equal(page.map((event: { ids: string[] }) => event.ids), [["1000"], ["1001"]]);
  for (const query of ["since=-1", "since=abc", "limit=0", "limit=100000", "other=1"]) {
    const reply = await call(fixture, "GET", `/cs/console/events?${query}`);
    assert.is(reply.statusCode, 400, `${query}: ${reply.body}`);
  }
});

Routes.run();
