// Checksums of volume ranges, as host reads see them (T0 data on a target).
//
// A range of at most CHECKSUM_DIRECT_MAX bytes (4 GiB, every volume tzero had
// before 64-bit addressing) has the xxHash64 of its bytes. A longer range
// would take minutes to hash byte by byte (16 TiB at ~8 GB/s), so it has a
// two-level digest instead, which costs time with the volume's written data:
//
//   checksum(range)   = xxHash64 of the u64 LE digests of the range's pieces,
//                       cut at the volume's 4 GiB group boundaries
//   digest(piece)     = xxHash64 of the u64 LE digests of its sub-pieces, cut
//                       at the volume's 1 MiB extent boundaries
//   digest(sub-piece) = xxHash64 of its bytes
//
// A whole extent that reads as zeros has the constant digest ZERO_EXTENT
// (xxHash64 of 1 MiB of zeros), and a whole group that reads as zeros
// ZERO_GROUP (xxHash64 of 4096 copies of ZERO_EXTENT), without reading them:
// "reads as zeros" here means unallocated, and for a target also unallocated
// on the source wherever a track may still be pending. src/model/checksum.ts
// computes the same from plain bytes.
//
// The digests of one group (at most 4096) and of the range's groups (at most
// 4096 at 16 TiB) are gathered in the thread's staging buffer, 32 KiB each,
// and then hashed, so only one hash stream is ever open.

import {
  OK, E_RANGE, E_NO_VOLUME, E_UNUSABLE, EXTENT_SHIFT, EXTENT_SIZE, EXTENT_TRACK_SHIFT, GROUP_SHIFT,
  EXTENT_LEAF_ENTRIES, TRACK_SHIFT, VOLUME_SLOT_MAX, V_STATE, V_SIZE, V_TARGET_REL, VOLUME_FREE, VOLUME_UNUSABLE,
  R_SOURCE, R_TRACKS, T_STAGING, volume_at, rel_at, thread_at, zero_extent,
} from "./layout";
import { gate_enter, gate_exit, current_thread } from "./sync";
import { hash_begin, hash_update, hash_end } from "./hash";
import { read_held, READ_HASH } from "./io";
import { extent_allocated, group_leaf } from "./volume";
import { thread_scratch } from "./thread";

export const CHECKSUM_DIRECT_MAX: u64 = <u64>1 << 32;
const GROUP_SIZE: u64 = <u64>1 << <u64>GROUP_SHIFT;
const DIGESTS_BYTES: usize = <usize>EXTENT_LEAF_ENTRIES << 3; // 32 KiB

// Per thread (module globals are per instance).
let zero_extent_digest: u64 = 0;
let zero_group_digest: u64 = 0;
let zero_digests_ready = false;
let read_failure: i32 = OK;

function staging_buffer(): usize {
  return <usize>load<u32>(thread_at(current_thread()) + T_STAGING);
}

function digest_bytes(pointer: usize, length: u32): u64 {
  hash_begin(thread_scratch());
  hash_update(pointer, length);
  return hash_end();
}

function prepare_zero_digests(): void {
  if (zero_digests_ready) return;
  zero_extent_digest = digest_bytes(zero_extent(), EXTENT_SIZE);
  const buffer = staging_buffer();
  for (let index: u32 = 0; index < EXTENT_LEAF_ENTRIES; index++) store<u64>(buffer + (<usize>index << 3), zero_extent_digest);
  zero_group_digest = digest_bytes(buffer, <u32>DIGESTS_BYTES);
  zero_digests_ready = true;
}

// xxHash64 of a range as host reads see it; a failed read is kept in read_failure.
function digest_range(slot: u32, offset: u64, length: u64): u64 {
  hash_begin(thread_scratch());
  const result = read_held(slot, offset, length, READ_HASH, 0);
  if (result != OK) read_failure = result;
  return hash_end();
}

// The relationship where the volume is the target, or 0.
// @ts-ignore: decorator
@inline function target_rel(volume: usize): usize {
  const link = load<u32>(volume + V_TARGET_REL);
  return link != 0 ? rel_at(link - 1) : 0;
}

function extent_reads_zero(volume: usize, rel: usize, extent: u32): bool {
  if (extent_allocated(volume, extent)) return false;
  if (rel == 0) return true;
  if ((extent << EXTENT_TRACK_SHIFT) >= load<u32>(rel + R_TRACKS)) return true;
  return !extent_allocated(volume_at(load<u32>(rel + R_SOURCE)), extent);
}

function group_reads_zero(volume: usize, rel: usize, group: u32): bool {
  if (group_leaf(volume, group) != 0) return false;
  if (rel == 0) return true;
  const first_track = <u64>group << <u64>(GROUP_SHIFT - TRACK_SHIFT);
  if (first_track >= <u64>load<u32>(rel + R_TRACKS)) return true;
  return group_leaf(volume_at(load<u32>(rel + R_SOURCE)), group) == 0;
}

// Digest of the part [low, high) of one group, from its extents' digests.
function group_digest(slot: u32, volume: usize, rel: usize, group: u32, low: u64, high: u64, buffer: usize): u64 {
  const group_start = <u64>group << <u64>GROUP_SHIFT;
  if (low == group_start && high == group_start + GROUP_SIZE && group_reads_zero(volume, rel, group)) return zero_group_digest;
  let count: usize = 0;
  const last_extent = <u32>((high - 1) >> <u64>EXTENT_SHIFT);
  for (let extent = <u32>(low >> <u64>EXTENT_SHIFT); extent <= last_extent; extent++) {
    const start = max<u64>(low, <u64>extent << <u64>EXTENT_SHIFT);
    const end = min<u64>(high, (<u64>extent + 1) << <u64>EXTENT_SHIFT);
    const whole_zero = end - start == <u64>EXTENT_SIZE && extent_reads_zero(volume, rel, extent);
    const digest = whole_zero ? zero_extent_digest : digest_range(slot, start, end - start);
    store<u64>(buffer + (count << 3), digest);
    count++;
  }
  return digest_bytes(buffer, <u32>(count << 3));
}

// The two-level digest of a long range; the caller is inside the volume's gate.
function digest_tree(slot: u32, offset: u64, length: u64): u64 {
  prepare_zero_digests();
  const volume = volume_at(slot);
  const rel = target_rel(volume);
  const extent_digests = staging_buffer();
  const group_digests = extent_digests + DIGESTS_BYTES;
  const end = offset + length;
  let count: usize = 0;
  const last_group = <u32>((end - 1) >> <u64>GROUP_SHIFT);
  for (let group = <u32>(offset >> <u64>GROUP_SHIFT); group <= last_group; group++) {
    const low = max<u64>(offset, <u64>group << <u64>GROUP_SHIFT);
    const high = min<u64>(end, (<u64>group + 1) << <u64>GROUP_SHIFT);
    store<u64>(group_digests + (count << 3), group_digest(slot, volume, rel, group, low, high, extent_digests));
    count++;
  }
  return digest_bytes(group_digests, <u32>(count << 3));
}

let last_checksum: u64 = 0;

// Computes the checksum of [offset, offset + length) of a volume; on success
// returns OK and keeps the value for checksum_value.
export function checksum_range(slot: u32, offset: u64, length: u64): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_NO_VOLUME;
  const volume = volume_at(slot);
  const state = atomic.load<u32>(volume + V_STATE);
  if (state == VOLUME_FREE) return E_NO_VOLUME;
  const size = load<u64>(volume + V_SIZE);
  if (offset > size || length > size - offset) return E_RANGE;
  if (state == VOLUME_UNUSABLE) return E_UNUSABLE;
  const entered = gate_enter(volume);
  if (entered != OK) return entered;
  read_failure = OK;
  const value = length <= CHECKSUM_DIRECT_MAX ? digest_range(slot, offset, length) : digest_tree(slot, offset, length);
  gate_exit(volume);
  if (read_failure != OK) return read_failure;
  last_checksum = value;
  return OK;
}

export function checksum_value(): u64 { return last_checksum; }
