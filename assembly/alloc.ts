// Allocator for everything the image holds beyond its fixed tables.
//
// Blocks are powers of two (64 B to 1 GiB), one free list per size class; the
// first u32 of a free block links to the next one. Fresh blocks come from the
// heap top, which only grows (memory.grow, in whole pages, at least
// GROW_PAGES_MIN at a time so that a stream of 1 MiB extent allocations does
// not grow memory once per extent). Memory from the heap top has never been
// written and is zero; a recycled block is zeroed before it is handed out, so
// every allocation reads as zeros. One lock serialises the lists; allocation
// happens once per extent (1 MiB of data), never per I/O.
//
// alloc returns 0 on failure; alloc_failure() then says why: E_NO_SPACE (the
// image's 4 GiB are used) or E_ALLOC_LOCK_TIMEOUT (another thread held the
// lock beyond its bound, sync.ts), so that a caller never reports a lock
// timeout as a full image.

import { OK, E_NO_SPACE, E_BAD_ARGUMENT, H_ALLOC_LOCK, H_HEAP_TOP, H_FREE_LISTS, PAGE_SIZE, base } from "./layout";
import { lock_allocator, unlock } from "./sync";

const CLASS_MIN: u32 = 6; // 64 B
const CLASS_MAX: u32 = 30; // 1 GiB
const GROW_PAGES_MIN: u32 = 256; // 16 MiB
export const MEMORY_PAGES_MAX: u32 = 65536; // 4 GiB

// @ts-ignore: decorator
@inline function size_class(size_bytes: u32): u32 {
  if (size_bytes <= (<u32>1 << CLASS_MIN)) return CLASS_MIN;
  return 32 - clz<u32>(size_bytes - 1);
}

// @ts-ignore: decorator
@inline function list_head(size_class_index: u32): usize {
  return base() + H_FREE_LISTS + <usize>size_class_index * 4;
}

// Why this thread's last alloc returned 0 (per instance, hence per thread).
let failure: i32 = OK;

export function alloc_failure(): i32 { return failure; }

// Returns a zeroed block of at least size_bytes, or 0 (see alloc_failure).
export function alloc(size_bytes: u32): usize {
  failure = E_BAD_ARGUMENT;
  if (size_bytes == 0) return 0;
  if (size_bytes > (<u32>1 << CLASS_MAX)) return 0;
  const k = size_class(size_bytes);
  const block_size = <u64>1 << <u64>k;
  const lock_addr = base() + H_ALLOC_LOCK;
  failure = lock_allocator(lock_addr);
  if (failure != OK) return 0;
  let block = <usize>load<u32>(list_head(k));
  if (block != 0) {
    store<u32>(list_head(k), load<u32>(block));
    unlock(lock_addr);
    memory.fill(block, 0, <usize>block_size);
    return block;
  }
  block = grow_heap(block_size);
  unlock(lock_addr);
  if (block == 0) failure = E_NO_SPACE;
  return block;
}

export function free(block: usize, size_bytes: u32): void {
  if (block == 0) return;
  const k = size_class(size_bytes);
  const lock_addr = base() + H_ALLOC_LOCK;
  // A free that cannot take the lock within its bound leaks the block rather
  // than corrupting the list. Only frees of a withdraw or a volume removal
  // get here, after a wait that every other allocation would have failed too.
  if (lock_allocator(lock_addr) != OK) return;
  store<u32>(block, load<u32>(list_head(k)));
  store<u32>(list_head(k), <u32>block);
  unlock(lock_addr);
}

// Called with the allocation lock held. Blocks of a page or more are page
// aligned (extents stay aligned for memory.copy); smaller ones are aligned to
// their own size.
function grow_heap(block_size: u64): usize {
  const alignment: u64 = block_size < <u64>PAGE_SIZE ? block_size : <u64>PAGE_SIZE;
  const top = load<u64>(base() + H_HEAP_TOP);
  const start = (top + alignment - 1) & ~(alignment - 1);
  const end = start + block_size;
  const limit = <u64>MEMORY_PAGES_MAX * <u64>PAGE_SIZE;
  if (end > limit) return 0;
  const have = <u64>memory.size() * <u64>PAGE_SIZE;
  if (end > have) {
    const need_pages = <u32>((end - have + <u64>PAGE_SIZE - 1) / <u64>PAGE_SIZE);
    let pages = need_pages > GROW_PAGES_MIN ? need_pages : GROW_PAGES_MIN;
    const room = MEMORY_PAGES_MAX - <u32>memory.size();
    if (pages > room) pages = room;
    // Another thread may grow memory between size() and grow(): the result
    // is only a lower bound, so the size is checked again afterwards.
    memory.grow(<i32>pages);
    if (<u64>memory.size() * <u64>PAGE_SIZE < end) return 0;
  }
  store<u64>(base() + H_HEAP_TOP, end);
  return <usize>start;
}

export function heap_top(): u64 {
  return load<u64>(base() + H_HEAP_TOP);
}
