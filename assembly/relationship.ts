// FlashCopy relationships: establish and withdraw.
//
// Establish allocates the control bitmap (all tracks pending) before it
// freezes anything, then freezes the source and the target (one after the
// other, each drained of I/O), links the relationship into both volume
// entries and thaws them. Its cost is the bitmap's (a memory.fill of
// track_count / 8 bytes), never the data's. Rules of the storage image model
// (same LSS, one relationship per volume, OS types) are the host's; the core
// checks what would corrupt its own structures.

import {
  OK, E_BAD_ARGUMENT, E_NO_VOLUME, E_NO_SPACE, E_BUSY,
  REL_SLOT_MAX, VOLUME_SLOT_MAX, V_STATE, V_SIZE, V_TRACKS, V_TARGET_REL, V_SOURCE_HEAD,
  VOLUME_FREE, VOLUME_NORMAL, VOLUME_UNUSABLE,
  R_STATE, R_FLAGS, R_SOURCE, R_TARGET, R_TRACKS, R_BITMAP, R_PENDING, R_CURSOR,
  R_NEXT_SOURCE, R_GENERATION, R_COPIED_BYTES, R_RECORD_SOURCE, R_RECORD_TARGET, R_WORDS,
  REL_FREE, REL_ACTIVE, REL_RECORD, REL_BACKGROUND, H_WORK_EPOCH, THREAD_MAX,
  volume_at, rel_at, base,
} from "./layout";
import { alloc, alloc_failure, free } from "./alloc";
import { freeze_pair, thaw } from "./sync";
import { bitmap_word_count, bitmap_set_all, bitmap_count, bitmap_find } from "./bitmap";

export function free_bitmaps(rel: usize): void {
  const bytes = load<u32>(rel + R_WORDS) << 3;
  free(<usize>load<u32>(rel + R_BITMAP), bytes);
  free(<usize>load<u32>(rel + R_RECORD_SOURCE), bytes);
  free(<usize>load<u32>(rel + R_RECORD_TARGET), bytes);
  store<u32>(rel + R_BITMAP, 0);
  store<u32>(rel + R_RECORD_SOURCE, 0);
  store<u32>(rel + R_RECORD_TARGET, 0);
}

function check_establish(rel_slot: u32, source_slot: u32, target_slot: u32): i32 {
  if (rel_slot >= REL_SLOT_MAX) return E_BAD_ARGUMENT;
  if (source_slot >= VOLUME_SLOT_MAX) return E_BAD_ARGUMENT;
  if (target_slot >= VOLUME_SLOT_MAX) return E_BAD_ARGUMENT;
  if (source_slot == target_slot) return E_BAD_ARGUMENT;
  const source = volume_at(source_slot);
  const target = volume_at(target_slot);
  if (atomic.load<u32>(source + V_STATE) == VOLUME_FREE) return E_NO_VOLUME;
  if (atomic.load<u32>(target + V_STATE) == VOLUME_FREE) return E_NO_VOLUME;
  if (atomic.load<u32>(rel_at(rel_slot) + R_STATE) != REL_FREE) return E_BAD_ARGUMENT;
  if (load<u64>(target + V_SIZE) < load<u64>(source + V_SIZE)) return E_BAD_ARGUMENT;
  // One source per target, and no volume both source and target (both models).
  if (load<u32>(target + V_TARGET_REL) != 0) return E_BUSY;
  if (load<u32>(target + V_SOURCE_HEAD) != 0) return E_BUSY;
  if (load<u32>(source + V_TARGET_REL) != 0) return E_BUSY;
  return OK;
}

export function rel_establish(rel_slot: u32, source_slot: u32, target_slot: u32, flags: u32): i32 {
  const checked = check_establish(rel_slot, source_slot, target_slot);
  if (checked != OK) return checked;
  const source = volume_at(source_slot);
  const target = volume_at(target_slot);
  const rel = rel_at(rel_slot);
  const track_count = load<u32>(source + V_TRACKS);
  const word_count = bitmap_word_count(track_count);
  const bitmap = alloc(word_count << 3);
  if (bitmap == 0) return alloc_failure();
  store<u32>(rel + R_WORDS, word_count);
  store<u32>(rel + R_BITMAP, <u32>bitmap);
  store<u32>(rel + R_RECORD_SOURCE, 0);
  store<u32>(rel + R_RECORD_TARGET, 0);
  if ((flags & REL_RECORD) != 0) {
    const record_source = alloc(word_count << 3);
    const record_target = record_source != 0 ? alloc(word_count << 3) : 0;
    store<u32>(rel + R_RECORD_SOURCE, <u32>record_source);
    store<u32>(rel + R_RECORD_TARGET, <u32>record_target);
    if (record_source == 0 || record_target == 0) {
      const failure = alloc_failure();
      free_bitmaps(rel);
      return failure;
    }
  }
  bitmap_set_all(bitmap, track_count);
  store<u32>(rel + R_FLAGS, flags);
  store<u32>(rel + R_SOURCE, source_slot);
  store<u32>(rel + R_TARGET, target_slot);
  store<u32>(rel + R_TRACKS, track_count);
  store<i32>(rel + R_PENDING, <i32>track_count);
  store<u32>(rel + R_CURSOR, 0);
  store<u64>(rel + R_COPIED_BYTES, 0);
  const linked = link_relationship(rel_slot);
  if (linked != OK) {
    free_bitmaps(rel);
    return linked;
  }
  return OK;
}

// Links a fully initialised relationship entry (source, target, flags,
// bitmaps, pending count) into its volumes and activates it, with source and
// target frozen so that every request sees it entirely or not at all. Then
// wakes the copy workers if it has background work. On failure nothing is
// linked and the caller frees what it allocated.
export function link_relationship(rel_slot: u32): i32 {
  const rel = rel_at(rel_slot);
  const source = volume_at(load<u32>(rel + R_SOURCE));
  const target = volume_at(load<u32>(rel + R_TARGET));
  const frozen = freeze_pair(source, target);
  if (frozen != OK) return frozen;
  store<u32>(rel + R_NEXT_SOURCE, load<u32>(source + V_SOURCE_HEAD));
  store<u32>(source + V_SOURCE_HEAD, rel_slot + 1);
  store<u32>(target + V_TARGET_REL, rel_slot + 1);
  atomic.store<u32>(target + V_STATE, VOLUME_NORMAL);
  atomic.store<u32>(rel + R_STATE, REL_ACTIVE);
  thaw(target);
  thaw(source);
  const background = (load<u32>(rel + R_FLAGS) & REL_BACKGROUND) != 0;
  if (background && atomic.load<i32>(rel + R_PENDING) > 0) {
    atomic.add<i32>(base() + H_WORK_EPOCH, 1);
    atomic.notify(base() + H_WORK_EPOCH, <i32>THREAD_MAX);
  }
  return OK;
}

function unlink_from_source(source: usize, rel_slot: u32): void {
  let link = source + V_SOURCE_HEAD;
  for (let hops: u32 = 0; hops < REL_SLOT_MAX; hops++) {
    const next = load<u32>(link);
    if (next == 0) return;
    if (next == rel_slot + 1) {
      store<u32>(link, load<u32>(rel_at(rel_slot) + R_NEXT_SOURCE));
      return;
    }
    link = rel_at(next - 1) + R_NEXT_SOURCE;
  }
}

// Ends a relationship. Returns 1 when its copy was incomplete (the target is
// then marked unusable), 0 when it was complete, or an error code.
export function rel_withdraw(rel_slot: u32): i32 {
  if (rel_slot >= REL_SLOT_MAX) return E_BAD_ARGUMENT;
  const rel = rel_at(rel_slot);
  if (atomic.load<u32>(rel + R_STATE) != REL_ACTIVE) return E_BAD_ARGUMENT;
  const source = volume_at(load<u32>(rel + R_SOURCE));
  const target = volume_at(load<u32>(rel + R_TARGET));
  const frozen = freeze_pair(source, target);
  if (frozen != OK) return frozen;
  unlink_from_source(source, rel_slot);
  store<u32>(target + V_TARGET_REL, 0);
  const incomplete = atomic.load<i32>(rel + R_PENDING) > 0;
  if (incomplete) atomic.store<u32>(target + V_STATE, VOLUME_UNUSABLE);
  atomic.store<u32>(rel + R_STATE, REL_FREE);
  store<u32>(rel + R_GENERATION, load<u32>(rel + R_GENERATION) + 1);
  thaw(target);
  thaw(source);
  free_bitmaps(rel);
  return incomplete ? 1 : 0;
}

// @ts-ignore: decorator
@inline function active_rel(rel_slot: u32): usize {
  if (rel_slot >= REL_SLOT_MAX) return 0;
  const rel = rel_at(rel_slot);
  return atomic.load<u32>(rel + R_STATE) == REL_ACTIVE ? rel : 0;
}

export function rel_pending(rel_slot: u32): i32 {
  const rel = active_rel(rel_slot);
  if (rel == 0) return E_BAD_ARGUMENT;
  return atomic.load<i32>(rel + R_PENDING);
}

// Counts the bitmap itself (the pending counter is kept beside it; tests check both agree).
export function rel_count_pending(rel_slot: u32): i32 {
  const rel = active_rel(rel_slot);
  if (rel == 0) return E_BAD_ARGUMENT;
  return <i32>bitmap_count(<usize>load<u32>(rel + R_BITMAP), load<u32>(rel + R_WORDS));
}

export function rel_find_pending(rel_slot: u32, from_track: u32): i32 {
  const rel = active_rel(rel_slot);
  if (rel == 0) return E_BAD_ARGUMENT;
  return bitmap_find(<usize>load<u32>(rel + R_BITMAP), load<u32>(rel + R_WORDS), from_track);
}

// The pending counter's address: a host thread may Atomics.wait on it until
// it reaches 0 (settle_pending notifies then).
export function rel_pending_pointer(rel_slot: u32): usize {
  const rel = active_rel(rel_slot);
  if (rel == 0) return 0;
  return rel + R_PENDING;
}

export function rel_copied_bytes(rel_slot: u32): u64 {
  const rel = active_rel(rel_slot);
  if (rel == 0) return 0;
  return atomic.load<u64>(rel + R_COPIED_BYTES);
}

// Tracks changed since establish on the source (which = 0) or target (1); -record only.
export function rel_recorded(rel_slot: u32, which: u32): i32 {
  const rel = active_rel(rel_slot);
  if (rel == 0) return E_BAD_ARGUMENT;
  const bitmap = <usize>load<u32>(rel + (which == 0 ? R_RECORD_SOURCE : R_RECORD_TARGET));
  if (bitmap == 0) return 0;
  return <i32>bitmap_count(bitmap, load<u32>(rel + R_WORDS));
}

export function rel_bitmap_pointer(rel_slot: u32): usize {
  const rel = active_rel(rel_slot);
  if (rel == 0) return 0;
  return <usize>load<u32>(rel + R_BITMAP);
}

export function rel_word_count(rel_slot: u32): u32 {
  const rel = active_rel(rel_slot);
  if (rel == 0) return 0;
  return load<u32>(rel + R_WORDS);
}
