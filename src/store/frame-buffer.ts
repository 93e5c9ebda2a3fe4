// Where frames are assembled and checksummed: the staging buffer of a private
// instance of the core over its own small memory. The core's xxHash64
// (hash_memory) reads wasm memory only, so a frame's bytes are put there once
// and hashed and written (or read and hashed and decoded) in place. One per
// save or load: nothing here is shared between calls.
//
//   staging + 0                    frame header (FRAME_HEADER_SIZE bytes)
//   staging + FRAME_HEADER_SIZE    payload, at most FRAME_PAYLOAD_MAX bytes
//   total                          STAGING_SIZE (1 MiB)

import { CoreThread, coreModule, createImageMemory } from "../core/core.js";
import { STAGING_SIZE } from "../core/codes.js";
import { FRAME_HEADER_SIZE } from "./format.js";

export class FrameBuffer {
  private readonly core: CoreThread;
  readonly bytes: Uint8Array; // the whole staging buffer
  readonly view: DataView;

  constructor() {
    this.core = new CoreThread(createImageMemory(), 0, coreModule(), true);
    this.bytes = this.core.staging(STAGING_SIZE);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  // The payload area, `length` bytes long.
  payload(length: number): Uint8Array {
    return this.bytes.subarray(FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + length);
  }

  // xxHash64 of the first `length` payload bytes.
  hashPayload(length: number): bigint {
    const hash = this.core.exports.hash_memory(this.core.stagingPointer + FRAME_HEADER_SIZE, length);
    return BigInt.asUintN(64, hash);
  }
}

// The parts one after another in one array (the one part itself when there is only one).
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}
