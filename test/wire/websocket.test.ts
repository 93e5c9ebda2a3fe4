// The protocol over a WebSocket (ws) on loopback: the handshake, requests and
// one-way messages, heartbeats, malformed frames and text messages, frames
// split across or packed into WebSocket messages, backpressure, and a peer
// that goes away — the semantics the in-process and TCP tests pin, again over
// this transport.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import WebSocket, { WebSocketServer } from "ws";
import type { AddressInfo } from "node:net";
import { Connection } from "../../src/wire/connection.js";
import { FrameDecoder, FrameEncoder } from "../../src/wire/codec.js";
import { newNonce, proofOf, PROTOCOL_VERSION } from "../../src/wire/handshake.js";
import { acceptWebSocket, connectWebSocket, WEBSOCKET_HIGH_WATER_BYTES, WEBSOCKET_MESSAGE_BYTES_MAX } from "../../src/wire/websocket.js";
import { options, closesWith, rejectsWith, recorder, until, concat, OTHER_KEY, SITE_KEY, type Messages } from "./support.js";

interface Listener {
  url: string;
  accepted: Connection<Messages>[];
  sockets: WebSocket[]; // the accepted sockets, to cut one as a dead peer would
  close(): Promise<void>;
}

// A ws server whose every socket becomes an acceptor Connection (a few options overridable).
async function listen(overrides: Parameters<typeof options>[1] = {}): Promise<Listener> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: WEBSOCKET_MESSAGE_BYTES_MAX });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const accepted: Connection<Messages>[] = [];
  const sockets: WebSocket[] = [];
  server.on("connection", (socket, request) => {
    sockets.push(socket);
    const connection = acceptWebSocket(socket, `${request.socket.remoteAddress}:${request.socket.remotePort}`, options("server", overrides));
    connection.handle("track.write", (body) => (body.volume === "hang" ? new Promise(() => {}) : { sequence: body.sequence, bytes: body.data.byteLength }));
    accepted.push(connection);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/cs/node`,
    accepted,
    sockets,
    close: async () => {
      await Promise.all(accepted.map((connection) => connection.close()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// A listener for the length of one test, closed however the test ends.
async function withListener(overrides: Parameters<typeof listen>[0], body: (listener: Listener) => Promise<void>): Promise<void> {
  const listener = await listen(overrides);
  try {
    await body(listener);
  } finally {
    await listener.close();
  }
}

// A dialer driven by hand over a raw WebSocket, for what a Connection never sends.
class RawWsPeer {
  readonly received: { type: string; body: any }[] = [];
  readonly closed: Promise<number>;
  private readonly encoder = new FrameEncoder(64 * 1024 * 1024);
  private readonly decoder = new FrameDecoder();
  private serverHello: Uint8Array | null = null;
  private ownHello: Uint8Array | null = null;

  private readonly opened: Promise<unknown>;

  // Listens before the socket opens: the server's hello may come in the turn of "open".
  private constructor(readonly socket: WebSocket) {
    this.opened = new Promise((resolve, reject) => { socket.once("open", resolve); socket.once("error", reject); });
    socket.on("message", (data: Buffer) => this.decoder.push(data, (frame) => {
      const value = frame.value as { type: string; body: unknown };
      if (value.type === "wire.hello") this.serverHello = frame.payload;
      this.received.push(value);
      return true;
    }));
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => socket.once("close", (code: number) => resolve(code)));
  }

  static async open(url: string): Promise<RawWsPeer> {
    const peer = new RawWsPeer(new WebSocket(url));
    await peer.opened;
    return peer;
  }

  frame(value: unknown): Uint8Array {
    const [header, payload] = this.encoder.encode(value);
    return concat(header, payload);
  }

  // Sends each chunk as one WebSocket message.
  send(...chunks: Uint8Array[]): void {
    for (const chunk of chunks) this.socket.send(chunk, { binary: true });
  }

  // The hello and the proof, each split into messages of `pieceBytes` bytes.
  async handshake(pieceBytes = Infinity, key: Uint8Array = SITE_KEY): Promise<void> {
    const hello = this.frame({ type: "wire.hello", body: { version: PROTOCOL_VERSION, node_id: "raw", role: "node", nonce: newNonce() } });
    this.ownHello = hello.subarray(4);
    this.send(...pieces(hello, pieceBytes));
    await until(() => this.serverHello !== null, "the server's hello");
    const proof = this.frame({ type: "wire.proof", body: { mac: proofOf(key, "dialer", this.ownHello, this.serverHello!) } });
    this.send(...pieces(proof, pieceBytes));
  }
}

function pieces(bytes: Uint8Array, pieceBytes: number): Uint8Array[] {
  const result: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += pieceBytes) result.push(bytes.subarray(offset, Math.min(bytes.byteLength, offset + pieceBytes)));
  return result;
}

const write = { volume: "1000", track: 0, sequence: 1n, data: new Uint8Array(1024 * 1024).fill(7) };
const note = { text: "fine", tags: ["a"] };

const Ws = suite("wire over WebSocket");

Ws("should open on the site key and carry requests and one-way messages both ways", async () => {
  await withListener({}, async (listener) => {
    const client = await connectWebSocket({ ...options("client"), url: listener.url });
    assert.is(client.peer?.nodeId, "server");
    await until(() => listener.accepted[0]?.isOpen === true, "the acceptor opened");
    const seen = recorder(listener.accepted[0]);
    assert.equal(await client.request("track.write", write), { sequence: 1n, bytes: 1024 * 1024 });
    for (let index = 0; index < 5; index++) client.send("note", { text: `n${index}`, tags: [] });
    await until(() => seen.length === 5, "five notes");
    assert.equal(seen.map((message) => (message.body as { text: string }).text), ["n0", "n1", "n2", "n3", "n4"], "in order");
    assert.match(client.description, /^ws this node → ws:\/\/127\.0\.0\.1:\d+\/cs\/node$/);
    await client.close();
    await closesWith(listener.accepted[0], "PEER_CLOSED");
  });
});

Ws("should refuse a dialer with another key (AUTH_FAILED at both ends) and deliver nothing", async () => {
  await withListener({}, async (listener) => {
    await rejectsWith(connectWebSocket({ ...options("intruder", { siteKey: OTHER_KEY }), url: listener.url }), "AUTH_FAILED");
    await closesWith(listener.accepted[0], "AUTH_FAILED");
  });
});

Ws("should refuse an application frame before the proof as UNAUTHENTICATED", async () => {
  await withListener({}, async (listener) => {
    const peer = await RawWsPeer.open(listener.url);
    const hello = peer.frame({ type: "wire.hello", body: { version: PROTOCOL_VERSION, node_id: "raw", role: "node", nonce: newNonce() } });
    peer.send(hello, peer.frame({ type: "note", body: note }));
    await until(() => listener.accepted.length === 1, "accepted");
    const seen = recorder(listener.accepted[0]);
    await closesWith(listener.accepted[0], "UNAUTHENTICATED");
    assert.equal(seen, []);
    await peer.closed;
  });
});

Ws("should complete a handshake sent one byte per WebSocket message, and frames packed into one message", async () => {
  await withListener({}, async (listener) => {
    const peer = await RawWsPeer.open(listener.url);
    await peer.handshake(1);
    await until(() => listener.accepted[0]?.isOpen === true, "the acceptor opened");
    const seen = recorder(listener.accepted[0]);
    peer.send(concat(peer.frame({ type: "note", body: note }), peer.frame({ type: "note", body: { ...note, text: "two" } })));
    await until(() => seen.length === 2, "both packed frames");
    peer.socket.close();
  });
});

for (const [what, bad, code] of [
  ["bytes that are not msgpack", new Uint8Array([0, 0, 0, 2, 0x92, 0x01]), "BAD_FRAME"],
  ["a length above the bound", new Uint8Array([0x7f, 0xff, 0xff, 0xff]), "FRAME_TOO_LARGE"],
  ["an unknown type", null, "UNKNOWN_TYPE"],
] as const) {
  Ws(`should close an open connection with ${code} on ${what}, delivering nothing after it`, async () => {
    await withListener({}, async (listener) => {
      const peer = await RawWsPeer.open(listener.url);
      await peer.handshake();
      await until(() => listener.accepted[0]?.isOpen === true, "the acceptor opened");
      const seen = recorder(listener.accepted[0]);
      peer.send(concat(peer.frame({ type: "note", body: note }), bad ?? peer.frame({ type: "format.disk", body: {} }), peer.frame({ type: "note", body: note })));
      await closesWith(listener.accepted[0], code);
      assert.is(seen.length, 1, "only the frame before the bad one");
      await peer.closed;
      assert.is(peer.received.at(-1)?.body.code, code, "the peer is told why");
    });
  });
}

Ws("should end the connection on a text message, delivering nothing of it", async () => {
  await withListener({}, async (listener) => {
    const peer = await RawWsPeer.open(listener.url);
    await peer.handshake();
    await until(() => listener.accepted[0]?.isOpen === true, "the acceptor opened");
    const seen = recorder(listener.accepted[0]);
    peer.socket.send(Buffer.from(peer.frame({ type: "note", body: note })).toString("latin1"));
    const cause = await closesWith(listener.accepted[0], "CONNECTION_LOST");
    assert.match(cause.message, /WS_TEXT_MESSAGE/);
    assert.equal(seen, []);
    assert.is(await peer.closed, 1003, "closed with 1003, unsupported data");
  });
});

Ws("should fail with HEARTBEAT_TIMEOUT when the peer goes silent after the handshake, having sent heartbeats", async () => {
  await withListener({ heartbeatIntervalMs: 10, heartbeatTimeoutMs: 200 }, async (listener) => {
    const peer = await RawWsPeer.open(listener.url);
    await peer.handshake();
    await until(() => listener.accepted.length === 1, "accepted");
    const cause = await closesWith(listener.accepted[0], "HEARTBEAT_TIMEOUT");
    assert.match(cause.message, /nothing heard from peer raw for 200 ms/);
    assert.ok(peer.received.some((frame) => frame.type === "wire.ping"), "heartbeats were sent");
  });
});

Ws("should say when the transport is above its high-water mark, drain, and deliver everything in order", async () => {
  await withListener({}, async (listener) => {
    const client = await connectWebSocket({ ...options("client"), url: listener.url });
    await until(() => listener.accepted[0]?.isOpen === true, "the acceptor opened");
    const seen = recorder(listener.accepted[0]);
    const data = new Uint8Array(256 * 1024).fill(3);
    let sent = 0;
    while (client.isWritable) client.send("track.run", { sequence: BigInt(sent++), data });
    assert.ok(sent * data.byteLength >= WEBSOCKET_HIGH_WATER_BYTES, `not writable only above the mark (${sent} runs of 256 KiB sent)`);
    await client.writable();
    client.send("track.run", { sequence: BigInt(sent++), data });
    await until(() => seen.length === sent, `all ${sent} runs delivered`);
    assert.equal(seen.map((message) => (message.body as { sequence: bigint }).sequence), [...Array(sent).keys()].map(BigInt));
    await client.close();
  });
});

Ws("should fail the connection and its pending request with CONNECTION_LOST when the peer's socket is cut", async () => {
  await withListener({}, async (listener) => {
    const client = await connectWebSocket({ ...options("client"), url: listener.url });
    await until(() => listener.accepted[0]?.isOpen === true, "the acceptor opened");
    const pending = client.request("track.write", { ...write, volume: "hang" });
    await until(() => client.pendingRequestCount === 1, "in flight");
    listener.sockets[0].terminate();
    await closesWith(client, "CONNECTION_LOST");
    await rejectsWith(pending, "CONNECTION_LOST");
  });
});

Ws("should reject a dial to a port nobody listens on with CONNECTION_LOST", async () => {
  const listener = await listen();
  const url = listener.url;
  await listener.close();
  const error = await rejectsWith(connectWebSocket({ ...options("dialer"), url }), "CONNECTION_LOST");
  assert.match(error.message, /could not connect to ws:\/\/127\.0\.0\.1:\d+\/cs\/node: ECONNREFUSED/);
});

Ws.run();
