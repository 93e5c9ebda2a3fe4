// The longest stall of the event loop while an operation runs, from
// perf_hooks.monitorEventLoopDelay: its timer fires every RESOLUTION_MS, and
// the histogram's maximum is the longest time between two firings, so it
// includes the timer's own period. calibrateStallMonitor() checks first that
// a known stall shows as one, so that a short figure means a short stall, not
// a monitor that saw nothing.
//
// On a machine shared with other work, a stall is also the time this thread
// waited for a CPU while runnable, which no code of this process causes. On
// Linux, /proc/self/task/TID/schedstat counts that wait (its second field, in
// ns); a gap watcher of its own reads it at every firing, and `workingMs` is
// the longest gap less the wait inside it: the longest stretch this thread
// ran (or blocked) without returning to the event loop.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { openSync, readSync, closeSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { check } from "./suite.js";

const RESOLUTION_MS = 1;
const CALIBRATION_STALL_MS = 80;

export interface Stall {
  longestMs: number; // longest stretch the event loop could not run a timer
  samples: number; // timer firings seen: a few per millisecond of the operation
  // Longest gap between two firings less the time the thread waited for a
  // CPU during it; null where the kernel does not say (not Linux).
  workingMs: number | null;
  runQueueMs: number | null; // of the gap that was longest, the time it waited for a CPU
}

// The main thread's run-queue wait in ms so far, from schedstat; null when unreadable.
class RunQueueClock {
  private readonly fd: number | null;
  private readonly buffer = Buffer.alloc(96);

  constructor() {
    let fd: number | null = null;
    try {
      fd = openSync(`/proc/self/task/${process.pid}/schedstat`, "r");
    } catch {
      // Not Linux, or no schedstat: workingMs is null.
    }
    this.fd = fd;
  }

  waitedMs(): number | null {
    if (this.fd === null) return null;
    const length = readSync(this.fd, this.buffer, 0, this.buffer.byteLength, 0);
    const fields = this.buffer.toString("latin1", 0, length).trim().split(" ");
    return fields.length >= 2 ? Number(fields[1]) / 1e6 : null;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
  }
}

// Gaps between firings of a 1 ms timer, each with the run-queue wait inside it.
class GapWatch {
  private readonly clock = new RunQueueClock();
  private readonly timer: NodeJS.Timeout;
  private lastAt = performance.now();
  private lastWaited = this.clock.waitedMs();
  workingMs: number | null = this.lastWaited === null ? null : 0;
  longestGapMs = 0;
  longestGapRunQueueMs: number | null = null;

  constructor() {
    this.timer = setInterval(() => this.fire(), RESOLUTION_MS);
  }

  private fire(): void {
    const now = performance.now();
    const waited = this.clock.waitedMs();
    const gapMs = now - this.lastAt;
    const runQueueMs = waited === null || this.lastWaited === null ? null : waited - this.lastWaited;
    if (runQueueMs !== null && this.workingMs !== null) this.workingMs = Math.max(this.workingMs, gapMs - runQueueMs);
    if (gapMs > this.longestGapMs) {
      this.longestGapMs = gapMs;
      this.longestGapRunQueueMs = runQueueMs;
    }
    this.lastAt = now;
    this.lastWaited = waited;
  }

  stop(): void {
    this.fire(); // the gap still open when the operation ended
    clearInterval(this.timer);
    this.clock.close();
  }
}

export async function measureStall<T>(operation: () => Promise<T>): Promise<{ result: T; stall: Stall; elapsedMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  const gaps = new GapWatch();
  await delay(5); // let the monitor's timer start before the operation does
  const started = performance.now();
  let result: T;
  let elapsedMs = 0;
  try {
    result = await operation();
  } finally {
    elapsedMs = performance.now() - started;
    // A stall is recorded by the firing that ends it: one at the operation's
    // very end (a last synchronous step) is seen only if the timers fire once more.
    await delay(2 * RESOLUTION_MS);
    histogram.disable();
    gaps.stop();
  }
  const stall = { longestMs: histogram.max / 1e6, samples: histogram.count, workingMs: gaps.workingMs, runQueueMs: gaps.longestGapRunQueueMs };
  return { result, stall, elapsedMs };
}

// The longest gap of an idle event loop over `durationMs`: what the machine's
// scheduler alone costs (other processes, other threads of this one). On a
// shared machine it is tens of milliseconds; a stall figure is read beside it.
export async function measureIdleStall(durationMs: number): Promise<Stall> {
  const { stall } = await measureStall(() => delay(durationMs));
  return stall;
}

// Blocks the thread for CALIBRATION_STALL_MS and checks that the monitor
// reports a stall at least that long, and not wildly longer.
export async function calibrateStallMonitor(): Promise<Stall> {
  const { stall } = await measureStall(async () => {
    await delay(10);
    const until = performance.now() + CALIBRATION_STALL_MS;
    while (performance.now() < until) {
      // Busy on purpose: the stall the monitor must see.
    }
    await delay(10);
  });
  check(stall.longestMs >= CALIBRATION_STALL_MS, `the event-loop monitor saw a ${CALIBRATION_STALL_MS} ms stall (it reported ${stall.longestMs.toFixed(1)} ms)`);
  // Busy on a CPU, or waiting for one: either way the working stretch is
  // at least the part of the 80 ms that the thread ran.
  if (stall.workingMs !== null) check(stall.workingMs > 0 && stall.workingMs <= stall.longestMs + 1, `the gap watcher saw a working stretch within the stall (it reported ${stall.workingMs.toFixed(1)} ms of ${stall.longestMs.toFixed(1)} ms)`);
  check(stall.longestMs < CALIBRATION_STALL_MS * 3, `the event-loop monitor did not inflate a ${CALIBRATION_STALL_MS} ms stall (it reported ${stall.longestMs.toFixed(1)} ms)`);
  return stall;
}
