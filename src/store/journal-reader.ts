// Reads a journal segment or snapshot (journal-format.ts) whole into memory
// and walks its frames, checking each before it is used. The checks run in an
// order that makes each kind of damage report as itself: a file that ends
// inside a frame is TRUNCATED (the caller may cut a segment's torn tail), a
// flipped bit anywhere is CHECKSUM_MISMATCH, and every error names the file
// and the byte offset of the frame at fault.

import { Unpackr } from "msgpackr";
import type { FrameBuffer } from "./frame-buffer.js";
import { StoreError, type StoreErrorCode } from "./errors.js";
import type { StoreFileSystem } from "./file-system.js";
import { JOURNAL_FORMAT_VERSION, JOURNAL_PREAMBLE_SIZE, JOURNAL_FRAME_HEADER_SIZE, RECORD_BYTES_MAX } from "./journal-format.js";

// Larger than any segment or snapshot a server writes between snapshots; it
// bounds the memory a load takes.
export const JOURNAL_FILE_BYTES_MAX = 1 << 30;

export interface JournalFrame {
  offset: number; // byte offset of the frame in the file
  end: number; // byte offset just past it
  sequence: number;
  term: number;
  payload: Uint8Array; // a view of the file's bytes
}

export class JournalFileReader {
  private position = JOURNAL_PREAMBLE_SIZE;
  readonly unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true }); // one per file: no state shared between loads
  journalId = 0n;

  constructor(
    private readonly bytes: Uint8Array,
    readonly file: string,
    private readonly buffer: FrameBuffer,
  ) {}

  get offset(): number {
    return this.position;
  }

  get size(): number {
    return this.bytes.byteLength;
  }

  fail(code: StoreErrorCode, message: string, offset = this.position): StoreError {
    return new StoreError(code, `${this.file}: ${message}`, { file: this.file, offset });
  }

  // Checks the preamble and reads the journal id.
  readPreamble(magic: Uint8Array, kind: string): void {
    for (let index = 0; index < Math.min(this.bytes.byteLength, magic.length); index++) {
      if (this.bytes[index] !== magic[index]) throw this.fail("BAD_MAGIC", `not a tzero journal ${kind}: it does not start with its magic word`, 0);
    }
    if (this.bytes.byteLength < JOURNAL_PREAMBLE_SIZE) {
      throw this.fail("TRUNCATED", `the file is truncated: it ends at byte ${this.bytes.byteLength}, inside its ${JOURNAL_PREAMBLE_SIZE}-byte preamble`, this.bytes.byteLength);
    }
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    const version = view.getUint32(8, true);
    if (view.getUint32(12, true) !== (~version >>> 0)) throw this.fail("CHECKSUM_MISMATCH", "the format version field is corrupt", 8);
    if (version !== JOURNAL_FORMAT_VERSION) {
      throw this.fail("UNSUPPORTED_VERSION", `written in journal format version ${version}; this tzero reads version ${JOURNAL_FORMAT_VERSION}`, 8);
    }
    this.journalId = view.getBigUint64(16, true);
  }

  // The next frame, or null exactly at the end of the file. `key` gives the
  // checksum key of a frame from its (not yet trusted) sequence number.
  next(key: (sequence: number) => bigint): JournalFrame | null {
    const offset = this.position;
    const left = this.bytes.byteLength - offset;
    if (left === 0) return null;
    if (left < 8) throw this.truncated(offset, "the length of a frame");
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + offset, left);
    const length = view.getUint32(0, true);
    if (view.getUint32(4, true) !== (~length >>> 0)) {
      throw this.fail("CHECKSUM_MISMATCH", `the frame at byte ${offset} is corrupt (its length ${length} and check word disagree)`, offset);
    }
    if (length === 0 || length > RECORD_BYTES_MAX) {
      throw this.fail("BAD_LENGTH", `the frame at byte ${offset} claims ${length} bytes; frames hold 1 to ${RECORD_BYTES_MAX}`, offset);
    }
    if (left < JOURNAL_FRAME_HEADER_SIZE + length) throw this.truncated(offset, `a frame of ${JOURNAL_FRAME_HEADER_SIZE + length} bytes`);
    const sequence = Number(view.getBigUint64(16, true));
    const term = Number(view.getBigUint64(24, true));
    this.buffer.bytes.set(this.bytes.subarray(offset + 16, offset + JOURNAL_FRAME_HEADER_SIZE + length), 16);
    const actual = this.buffer.hashPayload(16 + length);
    const written = view.getBigUint64(8, true) ^ key(sequence);
    if (actual !== written) {
      throw this.fail("CHECKSUM_MISMATCH", `the frame at byte ${offset} is corrupt (or comes from another journal, or from another place in this one)`, offset);
    }
    const end = offset + JOURNAL_FRAME_HEADER_SIZE + length;
    this.position = end;
    return { offset, end, sequence, term, payload: this.bytes.subarray(offset + JOURNAL_FRAME_HEADER_SIZE, end) };
  }

  private truncated(offset: number, what: string): StoreError {
    return this.fail("TRUNCATED", `the file is truncated: it ends at byte ${this.bytes.byteLength}, inside ${what} that starts at byte ${offset}`, offset);
  }
}

// The whole file at `path`.
export async function readWholeFile(fileSystem: StoreFileSystem, path: string): Promise<Uint8Array> {
  let fd: number;
  try {
    fd = await fileSystem.open(path, "r");
  } catch (cause) {
    throw new StoreError("IO_ERROR", `cannot open ${path}: ${(cause as Error).message}`, { file: path, cause });
  }
  try {
    const size = await fileSystem.size(fd);
    if (size > JOURNAL_FILE_BYTES_MAX) {
      throw new StoreError("BAD_LENGTH", `${path} is ${size} bytes, more than a journal file may hold (${JOURNAL_FILE_BYTES_MAX})`, { file: path });
    }
    const bytes = new Uint8Array(size);
    for (let done = 0; done < size;) {
      const count = await fileSystem.read(fd, bytes.subarray(done), done);
      if (count === 0) throw new StoreError("IO_ERROR", `${path} shrank while it was read (at byte ${done} of ${size})`, { file: path, offset: done });
      done += count;
    }
    return bytes;
  } catch (cause) {
    if (cause instanceof StoreError) throw cause;
    throw new StoreError("IO_ERROR", `cannot read ${path}: ${(cause as Error).message}`, { file: path, cause });
  } finally {
    // A read-only descriptor that fails to close has lost nothing: the bytes are read.
    await fileSystem.close(fd).catch(() => undefined);
  }
}

