// Trimming: a range of a live volume made to read as zeros, with its whole
// extents given back to the pool and the allocator (NBD TRIM and
// WRITE_ZEROES, src/hosts/nbd-transmission.ts).
//
//   [offset ............................................ offset + length)
//   | head: partial extent | whole extents ... | tail: partial extent |
//     zeroed (a write)       released             zeroed (a write)
//
// The whole request runs inside the volume's gate, so it is entirely before
// or entirely after an establish, like any host write. For the whole extents
// the trimming thread then freezes the volume too: freeze drains every other
// thread's I/O and ignores the caller's own in-flight bit, so no host request
// still holds a pointer into the extents it releases. Before it releases
// them, every relationship track of the range is settled as a whole-track
// write of zeros would settle it:
//
//   the volume is a source, track pending   its T0 data is copied to each
//                                            target first (copy-on-write)
//   the volume is a target, track pending   the bit is cleared (its T0 data
//                                            is overwritten by zeros anyway)
//   recording (-record)                      the track's change bit is set
//
// each under the track's lock, exactly as io.ts does, so background copies
// and copy-on-write from the source's side, which take the same locks and
// test the bits under them, never write into a released extent.
//
// When the freeze cannot be had at once (an establish, withdraw or save is
// freezing the volume, or other threads' I/O did not drain within the bound)
// the whole extents are zeroed by a write instead: the range still reads as
// zeros, only its space is not given back. A PPRC volume is always zeroed by
// a write, so that its zeros are mirrored, and so is a standard volume
// (volume.ts), whose extents stay allocated while it lives.

import {
  OK, E_RANGE, E_NO_VOLUME, E_TGTINHIBIT, E_LONG_BUSY, TRACK_SHIFT, EXTENT_SHIFT, VOLUME_SLOT_MAX,
  V_STATE, V_SIZE, V_EXTENT_COUNT, V_TARGET_REL, V_SOURCE_HEAD, VOLUME_FREE,
  R_FLAGS, R_SOURCE, R_TRACKS, R_BITMAP, R_RECORD_TARGET, R_NEXT_SOURCE, REL_TGTINHIBIT, PPRC_NONE, volume_at, rel_at,
} from "./layout";
import { freeze, thaw, gate_enter, gate_exit, lock, unlock } from "./sync";
import { bit_is_set, bit_clear, bit_set, leaves_ensure } from "./bitmap";
import { track_lock, release_extent_range, volume_standard } from "./volume";
import { write_held, WRITE_FILL, prepare_source_of, preserve_source_track } from "./io";
import { settle_pending } from "./copy";
import { source_writes_held } from "./increment";
import { pprc_role } from "./mirror";

// Per thread: how many extents this thread's last trim released (tests and the host's figures).
let released_last: u32 = 0;

export function trim_released_extents(): u32 { return released_last; }

export function trim_gated(slot: u32, offset: u64, length: u64): i32 {
  released_last = 0;
  if (slot >= VOLUME_SLOT_MAX) return E_NO_VOLUME;
  const volume = volume_at(slot);
  if (atomic.load<u32>(volume + V_STATE) == VOLUME_FREE) return E_NO_VOLUME;
  const entered = gate_enter(volume);
  if (entered != OK) return entered;
  const result = trim_held(slot, volume, offset, length);
  gate_exit(volume);
  return result;
}

// The whole extents of [offset, offset + length) as [first, end): a volume's
// last extent counts as whole when the range reaches the volume's end.
function whole_extents(volume: usize, offset: u64, length: u64): u64 {
  const extent_size = <u64>1 << <u64>EXTENT_SHIFT;
  const first = (offset + extent_size - 1) >> <u64>EXTENT_SHIFT;
  const range_end = offset + length;
  const end = range_end == load<u64>(volume + V_SIZE) ? <u64>load<u32>(volume + V_EXTENT_COUNT) : range_end >> <u64>EXTENT_SHIFT;
  if (end <= first) return 0;
  return (first << 32) | end;
}

function trim_held(slot: u32, volume: usize, offset: u64, length: u64): i32 {
  const size = load<u64>(volume + V_SIZE);
  if (offset > size || length > size - offset) return E_RANGE;
  const span = whole_extents(volume, offset, length);
  if (span == 0 || pprc_role(volume) != PPRC_NONE || volume_standard(volume)) return write_held(slot, offset, length, WRITE_FILL, 0);
  const refused = trim_refused(volume);
  if (refused != OK) return refused;
  const first = <u32>(span >> 32);
  const end = <u32>span;
  const whole_start = <u64>first << <u64>EXTENT_SHIFT;
  const whole_end = min<u64>(<u64>end << <u64>EXTENT_SHIFT, size);
  const head = write_held(slot, offset, whole_start - offset, WRITE_FILL, 0);
  if (head != OK) return head;
  const released = release_whole(volume, first, end);
  if (released < 0) return <i32>released;
  if (released == 0) {
    const zeroed = write_held(slot, whole_start, whole_end - whole_start, WRITE_FILL, 0);
    if (zeroed != OK) return zeroed;
  }
  return write_held(slot, whole_end, offset + length - whole_end, WRITE_FILL, 0);
}

// What a host write would be refused for, checked before anything changes.
function trim_refused(volume: usize): i32 {
  const target_link = load<u32>(volume + V_TARGET_REL);
  if (target_link != 0 && (load<u32>(rel_at(target_link - 1) + R_FLAGS) & REL_TGTINHIBIT) != 0) return E_TGTINHIBIT;
  if (load<u32>(volume + V_SOURCE_HEAD) != 0 && source_writes_held(volume)) return E_LONG_BUSY;
  return OK;
}

// Settles and releases extents [first, end) under a freeze. Returns 1 when
// released, 0 when the freeze could not be had (the caller zeroes instead),
// or a negative error (a lock timeout, or no space for a copy-on-write).
function release_whole(volume: usize, first: u32, end: u32): i64 {
  if (freeze(volume) != OK) return 0;
  const first_track = first << (EXTENT_SHIFT - TRACK_SHIFT);
  const end_track = <u32>min<u64>(<u64>end << <u64>(EXTENT_SHIFT - TRACK_SHIFT), <u64>0xffffffff);
  let settled = settle_as_target(volume, first_track, end_track);
  if (settled == OK) settled = settle_as_source(volume, first_track, end_track);
  if (settled != OK) {
    thaw(volume);
    return settled;
  }
  released_last = release_extent_range(volume, first, end);
  thaw(volume);
  return 1;
}

// A target's pending tracks of the range stop being pending: they will read
// as zeros, which is what a whole-track write of zeros would leave.
function settle_as_target(volume: usize, first_track: u32, end_track: u32): i32 {
  const target_link = load<u32>(volume + V_TARGET_REL);
  if (target_link == 0) return OK;
  const rel = rel_at(target_link - 1);
  const end = min<u32>(end_track, load<u32>(rel + R_TRACKS));
  if (first_track >= end) return OK;
  const bitmap = <usize>load<u32>(rel + R_BITMAP);
  const record = <usize>load<u32>(rel + R_RECORD_TARGET);
  // Bits change only in leaves (bitmap.ts): a chunk still all set has none yet.
  const control = leaves_ensure(bitmap, first_track, end - 1);
  if (control != OK) return control;
  const ensured = leaves_ensure(record, first_track, end - 1);
  if (ensured != OK) return ensured;
  const source = volume_at(load<u32>(rel + R_SOURCE));
  for (let track = first_track; track < end; track++) {
    if (record != 0) bit_set(record, track);
    if (!bit_is_set(bitmap, track)) continue;
    const locked = lock(track_lock(source, track));
    if (locked != OK) return locked;
    if (bit_clear(bitmap, track)) settle_pending(rel, 1);
    unlock(track_lock(source, track));
  }
  return OK;
}

// A source's tracks of the range give each target still waiting for them
// their T0 data first (and set the source's change-recording bits).
function settle_as_source(volume: usize, first_track: u32, end_track: u32): i32 {
  if (load<u32>(volume + V_SOURCE_HEAD) == 0) return OK;
  const end = min<u32>(end_track, <u32>((load<u64>(volume + V_SIZE) + (<u64>1 << <u64>TRACK_SHIFT) - 1) >> <u64>TRACK_SHIFT));
  if (first_track >= end) return OK;
  const offset = <u64>first_track << <u64>TRACK_SHIFT;
  const length = <u64>(end - first_track) << <u64>TRACK_SHIFT;
  let link = load<u32>(volume + V_SOURCE_HEAD);
  while (link != 0) {
    const rel = rel_at(link - 1);
    const prepared = prepare_source_of(rel, offset, length, first_track, end - 1);
    if (prepared != OK) return prepared;
    link = load<u32>(rel + R_NEXT_SOURCE);
  }
  for (let track = first_track; track < end; track++) {
    const preserved = preserve_source_track(volume, track);
    if (preserved != OK) return preserved;
  }
  return OK;
}
