// Synchronisation on shared words: track locks and volume gates.
//
// Track lock word (i32, in a volume's lock stripes: track t uses stripe
// t mod the stripe count, so two tracks far apart may share a word, which
// only costs them contention):
//   bits 0-7  owner thread id + 1 (0 = unlocked)
//   bit  8    CONTENDED: a thread may be waiting; the unlocker must notify
// The owner is recorded so that a thread that dies holding a lock (a worker
// terminated mid-copy) can be reaped: reap_thread() releases its locks.
//
// Volume gate (per volume entry): `frozen` (i32) and an in-flight mask (u64).
// I/O sets its thread's bit, then checks `frozen`; a freezer sets `frozen`,
// then waits for the mask to empty. Both sides use sequentially consistent
// atomics, so at least one of them sees the other (Dekker): either the I/O
// backs off, or the freezer waits for it. While a volume is frozen its
// relationship links cannot be read half-changed, which makes establish one
// point in time for every writer on every thread.
//
// Lock order: gates are entered one at a time (never nested); track locks are
// taken on the source volume's lock stripes for every relationship track. A
// thread holds the locks of at most one run of tracks at a time, all in one
// extent, taken in ascending track order; the stripe count is a multiple of
// the extent's track count, so those tracks have distinct stripes in
// ascending stripe order. Every thread thus takes stripes in ascending order,
// and no cycle can form.
//
// Every wait is bounded: WAIT_NS per wait, WAIT_COUNT_MAX waits, then E_TIMEOUT.

import {
  OK, E_TIMEOUT, V_FROZEN, V_INFLIGHT, H_ALLOC_LOCK, THREAD_MAX, base,
} from "./layout";

export const LOCK_OWNER_MASK: i32 = 0xff;
export const LOCK_CONTENDED: i32 = 0x100;
const SPIN_COUNT_MAX: i32 = 64;
const WAIT_NS: i64 = 1_000_000; // 1 ms
const WAIT_COUNT_MAX: i32 = 20_000; // 20 s: far beyond any I/O or copy of one run
const DRAIN_WAIT_NS: i64 = 20_000; // 20 us polls while a freezer drains I/O

// This thread's identity: per instance, hence per thread.
let thread_id: u32 = 0;

export function set_thread_id(id: u32): void { thread_id = id; }
// @ts-ignore: decorator
@inline export function current_thread(): u32 { return thread_id; }

// A word nobody notifies, used to sleep for a bounded time.
// @ts-ignore: decorator
@inline function sleep_ns(ns: i64): void {
  atomic.wait<i32>(base() + H_ALLOC_LOCK + 4, 0, ns); // the reserved word stays 0
}

export function lock(addr: usize): i32 {
  const me = <i32>thread_id + 1;
  if (atomic.cmpxchg<i32>(addr, 0, me) == 0) return OK;
  for (let spin = 0; spin < SPIN_COUNT_MAX; spin++) {
    if (atomic.load<i32>(addr) == 0 && atomic.cmpxchg<i32>(addr, 0, me) == 0) return OK;
  }
  for (let waits = 0; waits < WAIT_COUNT_MAX; waits++) {
    const seen = atomic.load<i32>(addr);
    if (seen == 0) {
      // Taken as contended: another waiter may still sleep on this word.
      if (atomic.cmpxchg<i32>(addr, 0, me | LOCK_CONTENDED) == 0) return OK;
      continue;
    }
    if ((seen & LOCK_CONTENDED) == 0) {
      if (atomic.cmpxchg<i32>(addr, seen, seen | LOCK_CONTENDED) != seen) continue;
    }
    atomic.wait<i32>(addr, seen | LOCK_CONTENDED, WAIT_NS);
  }
  return E_TIMEOUT;
}

export function unlock(addr: usize): void {
  const old = atomic.xchg<i32>(addr, 0);
  assert((old & LOCK_OWNER_MASK) == <i32>thread_id + 1, "unlock by a thread that does not own the lock");
  if ((old & LOCK_CONTENDED) != 0) atomic.notify(addr, 1);
}

// Releases a lock word if `id` owns it. Used by the reaper only.
export function release_if_owned(addr: usize, id: u32): void {
  const seen = atomic.load<i32>(addr);
  if ((seen & LOCK_OWNER_MASK) != <i32>id + 1) return;
  if (atomic.cmpxchg<i32>(addr, seen, 0) == seen) atomic.notify(addr, THREAD_MAX);
}

export function gate_enter(volume: usize): i32 {
  const bit = <u64>1 << <u64>thread_id;
  for (let waits = 0; waits < WAIT_COUNT_MAX; waits++) {
    atomic.or<u64>(volume + V_INFLIGHT, bit);
    if (atomic.load<i32>(volume + V_FROZEN) == 0) return OK;
    atomic.and<u64>(volume + V_INFLIGHT, ~bit);
    atomic.wait<i32>(volume + V_FROZEN, 1, WAIT_NS);
  }
  return E_TIMEOUT;
}

export function gate_exit(volume: usize): void {
  atomic.and<u64>(volume + V_INFLIGHT, ~(<u64>1 << <u64>thread_id));
}

// Freezes a volume and waits until no other thread does I/O on it. The caller
// must not itself be inside the gate, and freezers are serialised by the host.
export function freeze(volume: usize): i32 {
  const was = atomic.cmpxchg<i32>(volume + V_FROZEN, 0, 1);
  if (was != 0) return E_TIMEOUT;
  const others = ~(<u64>1 << <u64>thread_id);
  for (let polls = 0; polls < WAIT_COUNT_MAX * 50; polls++) {
    if ((atomic.load<u64>(volume + V_INFLIGHT) & others) == 0) return OK;
    sleep_ns(DRAIN_WAIT_NS);
  }
  thaw(volume);
  return E_TIMEOUT;
}

export function thaw(volume: usize): void {
  atomic.store<i32>(volume + V_FROZEN, 0);
  atomic.notify(volume + V_FROZEN, <i32>THREAD_MAX);
}

// Freezes two volumes, one after the other (each drained before the next, as
// freeze requires); on failure neither stays frozen.
export function freeze_pair(first: usize, second: usize): i32 {
  const frozen = freeze(first);
  if (frozen != OK) return frozen;
  const also = freeze(second);
  if (also != OK) thaw(first);
  return also;
}
