// The handshake: only an end that proves it holds the site key gets a frame
// to the application; a wrong key, no key, another version, a proof reflected
// back or a handshake left hanging close the connection with their cause.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connectInProcess } from "../../src/wire/index.js";
import { proofOf, PROTOCOL_VERSION } from "../../src/wire/handshake.js";
import { options, recorder, closesWith, RawPeer, OTHER_KEY, SITE_KEY, until } from "./support.js";

const Handshake = suite("wire handshake");

Handshake("should close both ends with AUTH_FAILED when the keys differ, delivering nothing", async () => {
  const [dialer, acceptor] = connectInProcess(options("a"), options("b", { siteKey: OTHER_KEY }));
  const seen = recorder(acceptor);
  let opened = 0;
  for (const end of [dialer, acceptor]) end.on("open", () => opened++);
  const cause = await closesWith(dialer, "AUTH_FAILED");
  assert.match(cause.message, /peer b \(node\) failed the site key challenge: it holds another key/);
  await closesWith(acceptor, "AUTH_FAILED");
  assert.is(opened, 0);
  assert.equal(seen, []);
  assert.is((await dialer.opened.catch((error) => error)).code, "AUTH_FAILED");
});

Handshake("should close with UNAUTHENTICATED when a peer without the key sends an application frame, and deliver nothing", async () => {
  const peer = new RawPeer(options("b"));
  const seen = recorder(peer.connection);
  let handled = 0;
  peer.connection.handle("track.write", () => { handled++; return { sequence: 0n, bytes: 0 }; });
  peer.hello();
  peer.sendFrame({ type: "note", body: { text: "let me in", tags: [] } });
  peer.sendFrame({ type: "track.write", id: 1, body: { volume: "1000", track: 0, sequence: 0n, data: new Uint8Array(1) } });
  const cause = await closesWith(peer.connection, "UNAUTHENTICATED");
  assert.match(cause.message, /peer sent "note" before proving it holds the site key/);
  assert.equal(seen, []);
  assert.is(handled, 0);
  await peer.untilEnded;
  const told = peer.received.find((frame) => frame.type === "wire.close");
  assert.is(told?.body.code, "UNAUTHENTICATED", "the peer is told why");
});

Handshake("should refuse a heartbeat, or a proof, before the hello", async () => {
  const pinger = new RawPeer(options("b"));
  pinger.hello();
  pinger.sendFrame({ type: "wire.ping", body: {} });
  await closesWith(pinger.connection, "UNAUTHENTICATED");
  const early = new RawPeer(options("b"));
  early.sendFrame({ type: "wire.proof", body: { mac: new Uint8Array(32) } });
  await closesWith(early.connection, "PROTOCOL_VIOLATION");
});

Handshake("should close with HANDSHAKE_TIMEOUT when the peer says hello and never proves itself", async () => {
  const peer = new RawPeer(options("b", { handshakeTimeoutMs: 30 }));
  peer.hello();
  const cause = await closesWith(peer.connection, "HANDSHAKE_TIMEOUT");
  assert.match(cause.message, /did not complete within 30 ms/);
});

Handshake("should close with BAD_VERSION when the peer speaks another version, the one before the raw layout among them", async () => {
  const [dialer, acceptor] = connectInProcess(options("a", { protocolVersion: 1 }), options("b"));
  const cause = await closesWith(acceptor, "BAD_VERSION");
  assert.match(cause.message, /peer a speaks wire protocol version 1; this node speaks version 2/);
  const dialerCause = await dialer.closed;
  assert.ok(["BAD_VERSION", "PEER_CLOSED"].includes(dialerCause.code), dialerCause.code);
});

Handshake("should refuse a proof made for the other side (reflection) and one made with another key", async () => {
  const reflected = new RawPeer(options("b"));
  reflected.hello();
  await until(() => reflected.received.some((frame) => frame.type === "wire.proof"), "the acceptor's proof arrived");
  // The acceptor's own proof, sent back as if it were the dialer's.
  const proof = reflected.received.find((frame) => frame.type === "wire.proof")!;
  reflected.sendFrame({ type: "wire.proof", body: { mac: proof.body.mac } });
  await closesWith(reflected.connection, "AUTH_FAILED");
  const wrongKey = new RawPeer(options("b"));
  await wrongKey.handshake(OTHER_KEY);
  await closesWith(wrongKey.connection, "AUTH_FAILED");
});

Handshake("should open for a hand-made handshake with the site key, and refuse a second hello after", async () => {
  const peer = new RawPeer(options("b"));
  await peer.handshake(SITE_KEY);
  await peer.connection.opened;
  assert.equal(peer.connection.peer, { nodeId: "raw", role: "node", version: PROTOCOL_VERSION });
  peer.hello();
  const cause = await closesWith(peer.connection, "PROTOCOL_VIOLATION");
  assert.match(cause.message, /second hello/);
  assert.is(proofOf(SITE_KEY, "dialer", new Uint8Array(1), new Uint8Array(2)).byteLength, 32);
});

Handshake.run();
