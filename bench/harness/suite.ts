// What a benchmark suite is and what it reports.
import type { SharedImage } from "./shared-image.js";
//
// A suite builds its fixtures, checks that the operation it is about to time
// gives the right answer, times it against its baseline within the same run,
// and returns one result per figure. Ratios are oriented so that bigger is
// better unless the bar says otherwise (establish flatness is "≤ 2").

export interface FigureResult {
  key: string; // stable id, matched by the filter: "establish.flat"
  figure: string; // what is measured, for the table
  value: string; // the measured value(s), human-readable
  bar: string; // design.md §8, or "reported" where no bar applies
  ratio: number | null; // the median over the figure's rounds
  spread?: { min: number; max: number }; // the ratio's lowest and highest round, where it has rounds
  met: boolean | null; // null: reported only, no bar
  verified: string; // what was checked before the figure was accepted
  note?: string; // why a bar is not met, or how the value was obtained
  details: Record<string, unknown>; // raw medians, sample counts, sizes (JSON only)
}

export interface BenchOptions {
  quick: boolean;
  seed: number;
}

export interface Suite {
  name: string;
  // Keys of the figures it reports, so that a filter can pick suites without running them.
  figures: readonly string[];
  run(context: SuiteContext): Promise<FigureResult[]>;
}

export interface SuiteContext extends BenchOptions {
  shared: SharedImage;
  progress(line: string): void;
  // The figures the run reports (the filter's pick); a suite may skip the
  // work of figures not among them. Absent: all of the suite's figures.
  keys?: readonly string[];
}

// Whether the run reports any figure whose key starts with one of `prefixes`.
export function wanted(context: SuiteContext, ...prefixes: string[]): boolean {
  return context.keys === undefined || context.keys.some((key) => prefixes.some((prefix) => key.startsWith(prefix)));
}

// A check made before a figure is accepted; its failure is a benchmark failure,
// never a slow figure.
export class BenchCheckError extends Error {
  readonly code = "BENCH_CHECK_FAILED";
}

export function check(condition: boolean, what: string): void {
  if (!condition) throw new BenchCheckError(`check failed: ${what}`);
}
