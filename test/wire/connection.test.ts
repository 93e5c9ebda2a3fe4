// Connections over an in-process pair: requests and one-way messages once the
// handshake is done, their bounds and timeouts, backpressure, clean close.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connectInProcess, PROTOCOL_VERSION } from "../../src/wire/index.js";
import { WireError } from "../../src/wire/errors.js";
import { messages, options, recorder, closesWith, rejectsWith, throwsWith, delay, until, type Messages } from "./support.js";
import type { Connection } from "../../src/wire/connection.js";

const Requests = suite("wire connection requests");
let dialer: Connection<Messages>;
let acceptor: Connection<Messages>;

Requests.before.each(async () => {
  [dialer, acceptor] = connectInProcess(options("node-a", { role: "link" }), options("node-b", { role: "server" }));
  await Promise.all([dialer.opened, acceptor.opened]);
});
Requests.after.each(async () => {
  await dialer.close();
  await acceptor.closed;
});

const write = { volume: "1000", track: 12, sequence: 9n, data: new Uint8Array([1, 2, 3]) };

Requests("should tell each end who its peer is", () => {
  assert.equal(dialer.peer, { nodeId: "node-b", role: "server", version: PROTOCOL_VERSION });
  assert.equal(acceptor.peer, { nodeId: "node-a", role: "link", version: PROTOCOL_VERSION });
});

Requests("should answer a request with the handler's reply, bigints and bytes intact", async () => {
  acceptor.handle("track.write", (body) => ({ sequence: body.sequence, bytes: body.data.byteLength }));
  assert.equal(await dialer.request("track.write", write), { sequence: 9n, bytes: 3 });
});

Requests("should deliver one-way messages in order", async () => {
  const seen = recorder(acceptor);
  for (let index = 0; index < 50; index++) dialer.send("note", { text: `n${index}`, tags: [] });
  await until(() => seen.length === 50, "all 50 notes delivered");
  assert.equal(seen.map((message) => (message.body as { text: string }).text), Array.from({ length: 50 }, (_, index) => `n${index}`));
});

Requests("should reject with REMOTE_ERROR and the peer's code when its handler fails, and stay open", async () => {
  acceptor.handle("track.write", () => {
    throw Object.assign(new Error("volume 1000 is not a secondary"), { code: "NOT_SECONDARY" });
  });
  const error = await rejectsWith(dialer.request("track.write", write), "REMOTE_ERROR");
  assert.is(error.remoteCode, "NOT_SECONDARY");
  assert.match(error.message, /volume 1000 is not a secondary/);
  assert.ok(dialer.isOpen);
});

Requests("should reject a request nobody serves, and a handler's reply that fails its schema", async () => {
  assert.is((await rejectsWith(dialer.request("track.write", write), "REMOTE_ERROR")).remoteCode, "NO_HANDLER");
  acceptor.handle("track.write", () => ({ sequence: 1, bytes: 0 }) as never);
  assert.is((await rejectsWith(dialer.request("track.write", write), "REMOTE_ERROR")).remoteCode, "BAD_REPLY");
  assert.ok(dialer.isOpen);
});

Requests("should time a request out, keep the connection, and drop the late reply", async () => {
  let release!: () => void;
  acceptor.handle("track.write", async (body) => {
    await new Promise<void>((resolve) => { release = resolve; });
    return { sequence: body.sequence, bytes: 0 };
  });
  await rejectsWith(dialer.request("track.write", write, { timeoutMs: 20 }), "REQUEST_TIMEOUT");
  assert.is(dialer.pendingRequestCount, 0);
  release();
  await delay(20);
  assert.ok(dialer.isOpen, "a late reply is not a protocol violation");
  acceptor.handle("track.write", (body) => ({ sequence: body.sequence, bytes: 1 }));
  assert.equal(await dialer.request("track.write", write), { sequence: 9n, bytes: 1 });
});

Requests("should refuse a request beyond pendingRequestsMax at once, and a bad body before sending anything", async () => {
  await dialer.close();
  [dialer, acceptor] = connectInProcess(options("node-a", { pendingRequestsMax: 2 }), options("node-b"));
  await dialer.opened;
  const releases: (() => void)[] = [];
  acceptor.handle("track.write", (body) => new Promise((resolve) => releases.push(() => resolve({ sequence: body.sequence, bytes: 0 }))));
  const first = dialer.request("track.write", write);
  const second = dialer.request("track.write", write);
  await rejectsWith(dialer.request("track.write", write), "TOO_MANY_REQUESTS");
  await until(() => releases.length === 2, "both requests reached the handler");
  releases.forEach((release) => release());
  await Promise.all([first, second]);
  const seen = recorder(acceptor);
  assert.is(throwsWith(() => dialer.send("note", { text: "x".repeat(17), tags: [] }), "BAD_ARGUMENT").field, "/body/text");
  await rejectsWith(dialer.request("track.write", { ...write, track: -1 }), "BAD_ARGUMENT");
  throwsWith(() => dialer.send("track.write" as "note", write as never), "BAD_ARGUMENT");
  assert.match(throwsWith(() => dialer.send("note", { text: "x", tags: [] }, [new Uint8Array(4)]), "BAD_ARGUMENT").message, /"note" takes no raw bytes/);
  assert.match(throwsWith(() => dialer.send("track.bulk", { sequence: 1n, bytes: 4 }), "BAD_ARGUMENT").message, /"track.bulk" must carry raw bytes/);
  assert.match(throwsWith(() => dialer.send("track.bulk", { sequence: 1n, bytes: 4 }, [new Uint8Array(4096), new Uint8Array(1)]), "BAD_ARGUMENT").message, /4097 raw bytes; it takes 1 to 4096/);
  await delay(20);
  assert.equal(seen, [], "nothing was sent");
});

Requests("should close cleanly: the peer hears why, pending requests reject, sends then fail", async () => {
  acceptor.handle("track.write", () => new Promise(() => {}));
  const pending = dialer.request("track.write", write);
  await delay(10);
  await acceptor.close("the server is shutting down");
  const cause = await closesWith(dialer, "PEER_CLOSED");
  assert.is(cause.remoteCode, "CLOSED");
  assert.match(cause.message, /the server is shutting down/);
  await rejectsWith(pending, "PEER_CLOSED");
  assert.is((await acceptor.closed).code, "CLOSED");
  throwsWith(() => dialer.send("note", { text: "late", tags: [] }), "NOT_OPEN");
});

Requests("should refuse to send before the handshake completes", async () => {
  const [early] = connectInProcess(options("x"), options("y"));
  throwsWith(() => early.send("note", { text: "too soon", tags: [] }), "NOT_OPEN");
  await early.close();
});

Requests("should respect backpressure: send returns false above the high-water mark, and drain lets it go on", async () => {
  const seen = recorder(acceptor);
  const runs = 40;
  let waits = 0;
  for (let sequence = 0; sequence < runs; sequence++) {
    if (!dialer.isWritable) {
      waits++;
      await dialer.writable();
    }
    dialer.send("track.run", { sequence: BigInt(sequence), data: new Uint8Array(256 * 1024).fill(sequence) });
  }
  assert.ok(waits > 0, "40 runs of 256 KiB went above the 1 MiB high-water mark");
  await until(() => seen.length === runs, "every run delivered");
  seen.forEach((message, index) => {
    const run = message.body as { sequence: bigint; data: Uint8Array };
    assert.is(run.sequence, BigInt(index));
    assert.ok(run.data.every((byte) => byte === index), `run ${index} arrived intact`);
  });
});

Requests.run();

const Options = suite("wire connection options");

Options("should refuse a missing or short site key, a bad registry and a heartbeat timeout not above its interval", () => {
  assert.match(throwsWith(() => connectInProcess(options("a", { siteKey: undefined as never }), options("b")), "BAD_ARGUMENT").message, /needs a site key/);
  throwsWith(() => connectInProcess(options("a", { siteKey: new Uint8Array(8) }), options("b")), "BAD_ARGUMENT");
  throwsWith(() => connectInProcess(options("a", { messages: {} as never }), options("b")), "BAD_ARGUMENT");
  throwsWith(() => connectInProcess(options("a", { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 100 }), options("b")), "BAD_ARGUMENT");
  throwsWith(() => connectInProcess(options(""), options("b")), "BAD_ARGUMENT");
  assert.ok(messages.has("note"));
  assert.instance(new WireError("CLOSED", "x"), Error);
});

Options.run();
