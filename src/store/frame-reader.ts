// Reads and verifies the preamble and the frames of a state file, one frame at
// a time into the frame buffer: a file of any size is read with 1 MiB of memory.
// Each check names what it found wrong; the order of the checks makes each
// kind of damage report as itself (a flipped length bit is a corrupt header,
// not a truncated file; a file cut inside its preamble is truncated, not a
// corrupt version field).

import { Unpackr } from "msgpackr";
import { FrameBuffer } from "./frame-buffer.js";
import { StoreError, type StoreErrorCode } from "./errors.js";
import type { StoreFileSystem } from "./file-system.js";
import {
  MAGIC, FORMAT_VERSION, FORMAT_VERSION_MIN, PREAMBLE_SIZE, PREAMBLE_SIZE_V1, FRAME_HEADER_SIZE, FRAME_PAYLOAD_MAX, frameKey,
} from "./format.js";

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
  private saveId = 0n; // version 1 files have none: their frame keys are 0
  version = 0; // the file's format version, once the preamble is read

  constructor(
    private readonly fileSystem: StoreFileSystem,
    private readonly fd: number,
    private readonly file: string,
    readonly size: number,
  ) {}

  get offset(): number {
    return this.position;
  }

  fail(code: StoreErrorCode, message: string, offset = this.position, frame?: number): StoreError {
    return new StoreError(code, `${this.file}: ${message}`, { file: this.file, offset, frame });
  }

  // Reads exactly `target.byteLength` bytes from byte `at` into `target`, or
  // fails as truncated, saying what was being read.
  private async readExactly(target: Uint8Array, at: number, what: string): Promise<void> {
    let done = 0;
    while (done < target.byteLength) {
      let count: number;
      try {
        count = await this.fileSystem.read(this.fd, target.subarray(done), at + done);
      } catch (cause) {
        throw new StoreError("IO_ERROR", `cannot read ${this.file}: ${(cause as Error).message}`, { file: this.file, offset: at + done, cause });
      }
      if (count === 0) {
        throw this.fail("TRUNCATED", `the file is truncated: it ends at byte ${at + done}, inside ${what} (${target.byteLength} bytes from byte ${at})`, at + done);
      }
      done += count;
    }
  }

  async readPreamble(): Promise<void> {
    const preamble = new Uint8Array(PREAMBLE_SIZE);
    const available = Math.min(this.size, PREAMBLE_SIZE);
    await this.readExactly(preamble.subarray(0, available), 0, "the preamble");
    for (let index = 0; index < Math.min(available, MAGIC.length); index++) {
      if (preamble[index] !== MAGIC[index]) {
        throw this.fail("BAD_MAGIC", "not a tzero state file: it does not start with the magic word TZ0STATE", 0);
      }
    }
    if (available < PREAMBLE_SIZE_V1) throw this.truncatedPreamble(available, PREAMBLE_SIZE_V1);
    const view = new DataView(preamble.buffer);
    const version = view.getUint32(8, true);
    const check = view.getUint32(12, true);
    if (check !== (~version >>> 0)) {
      throw this.fail("CHECKSUM_MISMATCH", `the format version field is corrupt (${version} and check word ${check.toString(16)} disagree)`, 8);
    }
    if (version > FORMAT_VERSION) {
      throw this.fail("UNSUPPORTED_VERSION", `written in state format version ${version}, newer than this tzero reads (${FORMAT_VERSION}); use a newer tzero`, 8);
    }
    if (version < FORMAT_VERSION_MIN) throw this.fail("UNSUPPORTED_VERSION", `state format version ${version} does not exist`, 8);
    this.version = version;
    if (version === 1) {
      this.position = PREAMBLE_SIZE_V1;
      return;
    }
    if (available < PREAMBLE_SIZE) throw this.truncatedPreamble(available, PREAMBLE_SIZE);
    this.saveId = view.getBigUint64(16, true);
    this.position = PREAMBLE_SIZE;
  }

  private truncatedPreamble(available: number, needed: number): StoreError {
    return this.fail("TRUNCATED", `the file is truncated: it ends at byte ${available}, inside its ${needed}-byte preamble`, available);
  }

  // The next frame, or null at the end of the file (exactly at a frame boundary).
  async next(): Promise<Frame | null> {
    if (this.position === this.size) return null;
    const offset = this.position;
    const frame = this.index;
    const header = this.buffer.bytes.subarray(0, FRAME_HEADER_SIZE);
    await this.readExactly(header, offset, `the header of frame ${frame}`);
    const view = this.buffer.view;
    const length = view.getUint32(0, true);
    if (view.getUint32(4, true) !== (~length >>> 0)) {
      throw this.fail("CHECKSUM_MISMATCH", `the header of frame ${frame} at byte ${offset} is corrupt (its length ${length} and check word disagree)`, offset, frame);
    }
    if (length === 0 || length > FRAME_PAYLOAD_MAX) {
      throw this.fail("BAD_LENGTH", `frame ${frame} at byte ${offset} claims ${length} bytes; frames hold 1 to ${FRAME_PAYLOAD_MAX}`, offset, frame);
    }
    await this.readExactly(this.buffer.payload(length), offset + FRAME_HEADER_SIZE, `frame ${frame}`);
    this.checkFrame(frame, offset, length);
    let value: unknown;
    try {
      value = this.unpackr.unpack(this.buffer.payload(length));
    } catch (cause) {
      const message = `${this.file}: frame ${frame} at byte ${offset} is not one msgpack value: ${(cause as Error).message}`;
      throw new StoreError("NOT_MSGPACK", message, { file: this.file, offset, frame, cause });
    }
    this.position = offset + FRAME_HEADER_SIZE + length;
    this.index++;
    return { index: frame, offset, value };
  }

  private checkFrame(frame: number, offset: number, length: number): void {
    const key = this.version === 1 ? 0n : frameKey(this.saveId, frame);
    const written = this.buffer.view.getBigUint64(8, true) ^ key;
    const actual = this.buffer.hashPayload(length);
    if (written === actual) return;
    const detail = this.version === 1 ? "" : " (or it comes from another save, or from another place in this one)";
    throw this.fail("CHECKSUM_MISMATCH", `frame ${frame} at byte ${offset} is corrupt${detail}: its payload hashes to ${hex(actual)}, ${hex(written)} was written`, offset, frame);
  }
}

function hex(value: bigint): string {
  return value.toString(16).padStart(16, "0");
}
