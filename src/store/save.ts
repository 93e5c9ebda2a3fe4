// saveState: every storage image, at one point in time, into a state file
// that is replaced atomically, without holding the event loop or host I/O for
// long, and abandonable at any moment before the rename.
//
// Crash safety: the state is written to a temporary file beside the target
// (same directory, so the rename cannot cross file systems), fsynced, renamed
// over the target, and the directory is fsynced so the rename itself is
// durable. A process killed at any moment leaves the old file or the new one,
// whole; a temporary file it leaves behind is removed by the next save once
// its writer is gone. An abandoned save (options.signal) removes its
// temporary file and leaves the target as it was.
//
// Consistency, with host I/O and background copies waiting as briefly as
// possible, in passes (src/engine/snapshot.ts). The save claims the images'
// change bitmaps, in which every change to a track's own bytes sets the
// track's bit, then:
//   1. while the images run, it takes the bits and writes every non-zero track
//      as it is then;
//   2. while they run, it takes the bits again and writes the tracks they name
//      (as data, or as zeros when they became zero), and repeats while many
//      changed but the passes shrink (worthAnotherPass), at most PASSES_MAX;
//   3. while they run, it copies the tracks taken last into memory touched
//      beforehand (copy-out.ts) instead of the file, takes the bits again,
//      and repeats until what is left would take at most
//      FROZEN_COPY_MS_TARGET to copy (memory passes: a copy runs about ten
//      times faster than the file is written, so the tracks a workload changes
//      meanwhile shrink that much with each);
//   4. it quiesces every image at once (every volume frozen), takes the bits a
//      last time, copies those tracks and the relationships with their
//      bitmaps into the same memory, resumes the images, and writes every
//      copy of passes 3 and 4 in the order they were made.
// The loader applies frames in order, so later copies of a track win, and the
// file holds the images as they were at the moment of pass 4: host writes,
// background copies and withdrawals on any thread are wholly before or wholly
// after it. Pass 4 costs a memory copy of what changed during the last memory
// pass; when the copy-out buffer is full, what it holds is written to the
// file first (asynchronously in pass 3, synchronously in pass 4), so that
// copies stay in order. Host I/O waits at most 20 s at a frozen gate, so a
// save whose pass 4 would exceed `frozenBudgetMs` gives up (FROZEN_TOO_LONG)
// and leaves the old file in place.
//
// Passes 1 to 3, the fsyncs and the rename are asynchronous: the event loop
// runs between frames (file writes go to libuv's thread pool), and CPU work
// without I/O between them, taking change bits included, is cut into slices
// of SLICE_MS. Pass 4 is synchronous on purpose: while the images are
// quiesced, nothing else may run on this thread (a host write of a script
// would wait at a frozen gate). Quiescing waits for I/O in flight on other
// threads at most SAVE_DRAIN_MS per volume on this thread (a thread
// descheduled inside a gate can hold it for a scheduler's time slice) and is
// retried from the event loop, so this thread never sleeps long in the core.
// Volumes must not be created, removed or changed while a save runs: the
// save checks, quiesced, that they are as it listed them, and fails BUSY if not.

import { readdirSync, unlinkSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { setImmediate as yieldToEventLoop, setTimeout as delay } from "node:timers/promises";
import { basename, dirname, join, resolve } from "node:path";
import { isEngineError, type StorageImage, type Volume } from "../engine/index.js";
import {
  claimChanges, dataRuns, quiesceImage, type ChangeClaim, type ImageCapture, type RelationshipSnapshot, type TrackRun,
  type ChunkedBitmap,
} from "../engine/snapshot.js";
import { EXTENT_SIZE, TRACK_SIZE } from "../core/codes.js";
import { EXTENTS_PER_GIB } from "../engine/pools.js";
import { FrameWriter, type FrameSink } from "./frame-writer.js";
import { CopyOutBuffer, COPY_OUT_BYTES_MAX, COPY_OUT_BYTES_MIN } from "./copy-out.js";
import type { HostsRecord, PprcOosRecord, PprcPairRecord, PprcPathRecord } from "./format.js";
import { NODE_FILE_SYSTEM, type StoreFileSystem } from "./file-system.js";
import { ioStep, StoreError } from "./errors.js";
import {
  TRACKS_PER_FRAME_MAX, SUMMARY_CLEAR, SUMMARY_SET, SUMMARY_LEAF, type VolumeRecord, type RelationshipRecord, type LeafRecord,
} from "./format.js";

export const GENERATOR = "tzero 0.1.0";
const FROZEN_BUDGET_MS = 10_000; // half of the 20 s a gate waits (assembly/sync.ts)
const PASSES_MAX = 8; // passes while the images run; a workload that outruns the save still ends
const QUIESCED_BYTES_TARGET = 8 << 20; // quiesce once no more than this changed during a pass
const CONVERGING_RATIO = 0.8; // another pass only if it has less to write than the last by this much
const SLICE_MS = 10; // longest stretch of CPU work between two turns of the event loop
const SCAN_EXTENTS = 16; // extents scanned between two looks at the clock: at most 16 MiB of zero checks
const TAKE_TRACKS = 1 << 14; // tracks whose change bits are taken between two looks at the clock (1 GiB of them)
const FROZEN_COPY_MS_TARGET = 10; // quiesce once what is left to copy takes about this long
const MEMORY_PASSES_MAX = 8; // memory passes while the images run; a workload that outruns them still ends
const COPY_BYTES_PER_MS_GUESS = 1e6; // 1 GB/s, the copy rate assumed until the save has measured one
const SAVE_DRAIN_MS = 10; // longest wait on this thread for one volume's I/O in flight when quiescing
const QUIESCE_RETRY_MS = 5; // pause of the event loop's turn between two attempts to quiesce
const QUIESCE_RETRY_TOTAL_MS = 20_000; // then the save fails BUSY

export interface SaveOptions {
  frozenBudgetMs?: number; // longest the images may stay quiesced; default 10 s
  // Abandons the save when aborted: the temporary file is removed, the target
  // is left as it was, and the save rejects with StoreError ABANDONED. Once
  // the rename has begun the save completes instead.
  signal?: AbortSignal;
  // Called after the passes that run beside the images, before they are
  // quiesced: tests change data there to check that the quiesced pass
  // catches it. It must not create, remove or change volumes.
  beforeQuiesce?: () => void | Promise<void>;
  fileSystem?: StoreFileSystem; // default: node:fs (tests record or fail its calls)
  copyOutBytesMax?: number; // memory for copies of changed tracks (passes 3 and 4); default 256 MiB
  // The host side of the images (volume groups, host connections), by image index, written after the relationships.
  hosts?: ReadonlyArray<Omit<HostsRecord, "type" | "image"> | null>;
  // The PPRC paths and pairs of the images, taken while they are quiesced (so at the point in time of
  // their data), written after the hosts records. It must only read.
  pprc?: () => Array<PprcPathRecord | PprcPairRecord | PprcOosRecord>;
}

export interface SaveReport {
  file: string; // absolute path of the state file
  images: number;
  volumes: number;
  relationships: number;
  bytesWritten: number; // size of the file
  dataBytes: number; // bytes of track data written, all passes
  changedBytes: number; // of which written again after pass 1 because they changed meanwhile
  passes: number; // passes over the data while the images ran, writing the file (1 when nothing changed)
  memoryPasses: number; // passes that then copied changed tracks into memory while the images ran
  frozenBytes: number; // of which written while the images were quiesced
  frozenMs: number; // how long host I/O and background copies waited
  drainMs: number; // of which quiescing took: the wait for I/O in flight on other threads to finish
  elapsedMs: number; // the whole save, fsyncs and rename included
}

// One volume as the save found it, and what the file holds of it so far.
interface SavedVolume {
  image: number; // index of its image in the file
  volume: Volume;
  record: string; // its volume record as JSON: compared when quiesced
  // Tracks whose latest copy in the file is non-zero data: a set, as a volume
  // of 16 TiB has 2^28 tracks and at most 4 GiB of them written.
  nonzero: Set<number>;
}

type Changes = Map<SavedVolume, number[]>;

export async function saveState(images: readonly StorageImage[], file: string, options: SaveOptions = {}): Promise<SaveReport> {
  const started = performance.now();
  const budgetMs = options.frozenBudgetMs ?? FROZEN_BUDGET_MS;
  if (!(budgetMs > 0)) throw new StoreError("BAD_ARGUMENT", `frozenBudgetMs ${budgetMs} is not a positive number of milliseconds`);
  const copyOutBytesMax = options.copyOutBytesMax ?? COPY_OUT_BYTES_MAX;
  if (!Number.isInteger(copyOutBytesMax) || copyOutBytesMax < COPY_OUT_BYTES_MIN || copyOutBytesMax > COPY_OUT_BYTES_MAX) {
    throw new StoreError("BAD_ARGUMENT", `copyOutBytesMax ${copyOutBytesMax} is not a whole number of bytes from ${COPY_OUT_BYTES_MIN} to ${COPY_OUT_BYTES_MAX}`);
  }
  checkImages(images);
  const target = resolve(file);
  if (options.signal?.aborted) throw abandoned(target);
  const claims = claimAll(images);
  try {
    const directory = dirname(target);
    removeStaleTemporaries(directory, basename(target));
    const temporary = join(directory, `.${basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    const run = new SaveRun(images, claims, target, options, budgetMs);
    const report = await run.writeFile(temporary);
    return { ...report, elapsedMs: performance.now() - started };
  } finally {
    for (const claim of claims) claim.release();
  }
}

function checkImages(images: readonly StorageImage[]): void {
  const ids = new Set<string>();
  for (const image of images) {
    if (image.isClosed) throw new StoreError("BAD_ARGUMENT", `storage image ${image.id} is closed; it cannot be saved`);
    if (ids.has(image.id)) throw new StoreError("BAD_ARGUMENT", `storage image ${image.id} is given twice`);
    ids.add(image.id);
  }
}

function claimAll(images: readonly StorageImage[]): ChangeClaim[] {
  const claims: ChangeClaim[] = [];
  try {
    for (const image of images) claims.push(claimChanges(image));
  } catch (error) {
    for (const claim of claims) claim.release();
    if (!isEngineError(error)) throw error;
    throw new StoreError("BUSY", `cannot save: ${error.message}`, { cause: error });
  }
  return claims;
}

function abandoned(file: string): StoreError {
  return new StoreError("ABANDONED", `save to ${file} abandoned: its temporary file was removed and ${file} is as it was`, { file });
}

class SaveRun {
  private readonly fileSystem: StoreFileSystem;
  private readonly saved: SavedVolume[] = [];
  private readonly copyOut: CopyOutBuffer;
  // Copies of passes 3 and 4 not yet written, in the order they were made:
  // their bytes in the copy-out buffer, or null for runs that read as zeros.
  private readonly copies: { saved: SavedVolume; run: TrackRun }[] = [];
  private readonly copyRate = { bytes: 0, ms: 0 }; // of the copies made so far
  private writer!: FrameWriter;
  private sliceStarted = performance.now();
  private changedBytes = 0;
  private zeroTracks = 0; // tracks in zeros frames
  private passes = 0;
  private memoryPasses = 0;

  constructor(
    private readonly images: readonly StorageImage[],
    private readonly claims: readonly ChangeClaim[],
    private readonly file: string,
    private readonly options: SaveOptions,
    private readonly budgetMs: number,
  ) {
    this.fileSystem = options.fileSystem ?? NODE_FILE_SYSTEM;
    this.copyOut = new CopyOutBuffer(options.copyOutBytesMax ?? COPY_OUT_BYTES_MAX);
  }

  async writeFile(temporary: string): Promise<Omit<SaveReport, "elapsedMs">> {
    const fileSystem = this.fileSystem;
    let fd = await ioStep(this.file, "create a temporary file for", () => fileSystem.open(temporary, "wx"));
    try {
      this.writer = new FrameWriter(this.sink(fd), this.file, randomBytes(8).readBigUInt64LE());
      const quiesced = await this.writeState();
      await ioStep(this.file, "fsync", () => fileSystem.fsync(fd));
      await ioStep(this.file, "close", () => fileSystem.close(fd));
      fd = -1;
      this.checkAbort();
      await ioStep(this.file, "rename the temporary file over", () => fileSystem.rename(temporary, this.file));
      await ioStep(this.file, "fsync the directory of", () => syncDirectory(fileSystem, dirname(this.file)));
      return {
        file: this.file, images: this.images.length, volumes: this.saved.length, relationships: quiesced.relationships.length,
        bytesWritten: this.writer.bytesWritten, dataBytes: this.writer.dataBytes, changedBytes: this.changedBytes,
        passes: this.passes, memoryPasses: this.memoryPasses, frozenBytes: quiesced.frozenBytes, frozenMs: quiesced.frozenMs, drainMs: quiesced.drainMs,
      };
    } catch (error) {
      if (fd >= 0) await fileSystem.close(fd).catch(() => undefined); // already failing: that error is the one to report
      await fileSystem.unlink(temporary).catch(() => undefined); // gone already, or never created
      throw error;
    }
  }

  private sink(fd: number): FrameSink {
    const fileSystem = this.fileSystem;
    const file = this.file;
    const failure = (cause: unknown, position: number) =>
      new StoreError("IO_ERROR", `cannot write ${file}: ${(cause as Error).message}`, { file, offset: position, cause });
    return {
      async write(bytes, position) {
        for (let done = 0; done < bytes.byteLength;) {
          try {
            done += await fileSystem.write(fd, bytes.subarray(done), position + done);
          } catch (cause) {
            throw failure(cause, position + done);
          }
        }
      },
      writeSync(bytes, position) {
        for (let done = 0; done < bytes.byteLength;) {
          try {
            done += fileSystem.writeSync(fd, bytes.subarray(done), position + done);
          } catch (cause) {
            throw failure(cause, position + done);
          }
        }
      },
    };
  }

  private checkAbort(): void {
    if (this.options.signal?.aborted) throw abandoned(this.file);
  }

  // Lets the event loop run once the current slice of CPU work is used up.
  private async slice(): Promise<void> {
    this.checkAbort();
    if (performance.now() - this.sliceStarted < SLICE_MS) return;
    await yieldToEventLoop();
    this.sliceStarted = performance.now();
    this.checkAbort();
  }

  private async writeState(): Promise<Quiesced> {
    await this.writer.writePreamble();
    await this.writer.writeRecord({ type: "header", generator: GENERATOR, images: this.images.length });
    for (const [index, image] of this.images.entries()) await this.writeStructure(image, index);
    let passBytes = await this.writeFirstPass();
    let changes = await this.takeChangesSliced();
    this.reserveCopyOut(changes);
    while (this.worthAnotherPass(changedTrackCount(changes) * TRACK_SIZE, passBytes)) {
      passBytes = await this.writeChanges(changes);
      this.changedBytes += passBytes;
      changes = await this.takeChangesSliced();
      this.reserveCopyOut(changes);
    }
    while (this.copyOut.touchStep()) await this.slice();
    changes = await this.copyWhileRunning(changes);
    await this.options.beforeQuiesce?.();
    this.checkAbort();
    const quiesced = await this.captureQuiescedRetrying(changes);
    this.changedBytes += quiesced.frozenBytes;
    await this.writeCopies();
    for (const { record, leaves } of quiesced.relationships) {
      await this.writer.writeRecord(record);
      for (const leaf of leaves) await this.writer.writeRecord(leaf);
    }
    for (const [image, hosts] of (this.options.hosts ?? []).entries()) {
      if (hosts !== null && image < this.images.length) await this.writer.writeRecord({ type: "hosts", image, ...hosts });
    }
    for (const record of quiesced.pprc) await this.writer.writeRecord(record);
    await this.writer.writeRecord({
      type: "end", savedAt: quiesced.savedAt, frames: this.writer.frames, images: this.images.length, volumes: this.saved.length,
      relationships: quiesced.relationships.length, dataBytes: this.writer.dataBytes, zeroTracks: this.zeroTracks,
      pprc: quiesced.pprc.filter((record) => record.type !== "pprc-oos").length,
    });
    return quiesced;
  }

  // Room for the memory passes and the quiesced pass: what changed during the
  // last pass, and as much again for what changes while they run (each pass
  // copies what changed during the one before, fewer tracks each time).
  private reserveCopyOut(changes: Changes): void {
    this.copyOut.reserve(changedTrackCount(changes) * TRACK_SIZE * 2 + TRACK_SIZE * TRACKS_PER_FRAME_MAX);
  }

  // Another pass while the images run pays when many tracks changed during
  // the last one, but fewer than it wrote: the passes are converging. Writers
  // that change tracks as fast as a pass writes them never let them
  // converge; the quiesced pass then takes what they changed during the last.
  private worthAnotherPass(changedBytes: number, lastPassBytes: number): boolean {
    return this.passes < PASSES_MAX && changedBytes > QUIESCED_BYTES_TARGET && changedBytes <= lastPassBytes * CONVERGING_RATIO;
  }

  // The image and volume records, and the volumes the passes go over.
  private async writeStructure(image: StorageImage, index: number): Promise<void> {
    const volumes = image.listVolumes();
    const serial = image.id.slice(image.id.indexOf("-") + 1); // the ID is IBM.MODEL-SERIAL (engine/ids.ts)
    await this.writer.writeRecord({
      type: "image", model: image.model, serial, lss: image.listLss(), volumes: volumes.length,
      pools: image.pools.list().map((pool) => ({
        id: pool.id, name: pool.name, rankGroup: pool.rankGroup, capacityGiB: pool.capacityExtents / EXTENTS_PER_GIB,
      })),
    });
    for (const volume of volumes) {
      const record = volumeRecord(volume, image.dataState(volume.id));
      await this.writer.writeRecord(record);
      this.saved.push({ image: index, volume, record: JSON.stringify(record), nonzero: new Set() });
    }
  }

  // Pass 1: the change bits are taken first, so that whatever changes after
  // a track is read here is read again by a later pass. Returns the data bytes written.
  private async writeFirstPass(): Promise<number> {
    await this.takeChangesSliced();
    for (const saved of this.saved) {
      const image = this.images[saved.image];
      const extentCount = Math.ceil(saved.volume.sizeBytes / EXTENT_SIZE);
      // From one allocated extent to the next: never-written 4 GiB groups are
      // skipped in the core, so the pass takes time with the written data.
      const nextExtent = (from: number) => (from < extentCount ? image.core.exports.volume_next_extent(saved.volume.slot, from) : -1);
      for (let first = nextExtent(0); first >= 0; first = nextExtent(first + SCAN_EXTENTS)) {
        const extents: [number, number] = [first, Math.min(extentCount, first + SCAN_EXTENTS)];
        for (const run of dataRuns(image, saved.volume, null, TRACKS_PER_FRAME_MAX, extents)) {
          await this.writeRun(saved, run);
        }
        await this.slice();
      }
    }
    this.passes = 1;
    return this.writer.dataBytes;
  }

  // The changed tracks of every volume at once: the quiesced pass's take.
  private takeChanges(): Changes {
    const changes: Changes = new Map();
    for (const saved of this.saved) {
      const tracks = this.claims[saved.image].take(saved.volume);
      if (tracks.length > 0) changes.set(saved, tracks);
    }
    return changes;
  }

  // The changed tracks of every volume, TAKE_TRACKS at a time with the event
  // loop running between: a take costs what changed, and everything may have.
  // Tracks changed in a range once it was taken are taken by the next pass.
  private async takeChangesSliced(): Promise<Changes> {
    const changes: Changes = new Map();
    for (const saved of this.saved) {
      const trackCount = Math.ceil(saved.volume.sizeBytes / TRACK_SIZE);
      const tracks: number[] = [];
      for (let first = 0; first < trackCount; first += TAKE_TRACKS) {
        for (const track of this.claims[saved.image].take(saved.volume, [first, first + TAKE_TRACKS])) tracks.push(track);
        await this.slice();
      }
      if (tracks.length > 0) changes.set(saved, tracks);
    }
    return changes;
  }

  // Pass 3: while what is left would take longer than FROZEN_COPY_MS_TARGET
  // to copy quiesced, copies it into memory with the images running and
  // takes the bits again. Returns what changed during the last copy.
  private async copyWhileRunning(changes: Changes): Promise<Changes> {
    let pending = changes;
    while (this.memoryPasses < MEMORY_PASSES_MAX && this.copyMs(changedTrackCount(pending) * TRACK_SIZE) > FROZEN_COPY_MS_TARGET) {
      for (const [saved, tracks] of pending) {
        for (const run of dataRuns(this.images[saved.image], saved.volume, tracks, TRACKS_PER_FRAME_MAX)) {
          this.changedBytes += run.bytes?.byteLength ?? 0;
          if (!this.keepCopy(saved, run)) {
            await this.writeCopies(); // full: what it holds goes to the file first, so later copies still come later
            this.keepCopyOrFail(saved, run);
          }
          await this.slice();
        }
      }
      this.memoryPasses++;
      pending = await this.takeChangesSliced();
    }
    return pending;
  }

  // How long copying `byteLength` bytes should take, at the rate measured so far.
  private copyMs(byteLength: number): number {
    const bytesPerMs = this.copyRate.ms > 0 ? this.copyRate.bytes / this.copyRate.ms : COPY_BYTES_PER_MS_GUESS;
    return byteLength / bytesPerMs;
  }

  // Keeps a copy of the run, after those made before it; false when the
  // copy-out buffer has no room for it.
  private keepCopy(saved: SavedVolume, run: TrackRun): boolean {
    if (run.bytes === null) {
      this.copies.push({ saved, run });
      return true;
    }
    const started = performance.now();
    const copy = this.copyOut.copy(run.bytes);
    if (copy === null) return false;
    this.copyRate.bytes += copy.byteLength;
    this.copyRate.ms += performance.now() - started;
    this.copies.push({ saved, run: { ...run, bytes: copy } });
    return true;
  }

  // After writeCopies the buffer is empty, and it holds a frame's worth at least.
  private keepCopyOrFail(saved: SavedVolume, run: TrackRun): void {
    if (this.keepCopy(saved, run)) return;
    throw new StoreError("BAD_ARGUMENT", `the copy-out buffer of ${this.copyOut.capacity} bytes cannot hold a run of ${run.bytes?.byteLength} bytes`, { file: this.file });
  }

  // Writes the copies made so far, in order, and empties the buffer.
  private async writeCopies(): Promise<void> {
    for (const { saved, run } of this.copies) await this.writeRun(saved, run);
    this.copies.length = 0;
    this.copyOut.clear();
  }

  private writeCopiesSync(): void {
    for (const { saved, run } of this.copies) this.writeRunSync(saved, run);
    this.copies.length = 0;
    this.copyOut.clear();
  }

  // Pass 2: the changed tracks, while the images run. Returns the data bytes written.
  private async writeChanges(changes: Changes): Promise<number> {
    const before = this.writer.dataBytes;
    for (const [saved, tracks] of changes) {
      for (const run of dataRuns(this.images[saved.image], saved.volume, tracks, TRACKS_PER_FRAME_MAX)) {
        await this.writeRun(saved, run);
        await this.slice();
      }
    }
    this.passes++;
    return this.writer.dataBytes - before;
  }

  // While the frame's write is in flight (on libuv's thread pool), this
  // thread touches the next step of the copy-out buffer.
  private async writeRun(saved: SavedVolume, run: TrackRun): Promise<void> {
    if (run.bytes !== null) {
      const written = this.writer.writeTracks(saved.image, saved.volume.id, run.firstTrack, run.bytes);
      this.copyOut.touchStep();
      await written;
      for (let track = run.firstTrack; track < run.firstTrack + run.trackCount; track++) saved.nonzero.add(track);
      return;
    }
    for (const [track, count] of zeroRuns(saved, run)) {
      await this.writer.writeRecord({ type: "zeros", image: saved.image, volume: saved.volume.id, track, count });
      this.zeroTracks += count;
    }
  }

  // Pass 4, retried from the event loop while I/O in flight on another
  // thread does not drain within SAVE_DRAIN_MS: a failed attempt resumed
  // what it froze and took nothing, so the next one starts afresh.
  private async captureQuiescedRetrying(pending: Changes): Promise<Quiesced> {
    const started = performance.now();
    let drainMs = 0; // spent in attempts that timed out: host I/O waited then too
    for (;;) {
      const attemptAt = performance.now();
      try {
        const quiesced = this.captureQuiesced(pending);
        return { ...quiesced, drainMs: quiesced.drainMs + drainMs };
      } catch (error) {
        if (!isDrainTimeout(error) || performance.now() - started > QUIESCE_RETRY_TOTAL_MS) throw error;
      }
      drainMs += performance.now() - attemptAt;
      await delay(QUIESCE_RETRY_MS);
      this.checkAbort();
    }
  }

  // Pass 4, with every image quiesced at once: copies of the tracks changed
  // since (and of those taken last but not yet copied) and of the
  // relationships, written once the images run again. When the copy-out
  // buffer is full, the copies it holds are written to the file there and
  // then, in order. Resumes the images whatever happens.
  private captureQuiesced(pending: Changes): Quiesced {
    const captures: ImageCapture[] = [];
    const result: Quiesced = { relationships: [], pprc: [], frozenBytes: 0, frozenMs: 0, drainMs: 0, savedAt: 0 };
    let frozenAt = 0;
    try {
      frozenAt = performance.now(); // host I/O waits from the first freeze on, drains included
      for (const image of this.images) captures.push(quiesce(image));
      result.drainMs = performance.now() - frozenAt;
      result.savedAt = Date.now();
      this.checkStructure();
      for (const [saved, tracks] of mergeChanges(pending, this.takeChanges())) {
        for (const run of dataRuns(this.images[saved.image], saved.volume, tracks, TRACKS_PER_FRAME_MAX)) {
          this.checkBudget(frozenAt);
          result.frozenBytes += run.bytes?.byteLength ?? 0;
          if (this.keepCopy(saved, run)) continue;
          this.writeCopiesSync();
          this.keepCopyOrFail(saved, run);
        }
      }
      captures.forEach((capture, index) => {
        for (const relationship of capture.relationships()) result.relationships.push(relationshipFrames(relationship, index));
      });
      result.pprc = this.options.pprc?.() ?? [];
      this.checkBudget(frozenAt);
    } finally {
      for (const capture of captures) capture.resume();
    }
    result.frozenMs = frozenAt === 0 ? 0 : performance.now() - frozenAt;
    return result;
  }

  private writeRunSync(saved: SavedVolume, run: TrackRun): void {
    if (run.bytes !== null) {
      this.writer.writeTracksSync(saved.image, saved.volume.id, run.firstTrack, run.bytes);
      for (let track = run.firstTrack; track < run.firstTrack + run.trackCount; track++) saved.nonzero.add(track);
      return;
    }
    for (const [track, count] of zeroRuns(saved, run)) {
      this.writer.writeRecordSync({ type: "zeros", image: saved.image, volume: saved.volume.id, track, count });
      this.zeroTracks += count;
    }
  }

  private checkBudget(frozenAt: number): void {
    const frozenMs = performance.now() - frozenAt;
    if (frozenMs <= this.budgetMs) return;
    throw new StoreError(
      "FROZEN_TOO_LONG",
      `save to ${this.file} stopped after ${this.writer.bytesWritten} bytes: the images were frozen ${frozenMs.toFixed(0)} ms, beyond the budget of ${this.budgetMs} ms; host I/O was resumed and the previous file is unchanged`,
      { file: this.file },
    );
  }

  // The volumes, quiesced, must be those the file lists, with the same attributes.
  private checkStructure(): void {
    const listed = this.saved.map((saved) => `${saved.image} ${saved.record}`);
    const now = this.images.flatMap((image, index) => image.listVolumes().map((volume) => {
      const same = this.saved.find((saved) => saved.volume === volume);
      return same === undefined ? "new" : `${index} ${JSON.stringify(volumeRecord(volume, image.dataState(volume.id)))}`;
    }));
    if (listed.join("\n") === now.join("\n")) return;
    throw new StoreError("BUSY", `save to ${this.file} stopped: volumes were created, removed or changed while it ran; the previous file is unchanged; save again`, { file: this.file });
  }
}

interface RelationshipFrames {
  record: RelationshipRecord;
  leaves: LeafRecord[];
}

interface Quiesced {
  relationships: RelationshipFrames[];
  pprc: Array<PprcPathRecord | PprcPairRecord | PprcOosRecord>;
  frozenBytes: number; // track data read while quiesced
  frozenMs: number;
  drainMs: number;
  savedAt: number;
}

function changedTrackCount(changes: Changes): number {
  let count = 0;
  for (const tracks of changes.values()) count += tracks.length;
  return count;
}

// The union of two sets of changed tracks, each volume's tracks ascending.
function mergeChanges(first: Changes, second: Changes): Changes {
  const merged: Changes = new Map(first);
  for (const [saved, tracks] of second) {
    const union = new Set([...(merged.get(saved) ?? []), ...tracks]);
    merged.set(saved, [...union].sort((a, b) => a - b));
  }
  return merged;
}

// The tracks of an all-zero run that the file holds as non-zero data, as
// [first track, count] runs; they are zero in the file from then on.
function zeroRuns(saved: SavedVolume, run: TrackRun): [number, number][] {
  const runs: [number, number][] = [];
  for (let track = run.firstTrack; track < run.firstTrack + run.trackCount; track++) {
    if (!saved.nonzero.delete(track)) continue;
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] + last[1] === track) last[1]++;
    else runs.push([track, 1]);
  }
  return runs;
}

function quiesce(image: StorageImage): ImageCapture {
  try {
    return quiesceImage(image, SAVE_DRAIN_MS);
  } catch (error) {
    if (!isEngineError(error)) throw error;
    throw new StoreError("BUSY", `cannot save storage image ${image.id} at one point in time: ${error.message}`, { cause: error });
  }
}

// A quiesce that gave up because I/O in flight on another thread did not drain in time.
function isDrainTimeout(error: unknown): boolean {
  return error instanceof StoreError && error.code === "BUSY" && isEngineError(error.cause) && error.cause.code === "DRAIN_TIMEOUT";
}

function volumeRecord(volume: Volume, dataState: VolumeRecord["dataState"]): VolumeRecord {
  return {
    type: "volume", id: volume.id, slot: volume.slot, blocks: volume.blocks, unit: volume.unit, os: volume.os,
    name: volume.name, createdAt: volume.createdAt.getTime(), dataState, pool: volume.pool,
    ...(volume.sam === "standard" ? { sam: "standard" as const } : {}),
  };
}

// A bitmap's summary: a byte per chunk (format.ts).
function summary(bitmap: ChunkedBitmap): Uint8Array {
  return Uint8Array.from(bitmap.chunks, (chunk) => (chunk === "clear" ? SUMMARY_CLEAR : chunk === "set" ? SUMMARY_SET : SUMMARY_LEAF));
}

function relationshipRecord(relationship: RelationshipSnapshot, image: number): RelationshipRecord {
  const summaryOf = (bitmap: ChunkedBitmap | null) => (bitmap === null ? null : summary(bitmap));
  return {
    type: "relationship", image, source: relationship.sourceId, target: relationship.targetId, slot: relationship.slot,
    nocopy: relationship.nocopy, persist: relationship.persist, record: relationship.record, tgtinhibit: relationship.tgtinhibit,
    tgtpprc: relationship.tgtpprc,
    ...(relationship.heldUntil === null ? {} : { heldUntil: relationship.heldUntil }),
    seqnum: relationship.seqnum, createdAt: relationship.createdAt.getTime(), syncedAt: relationship.syncedAt?.getTime() ?? null,
    trackCount: relationship.trackCount, pendingTracks: relationship.pendingTracks, copiedBytes: relationship.copiedBytes,
    bitmap: summary(relationship.bitmap), recordSource: summaryOf(relationship.recordSource), recordTarget: summaryOf(relationship.recordTarget),
  };
}

// A relationship's record, then the leaves of its bitmaps in the order
// format.ts gives (their bytes are copies: they outlive the quiesced pass).
function relationshipFrames(relationship: RelationshipSnapshot, image: number): RelationshipFrames {
  const leaves: LeafRecord[] = [];
  const bitmaps = [relationship.bitmap, relationship.recordSource, relationship.recordTarget];
  bitmaps.forEach((bitmap, which) => {
    bitmap?.chunks.forEach((data, chunk) => {
      if (data === "clear" || data === "set") return;
      leaves.push({ type: "leaf", image, source: relationship.sourceId, target: relationship.targetId, bitmap: which as 0 | 1 | 2, chunk, data });
    });
  });
  return { record: relationshipRecord(relationship, image), leaves };
}

// File systems that cannot fsync a directory say so with EINVAL (or
// ENOTSUP); the rename has happened by then, so that is not a failed save.
async function syncDirectory(fileSystem: StoreFileSystem, directory: string): Promise<void> {
  const fd = await fileSystem.open(directory, "r");
  try {
    await fileSystem.fsync(fd);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EINVAL" && code !== "ENOTSUP") throw error;
  } finally {
    await fileSystem.close(fd);
  }
}

// Temporary files of saves whose process no longer exists (killed mid-save).
function removeStaleTemporaries(directory: string, name: string): void {
  let entries: string[];
  try {
    entries = readdirSync(directory);
  } catch {
    return; // the open of the temporary file reports the real problem
  }
  const prefix = `.${name}.`;
  for (const entry of entries) {
    if (!entry.startsWith(prefix) || !entry.endsWith(".tmp")) continue;
    const match = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(entry.slice(prefix.length));
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid !== process.pid && !processExists(pid)) unlinkQuietly(join(directory, entry));
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already, or never created.
  }
}
