// tzero core: the data plane of one storage image, instantiated once per
// thread over the image's shared memory. See layout.ts for the memory map,
// sync.ts for the locking protocol, io.ts for the host I/O path and copy.ts
// for track copying.

import {
  OK, E_RANGE, E_NO_VOLUME, E_PPRC_SECONDARY, V_STATE, VOLUME_FREE, VOLUME_SLOT_MAX, H_WORK_EPOCH, H_STOP, H_COPIED_BYTES, HOST_NUMBER_MAX,
  base, volume_at, heap_start, zero_extent,
} from "./layout";
import { gate_enter, gate_exit } from "./sync";
import { heap_top as allocator_top } from "./alloc";
import { hash_begin, hash_update, hash_end } from "./hash";
import { pattern_word } from "./pattern";
import { apply_direct_begin, apply_direct_end, apply_direct_pointer, write_gated, write_held, read_gated, read_held, WRITE_DATA, WRITE_PATTERN, WRITE_FILL, WRITE_FROM_MIRROR, READ_COPY, READ_HASH } from "./io";
import { pprc_readable } from "./mirror";
import { trim_gated } from "./trim";
export { trim_released_extents } from "./trim";
import { thread_scratch } from "./thread";
import { words_find, words_count } from "./bitmap";
import { checksum_range, checksum_value } from "./checksum";
import { raw_write as raw_write_at } from "./snapshot";

export { image_init, image_ready, thread_attach, thread_id, reap_thread } from "./thread";
export { volume_create, volume_destroy, volume_reinit, volume_state, volume_allocated_bytes, volume_set_pool, volume_grow, volume_provision, volume_touch, volume_sam } from "./volume";
export { pool_configure, pool_allocated_extents, pool_capacity_extents } from "./pool";
export {
  rel_establish, rel_withdraw, rel_pending, rel_pending_pointer, rel_count_pending, rel_find_pending, rel_find_pending_many,
  rel_copied_bytes, rel_settled_tracks, rel_recorded, rel_bitmap, rel_rearm_from_records, FIND_MANY_TRACKS_MAX, FIND_MANY_TRACKS_MIN,
} from "./relationship";
export {
  rel_resync, rel_reverse, rel_make_revertible, rel_commit, rel_revert, rel_revertible, rel_release_writes,
} from "./increment";
export {
  copy_tracks, copy_step, track_size, copy_working_rel, copy_working_generation,
  rel_hold_copy, rel_release_copy, rel_copy_held, rel_generation,
} from "./copy";
export { set_wait_timeouts } from "./sync";
export {
  ring_create, ring_set_link, ring_take, ring_entry_data, ring_complete, ring_doorbell_pointer, ring_set_ack_timeout,
  ring_set_copier, ring_writes_met_copy, pprc_copy_claim_run, pprc_copy_release_run, pprc_run_tracks, pprc_run_bytes, pprc_run_pointer,
  pprc_make_primary, pprc_make_secondary, pprc_clear, pprc_set_mode, pprc_retarget, pprc_mode, pprc_cause, pprc_out_of_sync,
  pprc_backlog, pprc_sync_writes_in_flight,
  pprc_next_out_of_sync, pprc_mark_out_of_sync, pprc_sent_tracks, pprc_copy_claim, pprc_copy_release, pprc_track_length, pprc_role_of,
  pprc_freeze_begin, pprc_freeze_commit, pprc_freeze_abort, pprc_release_hold, pprc_held,
  RING_ENTRIES, ACK_TIMEOUT_MS,
} from "./mirror";
export { alloc_failure } from "./alloc";
export { io_written_before_failure } from "./io";
export {
  fault_arm_abort, fault_hold_track_lock, fault_release_track_lock, fault_track_lock_waited, fault_hold_allocator, fault_release_allocator,
} from "./faults";

// The constants the host mirrors (src/core/codes.ts), exported as globals so
// that a test compares the mirror with the core and a hand-kept copy cannot drift.
export {
  OK, E_RANGE, E_NO_VOLUME, E_UNUSABLE, E_TGTINHIBIT, E_NO_SPACE, E_LOCK_TIMEOUT, E_BAD_ARGUMENT, E_BUSY,
  E_DRAIN_TIMEOUT, E_ALLOC_LOCK_TIMEOUT, E_GATE_TIMEOUT, E_FROZEN, E_LONG_BUSY, E_PPRC_SECONDARY, E_MIRROR_FAILED,
  MIRROR_SYNC, MIRROR_ASYNC, MIRROR_SUSPENDED, PPRC_CRITMODE, PPRC_TGTREAD, PPRC_HOLD_WRITES, CAUSE_LINK, CAUSE_TIMEOUT,
  TRACK_SIZE, BLOCK_SIZE, EXTENT_SIZE, VOLUME_SLOT_MAX, REL_SLOT_MAX, THREAD_MAX, STAGING_SIZE, VOLUME_SIZE_MAX,
  VOLUME_FREE, VOLUME_NORMAL, VOLUME_UNUSABLE, REL_BACKGROUND, REL_TGTINHIBIT, REL_RECORD, REL_PERSIST,
  REL_HOLD_WRITES, REL_REVERTIBLE,
} from "./layout";
export { MEMORY_PAGES_MAX } from "./alloc";
export { LOCK_TIMEOUT_MS, ALLOC_TIMEOUT_MS, GATE_TIMEOUT_MS, DRAIN_TIMEOUT_MS } from "./sync";
export {
  image_quiesce, image_resume, image_save_claim, image_save_release, volume_take_changed, volume_next_changed,
  volume_extent_pointer, volume_next_extent, extent_nonzero_mask, extent_nonzero_tracks,
  volume_mark_unusable, rel_restore_begin, rel_restore_chunk, rel_restore_link, rel_restore_abort,
} from "./snapshot";

export function layout_base(): usize { return base(); }
export function layout_heap_start(): usize { return heap_start(); }
export function layout_zero_extent(): usize { return zero_extent(); }
export function heap_top(): u64 { return allocator_top(); }
export function work_epoch_pointer(): usize { return base() + H_WORK_EPOCH; }
export function stop_flag_pointer(): usize { return base() + H_STOP; }
export function copied_bytes_total(): u64 { return atomic.load<u64>(base() + H_COPIED_BYTES); }

// Byte offsets and lengths that may exceed 4 GiB come from the host as f64:
// JavaScript numbers pass into WebAssembly without conversion (a BigInt for an
// i64 parameter costs an allocation-free but slow conversion on every call),
// and every whole number up to 2^53 is exact. Anything else (negative,
// fractional, NaN, beyond 2^53) is out of range.
// @ts-ignore: decorator
@inline function host_number_ok(value: f64): bool {
  return value >= 0 && value <= HOST_NUMBER_MAX && floor<f64>(value) == value;
}

// Host I/O. `data` / `destination` point into the caller's staging buffer.
export function io_write(slot: u32, offset: f64, length: u32, data: usize): i32 {
  if (!host_number_ok(offset)) return E_RANGE;
  return write_gated(slot, <u64>offset, <u64>length, WRITE_DATA, <u64>data);
}
export function io_write_pattern(slot: u32, offset: f64, length: f64, seed: u32): i32 {
  if (!host_number_ok(offset) || !host_number_ok(length)) return E_RANGE;
  return write_gated(slot, <u64>offset, <u64>length, WRITE_PATTERN, <u64>seed);
}
export function io_fill(slot: u32, offset: f64, length: f64, value: u32): i32 {
  if (!host_number_ok(offset) || !host_number_ok(length)) return E_RANGE;
  return write_gated(slot, <u64>offset, <u64>length, WRITE_FILL, <u64>(value & 0xff));
}
// The range reads as zeros afterwards; its whole extents are released (trim.ts).
export function io_trim(slot: u32, offset: f64, length: f64): i32 {
  if (!host_number_ok(offset) || !host_number_ok(length)) return E_RANGE;
  return trim_gated(slot, <u64>offset, <u64>length);
}
// A host read of a PPRC secondary is refused unless its pair has -tgtread
// (the role is checked before the gate: mkpprc and rmpprc change it frozen,
// and a read racing them is before or after them either way).
// @ts-ignore: decorator
@inline function host_readable(slot: u32): bool {
  return slot >= VOLUME_SLOT_MAX || pprc_readable(volume_at(slot));
}

export function io_read(slot: u32, offset: f64, length: u32, destination: usize): i32 {
  if (!host_number_ok(offset)) return E_RANGE;
  if (!host_readable(slot)) return E_PPRC_SECONDARY;
  return read_gated(slot, <u64>offset, <u64>length, READ_COPY, destination);
}

// Requests larger than a staging buffer hold the gate across several calls,
// so that they too are wholly before or wholly after an establish.
export function io_begin(slot: u32): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_RANGE;
  if (atomic.load<u32>(volume_at(slot) + V_STATE) == VOLUME_FREE) return E_NO_VOLUME;
  return gate_enter(volume_at(slot));
}
export function io_end(slot: u32): void {
  if (slot >= VOLUME_SLOT_MAX) return;
  gate_exit(volume_at(slot));
}
export function io_write_held(slot: u32, offset: f64, length: u32, data: usize): i32 {
  if (!host_number_ok(offset)) return E_RANGE;
  return write_held(slot, <u64>offset, <u64>length, WRITE_DATA, <u64>data);
}
export function io_read_held(slot: u32, offset: f64, length: u32, destination: usize): i32 {
  if (!host_number_ok(offset)) return E_RANGE;
  if (!host_readable(slot)) return E_PPRC_SECONDARY;
  return read_held(slot, <u64>offset, <u64>length, READ_COPY, destination);
}

// The PPRC receiver's write to a secondary (a host write is refused there).
export function mirror_apply(slot: u32, offset: f64, length: u32, data: usize): i32 {
  if (!host_number_ok(offset)) return E_RANGE;
  return write_gated(slot, <u64>offset, <u64>length, WRITE_DATA | WRITE_FROM_MIRROR, <u64>data);
}

// The same write in two halves, for a sender in this process that copies the
// bytes itself from the primary's memory to mirror_apply_pointer() between
// them (io.ts apply_direct_begin); the range lies within one extent.
export function mirror_apply_begin(slot: u32, offset: f64, length: u32): i32 {
  if (!host_number_ok(offset)) return E_RANGE;
  return apply_direct_begin(slot, <u64>offset, length);
}
export function mirror_apply_pointer(): usize { return apply_direct_pointer(); }
// Ends a mirror_apply_begin that returned OK, with its arguments.
export function mirror_apply_end(slot: u32, offset: f64, length: u32): void {
  apply_direct_end(slot, <u64>offset, length);
}

// Writes a volume's own bytes, bypassing copy-on-write (snapshot.ts raw_write).
export function raw_write(slot: u32, offset: f64, length: u32, data: usize): i32 {
  if (!host_number_ok(offset)) return E_RANGE;
  return raw_write_at(slot, <u64>offset, length, data);
}

// Checksum of a volume range as host reads see it (checksum.ts defines it).
// Returns 0 and sets the result aside for checksum_result on success.
export function checksum(slot: u32, offset: f64, length: f64): i32 {
  if (!host_number_ok(offset) || !host_number_ok(length)) return E_RANGE;
  return checksum_range(slot, <u64>offset, <u64>length);
}
export function checksum_result(): u64 { return checksum_value(); }

// xxHash64 of raw memory (tests check the hash itself on known vectors).
export function hash_memory(pointer: usize, length: u32): u64 {
  hash_begin(thread_scratch());
  hash_update(pointer, length);
  return hash_end();
}

export function pattern_value(seed: u32, word_index: u32): u64 { return pattern_word(<u64>seed, <u64>word_index); }

// Bitmap primitives over any bitmap in memory (benchmarks scan a bitmap they build).
export function scan_find(bitmap: usize, word_count: u32, from_track: u32): i32 {
  return words_find(bitmap, word_count, from_track);
}
export function scan_count(bitmap: usize, word_count: u32): u32 {
  return words_count(bitmap, word_count);
}

// The bulk copy the background-copy benchmark is measured against.
export function raw_copy(destination: usize, source: usize, length: u32): void {
  memory.copy(destination, source, length);
}
