// GET /cs/events: the auth handshake, the events of changes made through a
// DS CLI shell (/cs/shell), the REST API and the console, with who made them
// and from where, progress while a copy runs, and a reconnect with `since`.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CLOSE_UNAUTHENTICATED } from "../../../src/server/console/event-stream.js";
import { params } from "../rest-support.js";
import { call, connectShell, IMAGE, startConsole, StreamClient, type ConsoleFixture } from "./support.js";

let fixture: ConsoleFixture;
const clients: StreamClient[] = [];

async function ready(since?: number): Promise<StreamClient> {
  const client = await StreamClient.ready(fixture.port, fixture.token, since);
  clients.push(client);
  return client;
}

const Stream = suite("the /cs/events stream");
Stream.before.each(async () => {
  fixture = await startConsole();
});
Stream.after.each(async () => {
  for (const client of clients.splice(0)) client.close();
  await fixture.close();
  await fixture.node.close();
  fixture.folder.remove();
});

Stream("should close with 4401 a stream whose first message carries a wrong token, or is not an auth message", async () => {
  const cases: unknown[] = [{ type: "auth", token: "B".repeat(43) }, { type: "auth" }, "not json", { type: "hello", token: fixture.token }, { type: "auth", token: fixture.token, since: -1 }, { type: "auth", token: fixture.token, extra: 1 }];
  for (const first of cases) {
    const client = await StreamClient.open(fixture.port);
    clients.push(client);
    client.send(first);
    const closed = await client.closed;
    assert.is(closed.code, CLOSE_UNAUTHENTICATED, `${JSON.stringify(first)}: ${closed.reason}`);
    assert.equal(client.messages, [], JSON.stringify(first));
  }
});

Stream("should answer ready with the last seq, then send the event of a change made through a DS CLI shell", async () => {
  const client = await ready();
  const seq = client.messages[0].seq as number;
  assert.ok(Number.isSafeInteger(seq) && seq >= 1, "the node's joining is logged");
  const shell = await connectShell(fixture);
  try {
    await shell.createVolumes(IMAGE, { ids: ["1000", "1001"], capacity: 1, unit: "ds" });
  } finally {
    await shell.close();
  }
  const event = await client.next((message) => message.kind === "volume.created", "the volume.created event");
  assert.is(event.seq, seq + 1);
  assert.is(event.image, IMAGE);
  assert.equal(event.ids, ["1000", "1001"]);
  assert.is(event.user, "admin");
  assert.is(event.source, "shell");
  assert.is(event.text, "volumes 1000, 1001 created");
  assert.ok(!Number.isNaN(Date.parse(event.time as string)), String(event.time));
});

Stream("should say a script's changes come from a script", async () => {
  const client = await ready();
  const shell = await connectShell(fixture, "script");
  try {
    await shell.createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "ds" });
  } finally {
    await shell.close();
  }
  const event = await client.next((message) => message.kind === "volume.created");
  assert.is(event.source, "script");
});

Stream("should send the event of a change made through the REST API, as rest", async () => {
  const client = await ready();
  const created = await call(fixture, "POST", "/api/v1/volumes", params({ cap: "1", pool: "P0", ids: ["1000", "1001"], name: "r#h" }));
  assert.is(created.statusCode, 201, created.body);
  const flash = await call(fixture, "POST", "/api/v1/cs/flashcopies", params({ volume_pairs: [{ source_volume: "1000", target_volume: "1001" }], options: ["no_background_copy"] }));
  assert.is(flash.statusCode, 201, flash.body);
  const event = await client.next((message) => message.kind === "flash.established", "the flash.established event");
  assert.equal([event.user, event.source, event.ids, event.text], ["admin", "rest", ["1000:1001"], "FlashCopy relationship 1000:1001 established"]);
  assert.is(client.events().filter((message) => message.kind === "volume.created").length, 1);
});

Stream("should send progress while a background copy runs, and the copy's end as the server's event", async () => {
  await fixture.server.createVolumes(IMAGE, { ids: ["1000", "1001"], capacity: 1, unit: "ds" });
  await fixture.server.fill(IMAGE, "1000", { offset: 0, length: 1 << 30 }, { kind: "byte", value: 7 });
  const client = await ready();
  await fixture.server.forCaller({ user: "admin", source: "console" }).establishFlash(IMAGE, { pairs: [["1000", "1001"]], options: {} });
  const copied = await client.next((message) => message.kind === "flash.copied", "the flash.copied event");
  assert.equal([copied.user, copied.source, copied.ids], [null, "server", ["1000:1001"]]);
  const established = client.events().find((message) => message.kind === "flash.established")!;
  assert.equal([established.user, established.source], ["admin", "console"]);
  assert.ok((established.seq as number) < (copied.seq as number));
  // The copy of 1 GiB may end before a progress tick: then only the empty one after it is certain not to come.
  const progress = client.messages.filter((message) => message.type === "progress");
  for (const message of progress) {
    for (const entry of message.flash as Array<Record<string, unknown>>) {
      assert.equal([entry.image, entry.id, entry.trackCount], [IMAGE, "1000:1001", 16384]);
      assert.ok((entry.tracksLeft as number) > 0 && (entry.tracksLeft as number) <= 16384);
    }
    assert.equal(message.pprc, []);
  }
});

Stream("should resend the events after `since` to a client that reconnects, then the new ones", async () => {
  const first = await ready();
  const seen = first.messages[0].seq as number;
  first.close();
  await first.closed;
  await fixture.server.forCaller({ user: "admin" }).createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "ds" });
  await fixture.server.forCaller({ user: "admin" }).createVolumes(IMAGE, { ids: ["1001"], capacity: 1, unit: "ds" });
  const again = await ready(seen);
  assert.is(again.messages[0].seq, seen + 2);
  await again.next((message) => message.seq === seen + 2);
  assert.equal(again.events().map((message) => [message.seq, message.ids]), [[seen + 1, ["1000"]], [seen + 2, ["1001"]]]);
  await fixture.server.forCaller({ user: "admin" }).removeVolumes(IMAGE, ["1000"]);
  const removed = await again.next((message) => message.kind === "volume.removed");
  assert.is(removed.seq, seen + 3);
  const fresh = await ready();
  assert.equal(fresh.events(), [], "without since, only new events");
});

Stream("should not log a command that failed", async () => {
  const client = await ready();
  const before = fixture.server.lastEventSeq;
  const reply = await call(fixture, "POST", "/cs/console/run", { command: "mkflash 1000:1001" });
  assert.is(reply.json().exitCode, 6, reply.body);
  assert.is(fixture.server.lastEventSeq, before);
  await fixture.server.forCaller({ user: "admin" }).createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "ds" });
  const next = await client.next((message) => message.type === "event");
  assert.is(next.kind, "volume.created");
});

Stream.run();
