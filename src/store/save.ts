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
// Consistency: the images are quiesced (every volume frozen, see
// src/engine/snapshot.ts) from the first record to the last relationship,
// so host writes, background copies and withdrawals on any thread are wholly
// before or wholly after the save. Host I/O waits at most 20 s at a frozen
// gate, so a save whose frozen window would exceed `frozenBudgetMs` gives up
// (FROZEN_TOO_LONG) and leaves the old file in place. The fsync and the
// rename happen after the images are thawed.
//
// Synchronous on purpose: the thread that quiesced the images must not run
// anything else (an establish, a host write of a script) before it resumes them.

import { openSync, closeSync, fsyncSync, renameSync, unlinkSync, readdirSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { isEngineError, type StorageImage } from "../engine/index.js";
import { quiesceImage, type ImageCapture, type VolumeSnapshot, type RelationshipSnapshot } from "../engine/snapshot.js";
import { FrameWriter } from "./frame-writer.js";
import { StoreError } from "./errors.js";
import { TRACKS_PER_FRAME_MAX, type VolumeRecord, type RelationshipRecord } from "./format.js";

export const GENERATOR = "tzero 0.1.0";
const FROZEN_BUDGET_MS = 10_000; // half of the 20 s a gate waits (assembly/sync.ts)

export interface SaveOptions {
  frozenBudgetMs?: number; // longest the images may stay quiesced; default 10 s
}

export interface SaveReport {
  file: string; // absolute path of the state file
  images: number;
  volumes: number;
  relationships: number;
  bytesWritten: number; // size of the file
  dataBytes: number; // bytes of non-zero tracks written: the live data
  frozenMs: number; // how long host I/O and background copies waited
  elapsedMs: number; // the whole save, fsyncs and rename included
}

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
    const counts = writeCaptured(writer, images, budgetMs, target);
    writer.writeRecord({ type: "end", frames: writer.frames, images: images.length, ...counts.totals, dataBytes: writer.dataBytes });
    ioStep(target, "fsync", () => fsyncSync(fd));
    ioStep(target, "close", () => closeSync(fd));
    fd = -1;
    ioStep(target, "rename the temporary file over", () => renameSync(temporary, target));
    ioStep(target, "fsync the directory of", () => syncDirectory(directory));
    return {
      file: target, images: images.length, ...counts.totals, bytesWritten: writer.bytesWritten, dataBytes: writer.dataBytes,
      frozenMs: counts.frozenMs, elapsedMs: performance.now() - started,
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

interface Captured {
  totals: { volumes: number; relationships: number };
  frozenMs: number;
}

// Quiesces every image, writes them all, and resumes them, whatever happens.
function writeCaptured(writer: FrameWriter, images: readonly StorageImage[], budgetMs: number, file: string): Captured {
  const captures: ImageCapture[] = [];
  const totals = { volumes: 0, relationships: 0 };
  let frozenAt = 0;
  try {
    for (const image of images) captures.push(quiesce(image));
    frozenAt = performance.now();
    const checkBudget = () => {
      const frozenMs = performance.now() - frozenAt;
      if (frozenMs <= budgetMs) return;
      throw new StoreError(
        "FROZEN_TOO_LONG",
        `save to ${file} stopped after ${writer.bytesWritten} bytes: the images were frozen ${frozenMs.toFixed(0)} ms, beyond the budget of ${budgetMs} ms; host I/O was resumed and the previous file is unchanged`,
        { file },
      );
    };
    writer.writeRecord({ type: "header", generator: GENERATOR, savedAt: Date.now(), images: images.length });
    for (const capture of captures) {
      const written = writeImage(writer, capture, checkBudget);
      totals.volumes += written.volumes;
      totals.relationships += written.relationships;
    }
  } finally {
    for (const capture of captures) capture.resume();
  }
  return { totals, frozenMs: performance.now() - frozenAt };
}

function quiesce(image: StorageImage): ImageCapture {
  try {
    return quiesceImage(image);
  } catch (error) {
    if (!isEngineError(error)) throw error;
    throw new StoreError("BUSY", `cannot save storage image ${image.id} at one point in time: ${error.message}`, { cause: error });
  }
}

function writeImage(writer: FrameWriter, capture: ImageCapture, checkBudget: () => void): { volumes: number; relationships: number } {
  const image = capture.image;
  const volumes = capture.volumes();
  const relationships = capture.relationships();
  const serial = image.id.slice(image.id.indexOf("-") + 1); // the ID is IBM.MODEL-SERIAL (engine/ids.ts)
  writer.writeRecord({ type: "image", model: image.model, serial, lss: image.listLss(), volumes: volumes.length, relationships: relationships.length });
  for (const volume of volumes) writer.writeRecord(volumeRecord(volume));
  for (const volume of volumes) {
    capture.forEachDataRun(volume, TRACKS_PER_FRAME_MAX, (track, data) => {
      checkBudget();
      writer.writeTracks(volume.id, track, data);
    });
  }
  for (const relationship of relationships) writer.writeRecord(relationshipRecord(relationship));
  checkBudget();
  return { volumes: volumes.length, relationships: relationships.length };
}

function volumeRecord(volume: VolumeSnapshot): VolumeRecord {
  return {
    type: "volume", id: volume.id, slot: volume.slot, blocks: volume.blocks, unit: volume.unit, os: volume.os,
    name: volume.name, createdAt: volume.createdAt.getTime(), dataState: volume.dataState,
  };
}

function relationshipRecord(relationship: RelationshipSnapshot): RelationshipRecord {
  return {
    type: "relationship", source: relationship.sourceId, target: relationship.targetId, slot: relationship.slot,
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

function syncDirectory(directory: string): void {
  const fd = openSync(directory, "r");
  try {
    fsyncSync(fd);
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
