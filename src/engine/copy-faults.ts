// Background copies that cannot go on, as the host sees and retries them.
//
// A copy worker that fails on a relationship reports it (copy-pool.ts) and the
// core holds that relationship's background copy (assembly/copy.ts), so the
// failure is not retried in a spin. Here the failure becomes the
// relationship's state, as DS8000 shows it in lsflash -l:
//
//   Valid                 no failure.
//   Validation Required   the background copy is held by a condition that can
//                         clear (no space for the target's data, a lock or
//                         gate wait that timed out). The T0 image is intact:
//                         host I/O keeps its copy-on-write (a write that needs
//                         space it cannot get fails by itself). The copy is
//                         retried with a bounded exponential backoff
//                         (RETRY_FIRST_MS doubling to RETRY_MAX_MS), and at
//                         once when space is freed (rmfbvol, initfbvol,
//                         rmflash); once a retry copies again the state is
//                         Valid again.
//   Tgt Failed            the core aborted while copying it (a failed
//                         assertion of the debug build): the relationship's
//                         data can no longer be trusted. Not retried; it
//                         stays so until withdrawn (rmflash).
//
// Every failure, every retry and every recovery is reported (the 'fault'
// and 'recovered' callbacks), and status() carries the reason.
//
// A worker's report reaches the host some time after its step failed, and
// with two workers both may fail on the same copy: one report is recorded,
// the copy later released (a retry, space freed), and only then does the
// other arrive. It describes the copy before that release, so it must not
// hold the copy again. Each report carries the work epoch (H_WORK_EPOCH) the
// worker read before its step; every release bumps that epoch and so does
// spaceFreed, so a report whose epoch precedes the copy's last release, or
// (for want of space) the last free, is older news, and the copy is released
// once more instead of held. A report misjudged so (its step read the epoch
// just before the release but ran after it) only costs one more try: that
// try fails again and reports a current epoch.
import { CoreCode } from "../core/codes.js";
import type { CoreThread } from "../core/core.js";
import { coreCodeExplanation, engineCodeOf, type Timeouts } from "./core-errors.js";
import type { EngineErrorCode } from "./errors.js";
import type { CopyFailure } from "./copy-pool.js";

export type FlashState = "Valid" | "Validation Required" | "Tgt Failed";

export const RETRY_FIRST_MS = 100;
export const RETRY_MAX_MS = 10_000;

// What status() shows of a failed background copy.
export interface CopyFault {
  readonly state: Exclude<FlashState, "Valid">;
  readonly code: EngineErrorCode;
  readonly reason: string;
  readonly since: Date;
  readonly retries: number; // retries so far
  readonly retrying: boolean; // released for a retry that has not yet shown progress
  readonly nextRetryAt: Date | null; // null: not retried (Tgt Failed), or a retry under way
}

interface FaultRecord {
  relSlot: number;
  coreCode: number; // CoreCode, or 0 for an abort
  fault: CopyFault;
  timer: NodeJS.Timeout | null;
  releasedAtBytes: number | null; // copied bytes when last released for a retry
  releasedEpoch: number | null; // the work epoch just after the last release
}

// The relationship a failure belongs to, as the image knows it.
export interface FaultTarget {
  id: string;
  slot: number;
}

export interface CopyFaultEvents {
  fault(id: string, fault: CopyFault): void;
  recovered(id: string, fault: CopyFault): void;
}

function isSpaceCode(code: number): boolean {
  return code === CoreCode.NO_SPACE || code === CoreCode.ALLOC_LOCK_TIMEOUT;
}

// Whether work epoch `a` came before `b` (32-bit, so compared across a wrap).
function precedes(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export class CopyFaults {
  private readonly records = new Map<string, FaultRecord>();
  private readonly words: Int32Array;
  private readonly epochIndex: number;
  private freedEpoch: number | null = null; // the work epoch just after the last spaceFreed()

  constructor(
    private readonly core: CoreThread,
    private readonly timeouts: Timeouts,
    private readonly events: CopyFaultEvents,
  ) {
    this.words = new Int32Array(core.memory.buffer);
    this.epochIndex = core.exports.work_epoch_pointer() >> 2;
  }

  get(id: string): CopyFault | null {
    return this.records.get(id)?.fault ?? null;
  }

  // A failure a worker reported on `target`, whose generation it has been checked to be.
  record(target: FaultTarget, failure: CopyFailure): void {
    const previous = this.records.get(target.id);
    if (previous?.fault.state === "Tgt Failed") return;
    if (failure.epoch !== null && previous?.releasedEpoch != null && precedes(failure.epoch, previous.releasedEpoch)) {
      this.retry(target.id);
      return;
    }
    if (previous?.timer) clearTimeout(previous.timer);
    const aborted = failure.code === "abort";
    const coreCode = aborted ? 0 : (failure.code as number);
    // The worker's core holds the copy itself, except after a trap or at a gate timeout.
    this.core.exports.rel_hold_copy(target.slot, failure.generation);
    const retries = previous?.fault.retries ?? 0;
    const delayMs = Math.min(RETRY_FIRST_MS * 2 ** retries, RETRY_MAX_MS);
    const fault: CopyFault = {
      state: aborted ? "Tgt Failed" : "Validation Required",
      code: aborted ? "CORE_ABORT" : engineCodeOf(coreCode),
      reason: aborted
        ? `the core aborted in copy worker ${failure.threadId} (${failure.message}); the copy is not retried: withdraw the pair (rmflash)`
        : `${coreCodeExplanation(coreCode, this.timeouts)}`,
      since: previous?.fault.since ?? new Date(),
      retries,
      retrying: false,
      nextRetryAt: aborted ? null : new Date(Date.now() + delayMs),
    };
    const record: FaultRecord = { relSlot: target.slot, coreCode, fault, timer: null, releasedAtBytes: null, releasedEpoch: null };
    if (!aborted) {
      record.timer = setTimeout(() => this.retry(target.id), delayMs);
      record.timer.unref();
    }
    this.records.set(target.id, record);
    this.events.fault(target.id, fault);
    // A failure for want of space whose step began before space was freed
    // (its report was in flight) is retried at once.
    if (isSpaceCode(coreCode) && failure.epoch !== null && this.freedEpoch !== null && precedes(failure.epoch, this.freedEpoch)) this.retry(target.id);
  }

  // Releases the held copy for one more try.
  retry(id: string): void {
    const record = this.records.get(id);
    if (!record || record.fault.state === "Tgt Failed") return;
    if (record.timer) clearTimeout(record.timer);
    record.timer = null;
    record.releasedAtBytes = Number(this.core.exports.rel_copied_bytes(record.relSlot));
    record.fault = { ...record.fault, retries: record.fault.retries + 1, retrying: true, nextRetryAt: null };
    // The release bumps the work epoch: a step that begins after it reads this or later.
    this.core.exports.rel_release_copy(record.relSlot);
    record.releasedEpoch = Atomics.load(this.words, this.epochIndex);
  }

  // Space was freed: copies held for want of it (or of the allocator) try again now.
  spaceFreed(): void {
    // Bumped (and the idle workers woken), so that a step that begins after the free reads a later epoch.
    this.freedEpoch = (Atomics.add(this.words, this.epochIndex, 1) + 1) | 0;
    Atomics.notify(this.words, this.epochIndex);
    for (const [id, record] of this.records) {
      if (record.fault.retrying) continue;
      if (isSpaceCode(record.coreCode)) this.retry(id);
    }
  }

  // Called at every progress poll: a retried copy that moved again is Valid again.
  observe(id: string, copiedBytes: number, pendingTracks: number): void {
    const record = this.records.get(id);
    if (!record || record.releasedAtBytes === null || !record.fault.retrying) return;
    if (copiedBytes <= record.releasedAtBytes && pendingTracks > 0) return;
    this.records.delete(id);
    this.events.recovered(id, record.fault);
  }

  // The relationship ended (withdrawn, or its copy completed).
  forget(id: string): void {
    const record = this.records.get(id);
    if (record?.timer) clearTimeout(record.timer);
    this.records.delete(id);
  }

  dispose(): void {
    for (const record of this.records.values()) if (record.timer) clearTimeout(record.timer);
    this.records.clear();
  }
}
