// Fault injection, for the tests of how failures reach the user.
//
// These exports let a test provoke, deterministically, what otherwise
// happens only by bad luck: a track lock or the allocator lock held by a
// stalled thread (so that waits time out), and an abort of the core in the
// middle of a copy, as a failed assertion of the debug build would. They
// change nothing unless called; the copy path pays one atomic load of a
// header word per run of tracks (copy.ts).

import { OK, E_BAD_ARGUMENT, E_NO_VOLUME, VOLUME_SLOT_MAX, V_STATE, V_TRACKS, VOLUME_FREE, H_ALLOC_LOCK, H_FAULT_ABORT, volume_at, base } from "./layout";
import { lock, lock_allocator, unlock, LOCK_CONTENDED } from "./sync";
import { track_lock } from "./volume";

// Arms (1) or disarms (0) one abort: the next thread to copy track data
// takes it and aborts there, holding its track locks and gate.
export function fault_arm_abort(armed: u32): void {
  atomic.store<i32>(base() + H_FAULT_ABORT, armed != 0 ? 1 : 0);
}

export function take_injected_abort(): void {
  if (atomic.cmpxchg<i32>(base() + H_FAULT_ABORT, 1, 0) == 1) abort("fault injection: an abort armed by fault_arm_abort");
}

function track_lock_of(slot: u32, track: u32): usize {
  if (slot >= VOLUME_SLOT_MAX) return 0;
  const volume = volume_at(slot);
  if (atomic.load<u32>(volume + V_STATE) == VOLUME_FREE) return 0;
  if (track >= load<u32>(volume + V_TRACKS)) return 0;
  return track_lock(volume, track);
}

// Takes a volume's track lock for the calling thread, as a thread stalled
// inside a copy would hold it, until fault_release_track_lock.
export function fault_hold_track_lock(slot: u32, track: u32): i32 {
  const addr = track_lock_of(slot, track);
  if (addr == 0) return slot < VOLUME_SLOT_MAX ? E_BAD_ARGUMENT : E_NO_VOLUME;
  return lock(addr);
}

export function fault_release_track_lock(slot: u32, track: u32): i32 {
  const addr = track_lock_of(slot, track);
  if (addr == 0) return E_BAD_ARGUMENT;
  unlock(addr);
  return OK;
}

// 1 when another thread waits for a track lock that fault_hold_track_lock
// holds (a waiter flags the lock contended before it sleeps), else 0: a test
// then knows that thread is blocked inside its request, at that lock.
export function fault_track_lock_waited(slot: u32, track: u32): i32 {
  const addr = track_lock_of(slot, track);
  if (addr == 0) return E_BAD_ARGUMENT;
  return (atomic.load<i32>(addr) & LOCK_CONTENDED) != 0 ? 1 : 0;
}

export function fault_hold_allocator(): i32 {
  return lock_allocator(base() + H_ALLOC_LOCK);
}

export function fault_release_allocator(): void {
  unlock(base() + H_ALLOC_LOCK);
}
