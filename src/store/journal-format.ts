// The files of a journal directory (`--server-state DIR`), format version 1.
//
//   lock                               the pid of the process that has it open (journal-lock.ts)
//   snapshot-<S>.tzj                   the whole state as of sequence S (20 decimal digits)
//   journal-<F>.tzj                    a segment: records from sequence F on, back to back
//   .snapshot-<S>.<pid>.<hex>.tmp      a snapshot being written (renamed when whole)
//   .journal-<F>.<pid>.<hex>.tmp       a segment being created (renamed once its preamble is on disk)
//
// Both kinds of file start with a preamble:
//
//   offset  size  field
//        0     8  magic word: "TZ0JOURN" in a segment, "TZ0JSNAP" in a snapshot
//        8     4  format version, u32 little-endian
//       12     4  the version with every bit inverted
//       16     8  journal id: 64 random bits drawn when the directory was first opened
//       24        frames, back to back, to the end of the file
//
// A frame:
//
//        0     4  payload length L, u32 LE, 1 .. FRAME_BODY_MAX - 16
//        4     4  L with every bit inverted (a flipped length bit is caught before the length is used)
//        8     8  xxHash64 (seed 0) of bytes 16 .. 32 + L XOR the frame's key, u64 LE
//       16     8  sequence, u64 LE: in a segment the record's sequence number (1, 2, ...);
//                 in a snapshot the last sequence the snapshot covers
//       24     8  term, u64 LE: the term of the server that wrote it (backup takeover raises it)
//       32     L  payload
//
// The checksum covers sequence, term and payload. Its key binds a frame to its
// journal and its place: a segment's record is keyed by frameKey(journal id,
// sequence), a snapshot's frame i by frameKey(journal id XOR SNAPSHOT_KEY_SALT, i),
// so a record copied in from another server's journal, moved, or a snapshot
// frame passed off as a record fails its checksum.
//
// A segment's payloads are entries, one per append: a msgpack array of the
// records of one command (usually one), applied together or not at all. They
// have consecutive sequence numbers starting at F and terms that never decrease. A snapshot's
// frame 0 holds a msgpack SnapshotHeader; frames 1 .. chunks hold, in order,
// the bytes of the msgpack encoding of the state, cut in pieces of at most
// SNAPSHOT_CHUNK_MAX bytes, so a state of any size fits in bounded frames.
//
// Frames are checksummed in the 1 MiB staging buffer of frame-buffer.ts: its
// "payload" area, 16 bytes in, is where the sequence starts, so the hashed
// range is bytes 16 .. 32 + L of the frame and L is at most STAGING_SIZE - 32.

import { STAGING_SIZE } from "../core/codes.js";
import { FRAME_HEADER_SIZE, frameKey } from "./format.js";
import type { FrameBuffer } from "./frame-buffer.js";

export const SEGMENT_MAGIC = new Uint8Array([0x54, 0x5a, 0x30, 0x4a, 0x4f, 0x55, 0x52, 0x4e]); // "TZ0JOURN"
export const SNAPSHOT_MAGIC = new Uint8Array([0x54, 0x5a, 0x30, 0x4a, 0x53, 0x4e, 0x41, 0x50]); // "TZ0JSNAP"
export const JOURNAL_FORMAT_VERSION = 1;
export const JOURNAL_PREAMBLE_SIZE = 24;
export const JOURNAL_FRAME_HEADER_SIZE = FRAME_HEADER_SIZE + 16; // length, check, hash; then sequence, term
export const RECORD_BYTES_MAX = STAGING_SIZE - JOURNAL_FRAME_HEADER_SIZE;
export const SNAPSHOT_CHUNK_MAX = 512 * 1024;
export const SNAPSHOT_KEY_SALT = 0x534e415053484f54n; // "SNAPSHOT"
export const LOCK_FILE = "lock";

const SEQUENCE_DIGITS = 20;
const SEGMENT_NAME = /^journal-(\d{20})\.tzj$/;
const SNAPSHOT_NAME = /^snapshot-(\d{20})\.tzj$/;

export interface SnapshotHeader {
  type: "snapshot";
  stateBytes: number; // length of the state's msgpack encoding
  chunks: number; // frames that follow, 1 or more
  takenAt: number; // milliseconds since 1970, for people
}

export function segmentName(firstSequence: number): string {
  return `journal-${String(firstSequence).padStart(SEQUENCE_DIGITS, "0")}.tzj`;
}

export function snapshotName(sequence: number): string {
  return `snapshot-${String(sequence).padStart(SEQUENCE_DIGITS, "0")}.tzj`;
}

// The sequence in a segment's or snapshot's file name, or null for any other name.
export function sequenceOfName(name: string, kind: "segment" | "snapshot"): number | null {
  const match = (kind === "segment" ? SEGMENT_NAME : SNAPSHOT_NAME).exec(name);
  if (match === null) return null;
  const sequence = Number(match[1]);
  return Number.isSafeInteger(sequence) ? sequence : null;
}

export function isJournalTemporary(name: string): boolean {
  return /^\.(journal|snapshot)-\d{20}\.\d+\.[0-9a-f]{8}\.tmp$/.test(name);
}

// Whether a name in a journal's directory is the journal's own (its lock, a
// segment, a snapshot or one being written); any other file there (a site
// key, TLS files) belongs to whoever put it there.
export function isJournalFile(name: string): boolean {
  return name === LOCK_FILE || sequenceOfName(name, "segment") !== null || sequenceOfName(name, "snapshot") !== null || isJournalTemporary(name);
}

export function preamble(magic: Uint8Array, journalId: bigint): Uint8Array {
  const bytes = new Uint8Array(JOURNAL_PREAMBLE_SIZE);
  const view = new DataView(bytes.buffer);
  bytes.set(magic, 0);
  view.setUint32(8, JOURNAL_FORMAT_VERSION, true);
  view.setUint32(12, ~JOURNAL_FORMAT_VERSION >>> 0, true);
  view.setBigUint64(16, journalId, true);
  return bytes;
}

export function recordKey(journalId: bigint, sequence: number): bigint {
  return frameKey(journalId, sequence);
}

export function snapshotKey(journalId: bigint, index: number): bigint {
  return frameKey(journalId ^ SNAPSHOT_KEY_SALT, index);
}

// One whole frame (a new array) around `payload`, checksummed in `buffer`.
export function encodeFrame(buffer: FrameBuffer, sequence: number, term: number, payload: Uint8Array, key: bigint): Uint8Array {
  const length = payload.byteLength;
  const view = buffer.view;
  view.setUint32(0, length, true);
  view.setUint32(4, ~length >>> 0, true);
  view.setBigUint64(16, BigInt(sequence), true);
  view.setBigUint64(24, BigInt(term), true);
  buffer.bytes.set(payload, JOURNAL_FRAME_HEADER_SIZE);
  view.setBigUint64(8, buffer.hashPayload(16 + length) ^ key, true);
  return buffer.bytes.slice(0, JOURNAL_FRAME_HEADER_SIZE + length);
}
