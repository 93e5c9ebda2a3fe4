// Opening a journal directory: the newest valid snapshot, then every record
// after it, replayed through the caller's `apply`, checked as it goes. Nothing
// is handed back until the whole directory has been read and applied, so a
// refusal leaves the caller with nothing half-applied.
//
// Only one kind of damage is repaired: the last segment ending inside a frame
// (a process killed in the middle of an append). No append of that frame was
// acknowledged, since acknowledgement follows its fsync, so the tail is cut
// back to the last whole record and the open reports how many bytes went.
// Everything else (a flipped bit, a record followed by damage followed by
// valid records, a missing segment, a file from another journal) is refused,
// naming the file and the byte offset.

import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { FrameBuffer } from "./frame-buffer.js";
import { StoreError } from "./errors.js";
import type { JournalFileSystem } from "./file-system.js";
import {
  SEGMENT_MAGIC, SNAPSHOT_MAGIC, JOURNAL_PREAMBLE_SIZE, recordKey, snapshotKey, sequenceOfName, isJournalTemporary,
  type SnapshotHeader,
} from "./journal-format.js";
import { JournalFileReader, readWholeFile, type JournalFrame } from "./journal-reader.js";

export interface LoadedSnapshot<S> {
  file: string;
  journalId: bigint;
  sequence: number;
  term: number;
  state: S;
}

export interface SegmentFile {
  name: string;
  first: number; // the sequence its name gives: its first record's
}

export interface TornTail {
  file: string;
  offset: number; // where the last whole record ends: the file is cut back to this length
  bytes: number; // how many bytes were cut
}

export interface LoadedDirectory<S> {
  journalId: bigint;
  state: S;
  sequence: number; // the last sequence in the snapshot or the segments (0: none yet)
  term: number;
  snapshot: { file: string; sequence: number } | null;
  skippedSnapshots: { file: string; code: string; message: string }[];
  replayed: number; // entries applied after the snapshot
  segments: SegmentFile[]; // every segment present, by first sequence
  covered: SegmentFile[]; // segments wholly covered by the snapshot (removable)
  append: { segment: SegmentFile; end: number } | null; // where the next record goes, if the last segment can take it
  tornTail: TornTail | null;
  temporaries: string[]; // names of leftover temporary files
}

export interface Replay<S, R> {
  initial: () => S;
  apply: (state: S, record: R) => S;
}

interface Listing {
  snapshots: { name: string; sequence: number }[]; // newest first
  segments: SegmentFile[];
  temporaries: string[];
}

export async function loadDirectory<S, R>(fileSystem: JournalFileSystem, directory: string, replay: Replay<S, R>): Promise<LoadedDirectory<S>> {
  const listing = await listDirectory(fileSystem, directory);
  const buffer = new FrameBuffer();
  const { snapshot, skipped } = await newestSnapshot<S>(fileSystem, directory, listing, buffer);
  const base = snapshot?.sequence ?? 0;
  const { covered, relevant } = splitCovered(listing.segments, base);
  if (relevant.length > 0 && relevant[0].first > base + 1) {
    if (snapshot === null && skipped.length > 0) throw skipped[0].error;
    const after = snapshot === null ? "the journal's start" : `the snapshot ${snapshot.file} (sequence ${base})`;
    throw new StoreError("MISSING_RECORDS", `${directory}: records ${base + 1} to ${relevant[0].first - 1} are missing: ${relevant[0].name} starts at ${relevant[0].first}, after ${after}`, { file: join(directory, relevant[0].name) });
  }
  const replayed = new SegmentReplay(directory, buffer, replay, snapshot, base);
  for (let index = 0; index < relevant.length; index++) {
    replayed.segment(await readWholeFile(fileSystem, join(directory, relevant[index].name)), relevant[index], index === relevant.length - 1);
  }
  return {
    journalId: replayed.journalId ?? randomId(),
    state: replayed.state,
    sequence: replayed.sequence,
    term: replayed.term,
    snapshot: snapshot && { file: snapshot.file, sequence: snapshot.sequence },
    skippedSnapshots: skipped.map(({ file, error }) => ({ file, code: error.code, message: error.message })),
    replayed: replayed.applied,
    segments: listing.segments,
    covered,
    append: replayed.appendPoint(relevant[relevant.length - 1]),
    tornTail: replayed.tornTail,
    temporaries: listing.temporaries,
  };
}

async function listDirectory(fileSystem: JournalFileSystem, directory: string): Promise<Listing> {
  let names: string[];
  try {
    names = await fileSystem.list(directory);
  } catch (cause) {
    throw new StoreError("IO_ERROR", `cannot list ${directory}: ${(cause as Error).message}`, { file: directory, cause });
  }
  const listing: Listing = { snapshots: [], segments: [], temporaries: [] };
  for (const name of names) {
    const snapshot = sequenceOfName(name, "snapshot");
    const segment = sequenceOfName(name, "segment");
    if (snapshot !== null) listing.snapshots.push({ name, sequence: snapshot });
    else if (segment !== null) listing.segments.push({ name, first: segment });
    else if (isJournalTemporary(name)) listing.temporaries.push(name);
  }
  listing.snapshots.sort((left, right) => right.sequence - left.sequence);
  listing.segments.sort((left, right) => left.first - right.first);
  return listing;
}

// Segment i is wholly covered by a snapshot of sequence `base` when the next
// segment starts at or before base + 1; the last segment never is (it is
// where appends continue).
function splitCovered(segments: readonly SegmentFile[], base: number): { covered: SegmentFile[]; relevant: SegmentFile[] } {
  let start = 0;
  while (start + 1 < segments.length && segments[start + 1].first <= base + 1) start++;
  return { covered: segments.slice(0, start), relevant: segments.slice(start) };
}

async function newestSnapshot<S>(fileSystem: JournalFileSystem, directory: string, listing: Listing, buffer: FrameBuffer):
Promise<{ snapshot: LoadedSnapshot<S> | null; skipped: { file: string; error: StoreError }[] }> {
  const skipped: { file: string; error: StoreError }[] = [];
  for (const { name, sequence } of listing.snapshots) {
    const file = join(directory, name);
    try {
      const snapshot = readSnapshot<S>(await readWholeFile(fileSystem, file), file, buffer);
      if (snapshot.sequence !== sequence) {
        throw new StoreError("BAD_RECORD", `${file}: covers sequence ${snapshot.sequence}, not the ${sequence} its name says`, { file, field: "sequence" });
      }
      return { snapshot, skipped };
    } catch (error) {
      if (!(error instanceof StoreError) || error.code === "IO_ERROR") throw error;
      skipped.push({ file, error });
    }
  }
  return { snapshot: null, skipped };
}

function decode(reader: JournalFileReader, payload: Uint8Array, offset: number, what: string): unknown {
  try {
    return reader.unpackr.unpack(payload);
  } catch (cause) {
    throw new StoreError("NOT_MSGPACK", `${reader.file}: ${what} at byte ${offset} is not one msgpack value: ${(cause as Error).message}`, { file: reader.file, offset, cause });
  }
}

export function readSnapshot<S>(bytes: Uint8Array, file: string, buffer: FrameBuffer): LoadedSnapshot<S> {
  const reader = new JournalFileReader(bytes, file, buffer);
  reader.readPreamble(SNAPSHOT_MAGIC, "snapshot");
  let index = 0;
  const key = () => snapshotKey(reader.journalId, index);
  const first = reader.next(key);
  if (first === null) throw reader.fail("TRUNCATED", "the snapshot has no header frame");
  const header = checkHeader(reader, decode(reader, first.payload, first.offset, "the snapshot header"), first.offset);
  const state = new Uint8Array(header.stateBytes);
  let filled = 0;
  for (index = 1; index <= header.chunks; index++) {
    const chunk = reader.next(key);
    if (chunk === null) throw reader.fail("TRUNCATED", `the snapshot ends after ${index - 1} of its ${header.chunks} chunks`);
    if (chunk.sequence !== first.sequence || chunk.term !== first.term || filled + chunk.payload.byteLength > header.stateBytes) {
      throw reader.fail("BAD_RECORD", `chunk ${index} at byte ${chunk.offset} does not belong to the snapshot of sequence ${first.sequence}`, chunk.offset);
    }
    state.set(chunk.payload, filled);
    filled += chunk.payload.byteLength;
  }
  if (filled !== header.stateBytes) throw reader.fail("BAD_RECORD", `the snapshot's chunks hold ${filled} bytes, its header says ${header.stateBytes}`);
  if (reader.offset !== reader.size) throw reader.fail("TRAILING_DATA", `${reader.size - reader.offset} bytes follow the snapshot's last chunk`);
  const value = decode(reader, state, JOURNAL_PREAMBLE_SIZE, "the snapshot's state") as S;
  return { file, journalId: reader.journalId, sequence: first.sequence, term: first.term, state: value };
}

function checkHeader(reader: JournalFileReader, value: unknown, offset: number): SnapshotHeader {
  const header = value as Partial<SnapshotHeader> | null;
  const whole = (field: unknown, low: number) => typeof field === "number" && Number.isSafeInteger(field) && field >= low;
  if (typeof header !== "object" || header === null || header.type !== "snapshot") throw reader.fail("BAD_RECORD", "frame 0 is not a snapshot header", offset);
  if (!whole(header.stateBytes, 1)) throw reader.fail("BAD_RECORD", "the snapshot header's stateBytes is not a positive whole number", offset);
  if (!whole(header.chunks, 1)) throw reader.fail("BAD_RECORD", "the snapshot header's chunks is not a positive whole number", offset);
  return header as SnapshotHeader;
}

// Replays segments in order, checking that sequences run on without a gap
// or an overlap and that terms never go back, and applying the records after
// the snapshot (the first segment may begin with records it covers).
class SegmentReplay<S, R> {
  state: S;
  sequence: number; // the last sequence read so far (or the snapshot's)
  term: number;
  applied = 0;
  journalId: bigint | null;
  tornTail: TornTail | null = null;
  private segmentsRead = 0;
  private lastSegment: { sequence: number; end: number } | null = null; // the last segment's last record and end

  constructor(
    private readonly directory: string,
    private readonly buffer: FrameBuffer,
    private readonly replay: Replay<S, R>,
    snapshot: LoadedSnapshot<S> | null,
    base: number,
  ) {
    this.state = snapshot === null ? replay.initial() : snapshot.state;
    this.sequence = base;
    this.term = snapshot?.term ?? 0;
    this.journalId = snapshot?.journalId ?? null;
  }

  segment(bytes: Uint8Array, segment: SegmentFile, last: boolean): void {
    const reader = new JournalFileReader(bytes, join(this.directory, segment.name), this.buffer);
    reader.readPreamble(SEGMENT_MAGIC, "journal segment");
    this.checkJournalId(reader);
    const continues = this.segmentsRead === 0 ? segment.first <= this.sequence + 1 : segment.first === this.sequence + 1;
    if (!continues) throw this.gap(reader, this.sequence + 1, segment.first);
    let expected = segment.first;
    for (let frame = this.nextFrame(reader, last); frame !== null; frame = this.nextFrame(reader, last)) {
      if (frame.sequence !== expected) throw this.gap(reader, expected, frame.sequence, frame.offset);
      if (frame.term < this.term) throw reader.fail("BAD_RECORD", `the record at byte ${frame.offset} has term ${frame.term}, lower than ${this.term} before it`, frame.offset);
      this.term = frame.term;
      if (frame.sequence > this.sequence) {
        this.applyEntry(reader, decode(reader, frame.payload, frame.offset, `entry ${frame.sequence}`), frame.offset);
        this.sequence = frame.sequence;
      }
      expected++;
    }
    this.segmentsRead++;
    this.lastSegment = { sequence: expected - 1, end: reader.offset };
  }

  // Where appends continue: the end of the last segment, when its next
  // sequence is the journal's; otherwise (no segment, or one the snapshot
  // has overtaken) a new segment must be started.
  appendPoint(last: SegmentFile | undefined): { segment: SegmentFile; end: number } | null {
    if (last === undefined || this.lastSegment === null || this.lastSegment.sequence !== this.sequence) return null;
    return { segment: last, end: this.lastSegment.end };
  }

  private nextFrame(reader: JournalFileReader, last: boolean): JournalFrame | null {
    try {
      return reader.next((sequence) => recordKey(reader.journalId, sequence));
    } catch (error) {
      if (!last || !(error instanceof StoreError) || error.code !== "TRUNCATED") throw error;
      this.tornTail = { file: reader.file, offset: reader.offset, bytes: reader.size - reader.offset };
      return null;
    }
  }

  private checkJournalId(reader: JournalFileReader): void {
    if (this.journalId === null) this.journalId = reader.journalId;
    if (reader.journalId !== this.journalId) {
      throw reader.fail("WRONG_JOURNAL", `belongs to another journal (id ${hex(reader.journalId)}, not ${hex(this.journalId)})`, 16);
    }
  }

  // An entry is the list of records of one append: applied all, or refused.
  private applyEntry(reader: JournalFileReader, entry: unknown, offset: number): void {
    if (!Array.isArray(entry) || entry.length === 0) throw reader.fail("BAD_RECORD", `the entry at byte ${offset} is not a list of records`, offset);
    try {
      this.state = (entry as R[]).reduce((next, record) => this.replay.apply(next, record), this.state);
      this.applied++;
    } catch (cause) {
      throw new StoreError("BAD_RECORD", `${reader.file}: the record at byte ${offset} does not apply: ${(cause as Error).message}`, { file: reader.file, offset, cause });
    }
  }

  private gap(reader: JournalFileReader, expected: number, found: number, offset = JOURNAL_PREAMBLE_SIZE): StoreError {
    const what = found > expected ? `record ${found} (records ${expected} to ${found - 1} are missing)` : `record ${found}, which came before`;
    return new StoreError("MISSING_RECORDS", `${reader.file}: expected record ${expected} at byte ${offset}, found ${what}`, { file: reader.file, offset });
  }
}

function hex(value: bigint): string {
  return value.toString(16).padStart(16, "0");
}

export function randomId(): bigint {
  return randomBytes(8).readBigUInt64LE(0);
}
