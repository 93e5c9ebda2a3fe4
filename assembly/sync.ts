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
// Every wait is bounded in elapsed time, not in a count of waits: atomic.wait
// returns at once when the word has changed, so a count of waits bounds
// nothing, and a short sleep can last far longer than asked on a busy machine.
// WebAssembly has no clock of its own, so the host imports its monotonic one
// (performance.now, in milliseconds). It is read only once a wait has begun,
// never on the uncontended path. Each kind of wait has its own bound and its
// own result code, so the host can say which wait gave up:
//
//   wait                                  bound (per thread)   code
//   track lock held by another thread     lock_timeout_ms      E_LOCK_TIMEOUT
//   allocator lock (alloc.ts)             alloc_timeout_ms     E_ALLOC_LOCK_TIMEOUT
//   I/O at the gate of a frozen volume    gate_timeout_ms      E_GATE_TIMEOUT
//   freezer draining in-flight I/O        drain_timeout_ms     E_DRAIN_TIMEOUT
//
// The drain bound is short by default: freezers run on the host's main
// thread (establish, withdraw, save), which must not stall for long; the host
// retries a timed-out drain asynchronously (src/engine/image.ts, drained()).

import {
  OK, E_LOCK_TIMEOUT, E_ALLOC_LOCK_TIMEOUT, E_GATE_TIMEOUT, E_DRAIN_TIMEOUT, E_FROZEN,
  V_FROZEN, V_INFLIGHT, H_ALLOC_LOCK, THREAD_MAX, base,
} from "./layout";

// @ts-ignore: decorator
@external("env", "clock_ms")
declare function clock_ms(): f64;

export const LOCK_OWNER_MASK: i32 = 0xff;
export const LOCK_CONTENDED: i32 = 0x100;
const SPIN_COUNT_MAX: i32 = 64;
const WAIT_NS: i64 = 1_000_000; // 1 ms: a waiter re-checks its deadline at least this often
const DRAIN_WAIT_NS: i64 = 20_000; // 20 us polls while a freezer drains I/O
export const LOCK_TIMEOUT_MS: f64 = 20_000; // far beyond any one copy run or I/O holding a track
export const ALLOC_TIMEOUT_MS: f64 = 20_000; // the allocator lock is held for a list pop or a memory.grow
export const GATE_TIMEOUT_MS: f64 = 20_000; // a volume stays frozen for an establish, withdraw or save
export const DRAIN_TIMEOUT_MS: f64 = 50; // synchronous work a freezer may do on the host's main thread

// This thread's identity and wait bounds: per instance, hence per thread.
let thread_id: u32 = 0;
let lock_timeout_ms: f64 = LOCK_TIMEOUT_MS;
let alloc_timeout_ms: f64 = ALLOC_TIMEOUT_MS;
let gate_timeout_ms: f64 = GATE_TIMEOUT_MS;
let drain_timeout_ms: f64 = DRAIN_TIMEOUT_MS;

export function set_thread_id(id: u32): void { thread_id = id; }
// @ts-ignore: decorator
@inline export function current_thread(): u32 { return thread_id; }

// Sets this thread's wait bounds (tests use tiny ones to provoke each
// timeout). A bound that is not a positive number leaves that bound as it was.
export function set_wait_timeouts(lock_ms: f64, alloc_ms: f64, gate_ms: f64, drain_ms: f64): void {
  if (lock_ms > 0) lock_timeout_ms = lock_ms;
  if (alloc_ms > 0) alloc_timeout_ms = alloc_ms;
  if (gate_ms > 0) gate_timeout_ms = gate_ms;
  if (drain_ms > 0) drain_timeout_ms = drain_ms;
}

// A word nobody notifies, used to sleep for a bounded time.
// @ts-ignore: decorator
@inline function sleep_ns(ns: i64): void {
  atomic.wait<i32>(base() + H_ALLOC_LOCK + 4, 0, ns); // the reserved word stays 0
}

// Takes a lock word within timeout_ms; false when the time ran out.
function acquire(addr: usize, timeout_ms: f64): bool {
  const me = <i32>thread_id + 1;
  if (atomic.cmpxchg<i32>(addr, 0, me) == 0) return true;
  for (let spin = 0; spin < SPIN_COUNT_MAX; spin++) {
    if (atomic.load<i32>(addr) == 0 && atomic.cmpxchg<i32>(addr, 0, me) == 0) return true;
  }
  const deadline = clock_ms() + timeout_ms;
  do {
    const seen = atomic.load<i32>(addr);
    if (seen == 0) {
      // Taken as contended: another waiter may still sleep on this word.
      if (atomic.cmpxchg<i32>(addr, 0, me | LOCK_CONTENDED) == 0) return true;
      continue;
    }
    if ((seen & LOCK_CONTENDED) == 0) {
      if (atomic.cmpxchg<i32>(addr, seen, seen | LOCK_CONTENDED) != seen) continue;
    }
    atomic.wait<i32>(addr, seen | LOCK_CONTENDED, WAIT_NS);
  } while (clock_ms() < deadline);
  return false;
}

// A track lock (see the lock word above).
export function lock(addr: usize): i32 {
  return acquire(addr, lock_timeout_ms) ? OK : E_LOCK_TIMEOUT;
}

// The allocator's lock: the same word protocol, its own bound and code.
export function lock_allocator(addr: usize): i32 {
  return acquire(addr, alloc_timeout_ms) ? OK : E_ALLOC_LOCK_TIMEOUT;
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

// @ts-ignore: decorator
@inline function try_enter(volume: usize, bit: u64): bool {
  atomic.or<u64>(volume + V_INFLIGHT, bit);
  if (atomic.load<i32>(volume + V_FROZEN) == 0) return true;
  atomic.and<u64>(volume + V_INFLIGHT, ~bit);
  return false;
}

export function gate_enter(volume: usize): i32 {
  const bit = <u64>1 << <u64>thread_id;
  if (try_enter(volume, bit)) return OK;
  const deadline = clock_ms() + gate_timeout_ms;
  do {
    atomic.wait<i32>(volume + V_FROZEN, 1, WAIT_NS);
    if (try_enter(volume, bit)) return OK;
  } while (clock_ms() < deadline);
  return E_GATE_TIMEOUT;
}

// Enters the gate only if the volume is not frozen, never waiting: for a
// thread that others may be waiting on (a link's sender), so that a freezer
// draining another volume is not held up by it.
export function gate_try_enter(volume: usize): bool {
  return try_enter(volume, <u64>1 << <u64>thread_id);
}

export function gate_exit(volume: usize): void {
  atomic.and<u64>(volume + V_INFLIGHT, ~(<u64>1 << <u64>thread_id));
}

// Freezes a volume and waits, at most drain_timeout_ms, until no other
// thread does I/O on it. The caller must not itself be inside the gate, and
// freezers are serialised by the host: a volume already frozen is E_FROZEN.
// On a timeout the volume is thawed again: nothing changed.
export function freeze(volume: usize): i32 {
  const was = atomic.cmpxchg<i32>(volume + V_FROZEN, 0, 1);
  if (was != 0) return E_FROZEN;
  const others = ~(<u64>1 << <u64>thread_id);
  if ((atomic.load<u64>(volume + V_INFLIGHT) & others) == 0) return OK;
  const deadline = clock_ms() + drain_timeout_ms;
  do {
    sleep_ns(DRAIN_WAIT_NS);
    if ((atomic.load<u64>(volume + V_INFLIGHT) & others) == 0) return OK;
  } while (clock_ms() < deadline);
  thaw(volume);
  return E_DRAIN_TIMEOUT;
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
