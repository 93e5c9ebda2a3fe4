// The event stream's bounds, on a socket the test controls: a client that
// does not keep up is dropped instead of growing the server's memory, and
// one that never authenticates is closed.
import { EventEmitter } from "node:events";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { WebSocket } from "ws";
import { CLOSE_NOT_PRIMARY, CLOSE_SERVER_CHANGED, CLOSE_UNAUTHENTICATED, EventStream } from "../../../src/server/console/event-stream.js";
import type { CopyServicesServer } from "../../../src/server/server.js";
import { SiteError } from "../../../src/site/errors.js";
import { IMAGE, startConsole, WAIT_MS_MAX, type ConsoleFixture } from "./support.js";

// The part of a ws WebSocket the stream uses, recording what it is asked to do.
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: Array<Record<string, unknown>> = [];
  closedWith: { code: number; reason: string } | null = null;
  terminated = false;

  send(text: string): void {
    this.sent.push(JSON.parse(text));
  }

  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
    this.end();
  }

  terminate(): void {
    this.terminated = true;
    this.end();
  }

  private end(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.emit("close");
  }

  receive(message: unknown): void {
    this.emit("message", Buffer.from(JSON.stringify(message)), false);
  }
}

async function until(done: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !done(); waited += 10) {
    if (waited > WAIT_MS_MAX) throw new Error(`${what}: not within ${WAIT_MS_MAX} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let fixture: ConsoleFixture;
let stream: EventStream;

const Bounds = suite("the event stream's bounds");
Bounds.before.each(async () => {
  fixture = await startConsole();
  stream = new EventStream({ current: () => fixture.server, bufferedBytesMax: 64 * 1024, authTimeoutMs: 50 });
});
Bounds.after.each(async () => {
  stream.close();
  await fixture.close();
  await fixture.node.close();
  fixture.folder.remove();
});

Bounds("should drop a client that falls behind by more than its bound, and go on serving the others", async () => {
  const slow = new FakeSocket();
  const quick = new FakeSocket();
  for (const socket of [slow, quick]) {
    stream.accept(socket as unknown as WebSocket);
    socket.receive({ type: "auth", token: fixture.token });
  }
  assert.equal([slow.sent[0].type, quick.sent[0].type], ["ready", "ready"]);
  assert.is(stream.clientCount, 2);
  slow.bufferedAmount = 64 * 1024 + 1;
  await fixture.server.forCaller({ user: "admin" }).createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "ds" });
  assert.ok(slow.terminated, "the slow client is cut at once");
  assert.is(slow.sent.length, 1, "nothing more was queued for it");
  assert.is(stream.clientCount, 1);
  assert.is(quick.sent.at(-1)!.kind, "volume.created");
});

Bounds("should close a client that sends no auth message within its time", async () => {
  const silent = new FakeSocket();
  stream.accept(silent as unknown as WebSocket);
  await until(() => silent.closedWith !== null, "the close of a silent client");
  assert.is(silent.closedWith!.code, CLOSE_UNAUTHENTICATED);
  assert.equal(silent.sent, []);
  assert.is(stream.clientCount, 0);
});

Bounds("should answer a message after auth with an error, and a binary first message with 4401", async () => {
  const client = new FakeSocket();
  stream.accept(client as unknown as WebSocket);
  client.receive({ type: "auth", token: fixture.token });
  client.receive({ type: "auth", token: fixture.token });
  assert.equal(client.sent.map((message) => message.type), ["ready", "error"]);
  const binary = new FakeSocket();
  stream.accept(binary as unknown as WebSocket);
  binary.emit("message", Buffer.from(JSON.stringify({ type: "auth", token: fixture.token })), true);
  assert.is(binary.closedWith?.code, CLOSE_UNAUTHENTICATED);
});

Bounds("should close a stream whose token was logged out, at its next check", async () => {
  const short = new EventStream({ current: () => fixture.server, tokenCheckMs: 0, progressIntervalMs: 20 });
  try {
    const client = new FakeSocket();
    short.accept(client as unknown as WebSocket);
    client.receive({ type: "auth", token: fixture.token });
    await fixture.server.logout(fixture.token);
    await until(() => client.closedWith !== null, "the close after the logout");
    assert.is(client.closedWith!.code, CLOSE_UNAUTHENTICATED);
  } finally {
    short.close();
  }
});

Bounds("should close with 4503 on a node whose server is not the primary, and with 1012 once the server changes", async () => {
  let current: CopyServicesServer | null = null;
  const notPrimary = () => new SiteError({ code: "NOT_PRIMARY", message: "node n2 is not the site's primary Copy Services Server now" });
  const following = new EventStream({ current: () => { if (current === null) throw notPrimary(); return current; }, progressIntervalMs: 20 });
  try {
    const early = new FakeSocket();
    following.accept(early as unknown as WebSocket);
    early.receive({ type: "auth", token: fixture.token });
    assert.is(early.closedWith?.code, CLOSE_NOT_PRIMARY);
    assert.match(early.closedWith!.reason, /NOT_PRIMARY/);
    current = fixture.server;
    const client = new FakeSocket();
    following.accept(client as unknown as WebSocket);
    client.receive({ type: "auth", token: fixture.token });
    assert.is(client.sent[0].type, "ready");
    current = null; // a step-down: this node's server is the backup now
    await until(() => client.closedWith !== null, "the close after the step-down");
    assert.is(client.closedWith!.code, CLOSE_SERVER_CHANGED);
    assert.is(following.clientCount, 0);
  } finally {
    following.close();
  }
});

Bounds.run();
