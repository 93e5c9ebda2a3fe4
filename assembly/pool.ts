// Extent pools: per-pool extent quotas that volumes draw on before they allocate.
//
// A pool entry (layout.ts, POOL_MAX of them in the image header) holds the
// pool's capacity and the extents allocated to its volumes, in 1 MiB extents.
// A volume's V_POOL word names its pool (index + 1), or none (0: no quota; only
// the image's memory bounds it). Before a volume allocates extents it reserves
// them in its pool with one atomic add; when that takes the pool past its
// capacity the add is undone and the caller fails with E_NO_SPACE before it
// has changed anything. Freed extents are given back. Between a refused
// reservation's add and its undo the count may read above the capacity; it
// never stays there, and every reservation that succeeded fits.

import {
  OK, E_NO_SPACE, E_BAD_ARGUMENT, POOL_MAX, P_CAPACITY, P_ALLOCATED, V_POOL, pool_at,
} from "./layout";

// @ts-ignore: decorator
@inline function pool_of(volume: usize): usize {
  const link = load<u32>(volume + V_POOL);
  return link == 0 ? 0 : pool_at(link - 1);
}

// Reserves extent_count extents in the volume's pool; E_NO_SPACE when they do not fit.
export function pool_reserve(volume: usize, extent_count: u32): i32 {
  const pool = pool_of(volume);
  if (pool == 0 || extent_count == 0) return OK;
  const before = atomic.add<u32>(pool + P_ALLOCATED, extent_count);
  const capacity = atomic.load<u32>(pool + P_CAPACITY);
  if (<u64>before + <u64>extent_count <= <u64>capacity) return OK;
  atomic.sub<u32>(pool + P_ALLOCATED, extent_count);
  return E_NO_SPACE;
}

// Gives back extents reserved or allocated earlier by the volume.
export function pool_release(volume: usize, extent_count: u32): void {
  const pool = pool_of(volume);
  if (pool == 0 || extent_count == 0) return;
  atomic.sub<u32>(pool + P_ALLOCATED, extent_count);
}

// Sets a pool's capacity. A capacity below what is allocated refuses further
// allocation until enough is freed; nothing already written is lost.
export function pool_configure(index: u32, capacity_extents: u32): i32 {
  if (index >= POOL_MAX) return E_BAD_ARGUMENT;
  atomic.store<u32>(pool_at(index) + P_CAPACITY, capacity_extents);
  return OK;
}

export function pool_allocated_extents(index: u32): u32 {
  if (index >= POOL_MAX) return 0;
  return atomic.load<u32>(pool_at(index) + P_ALLOCATED);
}

export function pool_capacity_extents(index: u32): u32 {
  if (index >= POOL_MAX) return 0;
  return atomic.load<u32>(pool_at(index) + P_CAPACITY);
}
