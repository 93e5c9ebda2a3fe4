// Heartbeats: a peer that goes silent fails the connection with
// HEARTBEAT_TIMEOUT; a live one keeps it open while nothing else is sent.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connectInProcess } from "../../src/wire/index.js";
import { options, closesWith, RawPeer, delay } from "./support.js";

const Heartbeat = suite("wire heartbeat");

Heartbeat("should fail the connection with HEARTBEAT_TIMEOUT when the peer goes silent after the handshake", async () => {
  const peer = new RawPeer(options("b", { heartbeatIntervalMs: 10, heartbeatTimeoutMs: 60 }));
  let event: unknown = null;
  peer.connection.on("close", (cause) => { event = cause; });
  await peer.handshake();
  await peer.connection.opened;
  const cause = await closesWith(peer.connection, "HEARTBEAT_TIMEOUT");
  assert.is(event, cause, "the close event carries the cause");
  assert.match(cause.message, /nothing heard from peer raw for 60 ms/);
  assert.ok(peer.received.some((frame) => frame.type === "wire.ping"), "this end kept sending heartbeats");
  await peer.untilEnded;
  assert.is(peer.received.at(-1)?.type, "wire.close", "and told the peer why it closed");
});

Heartbeat("should keep an idle connection open on heartbeats alone", async () => {
  // Generous against a busy machine: a 2 s timeout, heartbeats every 20 ms, 1 s idle.
  const [dialer, acceptor] = connectInProcess(options("a", { heartbeatIntervalMs: 20, heartbeatTimeoutMs: 2000 }), options("b", { heartbeatIntervalMs: 20, heartbeatTimeoutMs: 2000 }));
  await Promise.all([dialer.opened, acceptor.opened]);
  await delay(1000);
  assert.ok(dialer.isOpen && acceptor.isOpen, `still open (${dialer.closeCause?.message ?? acceptor.closeCause?.message ?? ""})`);
  await dialer.close();
  await closesWith(acceptor, "PEER_CLOSED");
});

Heartbeat.run();
