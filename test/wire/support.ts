// Helpers of the wire tests: one registry, options for both ends, and a raw
// peer that writes frames by hand on one end of an in-process pair, for the
// frames and handshakes a well-behaved Connection never sends.
import { Type } from "@sinclair/typebox";
import * as assert from "uvu/assert";
import { Connection, type ConnectionOptions } from "../../src/wire/connection.js";
import { FrameDecoder, FrameEncoder } from "../../src/wire/codec.js";
import { defineMessages } from "../../src/wire/messages.js";
import { proofOf, newNonce, PROTOCOL_VERSION } from "../../src/wire/handshake.js";
import { inProcessPair, type Transport } from "../../src/wire/transport.js";
import { WireError, type WireErrorCode } from "../../src/wire/errors.js";
import { rejectsWithCode, throwsWithCode } from "../support/coded-errors.js";

export const BULK_RAW_BYTES_MAX = 4096;

export const messages = defineMessages({
  "track.write": {
    body: Type.Object({
      volume: Type.String({ maxLength: 8 }),
      track: Type.Integer({ minimum: 0 }),
      sequence: Type.BigInt({ minimum: 0n }),
      data: Type.Uint8Array({ maxByteLength: 2 * 1024 * 1024 }),
    }, { additionalProperties: false }),
    reply: "track.ack",
  },
  "track.ack": { body: Type.Object({ sequence: Type.BigInt(), bytes: Type.Integer() }, { additionalProperties: false }) },
  "track.run": {
    body: Type.Object({ sequence: Type.BigInt(), data: Type.Uint8Array({ maxByteLength: 2 * 1024 * 1024 }) }, { additionalProperties: false }),
  },
  "note": {
    body: Type.Object({ text: Type.String({ maxLength: 16 }), tags: Type.Array(Type.String({ maxLength: 8 }), { maxItems: 4 }) }, { additionalProperties: false }),
  },
  // A run whose bytes travel raw, behind the body (the raw layout).
  "track.bulk": { body: Type.Object({ sequence: Type.BigInt(), bytes: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }), rawBytesMax: BULK_RAW_BYTES_MAX },
});
export type Messages = typeof messages.specs;

export const SITE_KEY = new Uint8Array(32).map((_, index) => index + 1);
export const OTHER_KEY = new Uint8Array(32).map((_, index) => 200 - index);

export function options(nodeId: string, overrides: Partial<ConnectionOptions<Messages>> = {}): ConnectionOptions<Messages> {
  return { siteKey: SITE_KEY, nodeId, role: "node", messages, handshakeTimeoutMs: 2000, heartbeatIntervalMs: 100, heartbeatTimeoutMs: 5000, ...overrides };
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Waits (bounded) until `condition` holds; fails naming `what` if it never does.
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  for (let waitedMs = 0; !condition(); waitedMs += 5) {
    if (waitedMs >= timeoutMs) assert.unreachable(`${what}: not within ${timeoutMs} ms`);
    await delay(5);
  }
}

// Everything a connection delivered to the application, its raw pieces joined in one copy.
export function recorder(connection: Connection<Messages>): { type: string; body: unknown; raw: Uint8Array | null }[] {
  const seen: { type: string; body: unknown; raw: Uint8Array | null }[] = [];
  connection.on("message", (type: string, body: unknown, raw: readonly Uint8Array[] | null) => seen.push({ type, body, raw: raw === null ? null : concat(...raw) }));
  return seen;
}

export async function closesWith(connection: Connection<any>, code: WireErrorCode): Promise<WireError> {
  const cause = await connection.closed;
  assert.instance(cause, WireError);
  assert.is(cause.code, code, `closed with ${cause.code} (${cause.message}), expected ${code}`);
  return cause;
}

export function rejectsWith(promise: Promise<unknown>, code: WireErrorCode): Promise<WireError> {
  return rejectsWithCode(promise, WireError, code);
}

export function throwsWith(action: () => unknown, code: WireErrorCode): WireError {
  return throwsWithCode(action, WireError, code);
}

// The dialer end of an in-process pair, driven by hand; the acceptor is a real Connection.
export class RawPeer {
  readonly received: { type: string; body: any }[] = [];
  readonly connection: Connection<Messages>;
  ended = false;
  private wakeEnded!: () => void;
  // Resolves once the stream has ended, with everything the acceptor sent received.
  readonly untilEnded = new Promise<void>((resolve) => { this.wakeEnded = resolve; });
  private readonly end: Transport;
  private readonly encoder = new FrameEncoder(64 * 1024 * 1024);
  private readonly decoder = new FrameDecoder();
  private acceptorHello: Uint8Array | null = null;
  private helloWaiters: (() => void)[] = [];
  private ownHello: Uint8Array | null = null;

  constructor(acceptorOptions: ConnectionOptions<Messages>) {
    const [dialerEnd, acceptorEnd] = inProcessPair("raw");
    this.end = dialerEnd;
    dialerEnd.attach({
      data: (chunk) => this.decoder.push(chunk, (frame) => {
        const value = frame.value as { type: string; body: unknown };
        if (value.type === "wire.hello") this.acceptorHello = frame.payload;
        this.received.push(value);
        this.helloWaiters.splice(0).forEach((wake) => wake());
        return true;
      }),
      drain: () => {},
      ended: () => {
        this.ended = true;
        this.wakeEnded();
      },
    });
    this.connection = new Connection(acceptorEnd, "acceptor", acceptorOptions);
  }

  sendBytes(...chunks: Uint8Array[]): void {
    this.end.write(chunks);
  }

  // Ends the stream, as a peer that closes its socket without a close frame.
  endStream(): void {
    this.end.end(1000);
  }

  frame(value: unknown): Uint8Array {
    const [header, payload] = this.encoder.encode(value);
    return concat(header, payload);
  }

  // A frame of the raw layout: `value`, then `raw` as it is.
  rawFrame(value: unknown, raw: Uint8Array): Uint8Array {
    return concat(...this.encoder.encode(value, [raw]));
  }

  sendFrame(value: unknown): void {
    this.sendBytes(this.frame(value));
  }

  hello(overrides: Record<string, unknown> = {}): void {
    const frame = this.frame({ type: "wire.hello", body: { version: PROTOCOL_VERSION, node_id: "raw", role: "node", nonce: newNonce(), ...overrides } });
    this.ownHello = frame.subarray(4);
    this.sendBytes(frame);
  }

  // Sends a hello and, once the acceptor's hello is in, a proof made with `key`.
  async handshake(key: Uint8Array = SITE_KEY): Promise<void> {
    this.hello();
    while (this.acceptorHello === null) await new Promise<void>((wake) => this.helloWaiters.push(wake));
    this.sendFrame({ type: "wire.proof", body: { mac: proofOf(key, "dialer", this.ownHello!, this.acceptorHello) } });
  }
}

export function concat(...chunks: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}
