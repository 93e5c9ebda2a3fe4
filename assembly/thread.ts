// Threads of an image: identity, staging buffers and the reaper.
//
// Each thread that runs this module over an image attaches with an id below
// THREAD_MAX (handed out by the host) and gets a staging buffer in shared
// memory, through which the host passes the bytes of its reads and writes.
// The buffer belongs to the id and is reused by the next thread given it.
// When a thread dies (a worker terminated mid-copy), the host calls
// reap_thread from another thread: it drops the dead thread's bits from every
// gate and releases every lock it held, so nothing waits on it for ever, and
// recounts every relationship's pending counter from its bitmap.

import {
  OK, E_BAD_ARGUMENT, E_NO_SPACE, MAGIC, LAYOUT_VERSION, THREAD_MAX, STAGING_SIZE, VOLUME_SLOT_MAX,
  H_MAGIC, H_VERSION, H_HEAP_TOP, H_ALLOC_LOCK, V_STATE, V_INFLIGHT, V_LOCKS, V_STRIPES, VOLUME_FREE,
  T_STAGING, T_STAGING_SIZE, T_ATTACHED, PAGE_SIZE,
  base, heap_start, thread_at, volume_at,
} from "./layout";
import { alloc } from "./alloc";
import { set_thread_id, current_thread, release_if_owned } from "./sync";
import { recount_pending_all } from "./relationship";

// Formats a fresh image. Returns the number of bytes the memory must have.
export function image_init(): i32 {
  const header = base();
  if (<u64>memory.size() * <u64>PAGE_SIZE < <u64>heap_start()) return E_NO_SPACE;
  if (load<u32>(header + H_MAGIC) == MAGIC) return E_BAD_ARGUMENT;
  store<u64>(header + H_HEAP_TOP, <u64>heap_start());
  store<u32>(header + H_VERSION, LAYOUT_VERSION);
  atomic.store<u32>(header + H_MAGIC, MAGIC);
  return OK;
}

export function image_ready(): bool {
  return atomic.load<u32>(base() + H_MAGIC) == MAGIC;
}

// Attaches the calling thread as `id`; returns its staging buffer pointer (0 on failure).
export function thread_attach(id: u32): usize {
  if (id >= THREAD_MAX) return 0;
  if (!image_ready()) return 0;
  set_thread_id(id);
  const entry = thread_at(id);
  let staging = <usize>load<u32>(entry + T_STAGING);
  if (staging == 0) {
    staging = alloc(STAGING_SIZE);
    if (staging == 0) return 0;
    store<u32>(entry + T_STAGING, <u32>staging);
    store<u32>(entry + T_STAGING_SIZE, STAGING_SIZE);
  }
  atomic.store<u32>(entry + T_ATTACHED, 1);
  return staging;
}

export function thread_id(): u32 { return current_thread(); }

// Scratch bytes of this thread's entry (the hash carry buffer lives there).
export function thread_scratch(): usize { return thread_at(current_thread()) + 16; }

export function reap_thread(id: u32): i32 {
  if (id >= THREAD_MAX) return E_BAD_ARGUMENT;
  if (id == current_thread()) return E_BAD_ARGUMENT;
  const bit = <u64>1 << <u64>id;
  for (let slot: u32 = 0; slot < VOLUME_SLOT_MAX; slot++) {
    const volume = volume_at(slot);
    if (atomic.load<u32>(volume + V_STATE) == VOLUME_FREE) continue;
    atomic.and<u64>(volume + V_INFLIGHT, ~bit);
    const locks = <usize>load<u32>(volume + V_LOCKS);
    const stripes = load<u32>(volume + V_STRIPES);
    for (let stripe: u32 = 0; stripe < stripes; stripe++) release_if_owned(locks + (<usize>stripe << 2), id);
  }
  release_if_owned(base() + H_ALLOC_LOCK, id);
  atomic.store<u32>(thread_at(id) + T_ATTACHED, 0);
  // It may have died between clearing pending bits and counting them off.
  return recount_pending_all();
}
