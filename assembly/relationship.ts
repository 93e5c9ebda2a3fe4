// FlashCopy relationships: establish and withdraw.
//
// Establish allocates the control bitmap (all tracks pending) before it
// freezes anything, then freezes the source and the target (one after the
// other, each drained of I/O), links the relationship into both volume
// entries and thaws them. Its cost is the bitmap summary's (bitmap.ts: a
// memory.fill of 4 bytes per 16 GiB of source, 4 KiB at 16 TiB), never the
// data's, and no bitmap leaf exists until a track is copied or changed. Rules of the storage image model
// (same LSS, one relationship per volume, OS types) are the host's; the core
// checks what would corrupt its own structures.

import {
  OK, E_BAD_ARGUMENT, E_NO_VOLUME, E_BUSY,
  REL_SLOT_MAX, VOLUME_SLOT_MAX, V_STATE, V_SIZE, V_TRACKS, V_TARGET_REL, V_SOURCE_HEAD, V_PPRC_ROLE,
  VOLUME_FREE, VOLUME_NORMAL, VOLUME_UNUSABLE,
  R_STATE, R_FLAGS, R_SOURCE, R_TARGET, R_TRACKS, R_BITMAP, R_PENDING, R_CURSOR,
  R_NEXT_SOURCE, R_GENERATION, R_COPIED_BYTES, R_RECORD_SOURCE, R_RECORD_TARGET, R_SETTLED,
  REL_FREE, REL_ACTIVE, REL_RECORD, REL_BACKGROUND, H_WORK_EPOCH, THREAD_MAX, STAGING_SIZE, T_STAGING,
  PPRC_PRIMARY, PPRC_SECONDARY, REL_TGTPPRC, volume_at, rel_at, base, thread_at,
} from "./layout";
import { pprc_mark_all_out_of_sync } from "./mirror";
import { alloc_failure } from "./alloc";
import { freeze_pair, thaw, current_thread } from "./sync";
import {
  bitmap_create, bitmap_free, bitmap_count, bitmap_find, bitmap_find_many, bitmap_chunks, chunk_entry, chunk_reset, leaf_ensure,
  leaf_words, CHUNK_CLEAR, CHUNK_SET, FIND_MANY_STEP,
} from "./bitmap";

export function free_bitmaps(rel: usize): void {
  bitmap_free(<usize>load<u32>(rel + R_BITMAP));
  bitmap_free(<usize>load<u32>(rel + R_RECORD_SOURCE));
  bitmap_free(<usize>load<u32>(rel + R_RECORD_TARGET));
  store<u32>(rel + R_BITMAP, 0);
  store<u32>(rel + R_RECORD_SOURCE, 0);
  store<u32>(rel + R_RECORD_TARGET, 0);
}

// The control bitmap (all set, or all clear for a restore to fill in) and,
// with REL_RECORD, the two change records (all clear). On failure nothing
// stays allocated.
export function alloc_bitmaps(rel: usize, track_count: u32, flags: u32, pending: bool): i32 {
  const recorded = (flags & REL_RECORD) != 0;
  // Each allocated only after the one before it, so that alloc_failure()
  // still says why the failed one failed.
  const control = bitmap_create(track_count, pending);
  const record_source = recorded && control != 0 ? bitmap_create(track_count, false) : 0;
  const record_target = record_source != 0 ? bitmap_create(track_count, false) : 0;
  store<u32>(rel + R_BITMAP, <u32>control);
  store<u32>(rel + R_RECORD_SOURCE, <u32>record_source);
  store<u32>(rel + R_RECORD_TARGET, <u32>record_target);
  if (control == 0 || (recorded && record_target == 0)) {
    const failure = alloc_failure();
    free_bitmaps(rel);
    return failure;
  }
  return OK;
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
  // A PPRC secondary takes writes from its link only; a PPRC primary is a
  // target only with REL_TGTPPRC (rel_establish).
  if (load<u32>(target + V_PPRC_ROLE) == PPRC_SECONDARY) return E_BUSY;
  return OK;
}

export function rel_establish(rel_slot: u32, source_slot: u32, target_slot: u32, flags_given: u32): i32 {
  const checked = check_establish(rel_slot, source_slot, target_slot);
  if (checked != OK) return checked;
  const source = volume_at(source_slot);
  const target = volume_at(target_slot);
  if (load<u32>(target + V_PPRC_ROLE) == PPRC_PRIMARY && (flags_given & REL_TGTPPRC) == 0) return E_BUSY;
  const flags = flags_given & ~REL_TGTPPRC;
  const rel = rel_at(rel_slot);
  const track_count = load<u32>(source + V_TRACKS);
  const allocated = alloc_bitmaps(rel, track_count, flags, true);
  if (allocated != OK) return allocated;
  store<u32>(rel + R_FLAGS, flags);
  store<u32>(rel + R_SOURCE, source_slot);
  store<u32>(rel + R_TARGET, target_slot);
  store<u32>(rel + R_TRACKS, track_count);
  store<i32>(rel + R_PENDING, <i32>track_count);
  store<u32>(rel + R_CURSOR, 0);
  store<u64>(rel + R_COPIED_BYTES, 0);
  store<u32>(rel + R_SETTLED, 0);
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
  // A PPRC primary's whole logical image changed at this T0: all out of sync.
  if (load<u32>(target + V_PPRC_ROLE) == PPRC_PRIMARY) pprc_mark_all_out_of_sync(target);
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
  return <i32>bitmap_count(<usize>load<u32>(rel + R_BITMAP));
}

export function rel_find_pending(rel_slot: u32, from_track: u32): i32 {
  const rel = active_rel(rel_slot);
  if (rel == 0) return E_BAD_ARGUMENT;
  return bitmap_find(<usize>load<u32>(rel + R_BITMAP), from_track);
}

// The most tracks one rel_find_pending_many call returns: what the staging
// buffer holds.
export const FIND_MANY_TRACKS_MAX: u32 = STAGING_SIZE >>> 2;
// The least: a scan's step (two bitmap words) must fit, or a call could return none.
export const FIND_MANY_TRACKS_MIN: u32 = FIND_MANY_STEP;

// Up to track_count_max pending tracks at or after from_track, ascending, as
// u32 track numbers at the start of the calling thread's staging buffer (so a
// host scan pays one call per batch, not per track); returns how many, 0 when
// none is left, or E_BAD_ARGUMENT. It may return fewer with more pending
// beyond (bitmap_find_many): go on from the last track + 1 until it returns 0.
export function rel_find_pending_many(rel_slot: u32, from_track: u32, track_count_max: u32): i32 {
  const rel = active_rel(rel_slot);
  if (rel == 0) return E_BAD_ARGUMENT;
  if (track_count_max < FIND_MANY_TRACKS_MIN) return E_BAD_ARGUMENT;
  if (track_count_max > FIND_MANY_TRACKS_MAX) return E_BAD_ARGUMENT;
  const staging = <usize>load<u32>(thread_at(current_thread()) + T_STAGING);
  if (staging == 0) return E_BAD_ARGUMENT;
  return <i32>bitmap_find_many(<usize>load<u32>(rel + R_BITMAP), from_track, staging, track_count_max);
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

// Tracks settled as zeros without copying: whole untouched chunks of a thin source.
export function rel_settled_tracks(rel_slot: u32): i32 {
  const rel = active_rel(rel_slot);
  if (rel == 0) return E_BAD_ARGUMENT;
  return <i32>atomic.load<u32>(rel + R_SETTLED);
}

// Tracks changed since establish on the source (which = 0) or target (1); -record only.
export function rel_recorded(rel_slot: u32, which: u32): i32 {
  const rel = active_rel(rel_slot);
  if (rel == 0) return E_BAD_ARGUMENT;
  const bitmap = <usize>load<u32>(rel + (which == 0 ? R_RECORD_SOURCE : R_RECORD_TARGET));
  if (bitmap == 0) return 0;
  return <i32>bitmap_count(bitmap);
}

// A relationship's bitmap: the control bitmap (which = 0), the source's (1) or
// the target's (2) change record; 0 when it has none.
export function rel_bitmap(rel_slot: u32, which: u32): usize {
  const rel = active_rel(rel_slot);
  if (rel == 0) return 0;
  if (which == 0) return <usize>load<u32>(rel + R_BITMAP);
  if (which == 1) return <usize>load<u32>(rel + R_RECORD_SOURCE);
  if (which == 2) return <usize>load<u32>(rel + R_RECORD_TARGET);
  return 0;
}

// @ts-ignore: decorator
@inline function is_leaf(entry: u32): bool { return entry != CHUNK_CLEAR && entry != CHUNK_SET; }

// Leaves of the control bitmap for every chunk where a change record has a
// leaf and the control bitmap is not all set, allocated before anything
// changes (rel_rearm_from_records, increment.ts). Callers prepare before they
// freeze (the allocations) and again once frozen (a write in between may have
// given a record a leaf in another chunk); a leaf matches its chunk's bits, so
// preparing changes nothing a reader sees.
export function prepare_rearm(control: usize, record_source: usize, record_target: usize): i32 {
  const chunks = bitmap_chunks(control);
  for (let chunk: u32 = 0; chunk < chunks; chunk++) {
    const any_leaf = is_leaf(chunk_entry(record_source, chunk)) || is_leaf(chunk_entry(record_target, chunk));
    if (!any_leaf || chunk_entry(control, chunk) == CHUNK_SET) continue;
    const ensured = leaf_ensure(control, chunk);
    if (ensured != OK) return ensured;
  }
  return OK;
}

// ORs both change records into the control bitmap (prepared by prepare_rearm);
// the relationship's source and target are frozen, so no thread reads any of
// the three bitmaps meanwhile and leaves may be freed.
export function arm_from_records(control: usize, record_source: usize, record_target: usize): void {
  const chunks = bitmap_chunks(control);
  for (let chunk: u32 = 0; chunk < chunks; chunk++) {
    const from_source = chunk_entry(record_source, chunk);
    const from_target = chunk_entry(record_target, chunk);
    const entry = chunk_entry(control, chunk);
    if (from_source == CHUNK_SET || from_target == CHUNK_SET) {
      chunk_reset(control, chunk, CHUNK_SET);
    } else if (entry != CHUNK_SET && (is_leaf(from_source) || is_leaf(from_target))) {
      assert(is_leaf(entry), "a control chunk to arm has no leaf: prepare_rearm first");
      const words = leaf_words(control, chunk);
      for (let index: u32 = 0; index < words; index++) {
        const at = <usize>index << 3;
        let word = load<u64>(<usize>entry + at);
        if (is_leaf(from_source)) word |= load<u64>(<usize>from_source + at);
        if (is_leaf(from_target)) word |= load<u64>(<usize>from_target + at);
        store<u64>(<usize>entry + at, word);
      }
    }
  }
}

// Empties both change records, freeing their leaves; source and target frozen.
export function clear_records(record_source: usize, record_target: usize): void {
  const chunks = bitmap_chunks(record_source);
  for (let chunk: u32 = 0; chunk < chunks; chunk++) {
    chunk_reset(record_source, chunk, CHUNK_CLEAR);
    chunk_reset(record_target, chunk, CHUNK_CLEAR);
  }
}

// A new T0 for a -record relationship (what resyncflash needs, design.md §3):
// every track changed on the source or the target since the last T0 becomes
// pending again, on top of those still pending, and both change records start
// empty. Source and target are frozen meanwhile, so the new T0 is one point in
// time for every writer; the control bitmap's leaves are allocated first, so
// a full image fails it with nothing changed. Returns the tracks now pending,
// or an error code.
export function rel_rearm_from_records(rel_slot: u32): i32 {
  const rel = active_rel(rel_slot);
  if (rel == 0) return E_BAD_ARGUMENT;
  if ((load<u32>(rel + R_FLAGS) & REL_RECORD) == 0) return E_BAD_ARGUMENT;
  const control = <usize>load<u32>(rel + R_BITMAP);
  const record_source = <usize>load<u32>(rel + R_RECORD_SOURCE);
  const record_target = <usize>load<u32>(rel + R_RECORD_TARGET);
  const prepared = prepare_rearm(control, record_source, record_target);
  if (prepared != OK) return prepared;
  const source = volume_at(load<u32>(rel + R_SOURCE));
  const target = volume_at(load<u32>(rel + R_TARGET));
  const frozen = freeze_pair(source, target);
  if (frozen != OK) return frozen;
  const again = prepare_rearm(control, record_source, record_target);
  if (again != OK) {
    thaw(target);
    thaw(source);
    return again;
  }
  arm_from_records(control, record_source, record_target);
  clear_records(record_source, record_target);
  const pending = bitmap_count(control);
  atomic.store<i32>(rel + R_PENDING, <i32>pending);
  store<u32>(rel + R_CURSOR, 0);
  thaw(target);
  thaw(source);
  if ((load<u32>(rel + R_FLAGS) & REL_BACKGROUND) != 0 && pending > 0) {
    atomic.add<i32>(base() + H_WORK_EPOCH, 1);
    atomic.notify(base() + H_WORK_EPOCH, <i32>THREAD_MAX);
  }
  return <i32>pending;
}

// Recounts the pending counter of every active relationship from its control
// bitmap, with its source and target frozen: no thread is then between
// clearing a bit and counting it off (copy.ts, io.ts do both inside a gate of
// the pair). The reaper calls it, because a thread that died in that window
// left a counter too high, which would keep its copy from ever ending.
export function recount_pending_all(): i32 {
  for (let rel_slot: u32 = 0; rel_slot < REL_SLOT_MAX; rel_slot++) {
    const rel = active_rel(rel_slot);
    if (rel == 0) continue;
    const source = volume_at(load<u32>(rel + R_SOURCE));
    const target = volume_at(load<u32>(rel + R_TARGET));
    const frozen = freeze_pair(source, target);
    if (frozen != OK) return frozen;
    const pending = <i32>bitmap_count(<usize>load<u32>(rel + R_BITMAP));
    atomic.store<i32>(rel + R_PENDING, pending);
    if (pending == 0) atomic.notify(rel + R_PENDING, <i32>THREAD_MAX);
    thaw(target);
    thaw(source);
  }
  return OK;
}
