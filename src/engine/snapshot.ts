// The engine side of saving and loading storage images (src/store uses it).
//
// Capture, so that host I/O and copies wait as briefly as possible:
//   1. claimChanges() takes the image's change bitmaps for one save: every
//      change to a track's own bytes sets the track's bit (assembly/volume.ts);
//   2. while the image runs, the caller reads the volumes' non-zero tracks
//      (dataRuns), then, again and again, the tracks whose bits it takes
//      (ChangeClaim.take): provisional copies, each correcting the last;
//   3. quiesceImage() freezes every volume (assembly/snapshot.ts) and returns
//      an ImageCapture: the image at one point in time. The caller takes the
//      bits once more, reads those few tracks and the relationships with their
//      bitmaps, and resumes.
// Copy workers and host I/O wait at the volume gates during step 3 only (at
// most 20 s, after which they fail with GATE_TIMEOUT).
//
// Restore, into a new image nobody else uses yet, in this order:
//   restoreVolume → writeVolumeTracks → markUnusable → restoreRelationship.
// Relationships come last: the core refuses raw writes to a volume in one,
// and a copy worker must not see a relationship before the data it copies.

import {
  CoreCode, TRACK_SIZE, BLOCK_SIZE, EXTENT_SIZE, EXTENT_TRACKS, STAGING_SIZE, VOLUME_SLOT_MAX, REL_SLOT_MAX, RelFlag, VolumeState,
  CHUNK_TRACKS, CHUNK_CLEAR, CHUNK_SET,
} from "../core/codes.js";
import { EngineError } from "./errors.js";
import { coreError } from "./core-errors.js";
import { stage, STAGING_CHUNK } from "./staging.js";
import { parseVolumeId, lssOf, pairId } from "./ids.js";
import { checkEstablish, type VolumeFacts } from "./rules.js";
import type { StorageImage, Volume, Relationship } from "./image.js";
import type { Sam } from "./provision.js";

// A bitmap of a relationship as it is saved and restored, in the core's two
// levels (assembly/bitmap.ts): for each chunk of CHUNK_TRACKS tracks, "clear"
// (no bit set), "set" (every bit of the chunk set), or the chunk's bits as u64
// words in little-endian bytes (leafBytes()), bits past the last track clear.
export type BitmapChunk = "clear" | "set" | Uint8Array;

export interface ChunkedBitmap {
  readonly trackCount: number;
  readonly chunks: readonly BitmapChunk[];
}

export interface RelationshipSnapshot extends Relationship {
  readonly pendingTracks: number;
  readonly copiedBytes: number;
  // Control bitmap (bit set = track not yet copied) and, for -record
  // relationships, the change records of source and target.
  readonly bitmap: ChunkedBitmap;
  readonly recordSource: ChunkedBitmap | null;
  readonly recordTarget: ChunkedBitmap | null;
  // While a -freeze holds the source's writes: when its LSS's timeout ends the hold (ms since 1970).
  readonly heldUntil: number | null;
}

export function chunkCount(trackCount: number): number {
  return Math.ceil(trackCount / CHUNK_TRACKS);
}

// Tracks of a chunk: CHUNK_TRACKS, fewer in the last one.
export function chunkTracks(trackCount: number, chunk: number): number {
  return Math.min(CHUNK_TRACKS, trackCount - chunk * CHUNK_TRACKS);
}

// Bytes of a chunk's leaf: one bit per track in u64 words, the word count
// rounded up to even (so that the core's 128-bit scans stay inside).
export function leafBytes(trackCount: number, chunk: number): number {
  const words = Math.ceil(chunkTracks(trackCount, chunk) / 64);
  return (words + (words & 1)) * 8;
}

function bytePopulation(bytes: Uint8Array): number {
  let count = 0;
  for (let index = 0; index < bytes.byteLength; index++) {
    let byte = bytes[index];
    while (byte !== 0) {
      byte &= byte - 1;
      count++;
    }
  }
  return count;
}

// Set bits of a bitmap: the pending tracks of a control bitmap.
export function bitmapPopulation(bitmap: ChunkedBitmap): number {
  let count = 0;
  bitmap.chunks.forEach((chunk, index) => {
    if (chunk === "set") count += chunkTracks(bitmap.trackCount, index);
    else if (chunk !== "clear") count += bytePopulation(chunk);
  });
  return count;
}

// True when no bit past the chunk's last track is set.
export function leafTailClear(trackCount: number, chunk: number, leaf: Uint8Array): boolean {
  const tracks = chunkTracks(trackCount, chunk);
  for (let bit = tracks; bit < leaf.byteLength * 8; bit++) {
    if ((leaf[bit >> 3] & (1 << (bit & 7))) !== 0) return false;
  }
  return true;
}

// A flat bitmap (state format 1: one run of u64 words over all tracks) in chunks.
export function bitmapFromFlat(flat: Uint8Array, trackCount: number): ChunkedBitmap {
  const chunks: BitmapChunk[] = [];
  for (let chunk = 0; chunk < chunkCount(trackCount); chunk++) {
    const start = (chunk * CHUNK_TRACKS) / 8;
    const leaf = new Uint8Array(leafBytes(trackCount, chunk));
    leaf.set(flat.subarray(start, start + leaf.byteLength));
    const population = bytePopulation(leaf);
    chunks.push(population === 0 ? "clear" : population === chunkTracks(trackCount, chunk) ? "set" : leaf);
  }
  return { trackCount, chunks };
}

// Copies a bitmap out of the core's memory (the image quiesced, so it holds still).
function readBitmap(image: StorageImage, pointer: number): ChunkedBitmap {
  const view = new DataView(image.core.memory.buffer);
  const trackCount = view.getUint32(pointer, true);
  const count = view.getUint32(pointer + 4, true);
  const chunks: BitmapChunk[] = [];
  for (let chunk = 0; chunk < count; chunk++) {
    const entry = view.getUint32(pointer + 8 + 4 * chunk, true);
    if (entry === CHUNK_CLEAR) chunks.push("clear");
    else if (entry === CHUNK_SET) chunks.push("set");
    else chunks.push(image.core.view().slice(entry, entry + leafBytes(trackCount, chunk)));
  }
  return { trackCount, chunks };
}

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

// A run of consecutive tracks of one extent: their bytes (a view of shared
// memory, valid until the next allocation in the image or the volume's
// removal), or null when they all read as zeros.
export interface TrackRun {
  firstTrack: number;
  trackCount: number;
  bytes: Uint8Array | null;
}

// Runs of the volume's own storage (no FlashCopy redirect), at most
// `tracksMax` tracks long, never across an extent, in ascending order: with
// `tracks` null, the runs of non-zero tracks of the whole volume; else the
// given tracks (ascending), zero or not. WITHOUT quiescing: other threads may
// change the bytes while they are read, so this makes a provisional copy,
// which the tracks' change bits then correct. A generator, so that the caller
// can yield between runs; volumes are created and removed only on the image's
// own thread, and a save checks afterwards that none was (store/save.ts).
// `extents` [first, end) limits a whole-volume scan.
export function* dataRuns(
  image: StorageImage, volume: Volume, tracks: readonly number[] | null, tracksMax: number, extents?: [number, number],
): Generator<TrackRun> {
  if (!Number.isInteger(tracksMax) || tracksMax < 1) throw new EngineError("BAD_ARGUMENT", `tracksMax ${tracksMax} is not a whole number from 1`);
  const extentCount = Math.ceil(volume.sizeBytes / EXTENT_SIZE);
  const [first, end] = extents ?? [0, extentCount];
  const visited = tracks === null ? allocatedExtents(image, volume, first, Math.min(end, extentCount)) : extentsOf(tracks);
  for (const [extent, wanted] of visited) {
    const nonzero = image.core.exports.extent_nonzero_tracks(volume.slot, extent, wanted);
    let mask = tracks === null ? nonzero : wanted;
    while (mask !== 0) {
      const start = 31 - Math.clz32(mask & -mask);
      const isData = (nonzero & (1 << start)) !== 0;
      let count = 0;
      while (count < tracksMax && start + count < EXTENT_TRACKS && (mask & (1 << (start + count))) !== 0
        && ((nonzero & (1 << (start + count))) !== 0) === isData) count++;
      mask &= ~(((1 << count) - 1) << start);
      const firstTrack = extent * EXTENT_TRACKS + start;
      yield { firstTrack, trackCount: count, bytes: isData ? extentBytes(image, volume, firstTrack, count) : null };
    }
  }
}

// The allocated extents of [first, end), each with all its tracks wanted:
// extents never written read as zeros and are skipped in the core, 4 GiB
// groups at a time (assembly/volume.ts next_allocated_extent).
function* allocatedExtents(image: StorageImage, volume: Volume, first: number, end: number): Generator<[number, number]> {
  const exports = image.core.exports;
  for (let extent = exports.volume_next_extent(volume.slot, first); extent >= 0 && extent < end;
    extent = exports.volume_next_extent(volume.slot, extent + 1)) yield [extent, 0xffff];
}

// Ascending tracks grouped by extent: [extent, mask of its tracks].
function* extentsOf(tracks: readonly number[]): Generator<[number, number]> {
  let extent = -1;
  let mask = 0;
  for (const track of tracks) {
    const own = Math.floor(track / EXTENT_TRACKS);
    if (own !== extent && mask !== 0) yield [extent, mask];
    if (own !== extent) mask = 0;
    extent = own;
    mask |= 1 << (track % EXTENT_TRACKS);
  }
  if (mask !== 0) yield [extent, mask];
}

// One save's hold on an image's change bitmaps; release() it when done,
// also on failure (try/finally).
export class ChangeClaim {
  private held = true;

  constructor(readonly image: StorageImage) {}

  // The tracks of the volume changed since their bits were last taken,
  // ascending; their bits are clear afterwards. With `range` [first, end)
  // (multiples of 64, end past the last track for the rest), only tracks in
  // it: a caller that must not hold its thread long takes a volume range by range.
  take(volume: Volume, range?: [number, number]): number[] {
    if (!this.held) throw new EngineError("BAD_ARGUMENT", `the change bitmaps of ${this.image.id} were released`);
    const exports = this.image.core.exports;
    const trackCount = Math.ceil(volume.sizeBytes / TRACK_SIZE);
    const [first, end] = range ?? [0, trackCount];
    if (first % 64 !== 0 || (end % 64 !== 0 && end < trackCount)) {
      throw new EngineError("BAD_ARGUMENT", `tracks ${first} to ${end} of volume ${volume.id} do not start and end on a 64-track word`);
    }
    const rangeEnd = Math.min(end, trackCount);
    const wordCount = Math.ceil(rangeEnd / 64);
    const wordsMax = STAGING_SIZE / 8;
    const tracks: number[] = [];
    // From one changed track to the next: chunks with nothing changed are
    // skipped in the core, so a take costs what changed, not the capacity.
    let found = this.nextChanged(volume, first, rangeEnd);
    while (found >= 0) {
      const firstWord = Math.floor(found / 64);
      const chunkEnd = (Math.floor(found / CHUNK_TRACKS) + 1) * (CHUNK_TRACKS / 64);
      const count = Math.min(wordsMax, wordCount - firstWord, chunkEnd - firstWord);
      const taken = exports.volume_take_changed(volume.slot, firstWord, count, this.image.core.stagingPointer);
      if (taken < 0) throw coreError(taken, `take the changed tracks of volume ${volume.id}`);
      if (taken > 0) this.collect(firstWord, count, tracks);
      found = this.nextChanged(volume, (firstWord + count) * 64, rangeEnd);
    }
    return tracks;
  }

  // The first changed track at or after `from` and before `end`, or -1.
  private nextChanged(volume: Volume, from: number, end: number): number {
    if (from >= end) return -1;
    const found = this.image.core.exports.volume_next_changed(volume.slot, from);
    if (found < -1) throw coreError(found, `find the changed tracks of volume ${volume.id}`);
    return found < end ? found : -1;
  }

  // Appends the tracks of the `count` words the core left in staging.
  private collect(firstWord: number, count: number, tracks: number[]): void {
    const words = new DataView(this.image.core.staging(count * 8).slice().buffer);
    for (let index = 0; index < count; index++) {
      for (const half of [0, 1]) {
        let bits = words.getUint32(index * 8 + half * 4, true);
        while (bits !== 0) {
          const bit = 31 - Math.clz32(bits & -bits);
          tracks.push((firstWord + index) * 64 + half * 32 + bit);
          bits &= bits - 1;
        }
      }
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    this.image.core.exports.image_save_release();
  }
}

// True when a track of some volume of the image changed since a save last
// took its change bit (or since the volume was made): what a periodic save
// would have to write. It only reads the bits, so it needs no claim.
export function hasUnsavedChanges(image: StorageImage): boolean {
  if (image.isClosed) return false;
  for (const info of image.listVolumes()) {
    const found = image.core.exports.volume_next_changed(image.volume(info.id).slot, 0);
    if (found < -1) throw coreError(found, `find the changed tracks of volume ${info.id}`);
    if (found >= 0) return true;
  }
  return false;
}

// Claims the image's change bitmaps for one save: BUSY while another save has them.
export function claimChanges(image: StorageImage): ChangeClaim {
  if (image.isClosed) throw new EngineError("CLOSED", `storage image ${image.id} is closed`);
  if (image.core.exports.image_save_claim() !== CoreCode.OK) {
    throw new EngineError("BUSY", `storage image ${image.id} is being saved already; one save at a time`);
  }
  return new ChangeClaim(image);
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
      const copyOut = (which: number): ChunkedBitmap | null => {
        const pointer = exports.rel_bitmap(relationship.slot, which);
        return pointer === 0 ? null : readBitmap(this.image, pointer);
      };
      const bitmap = copyOut(0);
      if (bitmap === null) throw new EngineError("RELATIONSHIP_NOT_FOUND", `FlashCopy pair ${relationship.id} has no bitmap in the core`);
      return {
        ...relationship,
        pendingTracks: exports.rel_pending(relationship.slot),
        copiedBytes: Number(exports.rel_copied_bytes(relationship.slot)),
        bitmap,
        recordSource: copyOut(1),
        recordTarget: copyOut(2),
        heldUntil: relationship.writesHeld ? this.image.freezeDeadline(this.image.volume(relationship.sourceId).lss) : null,
      };
    });
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
// Its drain of each volume waits up to drainMs, sleeping in the core, for
// I/O in flight on other threads; a caller on the main thread passes a short
// bound and retries a DRAIN_TIMEOUT from the event loop (src/store/save.ts,
// as image.drained() does), so that the thread never sleeps there for long.
export function quiesceImage(image: StorageImage, drainMs = image.waitTimeouts.drain): ImageCapture {
  if (image.isClosed) throw new EngineError("CLOSED", `storage image ${image.id} is closed`);
  // A revertible increment keeps the target's previous image in the core, which a state file does not hold.
  const revertible = image.listRelationships().find((relationship) => relationship.revertible);
  if (revertible) {
    throw new EngineError("REVERTIBLE", `FlashCopy pair ${revertible.id} is revertible: commitflash or revertflash it first (a state file does not keep the previous image)`);
  }
  const exports = image.core.exports;
  exports.set_wait_timeouts(0, 0, 0, drainMs);
  let code: number;
  try {
    code = exports.image_quiesce();
  } finally {
    exports.set_wait_timeouts(0, 0, 0, image.waitTimeouts.drain);
  }
  if (code !== CoreCode.OK) throw coreError(code, `quiesce storage image ${image.id} for a consistent save`, { ...image.waitTimeouts, drain: drainMs });
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
  sam?: Sam; // absent in state files older than standard volumes: ese
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
  const sam = spec.sam ?? "ese";
  if (sam === "standard") image.provisionNew(id, spec.slot, sizeBytes);
  const volume: Volume = {
    id, lss: lssOf(id), slot: spec.slot, blocks: spec.blocks, sizeBytes, unit: spec.unit, os: spec.os, name: spec.name,
    pool: pool?.id ?? null, sam, createdAt: spec.createdAt,
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
  // Staged at their own alignment (staging.ts): a state file's track data lies at odd offsets in its frames.
  for (let done = 0; done < data.byteLength; done += STAGING_CHUNK) {
    const chunk = data.subarray(done, done + STAGING_CHUNK);
    const code = image.core.exports.raw_write(volume.slot, offset + done, chunk.byteLength, stage(image.core, chunk));
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
  tgtpprc?: boolean; // mkflash -tgtpprc (the core checks it at establish only); absent: false
  seqnum: number;
  createdAt: Date;
  syncedAt: Date | null;
  copiedBytes: number;
  bitmap: ChunkedBitmap;
  recordSource: ChunkedBitmap | null;
  recordTarget: ChunkedBitmap | null;
  // A -freeze hold saved with it: when it ends (ms since 1970). A hold whose
  // time has passed is over, as a DS8000's extended long busy ends at its
  // timeout whatever happened meanwhile; absent or null: no hold.
  heldUntil?: number | null;
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

function checkBitmap(pair: string, field: string, bitmap: ChunkedBitmap, trackCount: number): void {
  const fail = (message: string) => new EngineError("BAD_ARGUMENT", `FlashCopy pair ${pair}: ${field} ${message}`);
  if (bitmap.trackCount !== trackCount) throw fail(`covers ${bitmap.trackCount} tracks, its source has ${trackCount}`);
  if (bitmap.chunks.length !== chunkCount(trackCount)) throw fail(`has ${bitmap.chunks.length} chunks, not ${chunkCount(trackCount)}`);
  bitmap.chunks.forEach((chunk, index) => {
    if (chunk === "clear" || chunk === "set") return;
    if (chunk.byteLength !== leafBytes(trackCount, index)) throw fail(`chunk ${index} must be ${leafBytes(trackCount, index)} bytes, not ${chunk.byteLength}`);
    if (!leafTailClear(trackCount, index, chunk)) throw fail(`chunk ${index} has bits set past the source's last track`);
  });
}

function checkBitmaps(pair: string, spec: RelationshipRestore, trackCount: number): void {
  const given: [string, ChunkedBitmap | null][] = [["bitmap", spec.bitmap], ["recordSource", spec.recordSource], ["recordTarget", spec.recordTarget]];
  for (const [field, bitmap] of given) {
    const wanted = field === "bitmap" || spec.record;
    if (wanted && bitmap === null) throw new EngineError("BAD_ARGUMENT", `FlashCopy pair ${pair}: ${field} is missing`);
    if (!wanted && bitmap !== null) throw new EngineError("BAD_ARGUMENT", `FlashCopy pair ${pair}: ${field} is given but the pair has no -record`);
    if (bitmap !== null) checkBitmap(pair, field, bitmap, trackCount);
  }
}

// Hands a restored relationship's bitmaps to the core, chunk by chunk.
function restoreBitmaps(image: StorageImage, slot: number, spec: RelationshipRestore): number {
  const bitmaps = [spec.bitmap, spec.recordSource, spec.recordTarget];
  const exports = image.core.exports;
  for (let which = 0; which < bitmaps.length; which++) {
    const bitmap = bitmaps[which];
    if (bitmap === null) continue;
    for (let chunk = 0; chunk < bitmap.chunks.length; chunk++) {
      const given = bitmap.chunks[chunk];
      if (given === "clear") continue;
      if (given !== "set") image.core.staging().set(given);
      const code = exports.rel_restore_chunk(slot, which, chunk, given === "set" ? 1 : 2, image.core.stagingPointer);
      if (code !== CoreCode.OK) return code;
    }
  }
  return CoreCode.OK;
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
  checkBitmaps(id, spec, trackCount);
  const heldUntil = spec.heldUntil ?? null;
  const held = heldUntil !== null && heldUntil > Date.now();
  const flags = (spec.nocopy ? 0 : RelFlag.BACKGROUND)
    | (spec.tgtinhibit ? RelFlag.TGTINHIBIT : 0)
    | (spec.record ? RelFlag.RECORD : 0)
    | (spec.persist ? RelFlag.PERSIST : 0)
    | (held ? RelFlag.HOLD_WRITES : 0);
  const exports = image.core.exports;
  const begun = exports.rel_restore_begin(spec.slot, source.slot, target.slot, flags, BigInt(spec.copiedBytes));
  if (begun !== CoreCode.OK) throw coreError(begun, `restore FlashCopy pair ${id}`);
  const filled = restoreBitmaps(image, spec.slot, spec);
  if (filled !== CoreCode.OK) {
    exports.rel_restore_abort(spec.slot);
    throw coreError(filled, `restore the bitmaps of FlashCopy pair ${id}`);
  }
  const pendingTracks = exports.rel_restore_link(spec.slot);
  if (pendingTracks < 0) throw coreError(pendingTracks, `restore FlashCopy pair ${id}`);
  const relationship: Relationship = {
    id, sourceId: source.id, targetId: target.id, slot: spec.slot, trackCount,
    nocopy: spec.nocopy, persist: spec.persist, record: spec.record, tgtinhibit: spec.tgtinhibit, seqnum: spec.seqnum,
    // Not in a state file: a revertible increment's saved tracks (save refuses a revertible pair).
    tgtpprc: spec.tgtpprc ?? false, revertible: false, writesHeld: held,
    createdAt: spec.createdAt, syncedAt: spec.syncedAt,
  };
  image.adoptRelationship(relationship, held ? heldUntil : undefined);
  return { relationship, pendingTracks };
}
