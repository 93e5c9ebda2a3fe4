// FlashCopy V2 increments: resync, reverse, revertible increments and write holds.
//
// A relationship made with -record keeps two change-recording bitmaps beside
// its control bitmap (io.ts sets a track's bit on every host write to the
// source or the target). Since the last T0 the two volumes can differ only on
// those tracks, and a pending track is never recorded (a write to it copies
// it first), so:
//
//   resync   pending |= record_source | record_target; both records cleared.
//            Every track not armed already reads the same on both sides, so
//            after this the target reads as the source does now: a new T0.
//   reverse  needs nothing pending; swaps source and target, then arms the
//            recorded tracks the same way: the old source reads as the old
//            target does now, and only the tracks that differ are copied.
//
// Both happen with source and target frozen (sync.ts freeze: each drained of
// I/O, and copy workers enter the source's gate), which makes them one point
// in time for every writer, as establish is.
//
// Revertible increment (setflashrevertible): the same arming, but first the
// target's own bytes of every armed track are saved, in track order, and the
// records that the increment consumed are kept. While revertible the target
// refuses host writes (REL_TGTINHIBIT) and has no background copy, so only
// copy-on-write of the increment's tracks changes it. commitflash drops what was kept; revertflash copies the saved
// tracks back, disarms them and merges the kept records back in: the target
// reads as it did before the increment, and a later resync still copies
// every track changed since the previous T0.
//
// Revert record (allocated, REVERT_RECORD_SIZE bytes), one per revertible
// relationship, found through the revert table (layout.ts H_REVERT_TABLE):
//    0 u32 saved tracks pointer   4 u32 saved tracks byte count
//    8 u32 kept source record    12 u32 kept target record (bitmap.ts bitmaps)
//   16 u32 flags before the increment
//
// Bitmaps have two levels (bitmap.ts): every change of their bits happens
// chunk by chunk with source and target frozen, on leaves allocated before
// (prepare_rearm, prepare_revert_leaves: once before the freeze, for the
// allocations, and again once frozen, in case a write in between gave a
// record a leaf), so a full image fails a command with nothing changed.

import {
  OK, E_BAD_ARGUMENT, E_NO_SPACE, E_BUSY, TRACK_SHIFT, TRACK_SIZE, EXTENT_TRACK_SHIFT, REL_SLOT_MAX,
  V_SOURCE_HEAD, V_TARGET_REL, V_TRACKS, CHUNK_WORD_SHIFT,
  R_STATE, R_FLAGS, R_SOURCE, R_TARGET, R_TRACKS, R_BITMAP, R_PENDING, R_CURSOR, R_NEXT_SOURCE,
  R_RECORD_SOURCE, R_RECORD_TARGET,
  REL_ACTIVE, REL_BACKGROUND, REL_TGTINHIBIT, REL_RECORD, REL_PERSIST, REL_HOLD_WRITES, REL_REVERTIBLE,
  H_REVERT_TABLE, H_WORK_EPOCH, THREAD_MAX,
  base, volume_at, rel_at,
} from "./layout";
import { alloc, alloc_failure, free, ALLOC_BYTES_MAX } from "./alloc";
import { freeze_pair, thaw } from "./sync";
import {
  bitmap_count, bitmap_find, bitmap_create, bitmap_free, bitmap_chunks, bitmap_tracks, chunk_entry, chunk_reset,
  chunk_track_count, leaf_ensure, leaf_words, word_load, CHUNK_CLEAR, CHUNK_SET,
} from "./bitmap";
import { prepare_rearm, arm_from_records, clear_records } from "./relationship";
import { read_pointer, write_pointer, ensure_extents, mark_changed } from "./volume";
// Flags a host may give a resync or a reverse; the others belong to the core.
const INCREMENT_FLAGS: u32 = REL_BACKGROUND | REL_TGTINHIBIT | REL_RECORD | REL_PERSIST | REL_HOLD_WRITES;
const REVERT_RECORD_SIZE: u32 = 32;
const RV_SAVED: u32 = 0;
const RV_SAVED_BYTES: u32 = 4;
const RV_RECORD_SOURCE: u32 = 8;
const RV_RECORD_TARGET: u32 = 12;
const RV_FLAGS: u32 = 16;

// @ts-ignore: decorator
@inline function active_rel(rel_slot: u32): usize {
  if (rel_slot >= REL_SLOT_MAX) return 0;
  const rel = rel_at(rel_slot);
  return atomic.load<u32>(rel + R_STATE) == REL_ACTIVE ? rel : 0;
}

// @ts-ignore: decorator
@inline function recording(rel: usize): bool {
  return load<u32>(rel + R_RECORD_SOURCE) != 0 && load<u32>(rel + R_RECORD_TARGET) != 0;
}

// ---- write holds (mkflash -freeze) ------------------------------------------------------

// True when some relationship of this source holds its writes. Called by the
// write path inside the volume's gate, so the chain is stable.
export function source_writes_held(volume: usize): bool {
  let link = load<u32>(volume + V_SOURCE_HEAD);
  for (let hops: u32 = 0; link != 0 && hops < REL_SLOT_MAX; hops++) {
    const rel = rel_at(link - 1);
    if ((atomic.load<u32>(rel + R_FLAGS) & REL_HOLD_WRITES) != 0) return true;
    link = load<u32>(rel + R_NEXT_SOURCE);
  }
  return false;
}

// Ends the hold of one relationship (unfreezeflash, or the LSS's timeout).
// A write that saw the flag set has failed already; later ones go through.
export function rel_release_writes(rel_slot: u32): i32 {
  const rel = active_rel(rel_slot);
  if (rel == 0) return E_BAD_ARGUMENT;
  atomic.and<u32>(rel + R_FLAGS, ~REL_HOLD_WRITES);
  return OK;
}

// ---- arming ----------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function is_leaf(entry: u32): bool { return entry != CHUNK_CLEAR && entry != CHUNK_SET; }

// pending |= source_record | target_record (their leaves prepared); returns
// the new pending count. The caller holds source and target frozen.
function arm_recorded(rel: usize, source_record: usize, target_record: usize): i32 {
  const bitmap = <usize>load<u32>(rel + R_BITMAP);
  arm_from_records(bitmap, source_record, target_record);
  const pending = <i32>bitmap_count(bitmap);
  atomic.store<i32>(rel + R_PENDING, pending);
  store<u32>(rel + R_CURSOR, 0);
  return pending;
}

// A relationship given without REL_RECORD stops recording: its records go.
function drop_records_unless(rel: usize, flags: u32): void {
  if ((flags & REL_RECORD) != 0) return;
  bitmap_free(<usize>load<u32>(rel + R_RECORD_SOURCE));
  bitmap_free(<usize>load<u32>(rel + R_RECORD_TARGET));
  store<u32>(rel + R_RECORD_SOURCE, 0);
  store<u32>(rel + R_RECORD_TARGET, 0);
}

// Freezes source and target with the control bitmap's leaves for arming in
// place; on failure nothing is frozen or changed.
function freeze_prepared(source: usize, target: usize, control: usize, source_record: usize, target_record: usize): i32 {
  const prepared = prepare_rearm(control, source_record, target_record);
  if (prepared != OK) return prepared;
  const frozen = freeze_pair(source, target);
  if (frozen != OK) return frozen;
  const again = prepare_rearm(control, source_record, target_record);
  if (again == OK) return OK;
  thaw(target);
  thaw(source);
  return again;
}

function wake_copiers(rel: usize): void {
  if ((load<u32>(rel + R_FLAGS) & REL_BACKGROUND) == 0) return;
  if (atomic.load<i32>(rel + R_PENDING) <= 0) return;
  atomic.add<i32>(base() + H_WORK_EPOCH, 1);
  atomic.notify(base() + H_WORK_EPOCH, <i32>THREAD_MAX);
}

// The new T0 of resync and reverse, with both volumes frozen by the caller:
// pending gains both change records, which then start afresh; the volumes
// thaw, and copy workers are woken. Returns the tracks armed.
function arm_and_thaw(rel: usize, source_record: usize, target_record: usize, flags: u32, source: usize, target: usize): i32 {
  const pending = arm_recorded(rel, source_record, target_record);
  clear_records(source_record, target_record);
  atomic.store<u32>(rel + R_FLAGS, flags);
  thaw(target);
  thaw(source);
  drop_records_unless(rel, flags);
  wake_copiers(rel);
  return pending;
}

function check_increment(rel: usize, flags: u32): i32 {
  if (rel == 0) return E_BAD_ARGUMENT;
  if ((flags & ~INCREMENT_FLAGS) != 0) return E_BAD_ARGUMENT;
  if (!recording(rel)) return E_BAD_ARGUMENT;
  if ((load<u32>(rel + R_FLAGS) & REL_REVERTIBLE) != 0) return E_BUSY;
  return OK;
}

// ---- resync ------------------------------------------------------------------------------

// A new T0 that copies only the tracks changed on either side since the last
// one. `flags` replaces the relationship's flags. Returns the pending count.
export function rel_resync(rel_slot: u32, flags: u32): i32 {
  const rel = active_rel(rel_slot);
  const checked = check_increment(rel, flags);
  if (checked != OK) return checked;
  const source = volume_at(load<u32>(rel + R_SOURCE));
  const target = volume_at(load<u32>(rel + R_TARGET));
  const source_record = <usize>load<u32>(rel + R_RECORD_SOURCE);
  const target_record = <usize>load<u32>(rel + R_RECORD_TARGET);
  const frozen = freeze_prepared(source, target, <usize>load<u32>(rel + R_BITMAP), source_record, target_record);
  if (frozen != OK) return frozen;
  return arm_and_thaw(rel, source_record, target_record, flags, source, target);
}

// ---- reverse -----------------------------------------------------------------------------

function check_reverse(rel_slot: u32, rel: usize, flags: u32): i32 {
  const checked = check_increment(rel, flags);
  if (checked != OK) return checked;
  if (atomic.load<i32>(rel + R_PENDING) != 0) return E_BUSY;
  const source = volume_at(load<u32>(rel + R_SOURCE));
  const target = volume_at(load<u32>(rel + R_TARGET));
  const rel_link = rel_slot + 1;
  // The source's only relationship, and the target no source: reversed, no
  // volume is both source and target. Same track count both ways.
  if (load<u32>(source + V_SOURCE_HEAD) != rel_link) return E_BUSY;
  if (load<u32>(rel + R_NEXT_SOURCE) != 0) return E_BUSY;
  if (load<u32>(target + V_SOURCE_HEAD) != 0) return E_BUSY;
  if (load<u32>(target + V_TRACKS) != load<u32>(rel + R_TRACKS)) return E_BAD_ARGUMENT;
  return OK;
}

// Makes the target the source: the old source then reads as the old target
// does now, and only the tracks recorded on either side are copied back.
export function rel_reverse(rel_slot: u32, flags: u32): i32 {
  const rel = active_rel(rel_slot);
  const checked = check_reverse(rel_slot, rel, flags);
  if (checked != OK) return checked;
  const old_source_slot = load<u32>(rel + R_SOURCE);
  const old_target_slot = load<u32>(rel + R_TARGET);
  const old_source = volume_at(old_source_slot);
  const old_target = volume_at(old_target_slot);
  const source_record = <usize>load<u32>(rel + R_RECORD_SOURCE);
  const target_record = <usize>load<u32>(rel + R_RECORD_TARGET);
  const frozen = freeze_prepared(old_source, old_target, <usize>load<u32>(rel + R_BITMAP), source_record, target_record);
  if (frozen != OK) return frozen;
  store<u32>(old_source + V_SOURCE_HEAD, 0);
  store<u32>(old_target + V_TARGET_REL, 0);
  store<u32>(rel + R_SOURCE, old_target_slot);
  store<u32>(rel + R_TARGET, old_source_slot);
  store<u32>(rel + R_NEXT_SOURCE, 0);
  store<u32>(old_target + V_SOURCE_HEAD, rel_slot + 1);
  store<u32>(old_source + V_TARGET_REL, rel_slot + 1);
  return arm_and_thaw(rel, source_record, target_record, flags, old_source, old_target);
}

// ---- revertible increments ---------------------------------------------------------------

// The revert table's entry for a slot; the table is allocated on first use
// (by the host thread, which serialises these commands). 0 when out of space.
function revert_entry(rel_slot: u32): usize {
  let table = <usize>atomic.load<u32>(base() + H_REVERT_TABLE);
  if (table == 0) {
    table = alloc(REL_SLOT_MAX << 2);
    if (table == 0) return 0;
    atomic.store<u32>(base() + H_REVERT_TABLE, <u32>table);
  }
  return table + (<usize>rel_slot << 2);
}

function free_revert_record(record: usize): void {
  free(<usize>load<u32>(record + RV_SAVED), load<u32>(record + RV_SAVED_BYTES));
  bitmap_free(<usize>load<u32>(record + RV_RECORD_SOURCE));
  bitmap_free(<usize>load<u32>(record + RV_RECORD_TARGET));
  free(record, REVERT_RECORD_SIZE);
}

// How many tracks are set in either bitmap (both of one track count).
function count_union(first: usize, second: usize): u32 {
  const chunks = bitmap_chunks(first);
  let count: u64 = 0;
  for (let chunk: u32 = 0; chunk < chunks; chunk++) {
    const a = chunk_entry(first, chunk);
    const b = chunk_entry(second, chunk);
    if (a == CHUNK_SET || b == CHUNK_SET) {
      count += chunk_track_count(first, chunk);
    } else if (a != CHUNK_CLEAR || b != CHUNK_CLEAR) {
      const base_word = chunk << CHUNK_WORD_SHIFT;
      const words = leaf_words(first, chunk);
      for (let index: u32 = 0; index < words; index++) {
        count += popcnt<u64>(word_load(first, base_word + index) | word_load(second, base_word + index));
      }
    }
  }
  return <u32>count;
}

// The first track at or after `from_track` set in either bitmap, or -1.
function find_union(first: usize, second: usize, from_track: u32): i32 {
  const a = bitmap_find(first, from_track);
  const b = bitmap_find(second, from_track);
  if (a < 0) return b;
  if (b < 0) return a;
  return min<i32>(a, b);
}

// Copies the target's own bytes of every track in (first | second) to `saved`,
// in track order (to_saved), or back from it (its extents allocated first:
// ensure_saved_extents). The caller holds the target frozen.
function move_saved_tracks(target: usize, first: usize, second: usize, saved: usize, to_saved: bool): void {
  let slot: usize = 0;
  for (let track = find_union(first, second, 0); track >= 0; track = find_union(first, second, <u32>track + 1)) {
    const offset = <u64>track << <u64>TRACK_SHIFT;
    const keep = saved + (slot << <usize>TRACK_SHIFT);
    if (to_saved) {
      memory.copy(keep, read_pointer(target, offset), TRACK_SIZE);
    } else {
      memory.copy(write_pointer(target, offset), keep, TRACK_SIZE);
      mark_changed(target, offset, <u64>TRACK_SIZE); // a save in progress must read it again
    }
    slot++;
  }
}

// Allocates what a revertible increment keeps, before anything is frozen:
// room for the saved tracks and two fresh (empty) change records. Returns the
// record, or 0 (alloc_failure says why).
function prepare_revert_record(rel: usize, saved_bytes: u32): usize {
  const track_count = load<u32>(rel + R_TRACKS);
  const record = alloc(REVERT_RECORD_SIZE);
  if (record == 0) return 0;
  const saved = alloc(saved_bytes);
  const fresh_source = saved != 0 ? bitmap_create(track_count, false) : 0;
  const fresh_target = fresh_source != 0 ? bitmap_create(track_count, false) : 0;
  store<u32>(record + RV_SAVED, <u32>saved);
  store<u32>(record + RV_SAVED_BYTES, saved_bytes);
  store<u32>(record + RV_RECORD_SOURCE, <u32>fresh_source);
  store<u32>(record + RV_RECORD_TARGET, <u32>fresh_target);
  if (fresh_target != 0) return record;
  const failure = alloc_failure();
  free_revert_record(record);
  failed_with = failure;
  return 0;
}

// Why this thread's last prepare_revert_record returned 0.
let failed_with: i32 = E_NO_SPACE;

// setflashrevertible: an increment (as rel_resync, flags kept) that can be
// rolled back. The tracks it arms are counted with both volumes frozen; if
// host writes recorded more tracks since the space was sized, it retries,
// at most a few times. Returns the pending count.
const REVERTIBLE_ATTEMPTS_MAX: u32 = 4;
const REVERTIBLE_SLACK_TRACKS: u32 = 16;
const SAVED_TRACKS_MAX: u32 = ALLOC_BYTES_MAX >> TRACK_SHIFT;

export function rel_make_revertible(rel_slot: u32): i32 {
  const rel = active_rel(rel_slot);
  if (rel == 0) return E_BAD_ARGUMENT;
  const checked = check_increment(rel, load<u32>(rel + R_FLAGS) & INCREMENT_FLAGS);
  if (checked != OK) return checked;
  const entry = revert_entry(rel_slot);
  if (entry == 0) return E_NO_SPACE;
  for (let attempt: u32 = 0; attempt < REVERTIBLE_ATTEMPTS_MAX; attempt++) {
    const source_record = <usize>load<u32>(rel + R_RECORD_SOURCE);
    const target_record = <usize>load<u32>(rel + R_RECORD_TARGET);
    // Room for every recorded track and a few more that host writes may record meanwhile.
    const tracks = count_union(source_record, target_record) + REVERTIBLE_SLACK_TRACKS;
    // One allocation holds them all, so at most ALLOC_BYTES_MAX of them (and no u32 overflow).
    if (tracks > SAVED_TRACKS_MAX) return E_NO_SPACE;
    const record = prepare_revert_record(rel, tracks << TRACK_SHIFT);
    if (record == 0) return failed_with;
    const result = increment_revertible(rel, record, tracks);
    if (result >= 0) {
      store<u32>(entry, <u32>record);
      return result;
    }
    free_revert_record(record);
    if (result != E_BUSY) return result;
  }
  return E_BUSY;
}

// With both volumes frozen: saves the armed tracks' target bytes, swaps in
// fresh records (the old ones are kept in the revert record), arms, and
// inhibits target writes. E_BUSY when the saved space turned out too small.
function increment_revertible(rel: usize, record: usize, tracks_max: u32): i32 {
  const source = volume_at(load<u32>(rel + R_SOURCE));
  const target = volume_at(load<u32>(rel + R_TARGET));
  const source_record = <usize>load<u32>(rel + R_RECORD_SOURCE);
  const target_record = <usize>load<u32>(rel + R_RECORD_TARGET);
  const frozen = freeze_prepared(source, target, <usize>load<u32>(rel + R_BITMAP), source_record, target_record);
  if (frozen != OK) return frozen;
  if (count_union(source_record, target_record) > tracks_max) {
    thaw(target);
    thaw(source);
    return E_BUSY;
  }
  move_saved_tracks(target, source_record, target_record, <usize>load<u32>(record + RV_SAVED), true);
  const fresh_source = load<u32>(record + RV_RECORD_SOURCE);
  const fresh_target = load<u32>(record + RV_RECORD_TARGET);
  store<u32>(record + RV_RECORD_SOURCE, <u32>source_record);
  store<u32>(record + RV_RECORD_TARGET, <u32>target_record);
  store<u32>(rel + R_RECORD_SOURCE, fresh_source);
  store<u32>(rel + R_RECORD_TARGET, fresh_target);
  const pending = arm_recorded(rel, source_record, target_record);
  const flags = load<u32>(rel + R_FLAGS);
  store<u32>(record + RV_FLAGS, flags);
  // No background copy while revertible: the increment is copied only as host
  // I/O needs it, and in the background once committed.
  atomic.store<u32>(rel + R_FLAGS, (flags & ~REL_BACKGROUND) | REL_REVERTIBLE | REL_TGTINHIBIT);
  thaw(target);
  thaw(source);
  return pending;
}

// The revert record of a revertible relationship, or 0.
function revert_record_of(rel_slot: u32): usize {
  const rel = active_rel(rel_slot);
  if (rel == 0) return 0;
  if ((load<u32>(rel + R_FLAGS) & REL_REVERTIBLE) == 0) return 0;
  const table = <usize>atomic.load<u32>(base() + H_REVERT_TABLE);
  if (table == 0) return 0;
  return <usize>load<u32>(table + (<usize>rel_slot << 2));
}

// Flags after the revertible window: the current ones (a hold may have ended
// meanwhile) without the window's own, and the target inhibit as it was.
function flags_after_window(rel: usize, record: usize): u32 {
  const current = load<u32>(rel + R_FLAGS) & ~(REL_REVERTIBLE | REL_TGTINHIBIT | REL_BACKGROUND);
  return current | (load<u32>(record + RV_FLAGS) & (REL_TGTINHIBIT | REL_BACKGROUND));
}

function forget_revert_record(rel_slot: u32, record: usize, rel: usize): void {
  store<u32>(<usize>load<u32>(base() + H_REVERT_TABLE) + (<usize>rel_slot << 2), 0);
  free_revert_record(record);
}

// commitflash: the increment stays; what was kept to undo it goes.
export function rel_commit(rel_slot: u32): i32 {
  const record = revert_record_of(rel_slot);
  if (record == 0) return E_BAD_ARGUMENT;
  const rel = rel_at(rel_slot);
  atomic.store<u32>(rel + R_FLAGS, flags_after_window(rel, record));
  forget_revert_record(rel_slot, record, rel);
  wake_copiers(rel);
  return OK;
}

// Allocates the target extents the saved tracks go back to, so that the
// revert itself cannot run out of space half-way.
function ensure_saved_extents(target: usize, first: usize, second: usize): i32 {
  let last_extent: i64 = -1;
  for (let track = find_union(first, second, 0); track >= 0; track = find_union(first, second, <u32>track + 1)) {
    const extent = <u32>track >>> EXTENT_TRACK_SHIFT;
    if (<i64>extent == last_extent) continue;
    last_extent = extent;
    const ensured = ensure_extents(target, extent, extent);
    if (ensured != OK) return ensured;
  }
  return OK;
}

// Leaves a revert changes bits in: the control bitmap's where it is all set
// and a kept record has a leaf (bits get cleared), and each current record's
// where its kept record has a leaf (bits get set).
function prepare_revert_leaves(rel: usize, kept_source: usize, kept_target: usize): i32 {
  const control = <usize>load<u32>(rel + R_BITMAP);
  const records = [<usize>load<u32>(rel + R_RECORD_SOURCE), <usize>load<u32>(rel + R_RECORD_TARGET)];
  const kept = [kept_source, kept_target];
  const chunks = bitmap_chunks(control);
  for (let chunk: u32 = 0; chunk < chunks; chunk++) {
    const a = chunk_entry(kept_source, chunk);
    const b = chunk_entry(kept_target, chunk);
    if (a != CHUNK_SET && b != CHUNK_SET && (is_leaf(a) || is_leaf(b)) && chunk_entry(control, chunk) == CHUNK_SET) {
      const ensured = leaf_ensure(control, chunk);
      if (ensured != OK) return ensured;
    }
    for (let side = 0; side < 2; side++) {
      if (!is_leaf(chunk_entry(kept[side], chunk)) || chunk_entry(records[side], chunk) == CHUNK_SET) continue;
      const ensured = leaf_ensure(records[side], chunk);
      if (ensured != OK) return ensured;
    }
  }
  return OK;
}

// record |= kept, chunk by chunk (leaves prepared); source and target frozen.
function merge_record(record: usize, kept: usize, chunk: u32): void {
  const from = chunk_entry(kept, chunk);
  if (from == CHUNK_CLEAR) return;
  if (from == CHUNK_SET) {
    chunk_reset(record, chunk, CHUNK_SET);
    return;
  }
  const into = chunk_entry(record, chunk);
  if (into == CHUNK_SET) return;
  assert(is_leaf(into), "a record chunk to merge into has no leaf: prepare_revert_leaves first");
  const words = leaf_words(record, chunk);
  for (let index: u32 = 0; index < words; index++) {
    const at = <usize>index << 3;
    store<u64>(<usize>into + at, load<u64>(<usize>into + at) | load<u64>(<usize>from + at));
  }
}

// control &= ~(kept_source | kept_target), records |= kept; source and target frozen.
function disarm_kept(rel: usize, kept_source: usize, kept_target: usize): void {
  const control = <usize>load<u32>(rel + R_BITMAP);
  const chunks = bitmap_chunks(control);
  for (let chunk: u32 = 0; chunk < chunks; chunk++) {
    const a = chunk_entry(kept_source, chunk);
    const b = chunk_entry(kept_target, chunk);
    if (a == CHUNK_CLEAR && b == CHUNK_CLEAR) continue;
    const entry = chunk_entry(control, chunk);
    if (a == CHUNK_SET || b == CHUNK_SET) {
      chunk_reset(control, chunk, CHUNK_CLEAR);
    } else if (entry != CHUNK_CLEAR) {
      assert(is_leaf(entry), "a control chunk to disarm has no leaf: prepare_revert_leaves first");
      const base_word = chunk << CHUNK_WORD_SHIFT;
      const words = leaf_words(control, chunk);
      for (let index: u32 = 0; index < words; index++) {
        const at = <usize>entry + (<usize>index << 3);
        store<u64>(at, load<u64>(at) & ~(word_load(kept_source, base_word + index) | word_load(kept_target, base_word + index)));
      }
    }
    merge_record(<usize>load<u32>(rel + R_RECORD_SOURCE), kept_source, chunk);
    merge_record(<usize>load<u32>(rel + R_RECORD_TARGET), kept_target, chunk);
  }
}

// revertflash: the target reads as it did before the increment again. The
// saved tracks go back and are disarmed; the kept records are merged back,
// so the next increment still copies them. Returns the pending count.
export function rel_revert(rel_slot: u32): i32 {
  const record = revert_record_of(rel_slot);
  if (record == 0) return E_BAD_ARGUMENT;
  const rel = rel_at(rel_slot);
  const kept_source = <usize>load<u32>(record + RV_RECORD_SOURCE);
  const kept_target = <usize>load<u32>(record + RV_RECORD_TARGET);
  const source = volume_at(load<u32>(rel + R_SOURCE));
  const target = volume_at(load<u32>(rel + R_TARGET));
  const ensured = ensure_saved_extents(target, kept_source, kept_target);
  if (ensured != OK) return ensured;
  const prepared = prepare_revert_leaves(rel, kept_source, kept_target);
  if (prepared != OK) return prepared;
  const frozen = freeze_pair(source, target);
  if (frozen != OK) return frozen;
  const again = prepare_revert_leaves(rel, kept_source, kept_target);
  if (again != OK) {
    thaw(target);
    thaw(source);
    return again;
  }
  move_saved_tracks(target, kept_source, kept_target, <usize>load<u32>(record + RV_SAVED), false);
  disarm_kept(rel, kept_source, kept_target);
  const bitmap = <usize>load<u32>(rel + R_BITMAP);
  const pending = <i32>bitmap_count(bitmap);
  atomic.store<i32>(rel + R_PENDING, pending);
  // Waiters for the end of the copy sleep on the counter (copy.ts settle_pending).
  if (pending == 0) atomic.notify(rel + R_PENDING, <i32>THREAD_MAX);
  atomic.store<u32>(rel + R_FLAGS, flags_after_window(rel, record));
  thaw(target);
  thaw(source);
  forget_revert_record(rel_slot, record, rel);
  wake_copiers(rel);
  return pending;
}

// 1 while the relationship is revertible, else 0 (tests check engine and core agree).
export function rel_revertible(rel_slot: u32): i32 {
  return revert_record_of(rel_slot) != 0 ? 1 : 0;
}
