// PPRC in the data plane: the out-of-sync bitmap of a pair's primary, the
// mirrored write path, and the link ring that hands writes to the sender.
//
// A PPRC pair is primary volume P on this image, secondary S on another image
// (its own memory). P's volume entry carries the pair (layout.ts, V_PPRC_*):
// its role, its mirror mode, its out-of-sync (OOS) bitmap, the link ring its
// writes go through and S's slot on the other image. S's entry carries only
// its role (secondary) and whether host reads are allowed (-tgtread).
//
// Mirror modes of a primary (V_PPRC_MODE, changed by the host with the volume
// frozen, or by a writer from SYNC to SUSPENDED when the link fails):
//   MIRROR_SYNC       Metro Mirror, Copy Pending or Full Duplex: a write to an
//                     in-sync track is sent and acknowledged before it completes
//   MIRROR_ASYNC      Global Copy: writes set OOS bits and complete; the sender
//                     drains the bits
//   MIRROR_SUSPENDED  writes set OOS bits and complete (with -critmode: fail)
//
// The per-track protocol. Every write to a track of a primary, and every copy
// of an out-of-sync track to the secondary, holds the track's lock (the
// volume's lock stripes, sync.ts) for its whole duration:
//   host write   lock; was = OOS bit; set the bit; write locally;
//                SYNC and !was: send, wait (bounded) for the ack, and clear
//                the bit only if it was acknowledged; unlock
//   copy         try-lock (never wait: a writer holding the lock may itself
//                wait for this thread to drain the ring); bit still set: copy
//                the track out, apply it to the secondary, clear; unlock
// So a bit is set before its write reaches either side, and cleared only by
// the thread that holds the lock and saw the newest write to the track
// acknowledged: no interleaving leaves a changed track unmarked. A track whose
// bit was already set is not sent by the writer: the copy sends it whole.
//
// A Metro Mirror write in flight holds its track's bit, but that bit is no
// backlog: the write completes only once the secondary has it (or the pair
// suspends). So such a write counts itself, apart from the copy's backlog:
// V_PPRC_SYNC_BEGUN after it set the bit of a track that was in sync,
// V_PPRC_SYNC_ENDED before it clears the bit (acknowledged) or leaves it
// set (not sent, not acknowledged: backlog now). The two only grow, so
// pprc_backlog can count the bits without a lock and still never count a
// backlog bit as in flight (see there). A write under Global Copy or to a
// suspended pair, and one to a track already out of sync, counts nothing:
// its bit is backlog from the start. The users' figure (lspprc's Out Of Sync
// Tracks, Full Duplex) is the backlog; the copy and resync go by the bits.
//
// Link ring, in the primary's memory (one per link, the host allocates it):
//
//   ring + 0    i32 head: the next ticket to claim
//   ring + 4    i32 doorbell: bumped on every publish (the sender waits on it)
//   ring + 8    i32 link state: LINK_UP or LINK_DOWN (then the sender fails entries)
//   ring + 12   u32 entry count (RING_ENTRIES, a power of two)
//   ring + 16   u32 data pointer: RING_ENTRIES x TRACK_SIZE bytes
//   ring + 20   i32 tail: the next ticket the sender takes (the sender's own)
//   ring + 24   i32 ack bound in ms for every writer of the link (0: ACK_TIMEOUT_MS)
//   ring + 28   i32 the copying thread: the sender's thread id + 1 in this
//               image, 0 when it does not say (ring_set_copier)
//   ring + 32   u32 host writes that found their track's lock held by that
//               thread's copy (a statistic: tests check that writes met copies)
//   ring + 64   RING_ENTRIES x RING_ENTRY:
//     0 i32 turn: the ticket that may claim the entry next (free for that lap)
//     4 i32 status (ENTRY_EMPTY .. ENTRY_ABANDONED)
//     8 i32 result of applying it on the secondary
//    12 u32 secondary volume slot     16 u64 offset    24 u32 length
//    28 i32 ticket
//
// A writer claims ticket t when entry t mod N has turn t (compare-exchange of
// head, so a ticket is never taken and then left unpublished), copies its
// bytes into the entry's data, publishes READY and rings the doorbell. The
// sender takes tickets strictly in order (APPLYING), applies, and marks DONE;
// the writer reads the result and frees the entry for the next lap (turn
// t + N). A writer whose wait for the ack runs out marks the entry ABANDONED
// instead and returns; the sender then frees it when it gets there. Whoever
// of the two finishes last frees the entry, so the ring never jams.

import {
  OK, E_BAD_ARGUMENT, E_NO_SPACE, E_NO_VOLUME, E_RANGE,
  TRACK_SHIFT, TRACK_SIZE, CHUNK_TRACK_SHIFT, EXTENT_TRACKS, VOLUME_SLOT_MAX, V_STATE, V_SIZE, V_TRACKS, V_TARGET_REL, VOLUME_FREE,
  V_PPRC_ROLE, V_PPRC_MODE, V_PPRC_FLAGS, V_PPRC_OOS, V_PPRC_RING, V_PPRC_REMOTE, V_PPRC_CAUSE, V_PPRC_SENT_TRACKS,
  V_PPRC_SYNC_BEGUN, V_PPRC_SYNC_ENDED,
  PPRC_NONE, PPRC_PRIMARY, PPRC_SECONDARY, MIRROR_SYNC, MIRROR_ASYNC, MIRROR_SUSPENDED, PPRC_CRITMODE, PPRC_TGTREAD, PPRC_HOLD_WRITES,
  CAUSE_NONE, CAUSE_LINK, CAUSE_TIMEOUT, E_PPRC_SECONDARY, E_MIRROR_FAILED, E_LONG_BUSY, T_STAGING, V_FROZEN, volume_at, thread_at,
  R_SOURCE, R_TRACKS, R_BITMAP, rel_at,
} from "./layout";
import { alloc } from "./alloc";
import { freeze, thaw, current_thread, LOCK_OWNER_MASK, gate_try_enter, gate_exit, lock, unlock } from "./sync";
import {
  bitmap_create, bitmap_free, bitmap_count, bitmap_find, bitmap_chunks, chunk_reset, bit_is_set, bit_set, bit_clear, leaf_ensure, leaves_ensure, CHUNK_SET,
} from "./bitmap";
import { track_lock, read_pointer } from "./volume";

// @ts-ignore: decorator
@external("env", "clock_ms")
declare function clock_ms(): f64;

export const RING_ENTRIES: u32 = 32;
export const RING_HEADER: u32 = 64;
export const RING_ENTRY: u32 = 64;
export const RING_HEAD: u32 = 0;
export const RING_DOORBELL: u32 = 4;
export const RING_LINK: u32 = 8;
export const RING_COUNT: u32 = 12;
export const RING_DATA: u32 = 16;
export const RING_TAIL: u32 = 20;
export const RING_ACK_TIMEOUT: u32 = 24;
export const RING_COPIER: u32 = 28;
export const RING_WRITES_MET_COPY: u32 = 32;
export const E_TURN: u32 = 0;
export const E_STATUS: u32 = 4;
export const E_RESULT: u32 = 8;
export const E_SLOT: u32 = 12;
export const E_OFFSET: u32 = 16;
export const E_LENGTH: u32 = 24;
export const E_TICKET: u32 = 28;

export const LINK_UP: i32 = 0;
export const LINK_DOWN: i32 = 1;
export const ENTRY_EMPTY: i32 = 0;
export const ENTRY_READY: i32 = 1;
export const ENTRY_APPLYING: i32 = 2;
export const ENTRY_DONE: i32 = 3;
export const ENTRY_ABANDONED: i32 = 4;

// How long a writer waits for a free entry and then for its ack. Past it the
// pair suspends (the write keeps its OOS bit) rather than hold the host.
export const ACK_TIMEOUT_MS: f64 = 5_000;
// A writer's wait for a free entry or for its ack, in slices of this long:
// the sender's notify wakes it at once, so the slice only bounds how late it
// notices its deadline. Shorter slices cost CPU: with 16 writers an ack takes
// milliseconds on a loaded machine, and 1 ms slices woke each writer several
// times per write for nothing (130-150 µs of CPU per write, 50-60 with 50 ms).
const WAIT_NS: i64 = 20_000_000;
const TRY_TRACKS_MAX: u32 = 64; // locked tracks a copy passes by before it gives up for now

// The link's ack bound, in the ring so that writers on every thread share it.
export function ring_set_ack_timeout(ring: usize, ms: i32): void {
  if (ms > 0) atomic.store<i32>(ring + RING_ACK_TIMEOUT, ms);
}

// The sender thread of the link names itself, so that writers can count the copies they meet.
export function ring_set_copier(ring: usize): void {
  atomic.store<i32>(ring + RING_COPIER, <i32>current_thread() + 1);
}

export function ring_writes_met_copy(ring: usize): u32 {
  return atomic.load<u32>(ring + RING_WRITES_MET_COPY);
}

// @ts-ignore: decorator
@inline function ack_timeout_ms(ring: usize): f64 {
  const ms = atomic.load<i32>(ring + RING_ACK_TIMEOUT);
  return ms > 0 ? <f64>ms : ACK_TIMEOUT_MS;
}

// @ts-ignore: decorator
@inline function entry_at(ring: usize, ticket: i32): usize {
  return ring + RING_HEADER + <usize>(<u32>ticket & (RING_ENTRIES - 1)) * RING_ENTRY;
}
// @ts-ignore: decorator
@inline function entry_data(ring: usize, ticket: i32): usize {
  return <usize>load<u32>(ring + RING_DATA) + (<usize>(<u32>ticket & (RING_ENTRIES - 1)) << TRACK_SHIFT);
}

// A new ring, every entry free for its first lap; 0 when the image is full.
export function ring_create(): usize {
  const ring = alloc(RING_HEADER + RING_ENTRIES * RING_ENTRY);
  if (ring == 0) return 0;
  const data = alloc(RING_ENTRIES << TRACK_SHIFT);
  if (data == 0) return 0;
  memory.fill(ring, 0, RING_HEADER + RING_ENTRIES * RING_ENTRY);
  store<u32>(ring + RING_COUNT, RING_ENTRIES);
  store<u32>(ring + RING_DATA, <u32>data);
  for (let index: i32 = 0; index < <i32>RING_ENTRIES; index++) atomic.store<i32>(entry_at(ring, index) + E_TURN, index);
  return ring;
}

export function ring_set_link(ring: usize, state: i32): void {
  atomic.store<i32>(ring + RING_LINK, state);
  ring_wake(ring);
}

function ring_wake(ring: usize): void {
  atomic.add<i32>(ring + RING_DOORBELL, 1);
  atomic.notify(ring + RING_DOORBELL, 1);
}

// Claims the next ticket within the ack bound; -1 when the ring stayed full.
function ring_claim(ring: usize): i64 {
  let deadline: f64 = -1;
  for (;;) {
    const ticket = atomic.load<i32>(ring + RING_HEAD);
    const entry = entry_at(ring, ticket);
    const turn = atomic.load<i32>(entry + E_TURN);
    if (turn == ticket) {
      if (atomic.cmpxchg<i32>(ring + RING_HEAD, ticket, ticket + 1) == ticket) return <i64><u32>ticket;
    } else if (ticket - turn > 0) {
      // The entry still serves the previous lap: the ring is full.
      atomic.wait<i32>(entry + E_TURN, turn, WAIT_NS);
    }
    const now = clock_ms();
    if (deadline < 0) deadline = now + ack_timeout_ms(ring);
    else if (now >= deadline) return -1;
  }
  return -1; // not reached: the loop ends by its deadline
}

function ring_free(ring: usize, entry: usize, ticket: i32): void {
  atomic.store<i32>(entry + E_STATUS, ENTRY_EMPTY);
  atomic.store<i32>(entry + E_TURN, ticket + <i32>RING_ENTRIES);
  atomic.notify(entry + E_TURN, <i32>RING_ENTRIES);
}

// Sends `length` bytes from `data` to (secondary slot, offset) and waits for
// the result: OK once applied, else why not (the link down, the wait over).
export function ring_send(ring: usize, remote_slot: u32, offset: u64, length: u32, data: usize): i32 {
  assert(length <= TRACK_SIZE, "a ring entry carries at most one track");
  if (atomic.load<i32>(ring + RING_LINK) != LINK_UP) return E_MIRROR_FAILED;
  const claimed = ring_claim(ring);
  if (claimed < 0) return E_MIRROR_FAILED;
  const ticket = <i32>claimed;
  const entry = entry_at(ring, ticket);
  memory.copy(entry_data(ring, ticket), data, length);
  store<u32>(entry + E_SLOT, remote_slot);
  store<u64>(entry + E_OFFSET, offset);
  store<u32>(entry + E_LENGTH, length);
  store<i32>(entry + E_TICKET, ticket);
  atomic.store<i32>(entry + E_STATUS, ENTRY_READY);
  atomic.add<i32>(ring + RING_DOORBELL, 1);
  atomic.notify(ring + RING_DOORBELL, 1);
  const deadline = clock_ms() + ack_timeout_ms(ring);
  for (;;) {
    const status = atomic.load<i32>(entry + E_STATUS);
    if (status == ENTRY_DONE) {
      const result = atomic.load<i32>(entry + E_RESULT);
      ring_free(ring, entry, ticket);
      return result;
    }
    if (clock_ms() >= deadline) {
      // Gives the entry up; the sender frees it. Lost the race to DONE: it was acknowledged.
      if (atomic.cmpxchg<i32>(entry + E_STATUS, status, ENTRY_ABANDONED) == status) return E_MIRROR_FAILED;
      continue;
    }
    atomic.wait<i32>(entry + E_STATUS, status, WAIT_NS);
  }
  return E_MIRROR_FAILED; // not reached: the loop ends by its deadline
}

// ---- the sender's side (one thread per ring takes tickets in order) ----------------

// The entry of the sender's next ticket once READY, marked APPLYING; 0 when
// it is not ready yet. An entry its writer abandoned is freed and passed.
export function ring_take(ring: usize): usize {
  const ticket = load<i32>(ring + RING_TAIL);
  const entry = entry_at(ring, ticket);
  if (atomic.load<i32>(entry + E_TURN) != ticket) return 0;
  const status = atomic.load<i32>(entry + E_STATUS);
  if (status == ENTRY_ABANDONED) {
    assert(load<i32>(entry + E_TICKET) == ticket, "the sender took a ring entry out of ticket order");
    store<i32>(ring + RING_TAIL, ticket + 1);
    ring_free(ring, entry, ticket);
    return 0;
  }
  if (status != ENTRY_READY) return 0;
  assert(load<i32>(entry + E_TICKET) == ticket, "the sender took a ring entry out of ticket order");
  if (atomic.cmpxchg<i32>(entry + E_STATUS, ENTRY_READY, ENTRY_APPLYING) != ENTRY_READY) return 0;
  store<i32>(ring + RING_TAIL, ticket + 1);
  return entry;
}

export function ring_entry_data(ring: usize, entry: usize): usize {
  return entry_data(ring, load<i32>(entry + E_TICKET));
}

// Publishes the result of an entry ring_take gave; frees it if its writer left.
export function ring_complete(ring: usize, entry: usize, result: i32): void {
  atomic.store<i32>(entry + E_RESULT, result);
  if (atomic.cmpxchg<i32>(entry + E_STATUS, ENTRY_APPLYING, ENTRY_DONE) == ENTRY_APPLYING) {
    atomic.notify(entry + E_STATUS, 1);
    return;
  }
  assert(atomic.load<i32>(entry + E_STATUS) == ENTRY_ABANDONED, "a ring entry changed while the sender applied it");
  ring_free(ring, entry, load<i32>(entry + E_TICKET));
}

export function ring_doorbell_pointer(ring: usize): usize { return ring + RING_DOORBELL; }

// ---- the write path of a primary (io.ts calls these inside the volume's gate) --------

// @ts-ignore: decorator
@inline export function pprc_role(volume: usize): u32 { return load<u32>(volume + V_PPRC_ROLE); }

// What a write to a PPRC volume needs before it changes anything: the OOS
// bitmap's leaves (bits change only in leaves), or a refusal.
export function mirror_prepare(volume: usize, first_track: u32, last_track: u32, from_mirror: bool): i32 {
  const role = load<u32>(volume + V_PPRC_ROLE);
  if (role == PPRC_SECONDARY) return from_mirror ? OK : E_PPRC_SECONDARY;
  // A link's write to a volume that is no longer its secondary (failed over).
  if (from_mirror) return E_PPRC_SECONDARY;
  if (role != PPRC_PRIMARY) return OK;
  // A freeze's consistency group holds the primary's writes (queue full).
  if ((atomic.load<u32>(volume + V_PPRC_FLAGS) & PPRC_HOLD_WRITES) != 0) return E_LONG_BUSY;
  const mode = atomic.load<u32>(volume + V_PPRC_MODE);
  if (mode == MIRROR_SUSPENDED && (load<u32>(volume + V_PPRC_FLAGS) & PPRC_CRITMODE) != 0) return E_MIRROR_FAILED;
  return leaves_ensure(<usize>load<u32>(volume + V_PPRC_OOS), first_track, last_track);
}

// Suspends a pair from the write path (the link failed); true for -critmode.
function suspend_from_writer(volume: usize, cause: u32): bool {
  if (atomic.cmpxchg<u32>(volume + V_PPRC_MODE, MIRROR_SYNC, MIRROR_SUSPENDED) == MIRROR_SYNC) {
    atomic.store<u32>(volume + V_PPRC_CAUSE, cause);
  }
  return (load<u32>(volume + V_PPRC_FLAGS) & PPRC_CRITMODE) != 0;
}

// What mirror_write_begin found; mirror_write_end or mirror_write_abort takes it.
export const BEGAN_UNSENT: i32 = 0; // the bit newly set, the write not mirrored (Global Copy, suspended): backlog
export const BEGAN_BACKLOG: i32 = 1; // the bit was already set: the copy sends the track whole
export const BEGAN_SYNC: i32 = 2; // the bit newly set by a Metro Mirror write, counted in flight until it ends

// Applies one track's part of a write to a primary by the per-track protocol
// above. `apply` has already been told what to write; the bytes sent are the
// volume's own after the write, so patterns and fills mirror as data does.
// Returns BEGAN_* holding the track's lock, or an error holding nothing.
export function mirror_write_begin(volume: usize, track: u32): i32 {
  note_copy_met(<usize>load<u32>(volume + V_PPRC_RING), track_lock(volume, track));
  const locked = lock(track_lock(volume, track));
  if (locked != OK) return locked;
  const oos = <usize>load<u32>(volume + V_PPRC_OOS);
  const was = bit_is_set(oos, track);
  bit_set(oos, track);
  if (was) return BEGAN_BACKLOG;
  // The mode holds until the write ends, but for a writer's suspension (SYNC to SUSPENDED).
  if (atomic.load<u32>(volume + V_PPRC_MODE) != MIRROR_SYNC) return BEGAN_UNSENT;
  atomic.add<u32>(volume + V_PPRC_SYNC_BEGUN, 1); // after bit_set: pprc_backlog relies on the order
  return BEGAN_SYNC;
}

// A synchronous write in flight ends, its bit still set (cleared next, or backlog).
// @ts-ignore: decorator
@inline function sync_write_ended(volume: usize): void {
  const ended = atomic.add<u32>(volume + V_PPRC_SYNC_ENDED, 1);
  if (!ASC_NO_ASSERT) {
    assert(<i32>(atomic.load<u32>(volume + V_PPRC_SYNC_BEGUN) - ended) > 0, "a synchronous write ended that never began: the in-flight count went negative");
  }
}

// Counts a write that finds its track's lock held by the link's copy (ring + 32).
// @ts-ignore: decorator
@inline function note_copy_met(ring: usize, word: usize): void {
  if (ring == 0) return;
  const copier = atomic.load<i32>(ring + RING_COPIER);
  if (copier != 0 && (atomic.load<i32>(word) & LOCK_OWNER_MASK) == copier) atomic.add<u32>(ring + RING_WRITES_MET_COPY, 1);
}

// After the local write of [at, at + length) within `track`: sends it if it
// began in sync (BEGAN_SYNC) and the pair is still, clears the bit once
// acknowledged, unlocks.
// Inlined into io.ts's write_primary_track, its only caller: compiled as a
// function of its own (five parameters, ring_send inlined into it), the
// release core's ack wait never saw its entry DONE under V8 11.3's baseline
// compiler (node 20; --liftoff --no-wasm-tier-up shows it, --no-liftoff not),
// and the writer waited out its ack bound. test/pprc/in-flight.test.ts catches it.
// @ts-ignore: decorator
@inline export function mirror_write_end(volume: usize, track: u32, at: u64, length: u32, began: i32): i32 {
  let result = OK;
  const mode = atomic.load<u32>(volume + V_PPRC_MODE);
  // Global Copy: a track newly out of sync wakes the sender, which drains it.
  if (began == BEGAN_UNSENT && mode == MIRROR_ASYNC) ring_wake(<usize>load<u32>(volume + V_PPRC_RING));
  if (began == BEGAN_SYNC && mode == MIRROR_SYNC) {
    const ring = <usize>load<u32>(volume + V_PPRC_RING);
    const sent = ring_send(ring, load<u32>(volume + V_PPRC_REMOTE), at, length, read_pointer(volume, at));
    sync_write_ended(volume); // before bit_clear: pprc_backlog relies on the order
    if (sent == OK) {
      assert_lock_held(volume, track);
      bit_clear(<usize>load<u32>(volume + V_PPRC_OOS), track);
    } else {
      const cause = atomic.load<i32>(ring + RING_LINK) != LINK_UP ? CAUSE_LINK : CAUSE_TIMEOUT;
      if (suspend_from_writer(volume, cause)) result = E_MIRROR_FAILED;
    }
  } else if (began == BEGAN_SYNC) {
    // Another writer suspended the pair meanwhile: not sent, the bit is backlog.
    sync_write_ended(volume);
  }
  unlock(track_lock(volume, track));
  return result;
}

// Ends a write that failed between mirror_write_begin and the send (its bit
// stays set: backlog, the copy sends the track) and unlocks.
export function mirror_write_abort(volume: usize, track: u32, began: i32): void {
  if (began == BEGAN_SYNC) sync_write_ended(volume);
  unlock(track_lock(volume, track));
}

// Debug builds check that a frozen primary has no synchronous write in flight.
// @ts-ignore: decorator
@inline function assert_no_sync_write(volume: usize): void {
  if (!ASC_NO_ASSERT) {
    assert(atomic.load<u32>(volume + V_PPRC_SYNC_BEGUN) == atomic.load<u32>(volume + V_PPRC_SYNC_ENDED), "a frozen primary still counts a synchronous write in flight");
  }
}

// Debug builds check that a bit is cleared only under the track's lock.
// @ts-ignore: decorator
@inline function assert_lock_held(volume: usize, track: u32): void {
  if (!ASC_NO_ASSERT) {
    const owner = atomic.load<i32>(track_lock(volume, track)) & LOCK_OWNER_MASK;
    assert(owner == <i32>current_thread() + 1, "an out-of-sync bit was cleared without its track's lock");
  }
}

// ---- pairs (the host calls these; it serialises them per volume) ---------------------

function live_volume(slot: u32): usize {
  if (slot >= VOLUME_SLOT_MAX) return 0;
  const volume = volume_at(slot);
  return atomic.load<u32>(volume + V_STATE) == VOLUME_FREE ? 0 : volume;
}

// Makes `slot` the primary of a pair with secondary `remote_slot` over `ring`,
// its OOS bitmap all set (-mode full) or all clear (-mode nocp), in `mode`.
// The volume is frozen meanwhile, so every write sees the pair whole or not.
export function pprc_make_primary(slot: u32, ring: usize, remote_slot: u32, mode: u32, flags: u32, all_out_of_sync: bool): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  if (load<u32>(volume + V_PPRC_ROLE) != PPRC_NONE) return E_BAD_ARGUMENT;
  if (load<u32>(volume + V_TARGET_REL) != 0) return E_BAD_ARGUMENT;
  if (mode < MIRROR_SYNC || mode > MIRROR_SUSPENDED) return E_BAD_ARGUMENT;
  if (ring == 0 && mode != MIRROR_SUSPENDED) return E_BAD_ARGUMENT;
  const oos = bitmap_create(load<u32>(volume + V_TRACKS), all_out_of_sync);
  if (oos == 0) return E_NO_SPACE;
  const frozen = freeze(volume);
  if (frozen != OK) {
    bitmap_free(oos);
    return frozen;
  }
  store<u32>(volume + V_PPRC_OOS, <u32>oos);
  store<u32>(volume + V_PPRC_RING, <u32>ring);
  store<u32>(volume + V_PPRC_REMOTE, remote_slot);
  store<u32>(volume + V_PPRC_FLAGS, flags);
  store<u32>(volume + V_PPRC_CAUSE, CAUSE_NONE);
  store<u64>(volume + V_PPRC_SENT_TRACKS, 0);
  atomic.store<u32>(volume + V_PPRC_SYNC_BEGUN, 0);
  atomic.store<u32>(volume + V_PPRC_SYNC_ENDED, 0);
  atomic.store<u32>(volume + V_PPRC_MODE, mode);
  atomic.store<u32>(volume + V_PPRC_ROLE, PPRC_PRIMARY);
  thaw(volume);
  return OK;
}

export function pprc_make_secondary(slot: u32, flags: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  if (load<u32>(volume + V_PPRC_ROLE) != PPRC_NONE) return E_BAD_ARGUMENT;
  if (load<u32>(volume + V_TARGET_REL) != 0) return E_BAD_ARGUMENT;
  const frozen = freeze(volume);
  if (frozen != OK) return frozen;
  store<u32>(volume + V_PPRC_FLAGS, flags);
  atomic.store<u32>(volume + V_PPRC_ROLE, PPRC_SECONDARY);
  thaw(volume);
  return OK;
}

// Ends the volume's part in a pair (either role); frees its OOS bitmap.
export function pprc_clear(slot: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  const frozen = freeze(volume);
  if (frozen != OK) return frozen;
  const oos = <usize>load<u32>(volume + V_PPRC_OOS);
  assert_no_sync_write(volume);
  atomic.store<u32>(volume + V_PPRC_ROLE, PPRC_NONE);
  atomic.store<u32>(volume + V_PPRC_MODE, 0);
  atomic.store<u32>(volume + V_PPRC_SYNC_BEGUN, 0);
  atomic.store<u32>(volume + V_PPRC_SYNC_ENDED, 0);
  store<u32>(volume + V_PPRC_OOS, 0);
  store<u32>(volume + V_PPRC_RING, 0);
  store<u32>(volume + V_PPRC_FLAGS, 0);
  thaw(volume);
  if (oos != 0) bitmap_free(oos);
  return OK;
}

// Changes a primary's mode (pause, resume, Global Copy to Metro Mirror). The
// freeze drains in-flight writes, so each write saw one mode throughout.
export function pprc_set_mode(slot: u32, mode: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  if (load<u32>(volume + V_PPRC_ROLE) != PPRC_PRIMARY) return E_BAD_ARGUMENT;
  if (mode < MIRROR_SYNC || mode > MIRROR_SUSPENDED) return E_BAD_ARGUMENT;
  if (mode != MIRROR_SUSPENDED && load<u32>(volume + V_PPRC_RING) == 0) return E_BAD_ARGUMENT;
  const frozen = freeze(volume);
  if (frozen != OK) return frozen;
  assert_no_sync_write(volume);
  atomic.store<u32>(volume + V_PPRC_MODE, mode);
  if (mode != MIRROR_SUSPENDED) atomic.store<u32>(volume + V_PPRC_CAUSE, CAUSE_NONE);
  thaw(volume);
  return OK;
}

// Points a primary at another secondary over another link (failback); ring 0
// leaves it without a link, which only a suspended primary may be.
export function pprc_retarget(slot: u32, ring: usize, remote_slot: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  if (load<u32>(volume + V_PPRC_ROLE) != PPRC_PRIMARY) return E_BAD_ARGUMENT;
  if (ring == 0 && atomic.load<u32>(volume + V_PPRC_MODE) != MIRROR_SUSPENDED) return E_BAD_ARGUMENT;
  const frozen = freeze(volume);
  if (frozen != OK) return frozen;
  assert_no_sync_write(volume);
  store<u32>(volume + V_PPRC_RING, <u32>ring);
  store<u32>(volume + V_PPRC_REMOTE, remote_slot);
  thaw(volume);
  return OK;
}

// freezepprc, in two steps so that the host can freeze every primary of the
// command before it changes any: pprc_freeze_begin freezes one primary
// (draining its in-flight writes, each of them mirrored or not as its mode
// said), pprc_freeze_commit suspends it, holds its writes if `hold`, and
// thaws it; pprc_freeze_abort thaws one a later begin could not join. While
// all are frozen no write to any of them is in flight, so the suspension is
// one point in time for the whole group.
export function pprc_freeze_begin(slot: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  if (load<u32>(volume + V_PPRC_ROLE) != PPRC_PRIMARY) return E_BAD_ARGUMENT;
  return freeze(volume);
}

export function pprc_freeze_commit(slot: u32, hold: bool): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  assert(atomic.load<i32>(volume + V_FROZEN) != 0, "pprc_freeze_commit on a volume pprc_freeze_begin did not freeze");
  assert_no_sync_write(volume);
  if (atomic.load<u32>(volume + V_PPRC_MODE) != MIRROR_SUSPENDED) atomic.store<u32>(volume + V_PPRC_CAUSE, CAUSE_NONE);
  atomic.store<u32>(volume + V_PPRC_MODE, MIRROR_SUSPENDED);
  if (hold) atomic.or<u32>(volume + V_PPRC_FLAGS, PPRC_HOLD_WRITES);
  thaw(volume);
  return OK;
}

export function pprc_freeze_abort(slot: u32): void {
  const volume = live_volume(slot);
  if (volume != 0) thaw(volume);
}

// unfreezepprc or the LSS's long-busy timeout: the primary takes writes again
// (still suspended). No freeze needed: a write that sees the flag fails whole.
export function pprc_release_hold(slot: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  atomic.and<u32>(volume + V_PPRC_FLAGS, ~PPRC_HOLD_WRITES);
  return OK;
}

export function pprc_held(slot: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  return (atomic.load<u32>(volume + V_PPRC_FLAGS) & PPRC_HOLD_WRITES) != 0 ? 1 : 0;
}

export function pprc_mode(slot: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  return <i32>atomic.load<u32>(volume + V_PPRC_MODE);
}

// Why the write path suspended the pair (CAUSE_*), 0 when it did not.
export function pprc_cause(slot: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  return <i32>atomic.load<u32>(volume + V_PPRC_CAUSE);
}

// The primary's out-of-sync bits, those of synchronous writes in flight too
// (the copy and resync go by the bits).
export function pprc_out_of_sync(slot: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  const oos = <usize>load<u32>(volume + V_PPRC_OOS);
  return oos == 0 ? 0 : <i32>bitmap_count(oos);
}

// The primary's backlog: its out-of-sync tracks but those whose bit a
// synchronous write in flight holds (lspprc's Out Of Sync Tracks; Full Duplex
// when 0 in Metro Mirror). Without a lock, so never less than the backlog:
// a write counted in `begun` and not yet in `ended` held its bit set from
// before the first load to after the last (it sets the bit before it counts
// itself begun, and counts itself ended before it clears the bit), so
// begun - ended is at most the in-flight bits the count holds; writes that
// begin or end meanwhile are counted as backlog, never the other way.
const BACKLOG_READINGS_MAX = 4;

export function pprc_backlog(slot: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  const oos = <usize>load<u32>(volume + V_PPRC_OOS);
  if (oos == 0) return 0;
  // Each reading can only over-count (a write that ends during the count may
  // have its bit counted after its end was), so the least of a few readings
  // is kept, and a reading during which neither counter moved is taken as is.
  let least = i32.MAX_VALUE;
  for (let attempt = 0; attempt < BACKLOG_READINGS_MAX; attempt++) {
    const begun = atomic.load<u32>(volume + V_PPRC_SYNC_BEGUN);
    const count = <i32>bitmap_count(oos);
    const ended = atomic.load<u32>(volume + V_PPRC_SYNC_ENDED);
    const in_flight = <i32>(begun - ended);
    let reading = count;
    if (in_flight > 0) { // else writes ended meanwhile outnumber those still in flight
      assert(in_flight <= count, "more synchronous writes in flight than out-of-sync bits");
      reading = count - in_flight;
    }
    if (reading < least) least = reading;
    if (least == 0) break;
    if (atomic.load<u32>(volume + V_PPRC_SYNC_BEGUN) == begun && atomic.load<u32>(volume + V_PPRC_SYNC_ENDED) == ended) break;
  }
  return least;
}

// Synchronous writes in flight on the primary now (a test's view of the counters; never negative).
export function pprc_sync_writes_in_flight(slot: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  const ended = atomic.load<u32>(volume + V_PPRC_SYNC_ENDED);
  const in_flight = <i32>(atomic.load<u32>(volume + V_PPRC_SYNC_BEGUN) - ended);
  assert(in_flight >= 0, "the synchronous writes in flight went negative");
  return in_flight;
}

export function pprc_next_out_of_sync(slot: u32, from_track: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  const oos = <usize>load<u32>(volume + V_PPRC_OOS);
  if (oos == 0 || from_track >= load<u32>(volume + V_TRACKS)) return -1;
  return bitmap_find(oos, from_track);
}

// Marks a track out of sync (failback merges the other side's bitmap).
export function pprc_mark_out_of_sync(slot: u32, track: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  const oos = <usize>load<u32>(volume + V_PPRC_OOS);
  if (oos == 0 || track >= load<u32>(volume + V_TRACKS)) return E_RANGE;
  const ensured = leaf_ensure(oos, track >>> CHUNK_TRACK_SHIFT);
  if (ensured != OK) return ensured;
  bit_set(oos, track);
  return OK;
}

// Every track of a primary out of sync (mkflash -tgtpprc made it a FlashCopy
// target: its whole logical image changed). The caller holds it frozen, so no
// writer or copy reads the bitmap meanwhile.
export function pprc_mark_all_out_of_sync(volume: usize): void {
  assert(atomic.load<i32>(volume + V_FROZEN) != 0, "a primary's bitmap was reset while it was not frozen");
  const oos = <usize>load<u32>(volume + V_PPRC_OOS);
  const chunks = bitmap_chunks(oos);
  for (let chunk: u32 = 0; chunk < chunks; chunk++) chunk_reset(oos, chunk, CHUNK_SET);
}

export function pprc_sent_tracks(slot: u32): f64 {
  const volume = live_volume(slot);
  return volume == 0 ? -1 : <f64>atomic.load<u64>(volume + V_PPRC_SENT_TRACKS);
}

// @ts-ignore: decorator
@inline export function pprc_readable(volume: usize): bool {
  return load<u32>(volume + V_PPRC_ROLE) != PPRC_SECONDARY || (load<u32>(volume + V_PPRC_FLAGS) & PPRC_TGTREAD) != 0;
}

// ---- the copy of out-of-sync tracks (Copy Pending, resync, Global Copy) -------------
//
// A sender claims a run of out-of-sync tracks of one primary: inside the
// volume's gate, holding the lock of every track of the run, all in one
// extent and taken in ascending order (sync.ts's lock order). While it holds
// them no host write can change those tracks, so the bytes it sends are each
// track's newest; pprc_copy_release_run clears their bits only if the
// secondary applied them, and unlocks. A write that comes after sets its bit
// again (or is mirrored), one that came before is in the bytes sent.
//
// Two ways to claim: pprc_copy_claim stages one track's bytes in this
// thread's staging buffer (a sender that sends them over a socket);
// pprc_copy_claim_run leaves a run where it lies and gives its address
// (pprc_run_pointer), for a sender in the same process that copies it
// straight into the secondary's memory, one copy per run. A track of a
// FlashCopy target (-tgtpprc) that FlashCopy still owes is staged either way
// and claimed alone: its bytes are the FlashCopy source's (stage_track).

// Per thread: the run this thread's last claim holds.
let run_tracks: u32 = 0;
let run_bytes: u32 = 0;
let run_pointer: usize = 0;

// Tracks, bytes and address of the last claim's run (its bytes in this memory).
export function pprc_run_tracks(): u32 { return run_tracks; }
export function pprc_run_bytes(): u32 { return run_bytes; }
export function pprc_run_pointer(): usize { return run_pointer; }

// Claims the next out-of-sync track of primary `slot` from `from_track` that
// no other thread holds: inside the volume's gate and holding the track's
// lock, its bytes copied into this thread's staging buffer. Returns the
// track, -1 when none is left to copy now (or the pair is suspended), or an
// error. pprc_copy_release must follow a claim.
// `ring` and `remote_slot` name the link and secondary the caller copies to:
// a primary since pointed elsewhere (failback) is not claimed.
export function pprc_copy_claim(slot: u32, ring: usize, remote_slot: u32, from_track: u32): i32 {
  return claim(slot, ring, remote_slot, from_track, 0);
}

// Claims a run of up to `track_count_max` out-of-sync tracks from the next
// one at or after `from_track` that no other thread holds, within its extent:
// returns its first track (pprc_run_tracks, pprc_run_bytes and
// pprc_run_pointer say the rest), -1 or an error as pprc_copy_claim does.
// pprc_copy_release_run must follow.
export function pprc_copy_claim_run(slot: u32, ring: usize, remote_slot: u32, from_track: u32, track_count_max: u32): i32 {
  if (track_count_max == 0) return E_BAD_ARGUMENT;
  return claim(slot, ring, remote_slot, from_track, track_count_max);
}

// `run_max` 0: one track, staged.
function claim(slot: u32, ring: usize, remote_slot: u32, from_track: u32, run_max: u32): i32 {
  run_tracks = 0;
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  // The sender never waits at a frozen primary's gate: the freezer may be
  // draining another primary whose writer waits for this sender's ack.
  if (!gate_try_enter(volume)) return -1;
  const linked = <usize>load<u32>(volume + V_PPRC_RING) == ring && load<u32>(volume + V_PPRC_REMOTE) == remote_slot;
  const claimed = linked ? claim_in_gate(volume, from_track, run_max) : -1;
  if (claimed < 0) gate_exit(volume);
  return claimed;
}

function claim_in_gate(volume: usize, from_track: u32, run_max: u32): i32 {
  if (load<u32>(volume + V_PPRC_ROLE) != PPRC_PRIMARY) return -1;
  if (atomic.load<u32>(volume + V_PPRC_MODE) == MIRROR_SUSPENDED) return -1;
  if (load<u32>(volume + V_PPRC_RING) == 0) return -1;
  const oos = <usize>load<u32>(volume + V_PPRC_OOS);
  let from = from_track;
  for (let tried: u32 = 0; tried < TRY_TRACKS_MAX; tried++) {
    const found = bitmap_find(oos, from);
    if (found < 0) return -1;
    const track = <u32>found;
    const ensured = leaf_ensure(oos, track >>> CHUNK_TRACK_SHIFT);
    if (ensured != OK) return ensured;
    const word = track_lock(volume, track);
    if (atomic.cmpxchg<i32>(word, 0, <i32>current_thread() + 1) == 0) {
      if (bit_is_set(oos, track) && start_run(volume, track, run_max)) return found;
      unlock(word);
    }
    from = track + 1;
  }
  return -1;
}

// The claim's run from `track`, whose lock this thread holds: staged alone,
// or extended over the following out-of-sync tracks of its extent whose locks
// are free. False when the track cannot be staged now.
function start_run(volume: usize, track: u32, run_max: u32): bool {
  if (run_max == 0 || flash_owes(volume, track)) {
    if (!stage_track(volume, track)) return false;
    run_tracks = 1;
    run_bytes = track_length(volume, track);
    run_pointer = <usize>load<u32>(thread_at(current_thread()) + T_STAGING);
    return true;
  }
  const oos = <usize>load<u32>(volume + V_PPRC_OOS);
  const extent_end = (track | (EXTENT_TRACKS - 1)) + 1;
  const end = min<u32>(min<u32>(extent_end, load<u32>(volume + V_TRACKS)), track + min<u32>(run_max, EXTENT_TRACKS));
  let next = track + 1;
  // Only tracks FlashCopy does not owe: the run's bytes are then the primary's own, in one extent.
  while (next < end && bit_is_set(oos, next) && !flash_owes(volume, next)) {
    if (atomic.cmpxchg<i32>(track_lock(volume, next), 0, <i32>current_thread() + 1) != 0) break;
    // A bit cleared since bitmap_find (a writer's mirrored write) ends the run: its lock goes back.
    if (!bit_is_set(oos, next)) {
      unlock(track_lock(volume, next));
      break;
    }
    next++;
  }
  const at = <u64>track << <u64>TRACK_SHIFT;
  run_tracks = next - track;
  run_bytes = <u32>min<u64>(<u64>run_tracks << <u64>TRACK_SHIFT, load<u64>(volume + V_SIZE) - at);
  run_pointer = read_pointer(volume, at);
  return true;
}

// True when the primary is a FlashCopy target (-tgtpprc) that still owes `track`
// (or may: its bit is read again under the source's lock when staged).
// @ts-ignore: decorator
@inline function flash_owes(volume: usize, track: u32): bool {
  const target_link = load<u32>(volume + V_TARGET_REL);
  return target_link != 0 && track < load<u32>(rel_at(target_link - 1) + R_TRACKS);
}

// Copies a claimed track's bytes into this thread's staging buffer. On a
// FlashCopy target (-tgtpprc) a track still pending there holds the source's
// bytes, so the source's track lock is taken too (try only: this thread never
// waits while it holds a lock) and the logical bytes are read under it, from
// the source while pending; false when that lock is held elsewhere.
function stage_track(volume: usize, track: u32): bool {
  const at = <u64>track << <u64>TRACK_SHIFT;
  const staging = <usize>load<u32>(thread_at(current_thread()) + T_STAGING);
  const length = track_length(volume, track);
  const target_link = load<u32>(volume + V_TARGET_REL);
  const rel = target_link != 0 ? rel_at(target_link - 1) : 0;
  if (rel == 0 || track >= load<u32>(rel + R_TRACKS)) {
    memory.copy(staging, read_pointer(volume, at), length);
    return true;
  }
  const source = volume_at(load<u32>(rel + R_SOURCE));
  const source_word = track_lock(source, track);
  if (atomic.cmpxchg<i32>(source_word, 0, <i32>current_thread() + 1) != 0) return false;
  const pending = bit_is_set(<usize>load<u32>(rel + R_BITMAP), track);
  memory.copy(staging, read_pointer(pending ? source : volume, at), length);
  unlock(source_word);
  return true;
}

export function pprc_track_length(slot: u32, track: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  return <i32>track_length(volume, track);
}

// @ts-ignore: decorator
@inline function track_length(volume: usize, track: u32): u32 {
  const at = <u64>track << <u64>TRACK_SHIFT;
  return <u32>min<u64>(<u64>TRACK_SIZE, load<u64>(volume + V_SIZE) - at);
}

// Ends a claim: the track is in sync once `applied` (OK) says the secondary has it.
export function pprc_copy_release(slot: u32, track: u32, applied: i32): i32 {
  return pprc_copy_release_run(slot, track, 1, applied);
}

// Ends a run's claim: its tracks are in sync once `applied` (OK) says the
// secondary has them all; each lock goes back, then the gate.
export function pprc_copy_release_run(slot: u32, first_track: u32, track_count: u32, applied: i32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  const oos = <usize>load<u32>(volume + V_PPRC_OOS);
  let cleared: u64 = 0;
  for (let track = first_track; track < first_track + track_count; track++) {
    if (applied == OK) {
      assert_lock_held(volume, track);
      if (bit_clear(oos, track)) cleared++;
    }
    unlock(track_lock(volume, track));
  }
  if (cleared != 0) atomic.add<u64>(volume + V_PPRC_SENT_TRACKS, cleared);
  gate_exit(volume);
  return OK;
}

// A volume's PPRC role (PPRC_NONE, PPRC_PRIMARY, PPRC_SECONDARY), or an
// error: a link receiver checks every entry of a frame before it applies any.
export function pprc_role_of(slot: u32): i32 {
  const volume = live_volume(slot);
  if (volume == 0) return E_NO_VOLUME;
  return <i32>load<u32>(volume + V_PPRC_ROLE);
}
