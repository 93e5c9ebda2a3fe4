// tzero bench: every performance figure of design.md §8, each a ratio measured
// within this one run, each checked for correctness before it is reported.
//
//   node dist/bench/run.js [--quick] [--seed N] [--json PATH] [--markdown] [FILTER...]
//   node dist/bench/run.js --micro [--quick] [FILTER...]   the benchmark.js micro suites
//
// FILTER picks suites or figures whose name contains it ("copy", "writes.nocp").
// Exit code: 0 every bar met, 1 some bar not met, 2 bad arguments, 6 a check or
// a suite failed (its figures are then missing, never guessed).
import { fileURLToPath } from "node:url";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { machineInfo, describeMachine } from "./harness/machine.js";
import { formatTable, formatMarkdownTable, writeRecord, type RunRecord } from "./harness/report.js";
import { SharedImage } from "./harness/shared-image.js";
import type { Suite, FigureResult } from "./harness/suite.js";
import { establishSuite } from "./figures/establish.js";
import { copySuite } from "./figures/copy.js";
import { scanSuite } from "./figures/scan.js";
import { writesSuite } from "./figures/writes.js";
import { modelSuite } from "./figures/model.js";
import { storeSuite } from "./figures/store.js";
import { thinCopySuite } from "./figures/thin-copy.js";
import { resyncSuite } from "./figures/resync.js";
import { wireSuite } from "./figures/wire.js";
import { journalSuite } from "./figures/journal.js";
import { siteRpcSuite } from "./figures/site-rpc.js";
import { pprcSuite } from "./figures/pprc.js";
import { linkSuite } from "./figures/link.js";
import { serverSuite } from "./figures/server.js";
import { serveSuite } from "./figures/serve.js";
import { restSuite } from "./figures/rest.js";
import { nbdSuite } from "./figures/nbd.js";
import { runMicro } from "./micro/run.js";
import { defaultBuild } from "../src/core/core.js";

export const SUITES: readonly Suite[] = [establishSuite, copySuite, thinCopySuite, resyncSuite, scanSuite, writesSuite, modelSuite, storeSuite, wireSuite, siteRpcSuite, journalSuite, serverSuite, serveSuite, restSuite, nbdSuite, pprcSuite, linkSuite];

const DEFAULT_JSON = fileURLToPath(new URL("../../bench/results/latest.json", import.meta.url));
const DEFAULT_SEED = 20_251_125;

const USAGE = `usage: tzero bench [--quick] [--seed N] [--json PATH] [--markdown] [--list] [FILTER...]
       tzero bench --micro [--quick] [FILTER...]
  --quick      smaller volumes and fewer rounds (within 60 s on 2 cores)
  --micro      run the benchmark.js micro suites (scan, copy, write, establish) instead
  --seed N     seed of every workload (default ${DEFAULT_SEED})
  --json PATH  where to write the run record (default bench/results/latest.json)
  --markdown   also print the table as Markdown
  --list       list the suites and figures, run nothing
  FILTER       run only suites or figures whose name contains it`;

function selected(suite: Suite, filters: readonly string[]): string[] {
  if (filters.length === 0) return [...suite.figures];
  if (filters.some((filter) => suite.name.includes(filter))) return [...suite.figures];
  return suite.figures.filter((key) => filters.some((filter) => key.includes(filter)));
}

interface RunOptions {
  quick: boolean;
  seed: number;
  json: string;
  markdown: boolean;
  filters: string[];
}

// The options of a run, or the exit code to return at once (help, list, bad arguments).
function parseRunOptions(argv: string[]): RunOptions | number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        quick: { type: "boolean", default: false },
        seed: { type: "string" },
        json: { type: "string" },
        markdown: { type: "boolean", default: false },
        list: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`tzero bench: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals: filters } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.list) {
    for (const suite of SUITES) process.stdout.write(`${suite.name}: ${suite.figures.join(", ")}\n`);
    return 0;
  }
  const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    process.stderr.write(`tzero bench: --seed ${values.seed} is not a whole number from 0 to 4294967295\n`);
    return 2;
  }
  return { quick: values.quick, seed, json: values.json ?? DEFAULT_JSON, markdown: values.markdown, filters };
}

interface Plan {
  suite: Suite;
  keys: string[];
}

async function runSuites(plan: readonly Plan[], options: RunOptions, progress: (line: string) => void): Promise<Pick<RunRecord, "results" | "failures">> {
  const shared = new SharedImage(options.quick, options.seed, progress);
  const results: FigureResult[] = [];
  const failures: RunRecord["failures"] = [];
  try {
    for (const { suite, keys } of plan) {
      progress(`suite ${suite.name}`);
      try {
        const figures = await suite.run({ quick: options.quick, seed: options.seed, shared, progress, keys });
        results.push(...figures.filter((figure) => keys.includes(figure.key)));
      } catch (error) {
        failures.push({ suite: suite.name, error: (error as Error).stack ?? String(error) });
        progress(`suite ${suite.name} FAILED: ${(error as Error).message}`);
      }
    }
  } finally {
    await shared.close();
  }
  return { results, failures };
}

function printRun(record: RunRecord, markdown: boolean): void {
  const { results, failures, machine } = record;
  process.stdout.write(`${formatTable(results)}\n`);
  for (const result of results) if (result.note) process.stdout.write(`  ${result.key}: ${result.note}\n`);
  for (const failure of failures) process.stdout.write(`FAILED suite ${failure.suite}: ${failure.error.split("\n")[0]}\n`);
  if (Math.max(machine.loadAverage1m, record.loadAverage1mAtEnd) > machine.cores) {
    process.stdout.write(`WARNING: the machine was busy (load average ${machine.loadAverage1m} at start, ${record.loadAverage1mAtEnd} at end, ${machine.cores} cores): `
      + "other processes shared the cores, and the thread-scheduling-sensitive ratios (copy workers) may be off; run again when it is quiet\n");
  }
  if (markdown) process.stdout.write(`\n${formatMarkdownTable(results)}\n`);
}

export async function runBench(argv: string[]): Promise<number> {
  if (argv.includes("--micro")) return runMicro(argv.filter((arg) => arg !== "--micro"));
  const options = parseRunOptions(argv);
  if (typeof options === "number") return options;
  const plan = SUITES.map((suite) => ({ suite, keys: selected(suite, options.filters) })).filter((entry) => entry.keys.length > 0);
  if (plan.length === 0) {
    process.stderr.write(`tzero bench: no suite or figure matches ${options.filters.join(" ")}\n${USAGE}\n`);
    return 2;
  }
  const machine = machineInfo();
  const core = defaultBuild();
  const startedAt = new Date();
  const start = performance.now();
  process.stdout.write(`tzero bench${options.quick ? " --quick" : ""}: ${describeMachine(machine)}; ${core} core build\n`);
  process.stdout.write("Memory is pre-touched (written) before anything is timed: first touch costs seconds per GiB on this VM.\n\n");
  const { results, failures } = await runSuites(plan, options, (line) => process.stderr.write(`  ${line}\n`));
  const wallSeconds = (performance.now() - start) / 1000;
  const record: RunRecord = {
    startedAt: startedAt.toISOString(), wallSeconds: +wallSeconds.toFixed(2), quick: options.quick, seed: options.seed,
    filter: options.filters, core, machine, loadAverage1mAtEnd: +loadavg()[0].toFixed(2),
    notes: ["memory pre-touched before timing", "ratios are medians of interleaved rounds within this run"],
    results, failures,
  };
  printRun(record, options.markdown);
  writeRecord(options.json, record);
  process.stdout.write(`\n${results.length} figures in ${wallSeconds.toFixed(1)} s; record written to ${options.json}\n`);
  if (failures.length > 0) return 6;
  return results.every((result) => result.met !== false) ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runBench(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (error) => {
      process.stderr.write(`tzero bench: ${(error as Error).stack ?? error}\n`);
      process.exitCode = 6;
    },
  );
}
