// The host I/O path: reads and writes at any byte offset and length, from any
// thread, with FlashCopy's copy-on-write and read-redirect.
//
// A request enters the volume's gate (so its relationship links are stable for
// its whole duration: a request is entirely before or entirely after an
// establish) and is then split at track boundaries. Per track:
//
//   source write, some target pending   lock source track; copy T0 track to each
//                                        pending target; clear bits; unlock; write
//   target write, track pending         lock source track; partial write: copy the
//                                        T0 track first; clear bit; write; unlock
//   target read, track pending          lock source track; read source if still
//                                        pending, else target; unlock
//   anything else                        no lock: a clear bit is final
//
// Track locks always live in the source's lock stripes, so one word serialises
// everything that touches a track of a relationship, whichever volume the
// request addressed. Offsets and lengths are u64 (volumes up to 16 TiB);
// track indexes are u32 (at most 2^28 tracks).
//
// Before a request changes anything it allocates what it may need
// (prepare_write): its extents, the targets' extents for copy-on-write, and
// the bitmap leaves of the tracks whose bits it may clear or set (bitmap.ts:
// bits change only in leaves). A full image fails the request cleanly.

import {
  OK, E_RANGE, E_NO_VOLUME, E_UNUSABLE, E_TGTINHIBIT, E_BAD_ARGUMENT, E_LONG_BUSY,
  TRACK_SHIFT, TRACK_SIZE, VOLUME_SLOT_MAX, REL_SLOT_MAX,
  V_STATE, V_SIZE, V_TARGET_REL, V_SOURCE_HEAD,
  VOLUME_FREE, VOLUME_UNUSABLE,
  R_FLAGS, R_SOURCE, R_TARGET, R_TRACKS, R_BITMAP, R_PENDING, R_NEXT_SOURCE, R_GENERATION,
  R_RECORD_SOURCE, R_RECORD_TARGET, REL_TGTINHIBIT, EXTENT_SHIFT, EXTENT_SIZE, EXTENT_LEAF_SHIFT, GROUP_SHIFT,
  PPRC_NONE, PPRC_PRIMARY, volume_at, rel_at,
} from "./layout";
import { lock, unlock, gate_enter, gate_exit } from "./sync";
import { bit_is_set, bit_clear, bit_set, leaves_ensure } from "./bitmap";
import {
  track_lock, read_pointer, write_pointer, ensure_range, group_leaf, extent_allocated, mark_changed, changed_ensure,
} from "./volume";
import { copy_run_data, settle_pending } from "./copy";
import { pattern_write } from "./pattern";
import { hash_update } from "./hash";
import { source_writes_held } from "./increment";
import { pprc_role, mirror_prepare, mirror_write_begin, mirror_write_end, mirror_write_abort } from "./mirror";

export const WRITE_DATA: u32 = 0; // argument: pointer to the bytes
export const WRITE_PATTERN: u32 = 1; // argument: seed
export const WRITE_FILL: u32 = 2; // argument: byte value
export const READ_COPY: u32 = 0; // argument: destination pointer
export const READ_HASH: u32 = 1; // feeds the thread's running hash
// Or'ed into a write's mode by the PPRC receiver: a secondary takes writes
// only from its primary's link (mirror.ts).
export const WRITE_FROM_MIRROR: u32 = 16;

// @ts-ignore: decorator
@inline function in_range(volume: usize, offset: u64, length: u64): bool {
  const size = load<u64>(volume + V_SIZE);
  return offset <= size && length <= size - offset;
}

// `done` is the offset within the request: for WRITE_DATA it indexes the
// caller's bytes (a staging buffer, so it fits a u32 then).
function apply_write(destination: usize, volume_offset: u64, done: u64, length: u32, mode: u32, argument: u64): void {
  if (mode == WRITE_DATA) memory.copy(destination, <usize>argument + <usize>done, length);
  else if (mode == WRITE_PATTERN) pattern_write(destination, volume_offset, length, argument);
  else memory.fill(destination, <u8>argument, length);
}

// @ts-ignore: decorator
@inline function rel_of(link: u32): usize { return rel_at(link - 1); }

// Debug builds check that the gate did its job: a request reads its volume's
// relationship links once and relies on them until it returns, so they must
// not change meanwhile (a freezer that went ahead with the request inside
// would change them). The signature folds in the target relationship and the
// chain of source relationships, each with its generation, so that a slot
// withdrawn and reused meanwhile shows too. The release core compiles all of
// this out (ASC_NO_ASSERT is a compile-time constant).
function links_signature(volume: usize): u64 {
  const target_link = atomic.load<u32>(volume + V_TARGET_REL);
  let signature = <u64>target_link;
  if (target_link != 0) signature ^= <u64>atomic.load<u32>(rel_of(target_link) + R_GENERATION) << 32;
  let link = atomic.load<u32>(volume + V_SOURCE_HEAD);
  for (let hops: u32 = 0; link != 0 && hops < REL_SLOT_MAX; hops++) {
    const rel = rel_of(link);
    signature = (signature * 0x100000001b3) ^ <u64>link ^ (<u64>atomic.load<u32>(rel + R_GENERATION) << 32);
    link = atomic.load<u32>(rel + R_NEXT_SOURCE);
  }
  return signature;
}

// @ts-ignore: decorator
@inline function links_before(volume: usize): u64 {
  return ASC_NO_ASSERT ? 0 : links_signature(volume);
}

// @ts-ignore: decorator
@inline function assert_links_unchanged(volume: usize, before: u64): void {
  if (!ASC_NO_ASSERT) assert(links_signature(volume) == before, "a volume's relationship links changed while a request was inside its gate");
}

// Allocates everything the write may need before it changes anything, so a
// full image fails the request cleanly instead of half-way.
function prepare_write(volume: usize, offset: u64, length: u64): i32 {
  if (length == 0) return OK;
  const prepared = ensure_range(volume, offset, length);
  if (prepared != OK) return prepared;
  changed_ensure(volume, offset, length);
  const first_track = <u32>(offset >> <u64>TRACK_SHIFT);
  const last_track = <u32>((offset + length - 1) >> <u64>TRACK_SHIFT);
  const target_link = load<u32>(volume + V_TARGET_REL);
  if (target_link != 0) {
    const rel = rel_of(target_link);
    const control = leaves_ensure(<usize>load<u32>(rel + R_BITMAP), first_track, last_track);
    if (control != OK) return control;
    const record = leaves_ensure(<usize>load<u32>(rel + R_RECORD_TARGET), first_track, last_track);
    if (record != OK) return record;
  }
  let link = load<u32>(volume + V_SOURCE_HEAD);
  while (link != 0) {
    const rel = rel_of(link);
    const ensured = prepare_source_of(rel, offset, length, first_track, last_track);
    if (ensured != OK) return ensured;
    link = load<u32>(rel + R_NEXT_SOURCE);
  }
  return OK;
}

// What a write to the source of `rel` may need: the target's extents of the
// tracks it covers (copy-on-write), and leaves of both bitmaps.
export function prepare_source_of(rel: usize, offset: u64, length: u64, first_track: u32, last_track: u32): i32 {
  const covered = <u64>load<u32>(rel + R_TRACKS) << <u64>TRACK_SHIFT;
  if (offset >= covered) return OK;
  const first = offset & ~<u64>(TRACK_SIZE - 1);
  const end = min<u64>(offset + length + <u64>(TRACK_SIZE - 1), covered) & ~<u64>(TRACK_SIZE - 1);
  const target = volume_at(load<u32>(rel + R_TARGET));
  const ensured = ensure_range(target, first, end - first);
  if (ensured != OK) return ensured;
  changed_ensure(target, first, end - first);
  const control = leaves_ensure(<usize>load<u32>(rel + R_BITMAP), first_track, last_track);
  if (control != OK) return control;
  return leaves_ensure(<usize>load<u32>(rel + R_RECORD_SOURCE), first_track, last_track);
}

// Copy-on-write for a source track: every target still waiting for it gets
// its T0 data first.
export function preserve_source_track(volume: usize, track: u32): i32 {
  let needed = false;
  let link = load<u32>(volume + V_SOURCE_HEAD);
  while (link != 0) {
    const rel = rel_of(link);
    if (track < load<u32>(rel + R_TRACKS) && bit_is_set(<usize>load<u32>(rel + R_BITMAP), track)) needed = true;
    const record = <usize>load<u32>(rel + R_RECORD_SOURCE);
    if (record != 0 && track < load<u32>(rel + R_TRACKS)) bit_set(record, track);
    link = load<u32>(rel + R_NEXT_SOURCE);
  }
  if (!needed) return OK;
  const locked = lock(track_lock(volume, track));
  if (locked != OK) return locked;
  let result = OK;
  link = load<u32>(volume + V_SOURCE_HEAD);
  while (link != 0) {
    const rel = rel_of(link);
    const bitmap = <usize>load<u32>(rel + R_BITMAP);
    if (track < load<u32>(rel + R_TRACKS) && bit_is_set(bitmap, track)) {
      result = copy_run_data(volume, volume_at(load<u32>(rel + R_TARGET)), track, 1);
      if (result != OK) break;
      if (bit_clear(bitmap, track)) settle_pending(rel, 1);
    }
    link = load<u32>(rel + R_NEXT_SOURCE);
  }
  unlock(track_lock(volume, track));
  return result;
}

// A write to a pending track of a target: whole tracks need no copy; a
// partial one first brings the track's T0 data over.
function write_target_track(rel: usize, volume: usize, offset: u64, done: u64, length: u32, mode: u32, argument: u64): i32 {
  const track = <u32>(offset >> <u64>TRACK_SHIFT);
  const source = volume_at(load<u32>(rel + R_SOURCE));
  const bitmap = <usize>load<u32>(rel + R_BITMAP);
  const locked = lock(track_lock(source, track));
  if (locked != OK) return locked;
  if (bit_is_set(bitmap, track)) {
    if (length != TRACK_SIZE) {
      const copied = copy_run_data(source, volume, track, 1);
      if (copied != OK) {
        unlock(track_lock(source, track));
        return copied;
      }
    }
    if (bit_clear(bitmap, track)) settle_pending(rel, 1);
  }
  apply_write(write_pointer(volume, offset), offset, done, length, mode, argument);
  mark_changed(volume, offset, <u64>length);
  unlock(track_lock(source, track));
  return OK;
}

// A fill with zeros of a volume in no relationship leaves its unwritten
// extents unallocated (they read as zeros already) and skips 4 GiB groups
// never written, so zeroing a huge thin volume takes time with its data.
function fill_zeros_idle(volume: usize, offset: u64, length: u64): i32 {
  let done: u64 = 0;
  while (done < length) {
    const at = offset + done;
    const extent = <u32>(at >> <u64>EXTENT_SHIFT);
    let piece = min<u64>(<u64>EXTENT_SIZE - (at & <u64>(EXTENT_SIZE - 1)), length - done);
    if (group_leaf(volume, extent >>> EXTENT_LEAF_SHIFT) == 0) {
      const group_end = (<u64>(extent >>> EXTENT_LEAF_SHIFT) + 1) << <u64>GROUP_SHIFT;
      piece = min<u64>(group_end - at, length - done);
    } else if (extent_allocated(volume, extent)) {
      memory.fill(write_pointer(volume, at), 0, <usize>piece);
      mark_changed(volume, at, piece);
    }
    done += piece;
  }
  return OK;
}

// Per thread: how many bytes of this thread's last write were applied
// before it failed. Everything a write allocates is allocated before it
// changes anything (prepare_write), so most failures leave it 0; a lock
// timeout on a later track leaves the tracks before it written.
let written_before_failure: u64 = 0;

export function io_written_before_failure(): f64 { return <f64>written_before_failure; }

// The body of a write; the caller is inside the volume's gate.
export function write_held(slot: u32, offset: u64, length: u64, mode: u32, argument: u64): i32 {
  written_before_failure = 0;
  if (slot >= VOLUME_SLOT_MAX) return E_NO_VOLUME;
  const volume = volume_at(slot);
  const links = links_before(volume);
  const result = write_volume(volume, offset, length, mode, argument);
  assert_links_unchanged(volume, links);
  return result;
}

// Inlined, so that the release core has no extra call here.
// @ts-ignore: decorator
@inline function write_volume(volume: usize, offset: u64, length: u64, mode_given: u32, argument: u64): i32 {
  if (atomic.load<u32>(volume + V_STATE) == VOLUME_FREE) return E_NO_VOLUME;
  if (!in_range(volume, offset, length)) return E_RANGE;
  const mode = mode_given & ~WRITE_FROM_MIRROR;
  if (mode > WRITE_FILL) return E_BAD_ARGUMENT;
  const target_link = load<u32>(volume + V_TARGET_REL);
  const rel = target_link != 0 ? rel_of(target_link) : 0;
  if (rel != 0 && (load<u32>(rel + R_FLAGS) & REL_TGTINHIBIT) != 0) return E_TGTINHIBIT;
  // A consistency group (mkflash -freeze) holds its sources' writes: long busy.
  if (load<u32>(volume + V_SOURCE_HEAD) != 0 && source_writes_held(volume)) return E_LONG_BUSY;
  const role = pprc_role(volume);
  if (role != PPRC_NONE && length > 0) {
    const first_track = <u32>(offset >> <u64>TRACK_SHIFT);
    const last_track = <u32>((offset + length - 1) >> <u64>TRACK_SHIFT);
    const mirrored = mirror_prepare(volume, first_track, last_track, (mode_given & WRITE_FROM_MIRROR) != 0);
    if (mirrored != OK) return mirrored;
  }
  const idle = rel == 0 && load<u32>(volume + V_SOURCE_HEAD) == 0 && role == PPRC_NONE;
  if (idle && mode == WRITE_FILL && argument == 0) return fill_zeros_idle(volume, offset, length);
  const prepared = prepare_write(volume, offset, length);
  if (prepared != OK) return prepared;
  const has_targets = load<u32>(volume + V_SOURCE_HEAD) != 0;
  const covered = rel != 0 ? load<u32>(rel + R_TRACKS) : 0;
  const record = rel != 0 ? <usize>load<u32>(rel + R_RECORD_TARGET) : 0;
  let done: u64 = 0;
  while (done < length) {
    const at = offset + done;
    const track = <u32>(at >> <u64>TRACK_SHIFT);
    const chunk = <u32>min<u64>(<u64>(TRACK_SIZE - (<u32>at & (TRACK_SIZE - 1))), length - done);
    if (track < covered) {
      if (record != 0) bit_set(record, track);
      // A pending track of a FlashCopy target that is also a PPRC primary (-tgtpprc) is mirrored below.
      if (bit_is_set(<usize>load<u32>(rel + R_BITMAP), track) && role != PPRC_PRIMARY) {
        const written = write_target_track(rel, volume, at, done, chunk, mode, argument);
        if (written != OK) {
          written_before_failure = done;
          return written;
        }
        done += <u64>chunk;
        continue;
      }
    }
    if (has_targets) {
      const preserved = preserve_source_track(volume, track);
      if (preserved != OK) {
        written_before_failure = done;
        return preserved;
      }
    }
    if (role == PPRC_PRIMARY) {
      const mirrored = write_primary_track(volume, rel, track < covered ? track : u32.MAX_VALUE, at, done, chunk, mode, argument);
      if (mirrored != OK) {
        written_before_failure = done + <u64>chunk;
        return mirrored;
      }
      done += <u64>chunk;
      continue;
    }
    apply_write(write_pointer(volume, at), at, done, chunk, mode, argument);
    mark_changed(volume, at, <u64>chunk);
    done += <u64>chunk;
  }
  return OK;
}

// A track's part of a write to a PPRC primary: mirror.ts has the protocol.
// On E_MIRROR_FAILED (-critmode) the local write has happened, its bit set.
// `covered_track` is the track when the primary is a FlashCopy target (-tgtpprc)
// that covers it, else u32.MAX_VALUE: a track still pending there is made whole
// by the FlashCopy path, under the primary's track lock and then the source's
// (the link sender's copy takes them in that order too, trying only the source's).
function write_primary_track(volume: usize, rel: usize, covered_track: u32, at: u64, done: u64, chunk: u32, mode: u32, argument: u64): i32 {
  const track = <u32>(at >> <u64>TRACK_SHIFT);
  const began = mirror_write_begin(volume, track);
  if (began < 0) return began;
  if (covered_track != u32.MAX_VALUE && bit_is_set(<usize>load<u32>(rel + R_BITMAP), covered_track)) {
    const written = write_target_track(rel, volume, at, done, chunk, mode, argument);
    if (written != OK) {
      mirror_write_abort(volume, track, began);
      return written;
    }
  } else {
    apply_write(write_pointer(volume, at), at, done, chunk, mode, argument);
    mark_changed(volume, at, <u64>chunk);
  }
  return mirror_write_end(volume, track, at, chunk, began);
}

function apply_read(source: usize, done: u64, length: u32, mode: u32, destination: usize): void {
  if (mode == READ_COPY) memory.copy(destination + <usize>done, source, length);
  else hash_update(source, length);
}

// The body of a read; the caller is inside the volume's gate.
export function read_held(slot: u32, offset: u64, length: u64, mode: u32, destination: usize): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_NO_VOLUME;
  const volume = volume_at(slot);
  const links = links_before(volume);
  const result = read_volume(volume, offset, length, mode, destination);
  assert_links_unchanged(volume, links);
  return result;
}

// Inlined, so that the release core has no extra call here.
// @ts-ignore: decorator
@inline function read_volume(volume: usize, offset: u64, length: u64, mode: u32, destination: usize): i32 {
  const state = atomic.load<u32>(volume + V_STATE);
  if (state == VOLUME_FREE) return E_NO_VOLUME;
  if (state == VOLUME_UNUSABLE) return E_UNUSABLE;
  if (!in_range(volume, offset, length)) return E_RANGE;
  const target_link = load<u32>(volume + V_TARGET_REL);
  const rel = target_link != 0 ? rel_of(target_link) : 0;
  const covered = rel != 0 ? load<u32>(rel + R_TRACKS) : 0;
  let done: u64 = 0;
  while (done < length) {
    const at = offset + done;
    const track = <u32>(at >> <u64>TRACK_SHIFT);
    const chunk = <u32>min<u64>(<u64>(TRACK_SIZE - (<u32>at & (TRACK_SIZE - 1))), length - done);
    if (track < covered && bit_is_set(<usize>load<u32>(rel + R_BITMAP), track)) {
      const source = volume_at(load<u32>(rel + R_SOURCE));
      const locked = lock(track_lock(source, track));
      if (locked != OK) return locked;
      const pending = bit_is_set(<usize>load<u32>(rel + R_BITMAP), track);
      apply_read(read_pointer(pending ? source : volume, at), done, chunk, mode, destination);
      unlock(track_lock(source, track));
    } else {
      apply_read(read_pointer(volume, at), done, chunk, mode, destination);
    }
    done += <u64>chunk;
  }
  return OK;
}

export function write_gated(slot: u32, offset: u64, length: u64, mode: u32, argument: u64): i32 {
  written_before_failure = 0;
  if (slot >= VOLUME_SLOT_MAX) return E_NO_VOLUME;
  const volume = volume_at(slot);
  const entered = gate_enter(volume);
  if (entered != OK) return entered;
  const result = write_held(slot, offset, length, mode, argument);
  gate_exit(volume);
  return result;
}

export function read_gated(slot: u32, offset: u64, length: u64, mode: u32, destination: usize): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_NO_VOLUME;
  const volume = volume_at(slot);
  const entered = gate_enter(volume);
  if (entered != OK) return entered;
  const result = read_held(slot, offset, length, mode, destination);
  gate_exit(volume);
  return result;
}

// ---- a link sender's direct apply to a secondary (one process, two memories) --------
//
// A sender in the same process as the secondary copies a run of a primary's
// tracks straight from the primary's memory into the secondary's, between
// these two calls, instead of through a staging buffer: apply_direct_begin
// enters the secondary's gate, does everything mirror_apply's write would do
// before the bytes land (the checks, the secondary's own extents allocated,
// copy-on-write for FlashCopy targets of the secondary) and gives the
// address to copy to; apply_direct_end marks the range changed and leaves
// the gate. The range lies within one extent, so the address covers it all.
// A secondary that is itself a FlashCopy target is not served here (E_BAD_ARGUMENT):
// the sender applies through mirror_apply then.

// Per thread: where the bytes of the begun apply go.
let direct_pointer: usize = 0;

export function apply_direct_pointer(): usize { return direct_pointer; }

export function apply_direct_begin(slot: u32, offset: u64, length: u32): i32 {
  direct_pointer = 0;
  if (slot >= VOLUME_SLOT_MAX) return E_NO_VOLUME;
  if (length == 0 || (offset >> <u64>EXTENT_SHIFT) != ((offset + <u64>length - 1) >> <u64>EXTENT_SHIFT)) return E_BAD_ARGUMENT;
  const volume = volume_at(slot);
  const entered = gate_enter(volume);
  if (entered != OK) return entered;
  const result = direct_checked(volume, offset, length);
  if (result != OK) {
    gate_exit(volume);
    return result;
  }
  direct_pointer = write_pointer(volume, offset);
  return OK;
}

// What write_volume checks and prepares for a mirror's write, inside the gate.
function direct_checked(volume: usize, offset: u64, length: u32): i32 {
  if (atomic.load<u32>(volume + V_STATE) == VOLUME_FREE) return E_NO_VOLUME;
  if (!in_range(volume, offset, <u64>length)) return E_RANGE;
  if (load<u32>(volume + V_TARGET_REL) != 0) return E_BAD_ARGUMENT;
  if (load<u32>(volume + V_SOURCE_HEAD) != 0 && source_writes_held(volume)) return E_LONG_BUSY;
  const first_track = <u32>(offset >> <u64>TRACK_SHIFT);
  const last_track = <u32>((offset + <u64>length - 1) >> <u64>TRACK_SHIFT);
  if (pprc_role(volume) != PPRC_NONE) {
    const mirrored = mirror_prepare(volume, first_track, last_track, true);
    if (mirrored != OK) return mirrored;
  }
  const prepared = prepare_write(volume, offset, <u64>length);
  if (prepared != OK) return prepared;
  if (load<u32>(volume + V_SOURCE_HEAD) == 0) return OK;
  for (let track = first_track; track <= last_track; track++) {
    const preserved = preserve_source_track(volume, track);
    if (preserved != OK) return preserved;
  }
  return OK;
}

export function apply_direct_end(slot: u32, offset: u64, length: u32): void {
  assert(slot < VOLUME_SLOT_MAX, "apply_direct_end of a slot apply_direct_begin refused");
  const volume = volume_at(slot);
  mark_changed(volume, offset, <u64>length);
  gate_exit(volume);
}
