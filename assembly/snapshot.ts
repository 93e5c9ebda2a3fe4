// Snapshot support: what saving and loading a storage image needs from the core.
//
// Saving (src/store) captures the image at one point in time:
//
//   image_save_claim     own the volumes' change bitmaps (one save at a time)
//     volume_take_changed                             tracks changed since last taken
//   image_quiesce        freeze every volume (sync.ts freeze: each one drained of I/O)
//     volume_next_extent / extent_nonzero_mask / volume_extent_pointer
//                                                    read each volume's own bytes
//     rel_bitmap                                     read each relationship's bitmaps
//                                                    (bitmap.ts layout: summary, leaves)
//   image_resume         thaw every volume
//   image_save_release   give the change bitmaps up
//
// The change bitmaps (volume.ts) let the host copy the data while the image
// runs, again and again for what changed meanwhile, and quiesce only for the
// last few changed tracks.
//
// While the image is quiesced no other thread is inside any volume's gate, so
// nothing changes: host I/O enters the gate of the volume it addresses, and a
// copy worker enters the gate of the relationship's source, before touching
// track data, a track lock, a bitmap or a pending counter (io.ts, copy.ts). They
// wait at the gates, at most 20 s (sync.ts), so the host keeps the quiesced
// window short and measures it.
//
// Loading builds a fresh image, in this order (src/engine/snapshot.ts):
//
//   volume_create        each volume, empty
//   raw_write            its own bytes, allowed only while it is in no relationship
//   volume_mark_unusable volumes left unusable by a withdrawn incomplete copy
//   rel_restore_begin    each relationship, its bitmaps all clear, not yet linked
//   rel_restore_chunk    its saved bitmaps, a chunk at a time (all clear, all
//                        set, or the words of a leaf)
//   rel_restore_link     linked last, so a copy worker never sees it before its data
//                        (rel_restore_abort frees it instead)
//
// "Own bytes" (physical) are what the volume's extents hold, without the
// FlashCopy redirect of io.ts: a target's pending track is saved as it lies on
// the target, and after loading reads are again served from the source because
// the control bitmap comes back with them.

import {
  OK, E_BAD_ARGUMENT, E_BUSY, E_NO_SPACE, E_NO_VOLUME, E_RANGE,
  EXTENT_SIZE, EXTENT_TRACKS, TRACK_SHIFT, TRACK_SIZE, WORD_TRACK_SHIFT,
  REL_SLOT_MAX, VOLUME_SLOT_MAX, H_SAVE_CLAIM,
  V_STATE, V_SIZE, V_TRACKS, V_EXTENT_COUNT, V_TARGET_REL, V_SOURCE_HEAD,
  VOLUME_FREE, VOLUME_UNUSABLE,
  R_STATE, R_FLAGS, R_SOURCE, R_TARGET, R_TRACKS, R_BITMAP, R_PENDING, R_CURSOR,
  R_COPIED_BYTES, R_RECORD_SOURCE, R_RECORD_TARGET, R_SETTLED,
  REL_FREE, REL_ACTIVE, REL_RESTORING, REL_BACKGROUND, REL_TGTINHIBIT, REL_RECORD, REL_PERSIST, REL_HOLD_WRITES,
  volume_at, rel_at, base,
} from "./layout";
import { freeze, thaw, gate_enter, gate_exit } from "./sync";
import {
  bitmap_count, bitmap_chunks, chunk_entry, leaf_ensure, leaf_words, chunk_track_count, chunk_mark_set, CHUNK_CLEAR,
  word_take, bitmap_find,
} from "./bitmap";
import { link_relationship, free_bitmaps, alloc_bitmaps } from "./relationship";
import { ensure_range, write_pointer, extent_data, next_allocated_extent, mark_changed, changed_bitmap, changed_ensure } from "./volume";

// REL_HOLD_WRITES: a -freeze hold comes back with its relationship while its LSS's timeout has not passed.
const REL_FLAGS_KNOWN: u32 = REL_BACKGROUND | REL_TGTINHIBIT | REL_RECORD | REL_PERSIST | REL_HOLD_WRITES;
const ZERO_CHECK_STRIDE: u32 = 1024; // bytes OR-ed together between early-exit checks

// Per thread (module globals are per instance): true while this thread holds
// every volume of the image frozen. Only the quiescing thread may resume.
let quiesced: bool = false;

// @ts-ignore: decorator
@inline function volume_in_use(slot: u32): bool {
  return atomic.load<u32>(volume_at(slot) + V_STATE) != VOLUME_FREE;
}

function thaw_below(slot_end: u32): void {
  for (let slot: u32 = 0; slot < slot_end; slot++) {
    if (volume_in_use(slot)) thaw(volume_at(slot));
  }
}

// Freezes every volume, in slot order. Freezing one volume never waits on
// another (I/O holds one gate at a time), so the drains cannot deadlock. On a
// failure the volumes frozen so far are thawed and the code is returned. The
// host serialises freezers (establish, withdraw, remove, quiesce) on one
// thread and must not be inside a gate itself.
export function image_quiesce(): i32 {
  if (quiesced) return E_BUSY;
  for (let slot: u32 = 0; slot < VOLUME_SLOT_MAX; slot++) {
    if (!volume_in_use(slot)) continue;
    const frozen = freeze(volume_at(slot));
    if (frozen != OK) {
      thaw_below(slot);
      return frozen;
    }
  }
  quiesced = true;
  return OK;
}

// Claims the change bitmaps for one save; E_BUSY while another save holds them.
export function image_save_claim(): i32 {
  return atomic.cmpxchg<i32>(base() + H_SAVE_CLAIM, 0, 1) == 0 ? OK : E_BUSY;
}

export function image_save_release(): void {
  atomic.store<i32>(base() + H_SAVE_CLAIM, 0);
}

// Moves words [first_word, first_word + word_count) of a volume's change
// bitmap (word w: tracks 64 w ..) to `destination` (u64 words), leaving them
// clear. Returns the number of tracks they mark, or an error code. Only the
// claiming save calls it. Chunks with nothing changed cost one summary load
// per word; an all-changed chunk gets a leaf of set bits first (bitmap.ts
// word_take).
export function volume_take_changed(slot: u32, first_word: u32, word_count: u32, destination: usize): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_NO_VOLUME;
  if (!volume_in_use(slot)) return E_NO_VOLUME;
  const volume = volume_at(slot);
  const words = (load<u32>(volume + V_TRACKS) + 63) >>> WORD_TRACK_SHIFT;
  if (<u64>first_word + <u64>word_count > <u64>words) return E_RANGE;
  const bitmap = changed_bitmap(volume);
  let count: i32 = 0;
  for (let index: u32 = 0; index < word_count; index++) {
    const word = word_take(bitmap, first_word + index);
    store<u64>(destination + (<usize>index << 3), word);
    count += <i32>popcnt<u64>(word);
  }
  return count;
}

// The first track at or after `from_track` whose change bit is set, or -1:
// chunks with nothing changed are skipped a summary entry at a time, so a
// save of a 16 TiB volume with few changes does not read 32 MiB of bits.
export function volume_next_changed(slot: u32, from_track: u32): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_NO_VOLUME;
  if (!volume_in_use(slot)) return E_NO_VOLUME;
  return bitmap_find(changed_bitmap(volume_at(slot)), from_track);
}

// Thaws what image_quiesce froze. No volume is created or removed meanwhile:
// both happen on the quiescing thread, and removal would need a freeze.
export function image_resume(): i32 {
  if (!quiesced) return E_BAD_ARGUMENT;
  thaw_below(VOLUME_SLOT_MAX);
  quiesced = false;
  return OK;
}

// Data pointer of extent `extent` of a volume, 0 when it is unallocated (it
// reads as zeros) or out of range. The pointer stays valid until the volume is
// removed or reinitialised; its bytes are stable only while quiesced.
export function volume_extent_pointer(slot: u32, extent: u32): usize {
  if (slot >= VOLUME_SLOT_MAX) return 0;
  if (!volume_in_use(slot)) return 0;
  const volume = volume_at(slot);
  if (extent >= load<u32>(volume + V_EXTENT_COUNT)) return 0;
  return extent_data(volume, extent);
}

// The first allocated extent of a volume at or after `from_extent`, or -1:
// saving and checksums visit written extents only.
export function volume_next_extent(slot: u32, from_extent: u32): i32 {
  if (slot >= VOLUME_SLOT_MAX) return -1;
  if (!volume_in_use(slot)) return -1;
  return next_allocated_extent(volume_at(slot), from_extent);
}

// True when the TRACK_SIZE bytes at `pointer` are all zero. OR-folds 16-byte
// lanes, checking every ZERO_CHECK_STRIDE bytes so live data exits early.
function track_is_zero(pointer: usize): bool {
  for (let chunk: u32 = 0; chunk < TRACK_SIZE; chunk += ZERO_CHECK_STRIDE) {
    let folded = i64x2.splat(0);
    const at = pointer + <usize>chunk;
    for (let lane: u32 = 0; lane < ZERO_CHECK_STRIDE; lane += 64) {
      folded = v128.or(folded, v128.load(at + <usize>lane));
      folded = v128.or(folded, v128.load(at + <usize>lane + 16));
      folded = v128.or(folded, v128.load(at + <usize>lane + 32));
      folded = v128.or(folded, v128.load(at + <usize>lane + 48));
    }
    if (v128.any_true(folded)) return false;
  }
  return true;
}

// Bit t set when track t of the extent (volume track extent * EXTENT_TRACKS + t)
// holds a nonzero byte. 0 for an unallocated extent: its tracks read as zeros.
export function extent_nonzero_mask(slot: u32, extent: u32): u32 {
  return extent_nonzero_tracks(slot, extent, (<u32>1 << EXTENT_TRACKS) - 1);
}

// The same, for the tracks of `wanted` only (bit t: track t of the extent):
// a save asking about a few changed tracks does not read the others.
export function extent_nonzero_tracks(slot: u32, extent: u32, wanted: u32): u32 {
  const data = volume_extent_pointer(slot, extent);
  if (data == 0) return 0;
  const first_track = extent * EXTENT_TRACKS;
  const track_count = min<u32>(EXTENT_TRACKS, load<u32>(volume_at(slot) + V_TRACKS) - first_track);
  let mask: u32 = 0;
  for (let track: u32 = 0; track < track_count; track++) {
    if ((wanted & (<u32>1 << track)) == 0) continue;
    if (!track_is_zero(data + (<usize>track << TRACK_SHIFT))) mask |= <u32>1 << track;
  }
  return mask;
}

// Writes `length` bytes from `data` at `offset` of the volume's own storage,
// bypassing copy-on-write. It would break the T0 image of a relationship, so
// it is refused (E_BUSY) for a volume in one: loading writes data before it
// links relationships. The gate is entered all the same, so a raw write is
// never torn by a freeze.
export function raw_write(slot: u32, offset: u64, length: u32, data: usize): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_NO_VOLUME;
  if (!volume_in_use(slot)) return E_NO_VOLUME;
  const volume = volume_at(slot);
  const size = load<u64>(volume + V_SIZE);
  if (offset > size || <u64>length > size - offset) return E_RANGE;
  if (load<u32>(volume + V_TARGET_REL) != 0) return E_BUSY;
  if (load<u32>(volume + V_SOURCE_HEAD) != 0) return E_BUSY;
  const entered = gate_enter(volume);
  if (entered != OK) return entered;
  const ensured = ensure_range(volume, offset, <u64>length);
  if (ensured != OK) {
    gate_exit(volume);
    return ensured;
  }
  changed_ensure(volume, offset, <u64>length);
  // Extents are not contiguous in memory: copy piece by piece.
  let done: u32 = 0;
  while (done < length) {
    const at = offset + <u64>done;
    const chunk = min<u32>(EXTENT_SIZE - (<u32>at & (EXTENT_SIZE - 1)), length - done);
    memory.copy(write_pointer(volume, at), data + <usize>done, chunk);
    mark_changed(volume, at, <u64>chunk);
    done += chunk;
  }
  gate_exit(volume);
  return OK;
}

// Marks a volume unusable, as a withdrawn incomplete copy leaves its target.
// A volume that is a target now is usable by construction (establish makes it
// so), hence E_BUSY for one.
export function volume_mark_unusable(slot: u32): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_NO_VOLUME;
  if (!volume_in_use(slot)) return E_NO_VOLUME;
  const volume = volume_at(slot);
  if (load<u32>(volume + V_TARGET_REL) != 0) return E_BUSY;
  const frozen = freeze(volume);
  if (frozen != OK) return frozen;
  atomic.store<u32>(volume + V_STATE, VOLUME_UNUSABLE);
  thaw(volume);
  return OK;
}

// The checks of relationship.ts check_establish, which a restore must pass too.
function check_restore(rel_slot: u32, source_slot: u32, target_slot: u32, flags: u32): i32 {
  if (rel_slot >= REL_SLOT_MAX) return E_BAD_ARGUMENT;
  if (source_slot >= VOLUME_SLOT_MAX) return E_BAD_ARGUMENT;
  if (target_slot >= VOLUME_SLOT_MAX) return E_BAD_ARGUMENT;
  if (source_slot == target_slot) return E_BAD_ARGUMENT;
  if ((flags & ~REL_FLAGS_KNOWN) != 0) return E_BAD_ARGUMENT;
  if (!volume_in_use(source_slot)) return E_NO_VOLUME;
  if (!volume_in_use(target_slot)) return E_NO_VOLUME;
  if (atomic.load<u32>(rel_at(rel_slot) + R_STATE) != REL_FREE) return E_BAD_ARGUMENT;
  const source = volume_at(source_slot);
  const target = volume_at(target_slot);
  if (load<u64>(target + V_SIZE) < load<u64>(source + V_SIZE)) return E_BAD_ARGUMENT;
  if (load<u32>(target + V_TARGET_REL) != 0) return E_BUSY;
  if (load<u32>(target + V_SOURCE_HEAD) != 0) return E_BUSY;
  if (load<u32>(source + V_TARGET_REL) != 0) return E_BUSY;
  return OK;
}

// Takes a relationship slot for a restore: like rel_establish, but with every
// bitmap all clear, to be filled in by rel_restore_chunk, and not linked yet
// (REL_RESTORING: no I/O and no copy worker sees it).
export function rel_restore_begin(rel_slot: u32, source_slot: u32, target_slot: u32, flags: u32, copied_bytes: u64): i32 {
  const checked = check_restore(rel_slot, source_slot, target_slot, flags);
  if (checked != OK) return checked;
  const rel = rel_at(rel_slot);
  const track_count = load<u32>(volume_at(source_slot) + V_TRACKS);
  const allocated = alloc_bitmaps(rel, track_count, flags, false);
  if (allocated != OK) return allocated;
  store<u32>(rel + R_FLAGS, flags);
  store<u32>(rel + R_SOURCE, source_slot);
  store<u32>(rel + R_TARGET, target_slot);
  store<u32>(rel + R_TRACKS, track_count);
  store<i32>(rel + R_PENDING, 0);
  store<u32>(rel + R_CURSOR, 0);
  store<u64>(rel + R_COPIED_BYTES, copied_bytes);
  store<u32>(rel + R_SETTLED, 0);
  atomic.store<u32>(rel + R_STATE, REL_RESTORING);
  return OK;
}

// @ts-ignore: decorator
@inline function restoring_bitmap(rel_slot: u32, which: u32): usize {
  if (rel_slot >= REL_SLOT_MAX) return 0;
  const rel = rel_at(rel_slot);
  if (atomic.load<u32>(rel + R_STATE) != REL_RESTORING) return 0;
  if (which == 0) return <usize>load<u32>(rel + R_BITMAP);
  if (which == 1) return <usize>load<u32>(rel + R_RECORD_SOURCE);
  if (which == 2) return <usize>load<u32>(rel + R_RECORD_TARGET);
  return 0;
}

// True when no bit past the last track is set in a leaf's words (the
// invariant of bitmap.ts that counting and scanning rely on).
function leaf_tail_is_clear(words: usize, bitmap: usize, chunk: u32): bool {
  const tracks = chunk_track_count(bitmap, chunk);
  const word_count = leaf_words(bitmap, chunk);
  const first_word = tracks >>> WORD_TRACK_SHIFT;
  for (let index = first_word; index < word_count; index++) {
    let word = load<u64>(words + (<usize>index << 3));
    if (index == first_word) word &= ~((<u64>1 << <u64>(tracks & 63)) - 1);
    if (word != 0) return false;
  }
  return true;
}

// Sets chunk `chunk` of bitmap `which` (0 control, 1 source record, 2 target
// record) of a relationship being restored: state 0 all clear, 1 all set, 2
// the leaf_words(chunk) u64 words at `words`, whose bits past the last track
// must be clear. A chunk is set once; E_BAD_ARGUMENT otherwise.
export function rel_restore_chunk(rel_slot: u32, which: u32, chunk: u32, state: u32, words: usize): i32 {
  const bitmap = restoring_bitmap(rel_slot, which);
  if (bitmap == 0) return E_BAD_ARGUMENT;
  if (chunk >= bitmap_chunks(bitmap)) return E_BAD_ARGUMENT;
  if (chunk_entry(bitmap, chunk) != CHUNK_CLEAR) return E_BAD_ARGUMENT;
  if (state == 0) return OK;
  if (state == 1) return chunk_mark_set(bitmap, chunk) ? OK : E_BAD_ARGUMENT;
  if (state != 2) return E_BAD_ARGUMENT;
  if (!leaf_tail_is_clear(words, bitmap, chunk)) return E_BAD_ARGUMENT;
  const ensured = leaf_ensure(bitmap, chunk);
  if (ensured != OK) return ensured;
  memory.copy(<usize>chunk_entry(bitmap, chunk), words, <usize>leaf_words(bitmap, chunk) << 3);
  return OK;
}

// Links a restored relationship. The pending counter is recounted from the
// control bitmap, never taken on trust, and returned (>= 0) so that the host
// can compare it with the saved one: it is the count at the moment of
// linking, before any copy worker can change it. Linking happens with source
// and target frozen, and background copy is woken only once the entry is
// complete. Returns an error code (< 0) on failure, the slot then freed.
export function rel_restore_link(rel_slot: u32): i32 {
  if (rel_slot >= REL_SLOT_MAX) return E_BAD_ARGUMENT;
  const rel = rel_at(rel_slot);
  if (atomic.load<u32>(rel + R_STATE) != REL_RESTORING) return E_BAD_ARGUMENT;
  const pending = bitmap_count(<usize>load<u32>(rel + R_BITMAP));
  store<i32>(rel + R_PENDING, <i32>pending);
  const linked = link_relationship(rel_slot);
  if (linked != OK) {
    rel_restore_abort(rel_slot);
    return linked;
  }
  return <i32>pending;
}

// Gives up a restore begun with rel_restore_begin: its bitmaps are freed.
export function rel_restore_abort(rel_slot: u32): i32 {
  if (rel_slot >= REL_SLOT_MAX) return E_BAD_ARGUMENT;
  const rel = rel_at(rel_slot);
  if (atomic.load<u32>(rel + R_STATE) != REL_RESTORING) return E_BAD_ARGUMENT;
  free_bitmaps(rel);
  atomic.store<u32>(rel + R_STATE, REL_FREE);
  return OK;
}
