// Reads and verifies the preamble and the frames of a state file, one frame at
// a time into the frame buffer: a file of any size is read with 1 MiB of memory.
// Each check names what it found wrong; the order of the checks makes each
// kind of damage report as itself (a flipped length bit is a corrupt header,
// not a truncated file).

import { readSync } from "node:fs";
import { Unpackr } from "msgpackr";
import { FrameBuffer } from "./frame-buffer.js";
import { StoreError, type StoreErrorCode } from "./errors.js";
import { MAGIC, FORMAT_VERSION, PREAMBLE_SIZE, FRAME_HEADER_SIZE, FRAME_PAYLOAD_MAX } from "./format.js";

export interface Frame {
  index: number; // 0 = first frame after the preamble
  offset: number; // byte offset of the frame header in the file
  value: unknown; // the decoded payload; its bin values are views of the frame buffer, valid until the next read
}

export class FrameReader {
  private readonly buffer = new FrameBuffer();
  private readonly unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
  private position = 0;
  private index = 0;

  constructor(private readonly fd: number, private readonly file: string, readonly size: number) {}

  get offset(): number {
    return this.position;
  }

  fail(code: StoreErrorCode, message: string, offset = this.position, frame?: number): StoreError {
    return new StoreError(code, `${this.file}: ${message}`, { file: this.file, offset, frame });
  }

  // Reads exactly `length` bytes at the current position into `target`, or
  // fails as truncated, saying what was being read.
  private readExactly(target: Uint8Array, what: string): void {
    let done = 0;
    while (done < target.byteLength) {
      let count: number;
      try {
        count = readSync(this.fd, target, done, target.byteLength - done, this.position + done);
      } catch (cause) {
        throw new StoreError("IO_ERROR", `cannot read ${this.file}: ${(cause as Error).message}`, { file: this.file, offset: this.position + done, cause });
      }
      if (count === 0) {
        throw this.fail("TRUNCATED", `the file ends at byte ${this.position + done}, inside ${what} (${target.byteLength} bytes from byte ${this.position})`);
      }
      done += count;
    }
  }

  // Checks the preamble; returns the file's format version.
  readPreamble(): number {
    const preamble = new Uint8Array(PREAMBLE_SIZE);
    const available = Math.min(this.size, PREAMBLE_SIZE);
    this.readExactly(preamble.subarray(0, available), "the preamble");
    for (let index = 0; index < Math.min(available, MAGIC.length); index++) {
      if (preamble[index] !== MAGIC[index]) {
        throw this.fail("BAD_MAGIC", "not a tzero state file: it does not start with the magic word TZ0STATE", 0);
      }
    }
    if (available < PREAMBLE_SIZE) this.readExactly(preamble.subarray(available), "the preamble");
    const view = new DataView(preamble.buffer);
    const version = view.getUint32(8, true);
    const check = view.getUint32(12, true);
    if (check !== (~version >>> 0)) {
      throw this.fail("CHECKSUM_MISMATCH", `the format version field is corrupt (${version} and check word ${check.toString(16)} disagree)`, 8);
    }
    if (version > FORMAT_VERSION) {
      throw this.fail("UNSUPPORTED_VERSION", `written in state format version ${version}, newer than this tzero reads (${FORMAT_VERSION}); use a newer tzero`, 8);
    }
    if (version < 1) throw this.fail("UNSUPPORTED_VERSION", `state format version ${version} does not exist`, 8);
    this.position = PREAMBLE_SIZE;
    return version;
  }

  // The next frame, or null at the end of the file (exactly at a frame boundary).
  next(): Frame | null {
    if (this.position === this.size) return null;
    const offset = this.position;
    const frame = this.index;
    const header = this.buffer.bytes.subarray(0, FRAME_HEADER_SIZE);
    this.readExactly(header, `the header of frame ${frame}`);
    const view = this.buffer.view;
    const length = view.getUint32(0, true);
    if (view.getUint32(4, true) !== (~length >>> 0)) {
      throw this.fail("CHECKSUM_MISMATCH", `the header of frame ${frame} at byte ${offset} is corrupt (its length ${length} and check word disagree)`, offset, frame);
    }
    if (length === 0 || length > FRAME_PAYLOAD_MAX) {
      throw this.fail("BAD_LENGTH", `frame ${frame} at byte ${offset} claims ${length} bytes; frames hold 1 to ${FRAME_PAYLOAD_MAX}`, offset, frame);
    }
    this.position += FRAME_HEADER_SIZE;
    this.readExactly(this.buffer.payload(length), `frame ${frame}`);
    const expected = view.getBigUint64(8, true);
    const actual = this.buffer.hashPayload(length);
    if (expected !== actual) {
      throw this.fail("CHECKSUM_MISMATCH", `frame ${frame} at byte ${offset} is corrupt: its checksum is ${hex(actual)}, ${hex(expected)} was written`, offset, frame);
    }
    let value: unknown;
    try {
      value = this.unpackr.unpack(this.buffer.payload(length));
    } catch (cause) {
      const message = `${this.file}: frame ${frame} at byte ${offset} is not one msgpack value: ${(cause as Error).message}`;
      throw new StoreError("NOT_MSGPACK", message, { file: this.file, offset, frame, cause });
    }
    this.position += length;
    this.index++;
    return { index: frame, offset, value };
  }
}

function hex(value: bigint): string {
  return value.toString(16).padStart(16, "0");
}
