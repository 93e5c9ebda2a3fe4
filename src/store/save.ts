// saveState: every storage image, at one point in time, into a state file
// that is replaced atomically.
//
// Crash safety: the state is written to a temporary file beside the target
// (same directory, so the rename cannot cross file systems), fsynced, renamed
// over the target, and the directory is fsynced so the rename itself is
// durable. A process killed at any moment leaves the old file or the new one,
// whole; a temporary file it leaves behind is removed by the next save once
// its writer is gone.
//
// Consistency, with host I/O and background copies waiting as briefly as
// possible, in two passes (src/engine/snapshot.ts):
//   1. while the images run, every non-zero track is written as it is then,
//      and its xxHash64 (of the bytes as written) is kept;
//   2. every image is quiesced at once (every volume frozen): the tracks whose
//      bytes differ now are written again (the loader applies frames in
//      order, so they win), tracks that became zero are listed, and the
//      relationships with their bitmaps are written; then the images resume.
// The file holds the images as they were at the moment of pass 2: host
// writes, background copies and withdrawals on any thread are wholly before
// or wholly after it. Pass 2 costs a hash of the live data (~8 GB/s) plus
// what changed during pass 1. Host I/O waits at most 20 s at a frozen gate, so
// a save whose pass 2 would exceed `frozenBudgetMs` gives up (FROZEN_TOO_LONG)
// and leaves the old file in place. The fsync and the rename come after.
//
// Synchronous on purpose: the thread that quiesced the images must not run
// anything else (an establish, a host write of a script) before it resumes them.

import { openSync, closeSync, fsyncSync, renameSync, unlinkSync, readdirSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { isEngineError, type StorageImage, type Volume } from "../engine/index.js";
import { quiesceImage, scanVolumeData, type ImageCapture, type RelationshipSnapshot } from "../engine/snapshot.js";
import { EXTENT_SIZE, TRACK_SIZE } from "../core/codes.js";
import { EXTENTS_PER_GIB } from "../engine/pools.js";
import { FrameWriter } from "./frame-writer.js";
import { StoreError } from "./errors.js";
import { TRACKS_PER_FRAME_MAX, type VolumeRecord, type RelationshipRecord } from "./format.js";

export const GENERATOR = "tzero 0.1.0";
const FROZEN_BUDGET_MS = 10_000; // half of the 20 s a gate waits (assembly/sync.ts)
const EXTENT_TRACKS = EXTENT_SIZE / TRACK_SIZE;

export interface SaveOptions {
  frozenBudgetMs?: number; // longest the images may stay quiesced; default 10 s
  // Called after the provisional copy, before the images are quiesced: tests
  // change data there to check that the quiesced pass catches it. It must not
  // create or remove volumes or relationships (the file already lists them).
  afterProvisionalCopy?: () => void;
}

export interface SaveReport {
  file: string; // absolute path of the state file
  images: number;
  volumes: number;
  relationships: number;
  bytesWritten: number; // size of the file
  dataBytes: number; // bytes of track data written, both passes
  changedBytes: number; // of which written again, quiesced, because they changed meanwhile
  frozenMs: number; // how long host I/O and background copies waited
  elapsedMs: number; // the whole save, fsyncs and rename included
}

// xxHash64 of each track the provisional copy wrote, per image, per volume slot.
type SavedTracks = Map<number, bigint>[];

export function saveState(images: readonly StorageImage[], file: string, options: SaveOptions = {}): SaveReport {
  const started = performance.now();
  const budgetMs = options.frozenBudgetMs ?? FROZEN_BUDGET_MS;
  if (!(budgetMs > 0)) throw new StoreError("BAD_ARGUMENT", `frozenBudgetMs ${budgetMs} is not a positive number of milliseconds`);
  checkImages(images);
  const target = resolve(file);
  const directory = dirname(target);
  removeStaleTemporaries(directory, basename(target));
  const temporary = join(directory, `.${basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  let fd = ioStep(target, "create a temporary file for", () => openSync(temporary, "wx"));
  try {
    const writer = new FrameWriter(fd, target);
    writer.writePreamble();
    writer.writeRecord({ type: "header", generator: GENERATOR, images: images.length });
    const volumes = images.reduce((sum, image, index) => sum + writeStructure(writer, image, index), 0);
    const saved = images.map((image, index) => writeProvisional(writer, image, index));
    options.afterProvisionalCopy?.();
    const quiesced = writeQuiesced(writer, images, saved, budgetMs, target);
    writer.writeRecord({
      type: "end", savedAt: quiesced.savedAt, frames: writer.frames, images: images.length, volumes,
      relationships: quiesced.relationships, dataBytes: writer.dataBytes, zeroTracks: quiesced.zeroTracks,
    });
    ioStep(target, "fsync", () => fsyncSync(fd));
    ioStep(target, "close", () => closeSync(fd));
    fd = -1;
    ioStep(target, "rename the temporary file over", () => renameSync(temporary, target));
    ioStep(target, "fsync the directory of", () => syncDirectory(directory));
    return {
      file: target, images: images.length, volumes, relationships: quiesced.relationships, bytesWritten: writer.bytesWritten,
      dataBytes: writer.dataBytes, changedBytes: quiesced.changedBytes, frozenMs: quiesced.frozenMs, elapsedMs: performance.now() - started,
    };
  } catch (error) {
    if (fd >= 0) closeQuietly(fd);
    unlinkQuietly(temporary);
    throw error;
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

// The image and volume records. Volumes and relationships change only on
// this thread (which is saving), so these stay true for the whole save.
function writeStructure(writer: FrameWriter, image: StorageImage, index: number): number {
  const volumes = image.listVolumes();
  const serial = image.id.slice(image.id.indexOf("-") + 1); // the ID is IBM.MODEL-SERIAL (engine/ids.ts)
  writer.writeRecord({
    type: "image", model: image.model, serial, lss: image.listLss(), volumes: volumes.length,
    relationships: image.listRelationships().length,
    pools: image.pools.list().map((pool) => ({
      id: pool.id, name: pool.name, rankGroup: pool.rankGroup, capacityGiB: pool.capacityExtents / EXTENTS_PER_GIB,
    })),
  });
  for (const volume of volumes) writer.writeRecord(volumeRecord(volume, image.dataState(volume.id)));
  return volumes.length;
}

// Pass 1, while the image runs: every non-zero track, as it is at that moment.
function writeProvisional(writer: FrameWriter, image: StorageImage, index: number): SavedTracks {
  const saved: SavedTracks = [];
  for (const volume of image.listVolumes()) {
    const hashes = new Map<number, bigint>();
    saved[volume.slot] = hashes;
    scanVolumeData(image, volume, TRACKS_PER_FRAME_MAX, (track, data) => {
      writer.writeTracks(index, volume.id, track, data).forEach((hash, offset) => hashes.set(track + offset, hash));
    });
  }
  return saved;
}

interface Quiesced {
  relationships: number;
  changedBytes: number;
  zeroTracks: number;
  frozenMs: number;
  savedAt: number;
}

// Pass 2, with every image quiesced at once: what changed since pass 1, and
// the relationships. Resumes the images whatever happens.
function writeQuiesced(writer: FrameWriter, images: readonly StorageImage[], saved: SavedTracks[], budgetMs: number, file: string): Quiesced {
  const captures: ImageCapture[] = [];
  const result = { relationships: 0, changedBytes: 0, zeroTracks: 0, frozenMs: 0, savedAt: 0 };
  let frozenAt = 0;
  try {
    for (const image of images) captures.push(quiesce(image));
    frozenAt = performance.now();
    result.savedAt = Date.now();
    const checkBudget = () => {
      const frozenMs = performance.now() - frozenAt;
      if (frozenMs <= budgetMs) return;
      throw new StoreError(
        "FROZEN_TOO_LONG",
        `save to ${file} stopped after ${writer.bytesWritten} bytes: the images were frozen ${frozenMs.toFixed(0)} ms, beyond the budget of ${budgetMs} ms; host I/O was resumed and the previous file is unchanged`,
        { file },
      );
    };
    captures.forEach((capture, index) => {
      for (const volume of capture.image.listVolumes()) {
        const changes = writeChanges(writer, capture, index, volume, saved[index][volume.slot], checkBudget);
        result.changedBytes += changes.changedBytes;
        result.zeroTracks += changes.zeroTracks;
      }
    });
    captures.forEach((capture, index) => {
      const relationships = capture.relationships();
      for (const relationship of relationships) writer.writeRecord(relationshipRecord(relationship, index));
      result.relationships += relationships.length;
    });
    checkBudget();
  } finally {
    for (const capture of captures) capture.resume();
  }
  result.frozenMs = frozenAt === 0 ? 0 : performance.now() - frozenAt;
  return result;
}

function writeChanges(
  writer: FrameWriter, capture: ImageCapture, index: number, volume: Volume, saved: Map<number, bigint>, checkBudget: () => void,
): { changedBytes: number; zeroTracks: number } {
  const { changed, zeroed } = capture.trackChanges(volume, saved);
  let changedBytes = 0;
  for (const [track, count] of runs(changed, TRACKS_PER_FRAME_MAX)) {
    checkBudget();
    const data = capture.trackBytes(volume, track, count);
    writer.writeTracks(index, volume.id, track, data);
    changedBytes += data.byteLength;
  }
  for (const [track, count] of runs(zeroed, EXTENT_TRACKS)) {
    writer.writeRecord({ type: "zeros", image: index, volume: volume.id, track, count });
  }
  return { changedBytes, zeroTracks: zeroed.length };
}

// Ascending tracks grouped into runs of consecutive tracks, at most
// `tracksMax` long, never across an extent: [first track, count] pairs.
function runs(tracks: readonly number[], tracksMax: number): [number, number][] {
  const grouped: [number, number][] = [];
  for (const track of tracks) {
    const last = grouped[grouped.length - 1];
    const sameExtent = last !== undefined && Math.floor(last[0] / EXTENT_TRACKS) === Math.floor(track / EXTENT_TRACKS);
    if (sameExtent && last[0] + last[1] === track && last[1] < tracksMax) last[1]++;
    else grouped.push([track, 1]);
  }
  return grouped;
}

function quiesce(image: StorageImage): ImageCapture {
  try {
    return quiesceImage(image);
  } catch (error) {
    if (!isEngineError(error)) throw error;
    throw new StoreError("BUSY", `cannot save storage image ${image.id} at one point in time: ${error.message}`, { cause: error });
  }
}

function volumeRecord(volume: Volume, dataState: VolumeRecord["dataState"]): VolumeRecord {
  return {
    type: "volume", id: volume.id, slot: volume.slot, blocks: volume.blocks, unit: volume.unit, os: volume.os,
    name: volume.name, createdAt: volume.createdAt.getTime(), dataState, pool: volume.pool,
  };
}

function relationshipRecord(relationship: RelationshipSnapshot, image: number): RelationshipRecord {
  return {
    type: "relationship", image, source: relationship.sourceId, target: relationship.targetId, slot: relationship.slot,
    nocopy: relationship.nocopy, persist: relationship.persist, record: relationship.record, tgtinhibit: relationship.tgtinhibit,
    seqnum: relationship.seqnum, createdAt: relationship.createdAt.getTime(), syncedAt: relationship.syncedAt?.getTime() ?? null,
    trackCount: relationship.trackCount, pendingTracks: relationship.pendingTracks, copiedBytes: relationship.copiedBytes,
    bitmap: relationship.bitmap, recordSource: relationship.recordSource, recordTarget: relationship.recordTarget,
  };
}

function ioStep<T>(file: string, action: string, step: () => T): T {
  try {
    return step();
  } catch (cause) {
    throw new StoreError("IO_ERROR", `cannot ${action} ${file}: ${(cause as Error).message}`, { file, cause });
  }
}

// File systems that cannot fsync a directory say so with EINVAL (or
// ENOTSUP); the rename has happened by then, so that is not a failed save.
function syncDirectory(directory: string): void {
  const fd = openSync(directory, "r");
  try {
    fsyncSync(fd);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EINVAL" && code !== "ENOTSUP") throw error;
  } finally {
    closeSync(fd);
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

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already failing: the original error is the one to report.
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already, or never created.
  }
}
