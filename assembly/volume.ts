// Volumes: thin, extent-mapped track data with one lock word per track.
//
// A volume's bytes [0, size) map to extents of EXTENT_SIZE. Extent table
// entry e holds the data pointer of bytes [e << EXTENT_SHIFT, (e + 1) << EXTENT_SHIFT),
// or 0 while nothing has been written there: such an extent reads as zeros
// (from the shared zero extent). An entry changes from 0 to a pointer once,
// by compare-exchange, and goes back to 0 only when the volume is frozen
// (removed or reinitialised).
//
// Change bitmap (V_CHANGED): one bit per track, set AFTER every change to the
// track's own bytes (host writes, copies onto a target, reinitialisation),
// with an atomic or, which orders the data before the bit: a save that takes
// a bit (exchanges its word with 0) and then reads the track sees every change
// whose bit it took, and any later change sets the bit again. A save reads
// the tracks whose bits it took and repeats until few are left (snapshot.ts).

import {
  OK, E_BAD_ARGUMENT, E_NO_VOLUME, E_BUSY, E_RANGE, POOL_MAX,
  TRACK_SHIFT, TRACK_SIZE, EXTENT_SHIFT, EXTENT_SIZE, VOLUME_SIZE_MAX, VOLUME_SLOT_MAX,
  V_STATE, V_SIZE, V_TRACKS, V_EXTENTS, V_LOCKS, V_EXTENT_COUNT, V_GENERATION,
  V_TARGET_REL, V_SOURCE_HEAD, V_INFLIGHT, V_FROZEN, V_CHANGED, V_POOL, WORD_TRACK_SHIFT,
  VOLUME_FREE, VOLUME_NORMAL, volume_at, zero_extent,
} from "./layout";
import { alloc, alloc_failure, free } from "./alloc";
import { freeze, thaw } from "./sync";
import { pool_reserve, pool_release } from "./pool";
import { bitmap_word_count } from "./bitmap";

// @ts-ignore: decorator
@inline export function volume_tracks(volume: usize): u32 { return load<u32>(volume + V_TRACKS); }
// @ts-ignore: decorator
@inline export function track_lock(volume: usize, track: u32): usize {
  return <usize>load<u32>(volume + V_LOCKS) + (<usize>track << 2);
}
// @ts-ignore: decorator
@inline function extent_entry(volume: usize, extent: u32): usize {
  return <usize>load<u32>(volume + V_EXTENTS) + (<usize>extent << 2);
}

// Pointer to the byte at `offset` for reading: the zero extent where unallocated.
// @ts-ignore: decorator
@inline export function read_pointer(volume: usize, offset: u32): usize {
  const data = <usize>atomic.load<u32>(extent_entry(volume, offset >>> EXTENT_SHIFT));
  const within = <usize>(offset & (EXTENT_SIZE - 1));
  return (data != 0 ? data : zero_extent()) + within;
}

// Pointer to the byte at `offset` for writing; the extent must be allocated.
// @ts-ignore: decorator
@inline export function write_pointer(volume: usize, offset: u32): usize {
  const data = <usize>atomic.load<u32>(extent_entry(volume, offset >>> EXTENT_SHIFT));
  assert(data != 0, "write to an unallocated extent");
  return data + <usize>(offset & (EXTENT_SIZE - 1));
}

// Marks tracks [offset, offset + length) changed; call after the bytes are written.
export function mark_changed(volume: usize, offset: u32, length: u32): void {
  if (length == 0) return;
  const bitmap = <usize>load<u32>(volume + V_CHANGED);
  const first = offset >>> TRACK_SHIFT;
  const last = (offset + length - 1) >>> TRACK_SHIFT;
  for (let track = first; track <= last; track++) {
    atomic.or<u64>(bitmap + (<usize>(track >>> WORD_TRACK_SHIFT) << 3), <u64>1 << <u64>(track & 63));
  }
}

// @ts-ignore: decorator
@inline export function extent_allocated(volume: usize, extent: u32): bool {
  return atomic.load<u32>(extent_entry(volume, extent)) != 0;
}

// Allocates every extent of [first_extent, last_extent], after reserving the
// missing ones in the volume's pool all at once, so a full pool refuses the
// whole range before any extent is taken. Races with other threads
// allocating the same extent are settled by compare-exchange; the loser
// frees its block and gives its reservation back.
export function ensure_extents(volume: usize, first_extent: u32, last_extent: u32): i32 {
  let missing: u32 = 0;
  for (let extent = first_extent; extent <= last_extent; extent++) {
    if (atomic.load<u32>(extent_entry(volume, extent)) == 0) missing++;
  }
  if (missing == 0) return OK;
  const reserved = pool_reserve(volume, missing);
  if (reserved != OK) return reserved;
  let unused = missing;
  for (let extent = first_extent; extent <= last_extent && unused > 0; extent++) {
    const entry = extent_entry(volume, extent);
    if (atomic.load<u32>(entry) != 0) continue;
    const block = alloc(EXTENT_SIZE);
    if (block == 0) {
      pool_release(volume, unused);
      return alloc_failure();
    }
    unused--;
    if (atomic.cmpxchg<u32>(entry, 0, <u32>block) != 0) {
      free(block, EXTENT_SIZE);
      pool_release(volume, 1);
    }
  }
  // Extents another thread allocated after the count were reserved by that thread.
  pool_release(volume, unused);
  return OK;
}

export function ensure_range(volume: usize, offset: u32, length: u32): i32 {
  if (length == 0) return OK;
  return ensure_extents(volume, offset >>> EXTENT_SHIFT, (offset + length - 1) >>> EXTENT_SHIFT);
}

export function volume_create(slot: u32, size_bytes: u64): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_BAD_ARGUMENT;
  if (size_bytes == 0 || size_bytes > VOLUME_SIZE_MAX) return E_BAD_ARGUMENT;
  const volume = volume_at(slot);
  if (atomic.load<u32>(volume + V_STATE) != VOLUME_FREE) return E_BAD_ARGUMENT;
  const track_count = <u32>((size_bytes + <u64>TRACK_SIZE - 1) >> <u64>TRACK_SHIFT);
  const extent_count = <u32>((size_bytes + <u64>EXTENT_SIZE - 1) >> <u64>EXTENT_SHIFT);
  const extents = alloc(extent_count << 2);
  if (extents == 0) return alloc_failure();
  const locks = alloc(track_count << 2);
  // Not tried once locks failed, so that alloc_failure() still says why they did.
  const changed: usize = locks == 0 ? 0 : alloc(bitmap_word_count(track_count) << 3);
  if (locks == 0 || changed == 0) {
    const failure = alloc_failure();
    free(extents, extent_count << 2);
    free(locks, track_count << 2);
    return failure;
  }
  store<u64>(volume + V_SIZE, size_bytes);
  store<u32>(volume + V_TRACKS, track_count);
  store<u32>(volume + V_EXTENT_COUNT, extent_count);
  store<u32>(volume + V_EXTENTS, <u32>extents);
  store<u32>(volume + V_LOCKS, <u32>locks);
  store<u32>(volume + V_CHANGED, <u32>changed);
  store<u32>(volume + V_TARGET_REL, 0);
  store<u32>(volume + V_SOURCE_HEAD, 0);
  store<u64>(volume + V_INFLIGHT, 0);
  store<i32>(volume + V_FROZEN, 0);
  store<u32>(volume + V_POOL, 0);
  // Published last: other threads treat a volume as existing once its state is set.
  atomic.store<u32>(volume + V_STATE, VOLUME_NORMAL);
  return OK;
}

function release_extents(volume: usize): void {
  const extent_count = load<u32>(volume + V_EXTENT_COUNT);
  let released: u32 = 0;
  for (let extent: u32 = 0; extent < extent_count; extent++) {
    const entry = extent_entry(volume, extent);
    const block = <usize>atomic.xchg<u32>(entry, 0);
    if (block == 0) continue;
    free(block, EXTENT_SIZE);
    // Its tracks now read as zeros: a save in progress must see them again.
    const first_offset = extent << EXTENT_SHIFT;
    const size = load<u64>(volume + V_SIZE);
    mark_changed(volume, first_offset, <u32>min<u64>(<u64>EXTENT_SIZE, size - <u64>first_offset));
    released++;
  }
  pool_release(volume, released);
}

// Freezes a volume that is in no relationship, with all its data released;
// the caller finishes the change and thaws it. Returns the volume entry, or
// an error code (negative) when the volume cannot be changed. The host
// refuses volumes in relationships itself; the core checks again.
function freeze_idle_volume(slot: u32): i64 {
  if (slot >= VOLUME_SLOT_MAX) return E_BAD_ARGUMENT;
  const volume = volume_at(slot);
  if (atomic.load<u32>(volume + V_STATE) == VOLUME_FREE) return E_NO_VOLUME;
  if (load<u32>(volume + V_TARGET_REL) != 0) return E_BAD_ARGUMENT;
  if (load<u32>(volume + V_SOURCE_HEAD) != 0) return E_BAD_ARGUMENT;
  const frozen = freeze(volume);
  if (frozen != OK) return frozen;
  release_extents(volume);
  return <i64>volume;
}

export function volume_destroy(slot: u32): i32 {
  const entry = freeze_idle_volume(slot);
  if (entry < 0) return <i32>entry;
  const volume = <usize>entry;
  free(<usize>load<u32>(volume + V_EXTENTS), load<u32>(volume + V_EXTENT_COUNT) << 2);
  free(<usize>load<u32>(volume + V_LOCKS), load<u32>(volume + V_TRACKS) << 2);
  free(<usize>load<u32>(volume + V_CHANGED), bitmap_word_count(load<u32>(volume + V_TRACKS)) << 3);
  atomic.store<u32>(volume + V_STATE, VOLUME_FREE);
  store<u32>(volume + V_GENERATION, load<u32>(volume + V_GENERATION) + 1);
  thaw(volume);
  return OK;
}

// Releases all data (the volume reads as zeros) and marks it usable again.
export function volume_reinit(slot: u32): i32 {
  const entry = freeze_idle_volume(slot);
  if (entry < 0) return <i32>entry;
  const volume = <usize>entry;
  atomic.store<u32>(volume + V_STATE, VOLUME_NORMAL);
  thaw(volume);
  return OK;
}

export function volume_state(slot: u32): u32 {
  if (slot >= VOLUME_SLOT_MAX) return VOLUME_FREE;
  return atomic.load<u32>(volume_at(slot) + V_STATE);
}

export function volume_allocated_bytes(slot: u32): u64 {
  if (slot >= VOLUME_SLOT_MAX) return 0;
  const volume = volume_at(slot);
  if (atomic.load<u32>(volume + V_STATE) == VOLUME_FREE) return 0;
  const extent_count = load<u32>(volume + V_EXTENT_COUNT);
  let allocated: u64 = 0;
  for (let extent: u32 = 0; extent < extent_count; extent++) {
    if (extent_allocated(volume, extent)) allocated += <u64>EXTENT_SIZE;
  }
  return allocated;
}

// Puts a volume that holds no data yet in pool `pool_link - 1`, or in none (0).
// A volume with extents allocated is refused (E_BUSY): they are counted in
// its present pool. The host calls it right after volume_create.
export function volume_set_pool(slot: u32, pool_link: u32): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_BAD_ARGUMENT;
  if (pool_link > POOL_MAX) return E_BAD_ARGUMENT;
  if (volume_state(slot) == VOLUME_FREE) return E_NO_VOLUME;
  if (volume_allocated_bytes(slot) != 0) return E_BUSY;
  store<u32>(volume_at(slot) + V_POOL, pool_link);
  return OK;
}

// Grows a volume that is in no relationship to new_size_bytes: new extent
// and lock tables and change bitmap, the old entries copied over, under the
// volume's freeze so no I/O sees them change. The new tracks read as zeros
// and start unchanged. E_RANGE when the size does not grow or passes
// VOLUME_SIZE_MAX.
export function volume_grow(slot: u32, new_size_bytes: u64): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_BAD_ARGUMENT;
  const volume = volume_at(slot);
  if (atomic.load<u32>(volume + V_STATE) == VOLUME_FREE) return E_NO_VOLUME;
  if (load<u32>(volume + V_TARGET_REL) != 0) return E_BUSY;
  if (load<u32>(volume + V_SOURCE_HEAD) != 0) return E_BUSY;
  if (new_size_bytes <= load<u64>(volume + V_SIZE) || new_size_bytes > VOLUME_SIZE_MAX) return E_RANGE;
  const track_count = <u32>((new_size_bytes + <u64>TRACK_SIZE - 1) >> <u64>TRACK_SHIFT);
  const extent_count = <u32>((new_size_bytes + <u64>EXTENT_SIZE - 1) >> <u64>EXTENT_SHIFT);
  const extents = alloc(extent_count << 2);
  if (extents == 0) return alloc_failure();
  const locks = alloc(track_count << 2);
  const changed = alloc(bitmap_word_count(track_count) << 3);
  if (locks == 0 || changed == 0) {
    const failure = alloc_failure();
    free(extents, extent_count << 2);
    free(locks, track_count << 2);
    free(changed, bitmap_word_count(track_count) << 3);
    return failure;
  }
  const frozen = freeze(volume);
  if (frozen != OK) {
    free(extents, extent_count << 2);
    free(locks, track_count << 2);
    free(changed, bitmap_word_count(track_count) << 3);
    return frozen;
  }
  const old_extents = <usize>load<u32>(volume + V_EXTENTS);
  const old_extent_count = load<u32>(volume + V_EXTENT_COUNT);
  const old_locks = <usize>load<u32>(volume + V_LOCKS);
  const old_changed = <usize>load<u32>(volume + V_CHANGED);
  const old_track_count = load<u32>(volume + V_TRACKS);
  memory.copy(extents, old_extents, <usize>old_extent_count << 2);
  memory.copy(locks, old_locks, <usize>old_track_count << 2);
  memory.copy(changed, old_changed, <usize>bitmap_word_count(old_track_count) << 3);
  store<u32>(volume + V_EXTENTS, <u32>extents);
  store<u32>(volume + V_LOCKS, <u32>locks);
  store<u32>(volume + V_CHANGED, <u32>changed);
  store<u32>(volume + V_EXTENT_COUNT, extent_count);
  store<u32>(volume + V_TRACKS, track_count);
  store<u64>(volume + V_SIZE, new_size_bytes);
  thaw(volume);
  free(old_extents, old_extent_count << 2);
  free(old_locks, old_track_count << 2);
  free(old_changed, bitmap_word_count(old_track_count) << 3);
  return OK;
}
