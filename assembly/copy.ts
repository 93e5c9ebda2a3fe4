// Track copying: from a relationship's source to its target.
//
// Protocol for one run of pending tracks (all within one extent, so one
// memory.copy moves the whole run):
//   1. allocate the target extent (outside any lock; allocation may grow memory)
//   2. lock the run's tracks in the source's lock table, in ascending order
//   3. re-read the bitmap word: host I/O may have copied some tracks meanwhile
//   4. copy the tracks still pending, then clear their bits
//   5. unlock
// A bit is cleared only after its track is on the target, so anybody who sees
// a clear bit may use the target's data. Copying a pending track is
// idempotent: a copier that dies between 4 and 5 leaves its bits set, and the
// track is simply copied again by whoever takes the lock after the reaper.
// Before 2 the bitmap leaf of the run exists (bitmap.ts: bits change in leaves
// only; materialising allocates, so it happens outside the locks).
//
// Thin sources: a chunk of the control bitmap (CHUNK_TRACKS tracks) that is
// still all set without a leaf, where neither the source nor the target has an
// allocated extent, is settled at once: its T0 data is zeros (the source had
// nothing there at T0, or a write since would have materialised the chunk)
// and the target reads zeros there, so no data moves and no lock is needed.
// Every thread that clears or copies a bit of the chunk materialises it first,
// and a host write allocates its extents before it materialises, so
//   - a settle that wins its compare-exchange (set -> clear) came before any
//     materialising: whoever looks afterwards finds the bits clear and the
//     target correct (unallocated, or freshly allocated zeros plus host writes
//     made after the settle);
//   - a writer that allocated a source or target extent before the settler
//     looked makes the settler keep off; one that allocated it after the look
//     materialises after it too, and then either finds the chunk clear (the
//     settle won: the new extent is zeros, as the settle assumed) or makes the
//     settle's compare-exchange fail.
// A chunk that background copy materialises (copy_claimed_word) gets its leaf
// with the bits of every extent that neither side has allocated already clear
// (materialise_thin_chunk), by the same argument extent by extent: while the
// entry is still all set no thread has copied or cleared a bit of the chunk
// (each would have materialised it first), and publishing the leaf is the
// settle's compare-exchange. So background copy of a thin source takes time
// with its written data, not with its capacity. Host-driven copies
// (copy_tracks) copy exactly the tracks asked for and materialise plainly.
//
// A background copy that fails (no space for the target's extent, a lock or
// gate wait that timed out) holds its relationship (REL_COPY_HELD) and
// returns the code; copy workers pass a held relationship by until the host
// releases it to retry (src/engine/copy-faults.ts), so a failure is reported
// once and retried at the host's pace, never spun on. The thread remembers
// which relationship its last step worked on, so that the host can pin a
// failure to it, even a trap that unwound the step.

import {
  OK, E_BAD_ARGUMENT, TRACK_SHIFT, TRACK_SIZE, EXTENT_TRACKS, EXTENT_TRACK_SHIFT, WORD_TRACK_SHIFT,
  R_STATE, R_FLAGS, R_SOURCE, R_TARGET, R_TRACKS, R_BITMAP, R_PENDING, R_CURSOR, R_GENERATION,
  R_COPIED_BYTES, R_SETTLED, REL_ACTIVE, REL_BACKGROUND, REL_COPY_HELD, REL_SLOT_MAX, H_COPIED_BYTES,
  H_WORK_EPOCH, H_FAULT_ABORT, CHUNK_TRACK_SHIFT, CHUNK_WORD_SHIFT, THREAD_MAX, volume_at, rel_at, base,
} from "./layout";
import { lock, unlock, gate_enter, gate_exit } from "./sync";
import { alloc_failure } from "./alloc";
import {
  word_load, word_clear, bitmap_find, leaf_ensure, leaf_create, leaf_publish, chunk_entry, chunk_settle, CHUNK_SET,
} from "./bitmap";
import {
  track_lock, read_pointer, write_pointer, extent_allocated, ensure_extents, next_allocated_extent, mark_changed,
} from "./volume";
import { take_injected_abort } from "./faults";

// Copies tracks [first_track, first_track + track_count) of source to target.
// The caller holds their locks; the range lies within one extent.
// Zeros onto an unallocated target extent need no copy (it reads as zeros);
// the extent is checked again here, under the track locks, because a host
// write may have allocated the source's extent since the caller looked.
export function copy_run_data(source: usize, target: usize, first_track: u32, track_count: u32): i32 {
  if (atomic.load<i32>(base() + H_FAULT_ABORT) != 0) take_injected_abort();
  const extent = first_track >>> EXTENT_TRACK_SHIFT;
  if (!extent_allocated(target, extent)) {
    if (!extent_allocated(source, extent)) return OK;
    const allocated = ensure_extents(target, extent, extent);
    if (allocated != OK) return allocated;
  }
  const offset = <u64>first_track << <u64>TRACK_SHIFT;
  memory.copy(write_pointer(target, offset), read_pointer(source, offset), <usize>track_count << TRACK_SHIFT);
  mark_changed(target, offset, <u64>track_count << <u64>TRACK_SHIFT);
  return OK;
}

// Counts tracks off the relationship's pending counter. Whoever brings it to
// zero wakes the threads waiting on it (atomic.wait on the counter), so a
// waiter for the end of a copy sleeps until then instead of polling.
export function settle_pending(rel: usize, tracks: i32): void {
  const before = atomic.sub<i32>(rel + R_PENDING, tracks);
  if (before == tracks) atomic.notify(rel + R_PENDING, <i32>THREAD_MAX);
}

// @ts-ignore: decorator
@inline function run_mask(start_bit: u32, bit_count: u32): u64 {
  const ones = bit_count >= 64 ? ~<u64>0 : (<u64>1 << <u64>bit_count) - 1;
  return ones << <u64>start_bit;
}

// Copies the tracks of `mask` in bitmap word `word_index` that are still pending.
// Returns how many it copied, or an error code.
function copy_masked_run(rel: usize, word_index: u32, mask: u64): i32 {
  const source = volume_at(load<u32>(rel + R_SOURCE));
  const target = volume_at(load<u32>(rel + R_TARGET));
  const bitmap = <usize>load<u32>(rel + R_BITMAP);
  const first_bit = <u32>ctz<u64>(mask);
  const bit_count = <u32>popcnt<u64>(mask);
  const first_track = (word_index << WORD_TRACK_SHIFT) + first_bit;
  for (let index: u32 = 0; index < bit_count; index++) {
    const locked = lock(track_lock(source, first_track + index));
    if (locked != OK) {
      unlock_run(source, first_track, index);
      return locked;
    }
  }
  const pending = word_load(bitmap, word_index) & mask;
  const copied = <i32>popcnt<u64>(pending);
  let still = pending;
  while (still != 0) {
    // ctz of the inverted, shifted word is the length of the run of ones.
    const start = <u32>ctz<u64>(still);
    const count = <u32>ctz<u64>(~(still >> <u64>start));
    const done = copy_run_data(source, target, (word_index << WORD_TRACK_SHIFT) + start, count);
    if (done != OK) {
      unlock_run(source, first_track, bit_count);
      return done;
    }
    still &= ~run_mask(start, count);
  }
  const cleared = word_clear(bitmap, word_index, pending);
  assert(<i32>popcnt<u64>(cleared) == copied, "a pending bit was cleared without its track lock");
  // Counted before the pending counter: a waiter woken at zero sees every byte copied.
  const bytes = <u64>copied << <u64>TRACK_SHIFT;
  atomic.add<u64>(rel + R_COPIED_BYTES, bytes);
  atomic.add<u64>(base() + H_COPIED_BYTES, bytes);
  settle_pending(rel, copied);
  unlock_run(source, first_track, bit_count);
  return copied;
}

function unlock_run(source: usize, first_track: u32, track_count: u32): void {
  for (let index: u32 = 0; index < track_count; index++) unlock(track_lock(source, first_track + index));
}

// Copies every pending track among the `mask` bits of one bitmap word, in
// runs that never cross an extent. The caller is inside the source's gate.
export function copy_word(rel: usize, word_index: u32, mask: u64): i32 {
  const bitmap = <usize>load<u32>(rel + R_BITMAP);
  let bits = word_load(bitmap, word_index) & mask;
  if (bits == 0) return 0;
  const ensured = leaf_ensure(bitmap, word_index >>> CHUNK_WORD_SHIFT);
  if (ensured != OK) return ensured;
  let copied: i32 = 0;
  while (bits != 0) {
    const start = <u32>ctz<u64>(bits);
    let count = <u32>ctz<u64>(~(bits >> <u64>start));
    const track = (word_index << WORD_TRACK_SHIFT) + start;
    const extent_room = EXTENT_TRACKS - (track & (EXTENT_TRACKS - 1));
    if (count > extent_room) count = extent_room;
    const done = copy_masked_run(rel, word_index, run_mask(start, count));
    if (done < 0) return done;
    copied += done;
    bits &= ~run_mask(start, count);
  }
  return copied;
}

// Host-driven copy of the pending tracks in [first_track, first_track + track_count):
// the deterministic step the reference-model tests use. Returns tracks copied.
export function copy_tracks(rel_slot: u32, first_track: u32, track_count: u32): i32 {
  if (rel_slot >= REL_SLOT_MAX) return E_BAD_ARGUMENT;
  const rel = rel_at(rel_slot);
  if (atomic.load<u32>(rel + R_STATE) != REL_ACTIVE) return E_BAD_ARGUMENT;
  const tracks = load<u32>(rel + R_TRACKS);
  if (first_track >= tracks) return 0;
  const end = min<u32>(tracks, first_track + track_count);
  const source = volume_at(load<u32>(rel + R_SOURCE));
  const entered = gate_enter(source);
  if (entered != OK) return entered;
  let copied: i32 = 0;
  let track = first_track;
  while (track < end) {
    const word_index = track >>> WORD_TRACK_SHIFT;
    const word_end = min<u32>(end, (word_index + 1) << WORD_TRACK_SHIFT);
    const mask = run_mask(track & 63, word_end - track);
    const done = copy_word(rel, word_index, mask);
    if (done < 0) {
      copied = done;
      break;
    }
    copied += done;
    track = word_end;
  }
  gate_exit(source);
  return copied;
}

// Per thread: where this thread looks for work first, and the relationship
// (slot and generation) its last step worked on; -1 before any.
let next_rel_slot: u32 = 0;
let working_rel_slot: i32 = -1;
let working_generation: u32 = 0;

export function copy_working_rel(): i32 { return working_rel_slot; }
export function copy_working_generation(): u32 { return working_generation; }

// One unit of background copy: a bitmap word (up to 64 tracks) of some active
// background relationship. Workers call it in a loop; it returns the tracks
// copied, 0 when no relationship has work, or an error code.
export function copy_step(): i32 {
  for (let scanned: u32 = 0; scanned < REL_SLOT_MAX; scanned++) {
    const rel_slot = (next_rel_slot + scanned) % REL_SLOT_MAX;
    const rel = rel_at(rel_slot);
    if (atomic.load<u32>(rel + R_STATE) != REL_ACTIVE) continue;
    const flags = atomic.load<u32>(rel + R_FLAGS);
    if ((flags & REL_BACKGROUND) == 0) continue;
    if ((flags & REL_COPY_HELD) != 0) continue;
    if (atomic.load<i32>(rel + R_PENDING) <= 0) continue;
    next_rel_slot = rel_slot;
    working_rel_slot = <i32>rel_slot;
    working_generation = atomic.load<u32>(rel + R_GENERATION);
    const copied = copy_claimed_word(rel);
    if (copied != 0) return copied;
  }
  return 0;
}

function copy_claimed_word(rel: usize): i32 {
  const generation = atomic.load<u32>(rel + R_GENERATION);
  const source_slot = load<u32>(rel + R_SOURCE);
  const source = volume_at(source_slot);
  const entered = gate_enter(source);
  if (entered != OK) return entered;
  // Inside the gate the relationship cannot end; check it is still the one we saw.
  // (A revertible increment stops its background copy: assembly/increment.ts.)
  if (atomic.load<u32>(rel + R_STATE) != REL_ACTIVE
    || (atomic.load<u32>(rel + R_FLAGS) & REL_BACKGROUND) == 0
    || atomic.load<u32>(rel + R_GENERATION) != generation
    || load<u32>(rel + R_SOURCE) != source_slot) {
    gate_exit(source);
    return 0;
  }
  const used_words = (load<u32>(rel + R_TRACKS) + 63) >>> WORD_TRACK_SHIFT;
  let word_index = atomic.add<u32>(rel + R_CURSOR, 1) % used_words;
  const bitmap = <usize>load<u32>(rel + R_BITMAP);
  if (word_load(bitmap, word_index) == 0) {
    let found = bitmap_find(bitmap, word_index << WORD_TRACK_SHIFT);
    if (found < 0) found = bitmap_find(bitmap, 0);
    if (found < 0) {
      gate_exit(source);
      return 0;
    }
    word_index = <u32>found >>> WORD_TRACK_SHIFT;
  }
  const chunk = word_index >>> CHUNK_WORD_SHIFT;
  let settled = settle_thin_chunk(rel, chunk);
  if (settled == 0) settled = materialise_thin_chunk(rel, chunk);
  // Progress (or an error) either way; a chunk whose every track was cleared
  // when materialised has nothing left to copy.
  const copied = settled != 0 ? settled : copy_word(rel, word_index, ~<u64>0);
  // Held while still inside the gate, where the relationship cannot end: the
  // flag cannot land on a relationship established later in the same slot.
  if (copied < 0) atomic.or<u32>(rel + R_FLAGS, REL_COPY_HELD);
  // Debug builds check the gate's promise above (compiled out of the release core).
  if (!ASC_NO_ASSERT) assert(atomic.load<u32>(rel + R_GENERATION) == generation, "a relationship ended while a copy worker was inside its source's gate");
  gate_exit(source);
  return copied;
}

// Clears, in a leaf nobody else sees yet, the bits of every extent of the
// chunk that neither source nor target has allocated; returns how many.
function clear_thin_extents(rel: usize, leaf: usize, chunk: u32): u32 {
  const source = volume_at(load<u32>(rel + R_SOURCE));
  const target = volume_at(load<u32>(rel + R_TARGET));
  const first_track = chunk << CHUNK_TRACK_SHIFT;
  const end_track = min<u32>(load<u32>(rel + R_TRACKS), first_track + (<u32>1 << CHUNK_TRACK_SHIFT));
  let cleared: u32 = 0;
  for (let track = first_track; track < end_track; track += EXTENT_TRACKS) {
    const extent = track >>> EXTENT_TRACK_SHIFT;
    if (extent_allocated(source, extent) || extent_allocated(target, extent)) continue;
    const word = leaf + (<usize>((track - first_track) >>> WORD_TRACK_SHIFT) << 3);
    const mask = run_mask(track & 63, EXTENT_TRACKS);
    const bits = load<u64>(word);
    cleared += <u32>popcnt<u64>(bits & mask);
    store<u64>(word, bits & ~mask);
  }
  return cleared;
}

// Materialises an all-set chunk of the control bitmap with its thin extents
// already settled (the protocol at the top of this file). Returns the tracks
// settled, 0 when the chunk was not all set or another thread materialised
// it first, or an error code.
function materialise_thin_chunk(rel: usize, chunk: u32): i32 {
  const bitmap = <usize>load<u32>(rel + R_BITMAP);
  if (chunk_entry(bitmap, chunk) != CHUNK_SET) return 0;
  const leaf = leaf_create(bitmap, chunk, CHUNK_SET);
  if (leaf == 0) return alloc_failure();
  const cleared = clear_thin_extents(rel, leaf, chunk);
  if (!leaf_publish(bitmap, chunk, CHUNK_SET, leaf)) return 0;
  if (cleared == 0) return 0;
  atomic.add<u32>(rel + R_SETTLED, cleared);
  settle_pending(rel, <i32>cleared);
  return <i32>cleared;
}

// True when no extent holding tracks [first_track, end_track) is allocated.
function extents_unallocated(volume: usize, first_track: u32, end_track: u32): bool {
  const first_extent = first_track >>> EXTENT_TRACK_SHIFT;
  const end_extent = (end_track + EXTENT_TRACKS - 1) >>> EXTENT_TRACK_SHIFT;
  const found = next_allocated_extent(volume, first_extent);
  return found < 0 || <u32>found >= end_extent;
}

// Settles an untouched all-set chunk of a thin source as zeros (the protocol
// is at the top of this file). Returns the tracks settled, 0 when the chunk
// needs copying track by track. The caller is inside the source's gate.
function settle_thin_chunk(rel: usize, chunk: u32): i32 {
  const bitmap = <usize>load<u32>(rel + R_BITMAP);
  if (chunk_entry(bitmap, chunk) != CHUNK_SET) return 0;
  const first_track = chunk << CHUNK_TRACK_SHIFT;
  const end_track = min<u32>(load<u32>(rel + R_TRACKS), first_track + (<u32>1 << CHUNK_TRACK_SHIFT));
  if (!extents_unallocated(volume_at(load<u32>(rel + R_SOURCE)), first_track, end_track)) return 0;
  if (!extents_unallocated(volume_at(load<u32>(rel + R_TARGET)), first_track, end_track)) return 0;
  const settled = <i32>chunk_settle(bitmap, chunk);
  if (settled == 0) return 0;
  atomic.add<u32>(rel + R_SETTLED, <u32>settled);
  settle_pending(rel, settled);
  return settled;
}

// Holds a relationship's background copy (the host does so for a failure a
// worker could not hold itself: a gate timeout, a trap). Returns OK, or
// E_BAD_ARGUMENT when the slot no longer holds that generation.
export function rel_hold_copy(rel_slot: u32, generation: u32): i32 {
  if (rel_slot >= REL_SLOT_MAX) return E_BAD_ARGUMENT;
  const rel = rel_at(rel_slot);
  if (atomic.load<u32>(rel + R_STATE) != REL_ACTIVE) return E_BAD_ARGUMENT;
  if (atomic.load<u32>(rel + R_GENERATION) != generation) return E_BAD_ARGUMENT;
  atomic.or<u32>(rel + R_FLAGS, REL_COPY_HELD);
  return OK;
}

// Releases a held background copy and wakes the copy workers to retry it.
export function rel_release_copy(rel_slot: u32): i32 {
  if (rel_slot >= REL_SLOT_MAX) return E_BAD_ARGUMENT;
  const rel = rel_at(rel_slot);
  if (atomic.load<u32>(rel + R_STATE) != REL_ACTIVE) return E_BAD_ARGUMENT;
  atomic.and<u32>(rel + R_FLAGS, ~REL_COPY_HELD);
  atomic.add<i32>(base() + H_WORK_EPOCH, 1);
  atomic.notify(base() + H_WORK_EPOCH, <i32>THREAD_MAX);
  return OK;
}

export function rel_copy_held(rel_slot: u32): bool {
  if (rel_slot >= REL_SLOT_MAX) return false;
  const rel = rel_at(rel_slot);
  return atomic.load<u32>(rel + R_STATE) == REL_ACTIVE && (atomic.load<u32>(rel + R_FLAGS) & REL_COPY_HELD) != 0;
}

export function rel_generation(rel_slot: u32): u32 {
  if (rel_slot >= REL_SLOT_MAX) return 0;
  return atomic.load<u32>(rel_at(rel_slot) + R_GENERATION);
}

export function track_size(): u32 { return TRACK_SIZE; }
