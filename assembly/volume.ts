// Volumes: thin, extent-mapped track data with striped track locks.
//
// A volume's bytes [0, size) map to extents of EXTENT_SIZE through a two-level
// map (layout.ts): the directory entry of group g = extent >> EXTENT_LEAF_SHIFT
// points to the group's leaf, or is 0 while nothing in those 4 GiB has been
// written; leaf entry e holds the data pointer of its extent, or 0 while the
// extent has never been written. Unwritten extents read as zeros (from the
// shared zero extent). A directory or leaf entry changes from 0 to a pointer
// once, by compare-exchange, and goes back to 0 only while the volume is
// frozen (removed or reinitialised).
//
// Extents are taken in one place, ensure_extents: reserved in the volume's
// extent pool first (pool.ts, all the missing ones of a range at once), then
// charged to the volume once allocated (V_ALLOCATED, charge_extent); both are
// given back when the volume's data is released.
//
// Change bitmap (V_CHANGED, a two-level bitmap.ts bitmap): one bit per track,
// set AFTER every change to the track's own bytes (host writes, copies onto a
// target, reinitialisation), with an atomic read-modify-write, which orders
// the data before the bit: a save that takes a bit (exchanges its word with 0)
// and then reads the track sees every change whose bit it took, and any later
// change sets the bit again. A save reads the tracks whose bits it took and
// repeats until few are left (snapshot.ts). Its leaves are allocated before
// the writes that need them (changed_ensure); where one cannot be allocated,
// the whole chunk is marked changed instead (bitmap.ts bit_mark), so a change
// is never lost, only read again by the save.

import {
  OK, E_BAD_ARGUMENT, E_NO_VOLUME, E_BUSY, E_RANGE, POOL_MAX,
  TRACK_SHIFT, TRACK_SIZE, EXTENT_SHIFT, EXTENT_SIZE, VOLUME_SIZE_MAX, VOLUME_SLOT_MAX,
  EXTENT_LEAF_SHIFT, EXTENT_LEAF_ENTRIES, LOCK_STRIPES_MIN, LOCK_STRIPES_MAX, E_BUSY, E_RANGE, POOL_MAX,
  V_STATE, V_SIZE, V_TRACKS, V_EXTENTS, V_LOCKS, V_EXTENT_COUNT, V_GENERATION, V_STRIPES, V_ALLOCATED,
  V_TARGET_REL, V_SOURCE_HEAD, V_INFLIGHT, V_FROZEN, V_CHANGED, V_POOL, V_SAM, SAM_ESE, SAM_STANDARD,
  CHUNK_TRACK_SHIFT, VOLUME_FREE, VOLUME_NORMAL, volume_at, zero_extent,
} from "./layout";
import { alloc, alloc_failure, free } from "./alloc";
import { freeze, thaw, gate_enter, gate_exit } from "./sync";
import { pool_reserve, pool_release } from "./pool";
import { bitmap_create, bitmap_free, bitmap_grow, bit_mark, leaf_ensure, chunk_mark_set } from "./bitmap";

// @ts-ignore: decorator
@inline export function volume_tracks(volume: usize): u32 { return load<u32>(volume + V_TRACKS); }

// The lock word of a track: its stripe of the volume's lock words.
// @ts-ignore: decorator
@inline export function track_lock(volume: usize, track: u32): usize {
  const stripe = track & (load<u32>(volume + V_STRIPES) - 1);
  return <usize>load<u32>(volume + V_LOCKS) + (<usize>stripe << 2);
}

// @ts-ignore: decorator
@inline function directory_entry(volume: usize, group: u32): usize {
  return <usize>load<u32>(volume + V_EXTENTS) + (<usize>group << 2);
}

// Entries of a group's leaf: EXTENT_LEAF_ENTRIES, fewer in the last group.
// @ts-ignore: decorator
@inline function leaf_entries(volume: usize, group: u32): u32 {
  return min<u32>(EXTENT_LEAF_ENTRIES, load<u32>(volume + V_EXTENT_COUNT) - (group << EXTENT_LEAF_SHIFT));
}

// The leaf of a group, 0 while nothing in it has been written.
// @ts-ignore: decorator
@inline export function group_leaf(volume: usize, group: u32): usize {
  return <usize>atomic.load<u32>(directory_entry(volume, group));
}

// Data pointer of an extent, 0 while unallocated.
// @ts-ignore: decorator
@inline export function extent_data(volume: usize, extent: u32): usize {
  const leaf = group_leaf(volume, extent >>> EXTENT_LEAF_SHIFT);
  if (leaf == 0) return 0;
  return <usize>atomic.load<u32>(leaf + (<usize>(extent & (EXTENT_LEAF_ENTRIES - 1)) << 2));
}

// Pointer to the byte at `offset` for reading: the zero extent where unallocated.
// @ts-ignore: decorator
@inline export function read_pointer(volume: usize, offset: u64): usize {
  const data = extent_data(volume, <u32>(offset >> <u64>EXTENT_SHIFT));
  const within = <usize>(<u32>offset & (EXTENT_SIZE - 1));
  return (data != 0 ? data : zero_extent()) + within;
}

// Pointer to the byte at `offset` for writing; the extent must be allocated.
// @ts-ignore: decorator
@inline export function write_pointer(volume: usize, offset: u64): usize {
  const data = extent_data(volume, <u32>(offset >> <u64>EXTENT_SHIFT));
  assert(data != 0, "write to an unallocated extent");
  return data + <usize>(<u32>offset & (EXTENT_SIZE - 1));
}

// The volume's change bitmap (bitmap.ts).
// @ts-ignore: decorator
@inline export function changed_bitmap(volume: usize): usize { return <usize>load<u32>(volume + V_CHANGED); }

// Leaves of the change bitmap for the tracks of [offset, offset + length),
// allocated before a write changes them, outside the track locks. A chunk
// whose leaf cannot be allocated is marked all changed (never an error: a
// save then reads the whole chunk again).
export function changed_ensure(volume: usize, offset: u64, length: u64): void {
  if (length == 0) return;
  const bitmap = changed_bitmap(volume);
  const first = <u32>(offset >> <u64>TRACK_SHIFT);
  const last = <u32>((offset + length - 1) >> <u64>TRACK_SHIFT);
  for (let chunk = first >>> CHUNK_TRACK_SHIFT; chunk <= (last >>> CHUNK_TRACK_SHIFT); chunk++) {
    if (leaf_ensure(bitmap, chunk) != OK) chunk_mark_set(bitmap, chunk);
  }
}

// Marks tracks [offset, offset + length) changed; call after the bytes are written.
export function mark_changed(volume: usize, offset: u64, length: u64): void {
  if (length == 0) return;
  const bitmap = changed_bitmap(volume);
  const first = <u32>(offset >> <u64>TRACK_SHIFT);
  const last = <u32>((offset + length - 1) >> <u64>TRACK_SHIFT);
  for (let track = first; track <= last; track++) bit_mark(bitmap, track);
}

// @ts-ignore: decorator
@inline export function extent_allocated(volume: usize, extent: u32): bool {
  return extent_data(volume, extent) != 0;
}

// Counts one extent allocated to the volume (its pool reserved it already).
// @ts-ignore: decorator
@inline function charge_extent(volume: usize): void {
  atomic.add<u64>(volume + V_ALLOCATED, <u64>EXTENT_SIZE);
}

// The group's leaf, allocated if need be; 0 when the image is full.
function ensure_leaf(volume: usize, group: u32): usize {
  const entry = directory_entry(volume, group);
  const leaf = <usize>atomic.load<u32>(entry);
  if (leaf != 0) return leaf;
  const bytes = leaf_entries(volume, group) << 2;
  const fresh = alloc(bytes);
  if (fresh == 0) return 0;
  const won = atomic.cmpxchg<u32>(entry, 0, <u32>fresh);
  if (won == 0) return fresh;
  free(fresh, bytes);
  return <usize>won;
}

// Allocates every extent of [first_extent, last_extent], after reserving the
// missing ones in the volume's pool all at once (pool.ts), so a full pool
// refuses the whole range before any extent is taken. Races with other
// threads allocating the same extent are settled by compare-exchange; the
// loser frees its block and gives its reservation back. The winner charges
// the extent to the volume (charge_extent).
export function ensure_extents(volume: usize, first_extent: u32, last_extent: u32): i32 {
  let missing: u32 = 0;
  for (let extent = first_extent; extent <= last_extent; extent++) {
    if (extent_data(volume, extent) == 0) missing++;
  }
  if (missing == 0) return OK;
  const reserved = pool_reserve(volume, missing);
  if (reserved != OK) return reserved;
  let unused = missing;
  for (let extent = first_extent; extent <= last_extent && unused > 0; extent++) {
    const leaf = ensure_leaf(volume, extent >>> EXTENT_LEAF_SHIFT);
    const entry = leaf + (<usize>(extent & (EXTENT_LEAF_ENTRIES - 1)) << 2);
    if (leaf != 0 && atomic.load<u32>(entry) != 0) continue;
    const block = leaf != 0 ? alloc(EXTENT_SIZE) : 0;
    if (block == 0) {
      const failure = alloc_failure();
      pool_release(volume, unused);
      return failure;
    }
    unused--;
    if (atomic.cmpxchg<u32>(entry, 0, <u32>block) != 0) {
      free(block, EXTENT_SIZE);
      pool_release(volume, 1);
    } else {
      charge_extent(volume);
    }
  }
  // Extents another thread allocated after the count were reserved by that thread.
  pool_release(volume, unused);
  return OK;
}

export function ensure_range(volume: usize, offset: u64, length: u64): i32 {
  if (length == 0) return OK;
  const first = <u32>(offset >> <u64>EXTENT_SHIFT);
  const last = <u32>((offset + length - 1) >> <u64>EXTENT_SHIFT);
  return ensure_extents(volume, first, last);
}

// Lock words: one per track up to LOCK_STRIPES_MAX, a power of two from LOCK_STRIPES_MIN.
function stripe_count(track_count: u32): u32 {
  if (track_count <= LOCK_STRIPES_MIN) return LOCK_STRIPES_MIN;
  if (track_count >= LOCK_STRIPES_MAX) return LOCK_STRIPES_MAX;
  return <u32>1 << (32 - clz<u32>(track_count - 1));
}

export function volume_create(slot: u32, size_bytes: u64): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_BAD_ARGUMENT;
  if (size_bytes == 0 || size_bytes > VOLUME_SIZE_MAX) return E_BAD_ARGUMENT;
  const volume = volume_at(slot);
  if (atomic.load<u32>(volume + V_STATE) != VOLUME_FREE) return E_BAD_ARGUMENT;
  const track_count = <u32>((size_bytes + <u64>TRACK_SIZE - 1) >> <u64>TRACK_SHIFT);
  const extent_count = <u32>((size_bytes + <u64>EXTENT_SIZE - 1) >> <u64>EXTENT_SHIFT);
  const group_count = (extent_count + EXTENT_LEAF_ENTRIES - 1) >>> EXTENT_LEAF_SHIFT;
  const stripes = stripe_count(track_count);
  const directory = alloc(group_count << 2);
  if (directory == 0) return alloc_failure();
  const locks = alloc(stripes << 2);
  const changed = locks != 0 ? bitmap_create(track_count, false) : 0;
  if (locks == 0 || changed == 0) {
    const failure = alloc_failure();
    free(directory, group_count << 2);
    if (locks != 0) free(locks, stripes << 2);
    return failure;
  }
  store<u64>(volume + V_SIZE, size_bytes);
  store<u32>(volume + V_TRACKS, track_count);
  store<u32>(volume + V_EXTENT_COUNT, extent_count);
  store<u32>(volume + V_EXTENTS, <u32>directory);
  store<u32>(volume + V_LOCKS, <u32>locks);
  store<u32>(volume + V_STRIPES, stripes);
  store<u64>(volume + V_ALLOCATED, 0);
  store<u32>(volume + V_CHANGED, <u32>changed);
  store<u32>(volume + V_TARGET_REL, 0);
  store<u32>(volume + V_SOURCE_HEAD, 0);
  store<u64>(volume + V_INFLIGHT, 0);
  store<i32>(volume + V_FROZEN, 0);
  store<u32>(volume + V_POOL, 0);
  store<u32>(volume + V_SAM, SAM_ESE);
  // Published last: other threads treat a volume as existing once its state is set.
  atomic.store<u32>(volume + V_STATE, VOLUME_NORMAL);
  return OK;
}

// @ts-ignore: decorator
@inline function group_count_of(volume: usize): u32 {
  return (load<u32>(volume + V_EXTENT_COUNT) + EXTENT_LEAF_ENTRIES - 1) >>> EXTENT_LEAF_SHIFT;
}

// Frees every extent and leaf; the volume is frozen, so nobody reads them.
function release_extents(volume: usize): void {
  const groups = group_count_of(volume);
  const size = load<u64>(volume + V_SIZE);
  let released: u32 = 0;
  for (let group: u32 = 0; group < groups; group++) {
    const leaf = <usize>atomic.xchg<u32>(directory_entry(volume, group), 0);
    if (leaf == 0) continue;
    const entries = leaf_entries(volume, group);
    for (let index: u32 = 0; index < entries; index++) {
      const block = <usize>load<u32>(leaf + (<usize>index << 2));
      if (block == 0) continue;
      free(block, EXTENT_SIZE);
      released++;
      // Its tracks now read as zeros: a save in progress must see them again.
      const first_offset = <u64>((group << EXTENT_LEAF_SHIFT) + index) << <u64>EXTENT_SHIFT;
      mark_changed(volume, first_offset, min<u64>(<u64>EXTENT_SIZE, size - first_offset));
    }
    free(leaf, entries << 2);
  }
  atomic.store<u64>(volume + V_ALLOCATED, 0);
  pool_release(volume, released);
}

// Releases the extents of [first_extent, end_extent) of a live volume (a
// trim, trim.ts): each entry goes back to 0 and its block to the allocator,
// its reservation to the pool. The caller has frozen the volume (no host I/O
// on it reads or writes a pointer it took before) and settled every
// relationship track of the range under its track lock (no copy will write
// there), so nothing can touch a block once its entry is 0. Every track of
// the range is marked changed: it now reads as zeros, and a save in progress
// must read it again. Returns the count of extents released.
export function release_extent_range(volume: usize, first_extent: u32, end_extent: u32): u32 {
  const size = load<u64>(volume + V_SIZE);
  let released: u32 = 0;
  let extent = first_extent;
  while (extent < end_extent) {
    const group = extent >>> EXTENT_LEAF_SHIFT;
    const group_end = min<u32>(end_extent, (group + 1) << EXTENT_LEAF_SHIFT);
    const leaf = group_leaf(volume, group);
    for (; leaf != 0 && extent < group_end; extent++) {
      const block = <usize>atomic.xchg<u32>(leaf + (<usize>(extent & (EXTENT_LEAF_ENTRIES - 1)) << 2), 0);
      if (block == 0) continue;
      free(block, EXTENT_SIZE);
      atomic.sub<u64>(volume + V_ALLOCATED, <u64>EXTENT_SIZE);
      released++;
    }
    extent = group_end;
  }
  pool_release(volume, released);
  const first_offset = <u64>first_extent << <u64>EXTENT_SHIFT;
  mark_changed(volume, first_offset, min<u64>(<u64>end_extent << <u64>EXTENT_SHIFT, size) - first_offset);
  return released;
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
  free(<usize>load<u32>(volume + V_EXTENTS), group_count_of(volume) << 2);
  free(<usize>load<u32>(volume + V_LOCKS), load<u32>(volume + V_STRIPES) << 2);
  bitmap_free(<usize>load<u32>(volume + V_CHANGED));
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
  return atomic.load<u64>(volume + V_ALLOCATED);
}

// The first allocated extent at or after `from_extent`, or -1: groups never
// written are skipped a directory entry at a time, so a scan of an untouched
// 16 TiB volume reads 16 KiB.
export function next_allocated_extent(volume: usize, from_extent: u32): i32 {
  const extent_count = load<u32>(volume + V_EXTENT_COUNT);
  let extent = from_extent;
  while (extent < extent_count) {
    const group = extent >>> EXTENT_LEAF_SHIFT;
    const leaf = group_leaf(volume, group);
    const group_end = min<u32>(extent_count, (group + 1) << EXTENT_LEAF_SHIFT);
    if (leaf != 0) {
      for (; extent < group_end; extent++) {
        if (atomic.load<u32>(leaf + (<usize>(extent & (EXTENT_LEAF_ENTRIES - 1)) << 2)) != 0) return <i32>extent;
      }
    }
    extent = group_end;
  }
  return -1;
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

// Grows a volume that is in no relationship to new_size_bytes, under the
// volume's freeze so no I/O sees its tables change: a larger extent
// directory (the old leaves kept; a partial last one grows), lock stripes
// for the new track count, and a change bitmap of the new track count
// (bitmap_grow). The new tracks read as zeros and start unchanged. E_RANGE
// when the size does not grow or passes VOLUME_SIZE_MAX.
export function volume_grow(slot: u32, new_size_bytes: u64): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_BAD_ARGUMENT;
  const volume = volume_at(slot);
  if (atomic.load<u32>(volume + V_STATE) == VOLUME_FREE) return E_NO_VOLUME;
  if (load<u32>(volume + V_TARGET_REL) != 0) return E_BUSY;
  if (load<u32>(volume + V_SOURCE_HEAD) != 0) return E_BUSY;
  if (new_size_bytes <= load<u64>(volume + V_SIZE) || new_size_bytes > VOLUME_SIZE_MAX) return E_RANGE;
  const track_count = <u32>((new_size_bytes + <u64>TRACK_SIZE - 1) >> <u64>TRACK_SHIFT);
  const extent_count = <u32>((new_size_bytes + <u64>EXTENT_SIZE - 1) >> <u64>EXTENT_SHIFT);
  const group_count = (extent_count + EXTENT_LEAF_ENTRIES - 1) >>> EXTENT_LEAF_SHIFT;
  const stripes = stripe_count(track_count);
  const old_stripes = load<u32>(volume + V_STRIPES);
  const directory = alloc(group_count << 2);
  if (directory == 0) return alloc_failure();
  const locks = stripes != old_stripes ? alloc(stripes << 2) : <usize>load<u32>(volume + V_LOCKS);
  if (locks == 0) {
    const failure = alloc_failure();
    free(directory, group_count << 2);
    return failure;
  }
  const frozen = freeze(volume);
  if (frozen != OK) {
    free(directory, group_count << 2);
    if (stripes != old_stripes) free(locks, stripes << 2);
    return frozen;
  }
  const grown = grow_frozen(volume, directory, group_count, extent_count, track_count);
  if (grown != OK) {
    thaw(volume);
    free(directory, group_count << 2);
    if (stripes != old_stripes) free(locks, stripes << 2);
    return grown;
  }
  const old_locks = <usize>load<u32>(volume + V_LOCKS);
  store<u32>(volume + V_LOCKS, <u32>locks);
  store<u32>(volume + V_STRIPES, stripes);
  store<u64>(volume + V_SIZE, new_size_bytes);
  thaw(volume);
  if (stripes != old_stripes) free(old_locks, old_stripes << 2);
  return OK;
}

// The table changes of volume_grow, with the volume frozen; on failure
// (the image full) nothing has changed.
function grow_frozen(volume: usize, directory: usize, group_count: u32, extent_count: u32, track_count: u32): i32 {
  const old_groups = group_count_of(volume);
  const last = old_groups - 1;
  const old_leaf = group_leaf(volume, last);
  const old_entries = leaf_entries(volume, last);
  const new_entries = min<u32>(EXTENT_LEAF_ENTRIES, extent_count - (last << EXTENT_LEAF_SHIFT));
  let last_leaf = old_leaf;
  if (old_leaf != 0 && new_entries > old_entries) {
    last_leaf = alloc(new_entries << 2);
    if (last_leaf == 0) return alloc_failure();
    memory.copy(last_leaf, old_leaf, <usize>old_entries << 2);
  }
  const changed = bitmap_grow(changed_bitmap(volume), track_count);
  if (changed == 0) {
    const failure = alloc_failure();
    if (last_leaf != old_leaf) free(last_leaf, new_entries << 2);
    return failure;
  }
  const old_directory = <usize>load<u32>(volume + V_EXTENTS);
  memory.copy(directory, old_directory, <usize>old_groups << 2);
  store<u32>(directory + (<usize>last << 2), <u32>last_leaf);
  store<u32>(volume + V_EXTENTS, <u32>directory);
  store<u32>(volume + V_CHANGED, <u32>changed);
  store<u32>(volume + V_EXTENT_COUNT, extent_count);
  store<u32>(volume + V_TRACKS, track_count);
  free(old_directory, old_groups << 2);
  if (last_leaf != old_leaf) free(old_leaf, old_entries << 2);
  return OK;
}

// ---- standard volumes (DS CLI mkfbvol -sam standard) --------------------------------
//
// A standard volume has its whole capacity allocated when it is made, as a
// DS8000's fully provisioned volume has, where an ESE (thin) volume gets each
// extent on its first write. The host provisions it right after
// volume_create, a step of at most PROVISION_EXTENTS_MAX extents per call so
// that no call holds its thread long, and then touches its pages
// (volume_touch), in steps too: fresh WebAssembly memory is the kernel's
// untouched zero pages, and the first write to each 4 KiB page takes a
// zero-fill fault (about 0.7 ms per MiB here), paid then rather than by the
// volume's first writes. A standard volume's extents stay allocated while it
// lives: a trim zeroes them by a write (trim.ts).

export const PROVISION_EXTENTS_MAX: u32 = 4096; // 4 GiB: a step's count loop stays short
const TOUCH_STRIDE: u32 = 4096; // the kernel's page, not WebAssembly's

export function volume_standard(volume: usize): bool {
  return load<u32>(volume + V_SAM) == SAM_STANDARD;
}

// Allocates extents [first_extent, first_extent + extent_count) of the volume
// in `slot` (those it has not yet) and marks it standard. E_NO_SPACE when the
// image or the pool is full: the host then removes the volume it was making.
export function volume_provision(slot: u32, first_extent: u32, extent_count: u32): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_BAD_ARGUMENT;
  if (extent_count == 0 || extent_count > PROVISION_EXTENTS_MAX) return E_BAD_ARGUMENT;
  const volume = volume_at(slot);
  if (atomic.load<u32>(volume + V_STATE) == VOLUME_FREE) return E_NO_VOLUME;
  const entered = gate_enter(volume);
  if (entered != OK) return entered;
  const total = load<u32>(volume + V_EXTENT_COUNT);
  let result = first_extent >= total || extent_count > total - first_extent ? E_RANGE : OK;
  if (result == OK) {
    store<u32>(volume + V_SAM, SAM_STANDARD);
    result = ensure_extents(volume, first_extent, first_extent + extent_count - 1);
  }
  gate_exit(volume);
  return result;
}

// Faults in the pages of the allocated extents among [first_extent,
// first_extent + extent_count): an atomic or of 0 into one word of each
// 4 KiB page, which makes the page the process's own without changing a
// byte, even under a concurrent write. Inside the gate, so that no removal
// frees an extent under it.
export function volume_touch(slot: u32, first_extent: u32, extent_count: u32): i32 {
  if (slot >= VOLUME_SLOT_MAX) return E_BAD_ARGUMENT;
  const volume = volume_at(slot);
  if (atomic.load<u32>(volume + V_STATE) == VOLUME_FREE) return E_NO_VOLUME;
  const entered = gate_enter(volume);
  if (entered != OK) return entered;
  const end = min<u32>(load<u32>(volume + V_EXTENT_COUNT), first_extent + min<u32>(extent_count, PROVISION_EXTENTS_MAX));
  for (let extent = first_extent; extent < end; extent++) {
    const data = extent_data(volume, extent);
    if (data == 0) continue;
    for (let at: u32 = 0; at < EXTENT_SIZE; at += TOUCH_STRIDE) atomic.or<u32>(data + <usize>at, 0);
  }
  gate_exit(volume);
  return OK;
}

export function volume_sam(slot: u32): u32 {
  if (slot >= VOLUME_SLOT_MAX) return SAM_ESE;
  return load<u32>(volume_at(slot) + V_SAM);
}
