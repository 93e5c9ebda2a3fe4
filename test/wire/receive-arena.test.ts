// The copy path's wire pieces: a connection that reads into an arena
// (Connection.readIntoArena, what the link receiver does) over loopback TCP
// delivers every frame's bytes intact while the arena comes round many times,
// and abort() drops what the transport has not written yet, where close()
// lets it flush.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Type } from "@sinclair/typebox";
import { connectInProcess, connectTcp, listenTcp } from "../../src/wire/index.js";
import { defineMessages } from "../../src/wire/messages.js";
import type { Connection } from "../../src/wire/connection.js";
import { ARENA_READ_BYTES_MAX } from "../../src/wire/transport.js";
import { BULK_RAW_BYTES_MAX, closesWith, options, recorder, until, type Messages } from "./support.js";

const RAW_BYTES_MAX = 256 * 1024;
const arenaMessages = defineMessages({
  "bulk": { body: Type.Object({ sequence: Type.Integer({ minimum: 0 }), bytes: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }), rawBytesMax: RAW_BYTES_MAX },
  "plain": { body: Type.Object({ sequence: Type.Integer({ minimum: 0 }), data: Type.Uint8Array({ maxByteLength: RAW_BYTES_MAX }) }, { additionalProperties: false }) },
});
type ArenaMessages = typeof arenaMessages.specs;
const FRAME_BYTES_MAX = RAW_BYTES_MAX + 1024;

// Frame `sequence`'s bytes: its length (1 to RAW_BYTES_MAX) and content follow from it.
function bytesOf(sequence: number): Uint8Array {
  let state = (sequence * 2654435761 + 1) >>> 0 || 1;
  const next = () => {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state;
  };
  const length = 1 + (next() % RAW_BYTES_MAX);
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index += 4) {
    const word = next();
    for (let byte = 0; byte < 4 && index + byte < length; byte++) bytes[index + byte] = word >>> (8 * byte);
  }
  return bytes;
}

// True when the pieces, one after another, are exactly `expected`.
function piecesEqual(pieces: readonly Uint8Array[], expected: Uint8Array): boolean {
  let at = 0;
  for (const piece of pieces) {
    if (at + piece.byteLength > expected.byteLength) return false;
    if (!Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength).equals(expected.subarray(at, at + piece.byteLength))) return false;
    at += piece.byteLength;
  }
  return at === expected.byteLength;
}

const Arena = suite("wire: reading into an arena over TCP");

Arena("should deliver every frame's bytes intact, raw and plain, while the arena comes round many times", async () => {
  const base = { siteKey: options("x").siteKey, role: "node", messages: arenaMessages, frameBytesMax: FRAME_BYTES_MAX, heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 30_000 };
  const server = await listenTcp({ ...base, nodeId: "receiver" });
  let arenaUsed: boolean | null = null;
  const checked = { frames: 0, bad: [] as number[], spanning: 0 };
  server.on("connection", (connection: Connection<ArenaMessages>) => {
    arenaUsed = connection.readIntoArena();
    // Each frame is compared where it lies, when it is delivered: a frame whose earlier
    // pieces a later read overwrote does not match.
    connection.on("message", (type: string, body: { sequence: number; data?: Uint8Array }, raw: readonly Uint8Array[] | null) => {
      const pieces = type === "bulk" ? raw! : [body.data!];
      if (pieces.length > 1) checked.spanning++;
      if (!piecesEqual(pieces, bytesOf(body.sequence))) checked.bad.push(body.sequence);
      checked.frames++;
    });
  });
  const { port } = server.address();
  const sender = await connectTcp({ ...base, nodeId: "sender", host: "127.0.0.1", port });
  try {
    // About 24 MiB: the arena (a frame, a read and a region) comes round about 18 times.
    const frames = 192;
    let total = 0;
    for (let sequence = 0; sequence < frames; sequence++) {
      const bytes = bytesOf(sequence);
      total += bytes.byteLength;
      const below = sequence % 3 === 2
        ? sender.send("plain", { sequence, data: bytes })
        : sender.send("bulk", { sequence, bytes: bytes.byteLength }, [bytes.subarray(0, bytes.byteLength >> 1), bytes.subarray(bytes.byteLength >> 1)]);
      if (!below) await sender.writable();
    }
    await until(() => checked.frames === frames || !sender.isOpen, `all ${frames} frames delivered`, 60_000);
    assert.is(arenaUsed, true, "the accepted connection reads into an arena");
    assert.ok(total > 16 * (FRAME_BYTES_MAX + ARENA_READ_BYTES_MAX), `${total} bytes went through, many times the arena`);
    assert.ok(checked.spanning > 0, "some raw frames spanned reads");
    assert.equal(checked.bad, [], "every frame's bytes were intact when delivered");
    assert.is(checked.frames, frames);
  } finally {
    await sender.close();
    await server.close();
  }
});

Arena("should not read into an arena before the handshake, nor over an in-process pair", async () => {
  const [dialer, acceptor] = connectInProcess(options("node-a"), options("node-b"));
  assert.is(acceptor.readIntoArena(), false, "not before the handshake");
  await Promise.all([dialer.opened, acceptor.opened]);
  assert.is(acceptor.readIntoArena(), false, "an in-process transport has no arena");
  await dialer.close();
  await acceptor.closed;
});

const Abort = suite("wire: abort");

async function openPair(): Promise<[Connection<Messages>, Connection<Messages>]> {
  const [dialer, acceptor] = connectInProcess(options("node-a"), options("node-b"));
  await Promise.all([dialer.opened, acceptor.opened]);
  return [dialer, acceptor];
}

Abort("should drop what the transport has not written yet, so the peer gets no frame of it", async () => {
  const [dialer, acceptor] = await openPair();
  const seen = recorder(acceptor);
  dialer.send("track.bulk", { sequence: 1n, bytes: BULK_RAW_BYTES_MAX }, [new Uint8Array(BULK_RAW_BYTES_MAX).fill(3)]);
  dialer.abort("the link is lost");
  assert.is(dialer.isOpen, false);
  assert.is((await dialer.closed).message, "the link is lost");
  const cause = await closesWith(acceptor, "CONNECTION_LOST");
  assert.match(cause.message, /without a close frame/);
  assert.equal(seen, [], "no frame written before the abort reached the peer");
});

Abort("should be what close() is not: close() lets the frame written before it reach the peer", async () => {
  const [dialer, acceptor] = await openPair();
  const seen = recorder(acceptor);
  dialer.send("track.bulk", { sequence: 1n, bytes: BULK_RAW_BYTES_MAX }, [new Uint8Array(BULK_RAW_BYTES_MAX).fill(3)]);
  await dialer.close("done");
  await closesWith(acceptor, "PEER_CLOSED");
  assert.is(seen.length, 1);
  assert.is(seen[0].raw!.byteLength, BULK_RAW_BYTES_MAX);
});

Abort("should drop a closed connection's unflushed bytes too", async () => {
  const [dialer, acceptor] = await openPair();
  const seen = recorder(acceptor);
  dialer.send("track.bulk", { sequence: 1n, bytes: BULK_RAW_BYTES_MAX }, [new Uint8Array(BULK_RAW_BYTES_MAX).fill(3)]);
  void dialer.close("closing");
  dialer.abort("and gone");
  assert.is((await dialer.closed).message, "closing", "the first cause stays");
  await acceptor.closed;
  assert.equal(seen, []);
});

Arena.run();
Abort.run();
