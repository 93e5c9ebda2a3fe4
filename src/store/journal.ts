// The Copy Services Server's journal: a crash-safe log of changes plus
// snapshots, in one directory (`--server-state DIR`; files in journal-format.ts).
//
//   openJournal(directory, { initial, apply, term?, fileSystem? }) → Promise<Journal>
//     Takes the directory's lock (journal-lock.ts), loads the newest valid
//     snapshot and replays every record after it through `apply`
//     (journal-load.ts). A torn last record is cut off and reported; any other
//     damage is refused with a StoreError naming the file and the offset.
//   journal.append(record) → Promise<sequence>, journal.appendAll(records) → Promise<sequence>
//     Applies the record (or the records of one command, which become one
//     entry: all or nothing) to the head state (apply throws: rejected,
//     nothing changed), writes it and resolves once it is fsynced. Appends made while
//     a write is in flight share the next write and fsync (group commit).
//   journal.state, journal.sequence
//     The state with every acknowledged record applied, and the last
//     acknowledged sequence.
//   journal.snapshot() → Promise<SnapshotReport>
//     Writes `state` as of `sequence` (temporary file, fsync, rename, fsync
//     of the directory), starts a new segment after it and removes the old
//     segments and snapshots. Appends made meanwhile wait and then go to the
//     new segment.
//   journal.close()
//     Waits for appends in flight, closes the segment and removes the lock.
//
// `apply(state, record)` must be pure: it returns the next state and leaves
// its arguments alone, because the journal keeps the acknowledged state apart
// from the head state that appends still in flight lead to.
//
// A failed write or fsync rejects every append in flight and leaves the
// journal refusing more (CLOSED): after a failed fsync nobody knows what the
// disk holds, so the journal must be reopened, which reads what is there.
// Such a rejected record may or may not be found by that reopen.

import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Packr } from "msgpackr";
import { FrameBuffer, joinBytes } from "./frame-buffer.js";
import { ioStep, StoreError } from "./errors.js";
import { NODE_JOURNAL_FILE_SYSTEM, type JournalFileSystem } from "./file-system.js";
import {
  SEGMENT_MAGIC, SNAPSHOT_MAGIC, JOURNAL_PREAMBLE_SIZE, RECORD_BYTES_MAX, SNAPSHOT_CHUNK_MAX,
  preamble, encodeFrame, recordKey, snapshotKey, segmentName, snapshotName, type SnapshotHeader,
} from "./journal-format.js";
import { loadDirectory, type LoadedDirectory, type SegmentFile, type TornTail } from "./journal-load.js";
import { acquireLock, releaseLock, type HeldLock } from "./journal-lock.js";

export interface JournalOptions<S, R> {
  initial: () => S; // the state of an empty journal
  apply: (state: S, record: R) => S; // pure; throws on a record that does not apply
  term?: number; // the term to append in; default: the last one in the journal (at least 1)
  fileSystem?: JournalFileSystem; // default: node:fs (tests record or fail its calls)
}

export interface OpenReport {
  directory: string;
  journalId: string; // 16 hex digits
  snapshot: { file: string; sequence: number } | null;
  skippedSnapshots: { file: string; code: string; message: string }[]; // newer ones that did not load
  replayed: number; // entries (appends) applied after the snapshot
  sequence: number;
  tornTail: TornTail | null; // the torn last record cut off, if there was one
  staleLockPid: number | null; // the dead process whose lock was taken over (-1: an unreadable lock)
  removed: string[]; // leftovers removed: temporaries of killed writers, segments the snapshot covers
}

export interface SnapshotReport {
  file: string;
  sequence: number;
  bytes: number; // of the snapshot file
  removed: string[]; // the segments and snapshots it made obsolete
}

interface Pending<S> {
  sequence: number;
  frame: Uint8Array;
  state: S; // the state once this record is applied
  resolve: (sequence: number) => void;
  reject: (error: unknown) => void;
}

export async function openJournal<S, R>(directory: string, options: JournalOptions<S, R>): Promise<Journal<S, R>> {
  const fileSystem = options.fileSystem ?? NODE_JOURNAL_FILE_SYSTEM;
  await ioStep(directory, "create the directory", () => fileSystem.makeDirectory(directory));
  const lock = await acquireLock(fileSystem, directory);
  try {
    const loaded = await loadDirectory(fileSystem, directory, options);
    const journal = new Journal<S, R>(fileSystem, directory, lock, loaded, options);
    const removed = await journal.prepare(loaded);
    journal.report = {
      directory, journalId: loaded.journalId.toString(16).padStart(16, "0"), snapshot: loaded.snapshot,
      skippedSnapshots: loaded.skippedSnapshots, replayed: loaded.replayed, sequence: loaded.sequence,
      tornTail: loaded.tornTail, staleLockPid: lock.stalePid, removed,
    };
    return journal;
  } catch (error) {
    await releaseLock(fileSystem, lock).catch(() => undefined); // the open's error is the one to report
    throw error;
  }
}

export class Journal<S, R> {
  report!: OpenReport; // set once by openJournal
  private durableState: S; // every acknowledged record applied
  private durableSequence: number; // the last acknowledged entry's
  private appendCount = 0;
  private fsyncCount = 0;
  private head: S; // every accepted record applied, acknowledged or not
  private headSequence: number;
  private currentTerm: number;
  private readonly journalId: bigint;
  private readonly buffer = new FrameBuffer();
  private readonly packr = new Packr({ useRecords: false });
  private segment: SegmentFile = { name: "", first: 0 };
  private fd = -1;
  private position = 0; // where the next frame goes in the segment
  private pending: Pending<S>[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> | null = null;
  private paused = false; // a snapshot is switching segments
  private snapshotting: Promise<SnapshotReport> | null = null;
  private failure: StoreError | null = null;
  private closed = false;

  constructor(
    private readonly fileSystem: JournalFileSystem,
    readonly directory: string,
    private readonly lock: HeldLock,
    loaded: LoadedDirectory<S>,
    private readonly options: JournalOptions<S, R>,
  ) {
    this.durableState = this.head = loaded.state;
    this.durableSequence = this.headSequence = loaded.sequence;
    this.journalId = loaded.journalId;
    this.currentTerm = Math.max(options.term ?? 0, loaded.term, 1);
  }

  // The state with every acknowledged record applied.
  get state(): S {
    return this.durableState;
  }

  // The last acknowledged sequence (0: none yet).
  get sequence(): number {
    return this.durableSequence;
  }

  // Records acknowledged since open.
  get appends(): number {
    return this.appendCount;
  }

  // Fsyncs of segments since open: fewer than appends when appends shared them.
  get fsyncs(): number {
    return this.fsyncCount;
  }

  get term(): number {
    return this.currentTerm;
  }

  // Records appended from now on carry `term`: a backup that takes over raises it.
  raiseTerm(term: number): void {
    if (!Number.isSafeInteger(term) || term < this.currentTerm) {
      throw new StoreError("BAD_ARGUMENT", `a journal's term only goes up: ${term} is not a whole number at least ${this.currentTerm}`, { file: this.directory });
    }
    this.currentTerm = term;
  }

  // Opens the segment appends continue in (cutting a torn tail off it first)
  // or starts one, and removes leftovers. Returns the names removed.
  async prepare(loaded: LoadedDirectory<S>): Promise<string[]> {
    if (loaded.append === null) {
      await this.startSegment(loaded.sequence + 1);
    } else {
      this.segment = loaded.append.segment;
      this.fd = await ioStep(this.path(this.segment.name), "open", () => this.fileSystem.open(this.path(this.segment.name), "r+"));
      this.position = loaded.append.end;
      if (loaded.tornTail !== null) await this.cutTornTail(loaded.tornTail);
    }
    // Without an append point every segment ends at or before the snapshot: all are covered.
    const covered = loaded.append === null ? loaded.segments.filter((each) => each.name !== this.segment.name) : loaded.covered;
    const obsolete = [...loaded.temporaries, ...covered.map((segment) => segment.name)];
    if (loaded.snapshot !== null) obsolete.push(...await this.olderSnapshots(loaded.snapshot.sequence));
    await this.removeAll(obsolete);
    return obsolete;
  }

  append(record: R): Promise<number> {
    return this.appendAll([record]);
  }

  // The records of one command, as one journal entry: replayed all together
  // or (torn off, or refused) not at all.
  appendAll(records: readonly R[]): Promise<number> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new StoreError("CLOSED", `the journal in ${this.directory} is closed`, { file: this.directory }));
    if (records.length === 0) return Promise.reject(new StoreError("BAD_ARGUMENT", "an append needs at least one record", { file: this.directory }));
    let state: S;
    let frame: Uint8Array;
    try {
      state = records.reduce((next, record) => this.options.apply(next, record), this.head);
      frame = this.encode(records, this.headSequence + 1);
    } catch (error) {
      return Promise.reject(error);
    }
    this.head = state;
    const sequence = ++this.headSequence;
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ sequence, frame, state, resolve, reject });
      this.scheduleFlush();
    });
  }

  private encode(records: readonly R[], sequence: number): Uint8Array {
    const payload = this.packr.pack(records);
    if (payload.byteLength > RECORD_BYTES_MAX) {
      const what = records.length === 1 ? "the record is" : `the ${records.length} records are`;
      throw new StoreError("BAD_ARGUMENT", `${what} ${payload.byteLength} bytes encoded, more than a journal entry holds (${RECORD_BYTES_MAX})`, { file: this.directory });
    }
    return encodeFrame(this.buffer, sequence, this.currentTerm, payload, recordKey(this.journalId, sequence));
  }

  // Appends made in one turn of the event loop go out together: the flush
  // starts on a microtask, once the caller's synchronous code has run.
  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing !== null || this.paused) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      if (this.flushing !== null || this.paused) return;
      // Appends whose callers woke up on the last batch's acknowledgement
      // found this flush still running: the next one picks them up.
      this.flushing = this.flush().finally(() => {
        this.flushing = null;
        if (this.pending.length > 0) this.scheduleFlush();
      });
    });
  }

  // Writes and fsyncs batch after batch until nothing is pending: each batch
  // is every append made while the one before was on its way to the disk.
  private async flush(): Promise<void> {
    while (this.pending.length > 0 && !this.paused && this.failure === null) {
      const batch = this.pending.splice(0);
      const bytes = joinBytes(batch.map((entry) => entry.frame));
      try {
        await this.writeAll(bytes, this.position);
        await this.fileSystem.fsync(this.fd);
      } catch (cause) {
        this.fail(cause, batch);
        return;
      }
      this.position += bytes.byteLength;
      this.fsyncCount++;
      this.appendCount += batch.length;
      this.durableSequence = batch[batch.length - 1].sequence;
      this.durableState = batch[batch.length - 1].state;
      for (const entry of batch) entry.resolve(entry.sequence);
    }
  }

  private async writeAll(bytes: Uint8Array, position: number): Promise<void> {
    for (let done = 0; done < bytes.byteLength;) {
      const count = await this.fileSystem.write(this.fd, bytes.subarray(done), position + done);
      if (count <= 0) throw new Error(`the file system wrote ${count} bytes`);
      done += count;
    }
  }

  private fail(cause: unknown, batch: Pending<S>[]): void {
    const file = this.path(this.segment.name);
    this.failure = new StoreError("CLOSED", `the journal in ${this.directory} stopped: cannot write or fsync ${file}: ${(cause as Error).message}; reopen it`, { file, cause });
    for (const entry of [...batch, ...this.pending.splice(0)]) entry.reject(this.failure);
  }

  // Resolves once no flush is running (appends may still be pending when paused).
  private async idle(): Promise<void> {
    for (let round = 0; this.flushing !== null || this.flushScheduled; round++) {
      if (round > 1_000_000) throw new StoreError("BUSY", `the journal in ${this.directory} never went idle`, { file: this.directory });
      await (this.flushing ?? Promise.resolve());
    }
  }

  async snapshot(): Promise<SnapshotReport> {
    this.checkUsable();
    if (this.paused) throw new StoreError("BUSY", `a snapshot of the journal in ${this.directory} is already being written`, { file: this.directory });
    this.snapshotting = this.takeSnapshot();
    try {
      return await this.snapshotting;
    } finally {
      this.snapshotting = null;
    }
  }

  private async takeSnapshot(): Promise<SnapshotReport> {
    this.paused = true;
    try {
      await this.idle();
      this.checkUsable();
      return await this.writeSnapshot();
    } finally {
      this.paused = false;
      if (this.pending.length > 0) this.scheduleFlush();
    }
  }

  private async writeSnapshot(): Promise<SnapshotReport> {
    const sequence = this.sequence;
    const name = snapshotName(sequence);
    const bytes = this.snapshotBytes(this.state, sequence);
    await this.writeDurably(name, bytes);
    const obsolete = await this.olderSnapshots(sequence);
    // A segment still empty since the last snapshot already starts in the right place.
    if (this.position !== JOURNAL_PREAMBLE_SIZE || this.segment.first !== sequence + 1) {
      const previous = { segment: this.segment, fd: this.fd };
      await this.startSegment(sequence + 1);
      await ioStep(this.path(previous.segment.name), "close", () => this.fileSystem.close(previous.fd));
    }
    obsolete.push(...(await this.segmentNames()).filter((each) => each !== this.segment.name));
    await this.removeAll(obsolete);
    return { file: this.path(name), sequence, bytes: bytes.byteLength, removed: obsolete };
  }

  private snapshotBytes(state: S, sequence: number): Uint8Array {
    const encoded = this.packr.pack(state);
    const chunks = Math.max(1, Math.ceil(encoded.byteLength / SNAPSHOT_CHUNK_MAX));
    const header: SnapshotHeader = { type: "snapshot", stateBytes: encoded.byteLength, chunks, takenAt: Date.now() };
    const frames = [encodeFrame(this.buffer, sequence, this.currentTerm, this.packr.pack(header), snapshotKey(this.journalId, 0))];
    for (let index = 1; index <= chunks; index++) {
      const chunk = encoded.subarray((index - 1) * SNAPSHOT_CHUNK_MAX, index * SNAPSHOT_CHUNK_MAX);
      frames.push(encodeFrame(this.buffer, sequence, this.currentTerm, chunk, snapshotKey(this.journalId, index)));
    }
    return joinBytes([preamble(SNAPSHOT_MAGIC, this.journalId), ...frames]);
  }

  // A new, empty segment for records from `first` on, made whole under a
  // temporary name and renamed, so a crash never leaves a segment without its
  // preamble; appends go to it from now on.
  private async startSegment(first: number): Promise<void> {
    const name = segmentName(first);
    await this.writeDurably(name, preamble(SEGMENT_MAGIC, this.journalId));
    this.fd = await ioStep(this.path(name), "open", () => this.fileSystem.open(this.path(name), "r+"));
    this.segment = { name, first };
    this.position = JOURNAL_PREAMBLE_SIZE;
  }

  // `bytes` as the file `name`: temporary file, write, fsync, close, rename, fsync of the directory.
  private async writeDurably(name: string, bytes: Uint8Array): Promise<void> {
    const temporary = this.path(`.${name.replace(/\.tzj$/, "")}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    const fd = await ioStep(temporary, "create", () => this.fileSystem.open(temporary, "wx"));
    try {
      await ioStep(temporary, "write", async () => {
        for (let done = 0; done < bytes.byteLength;) done += await this.fileSystem.write(fd, bytes.subarray(done), done);
      });
      await ioStep(temporary, "fsync", () => this.fileSystem.fsync(fd));
    } catch (error) {
      await this.fileSystem.close(fd).catch(() => undefined); // the write's error is the one to report
      await this.fileSystem.unlink(temporary).catch(() => undefined);
      throw error;
    }
    await ioStep(temporary, "close", () => this.fileSystem.close(fd));
    try {
      await ioStep(temporary, "rename", () => this.fileSystem.rename(temporary, this.path(name)));
    } catch (error) {
      await this.fileSystem.unlink(temporary).catch(() => undefined); // the rename's error is the one to report
      throw error;
    }
    await this.syncDirectory();
  }

  private async cutTornTail(tail: TornTail): Promise<void> {
    await ioStep(tail.file, "cut the torn tail off", () => this.fileSystem.truncate(this.fd, tail.offset));
    await ioStep(tail.file, "fsync", () => this.fileSystem.fsync(this.fd));
  }

  private async olderSnapshots(sequence: number): Promise<string[]> {
    const names = await ioStep(this.directory, "list", () => this.fileSystem.list(this.directory));
    return names.filter((name) => /^snapshot-\d{20}\.tzj$/.test(name) && Number(name.slice(9, 29)) < sequence);
  }

  private async segmentNames(): Promise<string[]> {
    const names = await ioStep(this.directory, "list", () => this.fileSystem.list(this.directory));
    return names.filter((name) => /^journal-\d{20}\.tzj$/.test(name));
  }

  private async removeAll(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    for (const name of names) await ioStep(this.path(name), "remove", () => this.fileSystem.unlink(this.path(name)));
    await this.syncDirectory();
  }

  // File systems that cannot fsync a directory say so with EINVAL (or ENOTSUP).
  private async syncDirectory(): Promise<void> {
    const fd = await ioStep(this.directory, "open", () => this.fileSystem.open(this.directory, "r"));
    try {
      await this.fileSystem.fsync(fd);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      if (code !== "EINVAL" && code !== "ENOTSUP") throw new StoreError("IO_ERROR", `cannot fsync ${this.directory}: ${(cause as Error).message}`, { file: this.directory, cause });
    } finally {
      await this.fileSystem.close(fd);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.snapshotting?.catch(() => undefined); // its caller hears how it ended
    await this.idle();
    if (this.fd >= 0) await ioStep(this.path(this.segment.name), "close", () => this.fileSystem.close(this.fd));
    this.fd = -1;
    await releaseLock(this.fileSystem, this.lock);
  }

  private checkUsable(): void {
    if (this.failure !== null) throw this.failure;
    if (this.closed) throw new StoreError("CLOSED", `the journal in ${this.directory} is closed`, { file: this.directory });
  }

  private path(name: string): string {
    return join(this.directory, name);
  }
}
