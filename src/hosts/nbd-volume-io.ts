// The core behind an endpoint's exports, as its worker thread binds it: one
// instance of the core per storage image the endpoint serves (a host's own
// endpoint serves one; the node's default endpoint, every image of the node),
// each on its image's shared memory with a thread id of that image.
import { CoreThread, type WaitTimeouts } from "../core/core.js";
import { CoreCode, STAGING_SIZE, coreCodeName } from "../core/codes.js";
import * as N from "./nbd-constants.js";
import type { NbdExport } from "./nbd-handshake.js";
import type { VolumeIo } from "./nbd-transmission.js";

// What a worker needs to run the core on one image: sent at its start, and
// for an image added later (mksi) in a message.
export interface ImageCore {
  imageId: string;
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  threadId: number;
  timeouts: WaitTimeouts;
}

// The thread's staging buffer, in two parts:
//
//   staging + 0                         core I/O: read pieces, and writes
//                                       whose bytes are not in the receive
//                                       buffer
//   staging + STAGING_SIZE
//           - RECEIVE_BYTES             the receive buffer: connections'
//                                       sockets read into it
//                                       (socket-user-buffer.ts), so a write's
//                                       payload is already in the core's
//                                       memory and goes to the volume by
//                                       pointer
//
// The thread serves one chunk at a time, to completion, so its connections
// can share the one receive buffer. Its size bounds a chunk, as Node's own
// 64 KiB reads did (the rest of a large write's payload is read into a
// buffer of its connection's instead, nbd-transmission.ts); it holds sixteen
// 4 KiB writes and their headers (65,984 bytes, just over 64 KiB) with room
// to spare.
const RECEIVE_BYTES = 128 * 1024;
// V8 copies between a Buffer and shared memory a word at a time only where
// both sides have the same alignment, and byte by byte otherwise (several
// times slower for 4 KiB; most payloads sit at odd offsets in their chunk):
// so bytes are staged at the offset that matches theirs.
const ALIGNMENT = 8;
// A piece fits the core I/O part with room for that offset, and is whole 512-byte blocks.
const PIECE_BYTES = STAGING_SIZE - RECEIVE_BYTES - N.BLOCK_MIN_BYTES;
type CoreCall = (slot: number, offset: number, length: number, pointer: number) => number;

// Requests larger than a piece run inside the volume's gate, in pieces, so
// that an establish finds them wholly before or after it.
export class CoreVolumeIo implements VolumeIo {
  private readonly core: CoreThread;
  readonly receiveBuffer: Buffer;

  constructor(image: ImageCore, private readonly log: (text: string) => void) {
    this.core = new CoreThread(image.memory, image.threadId, image.module, false, image.timeouts);
    const staging = this.core.staging();
    this.receiveBuffer = Buffer.from(staging.buffer, staging.byteOffset + STAGING_SIZE - RECEIVE_BYTES, RECEIVE_BYTES);
  }

  read(volume: NbdExport, offset: number, length: number, into: Buffer): number {
    const exports = this.core.exports;
    if (length <= PIECE_BYTES) return this.readInto(exports.io_read, volume.slot, offset, into);
    return this.held(volume, (done, count) => this.readInto(exports.io_read_held, volume.slot, offset + done, into.subarray(done, done + count)), length);
  }

  write(volume: NbdExport, offset: number, bytes: Buffer): number {
    const exports = this.core.exports;
    if (bytes.length <= PIECE_BYTES) return this.writeFrom(exports.io_write, volume.slot, offset, bytes);
    return this.held(volume, (done, count) => this.writeFrom(exports.io_write_held, volume.slot, offset + done, bytes.subarray(done, done + count)), bytes.length);
  }

  zero(volume: NbdExport, offset: number, length: number): number {
    return this.core.exports.io_fill(volume.slot, offset, length, 0);
  }

  trim(volume: NbdExport, offset: number, length: number): number {
    return this.core.exports.io_trim(volume.slot, offset, length);
  }

  errorOf(volume: NbdExport, code: number, action: string): number {
    if (code === CoreCode.TGTINHIBIT) return N.NBD_EPERM;
    if (code === CoreCode.NO_SPACE) return N.NBD_ENOSPC;
    if (code === CoreCode.RANGE) return N.NBD_EINVAL;
    this.log(`${action} of volume ${volume.name} failed with EIO: ${reasonOf(code)}`);
    return N.NBD_EIO;
  }

  private readInto(read: CoreCall, slot: number, offset: number, into: Buffer): number {
    const shift = into.byteOffset % ALIGNMENT;
    const code = read(slot, offset, into.length, this.core.stagingPointer + shift);
    if (code === CoreCode.OK) into.set(this.core.staging().subarray(shift, shift + into.length));
    return code;
  }

  private writeFrom(write: CoreCall, slot: number, offset: number, bytes: Buffer): number {
    // Bytes the socket read into the receive buffer are in the core's memory already: their byte offset is their address.
    if (bytes.buffer === this.receiveBuffer.buffer) return write(slot, offset, bytes.length, bytes.byteOffset);
    const shift = bytes.byteOffset % ALIGNMENT;
    this.core.staging().set(bytes, shift);
    return write(slot, offset, bytes.length, this.core.stagingPointer + shift);
  }

  private held(volume: NbdExport, piece: (done: number, count: number) => number, length: number): number {
    const exports = this.core.exports;
    const entered = exports.io_begin(volume.slot);
    if (entered !== CoreCode.OK) return entered;
    try {
      for (let done = 0; done < length; done += PIECE_BYTES) {
        const code = piece(done, Math.min(PIECE_BYTES, length - done));
        if (code !== CoreCode.OK) return code;
      }
      return CoreCode.OK;
    } finally {
      exports.io_end(volume.slot);
    }
  }
}

function reasonOf(code: number): string {
  if (code === CoreCode.UNUSABLE) return "the volume is not usable (a FlashCopy onto it was withdrawn before its copy completed)";
  if (code === CoreCode.LONG_BUSY) return "the volume is long busy (a FlashCopy -freeze holds its writes)";
  if (code === CoreCode.NO_VOLUME) return "the volume no longer exists";
  return `the core answered ${coreCodeName(code)} (${code})`;
}
