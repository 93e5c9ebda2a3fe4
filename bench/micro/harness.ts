// benchmark.js suites: each case checked before it is timed, results printed
// as a table of ratios against the suite's baseline case.
import Benchmark from "benchmark";

export interface MicroCase {
  name: string;
  fn: () => void;
  // Throws (BenchCheckError) when what fn does is wrong; run once before timing.
  check: () => void;
}

export interface MicroSuite {
  name: string;
  describe: string;
  baseline: string; // the case the ratios are taken against
  // Builds fixtures and cases; `close` releases them.
  setUp(options: MicroOptions): Promise<{ cases: MicroCase[]; close: () => Promise<void> }>;
}

export interface MicroOptions {
  quick: boolean;
}

export interface MicroResult {
  suite: string;
  name: string;
  hz: number;
  rme: number;
  samples: number;
  ratio: number;
}

// Runs the cases whose "suite.case" name passes the filter, and the baseline;
// returns null when the filter picks no case of this suite.
export async function runMicroSuite(suite: MicroSuite, options: MicroOptions, filter: (name: string) => boolean): Promise<MicroResult[] | null> {
  const { cases, close } = await suite.setUp(options);
  try {
    if (!cases.some((item) => filter(`${suite.name}.${item.name}`))) return null;
    const chosen = cases.filter((item) => item.name === suite.baseline || filter(`${suite.name}.${item.name}`));
    for (const item of chosen) {
      item.fn();
      item.check();
    }
    const bench = new Benchmark.Suite(suite.name);
    for (const item of chosen) bench.add(item.name, item.fn, { maxTime: options.quick ? 0.5 : 3, minSamples: 5 });
    bench.run({ async: false });
    // Timing a case must leave its result right: check again after the runs.
    for (const item of chosen) item.check();
    const timed = bench.map((benchmark: Benchmark) => benchmark) as Benchmark[];
    const baseline = timed.find((benchmark) => benchmark.name === suite.baseline);
    if (!baseline) throw new Error(`suite ${suite.name} has no baseline case ${suite.baseline}`);
    return timed.map((benchmark) => ({
      suite: suite.name,
      name: benchmark.name ?? "?",
      hz: benchmark.hz,
      rme: benchmark.stats.rme,
      samples: benchmark.stats.sample.length,
      ratio: benchmark.hz / baseline.hz,
    }));
  } finally {
    await close();
  }
}

function formatHz(hz: number): string {
  if (hz >= 1e6) return `${(hz / 1e6).toFixed(2)} M/s`;
  if (hz >= 1e3) return `${(hz / 1e3).toFixed(1)} k/s`;
  return `${hz.toFixed(1)} /s`;
}

export function formatMicroTable(suite: MicroSuite, results: readonly MicroResult[]): string {
  const rows = results.map((result) => [result.name, formatHz(result.hz), `±${result.rme.toFixed(1)}%`, `${result.ratio.toFixed(2)}×`]);
  const header = ["case", "ops", "rme", `vs ${suite.baseline}`];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column])).join("  ");
  return [`${suite.name}: ${suite.describe}`, line(header), ...rows.map(line)].join("\n");
}
