// The longest stall of the event loop while an operation runs, from
// perf_hooks.monitorEventLoopDelay: its timer fires every RESOLUTION_MS, and
// the histogram's maximum is the longest time between two firings, so it
// includes the timer's own period. calibrateStallMonitor() checks first that
// a known stall shows as one, so that a short figure means a short stall, not
// a monitor that saw nothing.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { check } from "./suite.js";

const RESOLUTION_MS = 1;
const CALIBRATION_STALL_MS = 80;

export interface Stall {
  longestMs: number; // longest stretch the event loop could not run a timer
  samples: number; // timer firings seen: a few per millisecond of the operation
}

export async function measureStall<T>(operation: () => Promise<T>): Promise<{ result: T; stall: Stall; elapsedMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  await delay(5); // let the monitor's timer start before the operation does
  const started = performance.now();
  let result: T;
  try {
    result = await operation();
  } finally {
    histogram.disable();
  }
  const elapsedMs = performance.now() - started;
  return { result, stall: { longestMs: histogram.max / 1e6, samples: histogram.count }, elapsedMs };
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
  check(stall.longestMs < CALIBRATION_STALL_MS * 3, `the event-loop monitor did not inflate a ${CALIBRATION_STALL_MS} ms stall (it reported ${stall.longestMs.toFixed(1)} ms)`);
  return stall;
}
