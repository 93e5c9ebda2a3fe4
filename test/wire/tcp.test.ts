// The protocol over loopback TCP: against a peer in another process that is
// killed (kill -9) or stopped (SIGSTOP), and a listener that refuses wrong
// keys and garbage while it goes on serving good clients.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { listenTcp, connectTcp } from "../../src/wire/index.js";
import type { WireError } from "../../src/wire/errors.js";
import { options, closesWith, rejectsWith, OTHER_KEY, until } from "./support.js";

const PEER = fileURLToPath(new URL("./fixtures/peer.js", import.meta.url));

async function startPeer(heartbeatIntervalMs = 100, heartbeatTimeoutMs = 5000): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [PEER, String(heartbeatIntervalMs), String(heartbeatTimeoutMs)], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const line = await new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code, signal) => reject(new Error(`peer exited (${code ?? signal}) before it listened`)));
  });
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

const exited = (child: ChildProcess) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once("exit", resolve)));
const write = { volume: "1000", track: 0, sequence: 1n, data: new Uint8Array(1024 * 1024).fill(7) };

const Tcp = suite("wire over TCP");

Tcp("should fail the connection with CONNECTION_LOST, and its pending request, when the peer's process is killed", async () => {
  const { child, port } = await startPeer();
  try {
    const connection = await connectTcp({ ...options("parent"), port });
    assert.equal(await connection.request("track.write", write), { sequence: 1n, bytes: 1024 * 1024 });
    const pending = connection.request("track.write", { ...write, volume: "hang" });
    let event: WireError | null = null;
    connection.on("close", (cause: WireError) => { event = cause; });
    child.kill("SIGKILL");
    const cause = await closesWith(connection, "CONNECTION_LOST");
    assert.is(event, cause, "the close event carries the cause");
    assert.match(cause.message, /^tcp 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ ended/);
    await rejectsWith(pending, "CONNECTION_LOST");
  } finally {
    child.kill("SIGKILL");
    await exited(child);
  }
});

Tcp("should fail the connection with HEARTBEAT_TIMEOUT when the peer's process stops", async () => {
  const { child, port } = await startPeer();
  try {
    const connection = await connectTcp({ ...options("parent", { heartbeatIntervalMs: 20, heartbeatTimeoutMs: 300 }), port });
    child.kill("SIGSTOP");
    const cause = await closesWith(connection, "HEARTBEAT_TIMEOUT");
    assert.match(cause.message, /nothing heard from peer peer-\d+ for 300 ms/);
  } finally {
    child.kill("SIGKILL");
    await exited(child);
  }
});

Tcp("should refuse a wrong key and garbage at the listener, and go on serving the site's nodes", async () => {
  const server = await listenTcp({ ...options("server"), connectionsMax: 8 });
  const refused: WireError[] = [];
  server.on("refused", (cause: WireError) => refused.push(cause));
  server.on("connection", (connection) => connection.handle("track.write", (body) => ({ sequence: body.sequence, bytes: 0 })));
  try {
    assert.is(server.address().host, "127.0.0.1", "binds to loopback unless told otherwise");
    const { port } = server.address();
    await rejectsWith(connectTcp({ ...options("intruder", { siteKey: OTHER_KEY }), port }), "AUTH_FAILED");
    for (const garbage of [Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Buffer.from([0, 0, 0, 2, 0x92, 0x01])]) {
      const socket = connect({ host: "127.0.0.1", port });
      socket.on("error", () => {});
      socket.resume(); // read what the server says, so the end of its stream is seen
      socket.write(garbage);
      await new Promise((resolve) => socket.once("close", resolve));
    }
    await until(() => refused.length === 3, "three connections refused");
    assert.equal(refused.map((cause) => cause.code).sort(), ["AUTH_FAILED", "BAD_FRAME", "FRAME_TOO_LARGE"]);
    const client = await connectTcp({ ...options("member"), port });
    assert.equal(await client.request("track.write", write), { sequence: 1n, bytes: 0 });
    await client.close();
  } finally {
    await server.close();
  }
});

Tcp("should refuse connections above connectionsMax, and take them again once one closes", async () => {
  const server = await listenTcp({ ...options("server"), connectionsMax: 1 });
  const refused: WireError[] = [];
  server.on("refused", (cause: WireError) => refused.push(cause));
  try {
    const { port } = server.address();
    const first = await connectTcp({ ...options("first"), port });
    await rejectsWith(connectTcp({ ...options("second"), port }), "CONNECTION_LOST");
    assert.equal(refused.map((cause) => cause.code), ["TOO_MANY_CONNECTIONS"]);
    await first.close();
    await until(() => server.connections.size === 0, "the first connection left the server");
    const third = await connectTcp({ ...options("third"), port });
    await third.close();
  } finally {
    await server.close();
  }
});

Tcp("should reject a dial to a port nobody listens on with CONNECTION_LOST", async () => {
  const server = await listenTcp(options("gone"));
  const { port } = server.address();
  await server.close();
  const error = await rejectsWith(connectTcp({ ...options("dialer"), port }), "CONNECTION_LOST");
  assert.match(error.message, new RegExp(`could not connect to 127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
});

Tcp.run();
