// The engine side of saving and loading storage images (src/store uses it).
//
// Capture, in two steps, so that host I/O and copies wait as briefly as possible:
//   1. scanVolumeData() reads each volume's non-zero tracks while the image
//      runs: a provisional copy, which the caller writes out and hashes per track;
//   2. quiesceImage() freezes every volume (assembly/snapshot.ts) and returns an
//      ImageCapture: the image at one point in time. Through it the caller
//      reads the relationships with their bitmaps and the tracks that changed
//      since step 1 (trackChanges, trackBytes), then resumes.
// Copy workers and host I/O wait at the volume gates during step 2 only (at
// most 20 s, after which they fail with TIMEOUT).
//
// Restore, into a new image nobody else uses yet, in this order:
//   restoreVolume → writeVolumeTracks → markUnusable → restoreRelationship.
// Relationships come last: the core refuses raw writes to a volume in one,
// and a copy worker must not see a relationship before the data it copies.

import { CoreCode, TRACK_SIZE, BLOCK_SIZE, EXTENT_SIZE, STAGING_SIZE, VOLUME_SLOT_MAX, REL_SLOT_MAX, RelFlag, VolumeState } from "../core/codes.js";
import { EngineError } from "./errors.js";
import { coreError } from "./core-errors.js";
import { parseVolumeId, lssOf, pairId } from "./ids.js";
import { checkEstablish, type VolumeFacts } from "./rules.js";
import type { StorageImage, Volume, Relationship } from "./image.js";

const EXTENT_TRACKS = EXTENT_SIZE / TRACK_SIZE;

export interface RelationshipSnapshot extends Relationship {
  readonly pendingTracks: number;
  readonly copiedBytes: number;
  // Control bitmap (bit set = track not yet copied) and, for -record
  // relationships, the change records of source and target: u64 words in
  // little-endian bytes, an even number of words (bitmapBytes()).
  readonly bitmap: Uint8Array;
  readonly recordSource: Uint8Array | null;
  readonly recordTarget: Uint8Array | null;
}

// Bytes of each bitmap of a relationship over `trackCount` source tracks:
// one bit per track in u64 words, the word count rounded up to even
// (assembly/bitmap.ts, so that its 128-bit scans stay inside).
export function bitmapBytes(trackCount: number): number {
  const words = Math.ceil(trackCount / 64);
  return (words + (words & 1)) * 8;
}

// Set bits of a bitmap: the pending tracks of a control bitmap.
export function bitmapPopulation(bitmap: Uint8Array): number {
  let count = 0;
  for (let index = 0; index < bitmap.byteLength; index++) {
    let byte = bitmap[index];
    while (byte !== 0) {
      byte &= byte - 1;
      count++;
    }
  }
  return count;
}

export type DataRunVisitor = (firstTrack: number, bytes: Uint8Array) => void;

// Bytes of `track` that lie within the volume: TRACK_SIZE but for a last, partial track.
function trackLength(volume: Volume, track: number): number {
  return Math.min(TRACK_SIZE, volume.sizeBytes - track * TRACK_SIZE);
}

function extentBytes(image: StorageImage, volume: Volume, firstTrack: number, trackCount: number): Uint8Array {
  const extent = Math.floor(firstTrack / EXTENT_TRACKS);
  if (Math.floor((firstTrack + trackCount - 1) / EXTENT_TRACKS) !== extent) {
    throw new EngineError("BAD_ARGUMENT", `tracks ${firstTrack} to ${firstTrack + trackCount - 1} of volume ${volume.id} cross an extent`);
  }
  const data = image.core.exports.volume_extent_pointer(volume.slot, extent) >>> 0;
  const length = (trackCount - 1) * TRACK_SIZE + trackLength(volume, firstTrack + trackCount - 1);
  if (data === 0) return new Uint8Array(length); // unallocated: reads as zeros
  const at = data + (firstTrack % EXTENT_TRACKS) * TRACK_SIZE;
  return image.core.view().subarray(at, at + length);
}

// Calls `visit` for each run of consecutive non-zero tracks of the volume's
// own storage (no FlashCopy redirect), at most `tracksMax` tracks, never
// across an extent; `bytes` is a view of shared memory, valid during the call
// only. WITHOUT quiescing: other threads may change the bytes while they are
// visited, so this makes a provisional copy, which a quiesced ImageCapture
// then corrects (trackChanges). Volumes are created and removed only on the
// image's own thread, so the volume and its extents stay in place meanwhile.
export function scanVolumeData(image: StorageImage, volume: Volume, tracksMax: number, visit: DataRunVisitor): void {
  if (!Number.isInteger(tracksMax) || tracksMax < 1) throw new EngineError("BAD_ARGUMENT", `tracksMax ${tracksMax} is not a whole number from 1`);
  const extentCount = Math.ceil(volume.sizeBytes / EXTENT_SIZE);
  for (let extent = 0; extent < extentCount; extent++) {
    let mask = image.core.exports.extent_nonzero_mask(volume.slot, extent);
    while (mask !== 0) {
      const start = 31 - Math.clz32(mask & -mask);
      let count = 0;
      while (count < tracksMax && start + count < EXTENT_TRACKS && (mask & (1 << (start + count))) !== 0) count++;
      mask &= ~(((1 << count) - 1) << start);
      const firstTrack = extent * EXTENT_TRACKS + start;
      visit(firstTrack, extentBytes(image, volume, firstTrack, count));
    }
  }
}

// An image frozen at one point in time. Every read method throws once resumed.
export class ImageCapture {
  private active = true;

  constructor(readonly image: StorageImage) {}

  private checkActive(): void {
    if (!this.active) throw new EngineError("BAD_ARGUMENT", `storage image ${this.image.id} is no longer quiesced`);
  }

  relationships(): RelationshipSnapshot[] {
    this.checkActive();
    const exports = this.image.core.exports;
    return this.image.listRelationships().map((relationship) => {
      const bytes = bitmapBytes(relationship.trackCount);
      const copyOut = (pointer: number): Uint8Array | null => {
        const at = pointer >>> 0;
        return at === 0 ? null : this.image.core.view().slice(at, at + bytes);
      };
      const bitmap = copyOut(exports.rel_bitmap_pointer(relationship.slot));
      if (bitmap === null) throw new EngineError("RELATIONSHIP_NOT_FOUND", `FlashCopy pair ${relationship.id} has no bitmap in the core`);
      return {
        ...relationship,
        pendingTracks: exports.rel_pending(relationship.slot),
        copiedBytes: Number(exports.rel_copied_bytes(relationship.slot)),
        bitmap,
        recordSource: copyOut(exports.rel_record_pointer(relationship.slot, 0)),
        recordTarget: copyOut(exports.rel_record_pointer(relationship.slot, 1)),
      };
    });
  }

  // The tracks of a volume whose bytes now differ from a provisional copy
  // (scanVolumeData), given the xxHash64 of each track as that copy saved it:
  // `changed` are non-zero now and were not saved, or were saved with other
  // bytes; `zeroed` were saved non-zero and are all zero now. Hashes every
  // non-zero track in place (the core's xxHash64, ~8 GB/s), which is most of
  // the quiesced window. Two different contents of one track with the same
  // 64-bit hash would go unnoticed: odds of 2^-64 per changed track.
  trackChanges(volume: Volume, saved: ReadonlyMap<number, bigint>): { changed: number[]; zeroed: number[] } {
    this.checkActive();
    const exports = this.image.core.exports;
    const changed: number[] = [];
    const zeroed = new Set(saved.keys());
    const extentCount = Math.ceil(volume.sizeBytes / EXTENT_SIZE);
    for (let extent = 0; extent < extentCount; extent++) {
      const mask = exports.extent_nonzero_mask(volume.slot, extent);
      if (mask === 0) continue;
      const data = exports.volume_extent_pointer(volume.slot, extent) >>> 0;
      for (let index = 0; index < EXTENT_TRACKS; index++) {
        if ((mask & (1 << index)) === 0) continue;
        const track = extent * EXTENT_TRACKS + index;
        zeroed.delete(track);
        const hash = BigInt.asUintN(64, exports.hash_memory(data + index * TRACK_SIZE, trackLength(volume, track)));
        if (saved.get(track) !== hash) changed.push(track);
      }
    }
    return { changed, zeroed: [...zeroed].sort((a, b) => a - b) };
  }

  // A view of the volume's own bytes of tracks [firstTrack, firstTrack +
  // trackCount), all in one extent, the last track cut at the volume's end.
  // Valid until the capture is resumed.
  trackBytes(volume: Volume, firstTrack: number, trackCount: number): Uint8Array {
    this.checkActive();
    return extentBytes(this.image, volume, firstTrack, trackCount);
  }

  resume(): void {
    if (!this.active) return;
    this.active = false;
    const code = this.image.core.exports.image_resume();
    if (code !== CoreCode.OK) throw coreError(code, `resume storage image ${this.image.id}`);
  }
}

// Freezes every volume of the image; the caller must resume() the capture,
// also when it fails (try/finally). Must run on the thread that owns the image.
export function quiesceImage(image: StorageImage): ImageCapture {
  if (image.isClosed) throw new EngineError("CLOSED", `storage image ${image.id} is closed`);
  const code = image.core.exports.image_quiesce();
  if (code !== CoreCode.OK) throw coreError(code, `quiesce storage image ${image.id} for a consistent save`);
  return new ImageCapture(image);
}

export interface VolumeRestore {
  id: string;
  slot: number;
  blocks: number;
  unit: Volume["unit"];
  os: Volume["os"];
  name: string;
  pool?: string | null; // extent pool ID; absent in state files older than pools
  createdAt: Date;
}

// Creates an empty volume with saved attributes, in its saved slot.
export function restoreVolume(image: StorageImage, spec: VolumeRestore): Volume {
  const id = parseVolumeId(spec.id);
  if (image.hasVolume(id)) throw new EngineError("VOLUME_EXISTS", `volume ${id} already exists on ${image.id}`);
  if (!Number.isInteger(spec.slot) || spec.slot < 0 || spec.slot >= VOLUME_SLOT_MAX) {
    throw new EngineError("BAD_ARGUMENT", `volume ${id}: slot ${spec.slot} is not from 0 to ${VOLUME_SLOT_MAX - 1}`);
  }
  if (image.core.exports.volume_state(spec.slot) !== VolumeState.FREE) {
    throw new EngineError("BUSY", `volume ${id}: slot ${spec.slot} of ${image.id} is in use`);
  }
  const pool = spec.pool ? image.poolForLss(spec.pool, lssOf(id)) : null;
  const sizeBytes = spec.blocks * BLOCK_SIZE;
  const code = image.core.exports.volume_create(spec.slot, BigInt(sizeBytes));
  if (code !== CoreCode.OK) throw coreError(code, `restore volume ${id}`);
  if (pool) image.core.exports.volume_set_pool(spec.slot, pool.index + 1);
  const volume: Volume = {
    id, lss: lssOf(id), slot: spec.slot, blocks: spec.blocks, sizeBytes, unit: spec.unit, os: spec.os, name: spec.name,
    pool: pool?.id ?? null, createdAt: spec.createdAt,
  };
  image.adoptVolume(volume);
  return volume;
}

// Writes a volume's own bytes from `firstTrack` on, bypassing FlashCopy; the
// volume must not be in a relationship yet.
export function writeVolumeTracks(image: StorageImage, volumeId: string, firstTrack: number, data: Uint8Array): void {
  const volume = image.volume(volumeId);
  const offset = firstTrack * TRACK_SIZE;
  if (!Number.isInteger(firstTrack) || firstTrack < 0 || offset + data.byteLength > volume.sizeBytes) {
    throw new EngineError("OUT_OF_RANGE", `volume ${volume.id}: ${data.byteLength} bytes from track ${firstTrack} lie beyond its end (${volume.sizeBytes} bytes)`);
  }
  const staging = image.core.staging();
  for (let done = 0; done < data.byteLength; done += STAGING_SIZE) {
    const chunk = data.subarray(done, done + STAGING_SIZE);
    staging.set(chunk);
    const code = image.core.exports.raw_write(volume.slot, offset + done, chunk.byteLength, image.core.stagingPointer);
    if (code !== CoreCode.OK) throw coreError(code, `restore the data of volume ${volume.id}`);
  }
}

// Leaves a volume unusable, as a withdrawn incomplete copy did.
export function markUnusable(image: StorageImage, volumeId: string): void {
  const volume = image.volume(volumeId);
  const code = image.core.exports.volume_mark_unusable(volume.slot);
  if (code !== CoreCode.OK) throw coreError(code, `mark volume ${volume.id} unusable`);
}

export interface RelationshipRestore {
  sourceId: string;
  targetId: string;
  slot: number;
  nocopy: boolean;
  persist: boolean;
  record: boolean;
  tgtinhibit: boolean;
  seqnum: number;
  createdAt: Date;
  syncedAt: Date | null;
  copiedBytes: number;
  bitmap: Uint8Array;
  recordSource: Uint8Array | null;
  recordTarget: Uint8Array | null;
}

function facts(image: StorageImage, volume: Volume): VolumeFacts {
  let sourceOf = 0;
  let targetOf = 0;
  for (const relationship of image.relationshipsOf(volume.id)) {
    if (relationship.sourceId === volume.id) sourceOf++;
    if (relationship.targetId === volume.id) targetOf++;
  }
  return { id: volume.id, blocks: volume.blocks, os: volume.os, sourceOf, targetOf, usable: image.dataState(volume.id) === "Normal" };
}

function checkBitmaps(pair: string, spec: RelationshipRestore, bytes: number): void {
  const given: [string, Uint8Array | null][] = [["bitmap", spec.bitmap], ["recordSource", spec.recordSource], ["recordTarget", spec.recordTarget]];
  for (const [field, bitmap] of given) {
    const wanted = field === "bitmap" || spec.record;
    if (wanted && bitmap?.byteLength !== bytes) {
      throw new EngineError("BAD_ARGUMENT", `FlashCopy pair ${pair}: ${field} must be ${bytes} bytes for its source, not ${bitmap?.byteLength ?? "missing"}`);
    }
    if (!wanted && bitmap !== null) throw new EngineError("BAD_ARGUMENT", `FlashCopy pair ${pair}: ${field} is given but the pair has no -record`);
  }
}

// Re-creates a relationship with its saved bitmaps, under the image model's
// rules. Background copy resumes from the bitmap as soon as it is linked.
// Returns it with its pending track count as the core counted it when linking
// (a copy worker may have copied more since).
export function restoreRelationship(image: StorageImage, spec: RelationshipRestore): { relationship: Relationship; pendingTracks: number } {
  const source = image.volume(spec.sourceId);
  const target = image.volume(spec.targetId);
  const id = pairId(source.id, target.id);
  checkEstablish(image.model, facts(image, source), facts(image, target), image.hasRelationship(id));
  if (!Number.isInteger(spec.slot) || spec.slot < 0 || spec.slot >= REL_SLOT_MAX) {
    throw new EngineError("BAD_ARGUMENT", `FlashCopy pair ${id}: slot ${spec.slot} is not from 0 to ${REL_SLOT_MAX - 1}`);
  }
  const trackCount = Math.ceil(source.sizeBytes / TRACK_SIZE);
  const bytes = bitmapBytes(trackCount);
  checkBitmaps(id, spec, bytes);
  const staging = image.core.staging();
  staging.set(spec.bitmap, 0);
  if (spec.record) {
    staging.set(spec.recordSource as Uint8Array, bytes);
    staging.set(spec.recordTarget as Uint8Array, 2 * bytes);
  }
  const flags = (spec.nocopy ? 0 : RelFlag.BACKGROUND)
    | (spec.tgtinhibit ? RelFlag.TGTINHIBIT : 0)
    | (spec.record ? RelFlag.RECORD : 0)
    | (spec.persist ? RelFlag.PERSIST : 0);
  const exports = image.core.exports;
  const pendingTracks = exports.rel_restore(spec.slot, source.slot, target.slot, flags, image.core.stagingPointer, BigInt(spec.copiedBytes));
  if (pendingTracks < 0) throw coreError(pendingTracks, `restore FlashCopy pair ${id}`);
  const relationship: Relationship = {
    id, sourceId: source.id, targetId: target.id, slot: spec.slot, trackCount,
    nocopy: spec.nocopy, persist: spec.persist, record: spec.record, tgtinhibit: spec.tgtinhibit, seqnum: spec.seqnum,
    createdAt: spec.createdAt, syncedAt: spec.syncedAt,
  };
  image.adoptRelationship(relationship);
  return { relationship, pendingTracks };
}
