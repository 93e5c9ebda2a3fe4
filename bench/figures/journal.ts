// The Copy Services Server's journal (src/store/journal.ts): acknowledged
// appends per second, each fsynced, with 1, 8 and 64 concurrent appenders.
// The baseline, measured in the same run and directory, is the plain loop the
// journal must at least keep up with: one write of a record-sized frame and
// one fsync after another (what an append costs without group commit). The
// ratio is appends/s over those fsynced writes/s: about 1 for one appender,
// and above 1 as concurrent appenders share fsyncs.
//
// Before a figure is accepted, the journal is reopened and must hold every
// record appended, in order, with the values given.
import { openSync, writeSync, fsyncSync, closeSync } from "node:fs";
import { join } from "node:path";
import { openJournal, type Journal } from "../../src/store/index.js";
import { withTempDirectory } from "../harness/fixtures.js";
import { check, type FigureResult, type Suite, type SuiteContext } from "../harness/suite.js";
import { median, spreadOf, formatCount } from "../harness/stats.js";

const CONCURRENCY = [1, 8, 64] as const;
const RECORD_PADDING = 64; // bytes of padding: a record about the size of a small command's
const FRAME_BYTES = 128; // what the baseline writes per fsync, about one framed record

interface Values { count: number; last: number }
interface Add { value: number; padding: string }

const options = {
  initial: (): Values => ({ count: 0, last: 0 }),
  apply: (state: Values, record: Add): Values => {
    check(record.value === state.last + 1, `record ${record.value} follows ${state.last}`);
    return { count: state.count + 1, last: record.value };
  },
};

export const journalSuite: Suite = {
  name: "journal",
  figures: CONCURRENCY.map((appenders) => `journal.append.${appenders}`),
  async run(context) {
    return withTempDirectory("tzero-journal-bench-", (directory) => runFigures(context, directory));
  },
};

async function runFigures(context: SuiteContext, directory: string): Promise<FigureResult[]> {
  const rounds = context.quick ? 3 : 5;
  const roundMs = context.quick ? 500 : 1500;
  const baseline: number[] = [];
  const rates = new Map<number, number[]>(CONCURRENCY.map((appenders) => [appenders, []]));
  for (let round = 0; round < rounds; round++) {
    context.progress(`round ${round + 1} of ${rounds}`);
    baseline.push(fsyncedWritesPerSecond(join(directory, `plain-${round}.bin`), roundMs));
    for (const appenders of CONCURRENCY) {
      rates.get(appenders)!.push(await appendsPerSecond(join(directory, `journal-${appenders}-${round}`), appenders, roundMs));
    }
  }
  const base = median(baseline);
  return CONCURRENCY.map((appenders) => {
    const samples = rates.get(appenders)!;
    const ratios = samples.map((rate, round) => rate / baseline[round]);
    return {
      key: `journal.append.${appenders}`,
      figure: `journal appends, fsynced, ${appenders} concurrent appender${appenders === 1 ? "" : "s"}`,
      bar: "reported, vs one write + fsync per record",
      value: `${formatCount(median(samples))} appends (plain write + fsync: ${formatCount(base)})`,
      ratio: median(ratios),
      spread: spreadOf(ratios),
      met: null,
      verified: "after each round the journal reopens with every record appended, in order",
      details: { appendsPerSecond: samples, fsyncedWritesPerSecond: baseline, rounds, roundMs },
    };
  });
}

// Appends from `appenders` loops for `durationMs`, then checks the journal by reopening it.
async function appendsPerSecond(directory: string, appenders: number, durationMs: number): Promise<number> {
  const journal = await openJournal(directory, options);
  const padding = "p".repeat(RECORD_PADDING);
  let next = 1;
  const started = performance.now();
  const loop = async (j: Journal<Values, Add>) => {
    while (performance.now() - started < durationMs) await j.append({ value: next++, padding });
  };
  await Promise.all(Array.from({ length: appenders }, () => loop(journal)));
  const elapsedMs = performance.now() - started;
  const appended = next - 1;
  await journal.close();
  const reopened = await openJournal(directory, options);
  check(reopened.state.count === appended && reopened.state.last === appended, `the journal holds all ${appended} records`);
  await reopened.close();
  return appended / (elapsedMs / 1000);
}

function fsyncedWritesPerSecond(file: string, durationMs: number): number {
  const fd = openSync(file, "w");
  const frame = new Uint8Array(FRAME_BYTES).fill(7);
  let writes = 0;
  const started = performance.now();
  try {
    while (performance.now() - started < durationMs) {
      writeSync(fd, frame, 0, frame.byteLength, writes * FRAME_BYTES);
      fsyncSync(fd);
      writes++;
    }
  } finally {
    closeSync(fd);
  }
  return writes / ((performance.now() - started) / 1000);
}
