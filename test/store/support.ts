// Helpers for the store tests: a fingerprint of everything a state file must
// bring back, temporary folders, error checks, and tools that take a state
// file apart into frames and put it back together with valid checksums (to
// build files that are damaged in exactly one way).
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Packr, Unpackr } from "msgpackr";
import { StorageImage } from "../../src/engine/image.js";
import { StoreError, type StoreErrorCode } from "../../src/store/errors.js";
import { FrameBuffer, joinBytes } from "../../src/store/frame-buffer.js";
import { PREAMBLE_SIZE, FRAME_HEADER_SIZE, frameKey } from "../../src/store/format.js";

// Tracks still pending in a relationship's control bitmap, in order.
export function pendingTracks(image: StorageImage, pair: string): number[] {
  const relationship = image.relationship(pair);
  const tracks: number[] = [];
  for (let track = image.core.exports.rel_find_pending(relationship.slot, 0); track >= 0;) {
    tracks.push(track);
    track = image.core.exports.rel_find_pending(relationship.slot, track + 1);
  }
  return tracks;
}

// describeState without creation and sync times: for images built alike by two processes.
export function describeContents(images: readonly StorageImage[]): unknown {
  return JSON.parse(JSON.stringify(describeState(images), (key, value) => (key === "createdAt" || key === "syncedAt" ? undefined : value)));
}

// Everything observable of the images, as one comparable value.
export function describeState(images: readonly StorageImage[]): unknown {
  return images.map((image) => ({
    id: image.id,
    model: image.model,
    lss: image.listLss(),
    pools: image.pools.list().map((pool) => image.pools.usage(pool)),
    volumes: image.listVolumes().map((volume) => {
      const dataState = image.dataState(volume.id);
      return { ...volume, createdAt: volume.createdAt.getTime(), dataState, checksum: dataState === "Normal" ? image.checksum(volume.id) : null };
    }),
    relationships: image.listRelationships().map((relationship) => {
      const status = image.status(relationship.id);
      return {
        ...status, bytesPerSecond: undefined, createdAt: status.createdAt.getTime(), syncedAt: status.syncedAt?.getTime() ?? null,
        pending: pendingTracks(image, relationship.id),
        recorded: relationship.record ? [image.recordedTracks(relationship.id, "source"), image.recordedTracks(relationship.id, "target")] : null,
      };
    }),
  }));
}

export function temporaryDirectory(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), "tzero-store-test-"));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function rejectsWithStore(promise: Promise<unknown>, code: StoreErrorCode, what = ""): Promise<StoreError> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, StoreError, `expected StoreError ${code}, got ${String(error)}`);
    assert.is((error as StoreError).code, code, (error as StoreError).message);
    return error as StoreError;
  }
  throw new assert.Assertion({ message: `expected a rejection with ${code}${what ? ` (${what})` : ""}`, operator: "rejects", expects: code, actual: "resolved", generated: false });
}

export function throwsStore(action: () => unknown, code: StoreErrorCode): StoreError {
  try {
    action();
  } catch (error) {
    assert.instance(error, StoreError, `expected StoreError ${code}, got ${String(error)}`);
    assert.is((error as StoreError).code, code, (error as StoreError).message);
    return error as StoreError;
  }
  throw new assert.Assertion({ message: `expected a throw with ${code}`, operator: "throws", expects: code, actual: "returned", generated: false });
}

export interface RawFrame {
  offset: number;
  payload: Uint8Array;
}

// Splits a well-formed state file into its preamble and frames.
export function splitFrames(file: Uint8Array): { preamble: Uint8Array; frames: RawFrame[] } {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const frames: RawFrame[] = [];
  let offset = PREAMBLE_SIZE;
  while (offset < file.byteLength) {
    const length = view.getUint32(offset, true);
    frames.push({ offset, payload: file.slice(offset + FRAME_HEADER_SIZE, offset + FRAME_HEADER_SIZE + length) });
    offset += FRAME_HEADER_SIZE + length;
  }
  return { preamble: file.slice(0, PREAMBLE_SIZE), frames };
}

// The save identifier in a (version 2) preamble.
export function saveIdOf(preamble: Uint8Array): bigint {
  return new DataView(preamble.buffer, preamble.byteOffset, preamble.byteLength).getBigUint64(16, true);
}

// A frame with a correct header and checksum around any payload bytes, as
// frame `index` of the save `saveId` (format.ts frameKey).
export function encodeFrame(payload: Uint8Array, saveId: bigint, index: number, buffer = new FrameBuffer()): Uint8Array {
  buffer.payload(payload.byteLength).set(payload);
  const frame = new Uint8Array(FRAME_HEADER_SIZE + payload.byteLength);
  const view = new DataView(frame.buffer);
  view.setUint32(0, payload.byteLength, true);
  view.setUint32(4, ~payload.byteLength >>> 0, true);
  view.setBigUint64(8, buffer.hashPayload(payload.byteLength) ^ frameKey(saveId, index), true);
  frame.set(payload, FRAME_HEADER_SIZE);
  return frame;
}

export { joinBytes };

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

export function decodeRecord(payload: Uint8Array): Record<string, unknown> {
  return unpackr.unpack(payload) as Record<string, unknown>;
}

export function encodeRecord(record: unknown): Uint8Array {
  return Uint8Array.from(packr.pack(record));
}

// The file with frame `index` replaced by `payloads` (none: dropped), every
// frame given a valid checksum for its new place.
export function replaceFrame(file: Uint8Array, index: number, payloads: readonly Uint8Array[]): Uint8Array {
  const { preamble, frames } = splitFrames(file);
  const list = frames.map((frame) => frame.payload);
  list.splice(index, 1, ...payloads);
  return joinFrames(preamble, list);
}

// A preamble and payloads as a file, each frame keyed for its place.
export function joinFrames(preamble: Uint8Array, payloads: readonly Uint8Array[]): Uint8Array {
  const buffer = new FrameBuffer();
  const saveId = saveIdOf(preamble);
  return joinBytes([preamble, ...payloads.map((payload, index) => encodeFrame(payload, saveId, index, buffer))]);
}

// The file with the record of frame `index` changed by `change`.
export function editRecord(file: Uint8Array, index: number, change: (record: Record<string, unknown>) => void): Uint8Array {
  const { frames } = splitFrames(file);
  const record = decodeRecord(frames[index].payload);
  change(record);
  return replaceFrame(file, index, [encodeRecord(record)]);
}

// Index of the first frame whose record has the given type.
// Index of the first frame of a record type (the `nth`, counting from 0).
export function frameOfType(file: Uint8Array, type: string, nth = 0): number {
  const indexes = splitFrames(file).frames.flatMap((frame, index) => (decodeRecord(frame.payload).type === type ? [index] : []));
  assert.ok(indexes.length > nth, `the file has ${nth + 1} ${type} records`);
  return indexes[nth];
}

// A save that failed or was abandoned left the previous file as it was, no
// temporary file beside it, and the image thawed: host I/O goes on.
export function assertSaveFailedCleanly(image: StorageImage, folder: string, file: string, previous: Uint8Array): void {
  assert.equal(new Uint8Array(readFileSync(file)), previous, "the previous file is untouched");
  assert.equal(readdirSync(folder), ["state.tzs"], "no temporary file is left");
  image.fill("1000", 0, 10, 7);
  assert.is(image.read("1000", 0, 1)[0], 7);
}
