// The messages of the wire bench: a 4 KiB write acknowledged (the shape of a
// Metro Mirror write), and one-way 1 MiB runs (the shape of a Copy Pending
// copy) closed by a request that reports what the receiver saw.
import { Type } from "@sinclair/typebox";
import { defineMessages } from "../../src/wire/index.js";

export const RUN_BYTES = 1024 * 1024;
export const WRITE_BYTES = 4096;
export const BENCH_SITE_KEY = new Uint8Array(32).fill(0x5a);

export const benchMessages = defineMessages({
  "bench.write": {
    body: Type.Object({ sequence: Type.BigInt(), data: Type.Uint8Array({ maxByteLength: WRITE_BYTES }) }, { additionalProperties: false }),
    reply: "bench.ack",
  },
  "bench.ack": { body: Type.Object({ sequence: Type.BigInt(), bytes: Type.Integer() }, { additionalProperties: false }) },
  "bench.run": {
    body: Type.Object({ sequence: Type.BigInt(), track: Type.Integer(), data: Type.Uint8Array({ maxByteLength: RUN_BYTES }) }, { additionalProperties: false }),
  },
  // The same run with its bytes raw, behind the body (the raw frame layout).
  "bench.raw-run": { body: Type.Object({ sequence: Type.BigInt(), track: Type.Integer() }, { additionalProperties: false }), rawBytesMax: RUN_BYTES },
  "bench.runs-done": { body: Type.Object({}, { additionalProperties: false }), reply: "bench.runs-seen" },
  // Bytes received since the last runs-done, and runs whose bytes were not their sequence's fill.
  "bench.runs-seen": { body: Type.Object({ bytes: Type.Integer(), runs: Type.Integer(), damaged: Type.Integer() }, { additionalProperties: false }) },
});
