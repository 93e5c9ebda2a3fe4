// The benchmark.js micro suites: node dist/bench/micro/run.js [--quick] [FILTER...]
// FILTER picks suites or cases whose "suite.case" name contains it; each
// suite's baseline case always runs, so its ratios stay meaningful.
import { fileURLToPath } from "node:url";
import { runMicroSuite, formatMicroTable, type MicroSuite } from "./harness.js";
import { scanMicro } from "./scan.js";
import { copyMicro } from "./copy.js";
import { writeMicro } from "./write.js";
import { establishMicro } from "./establish.js";

export const MICRO_SUITES: readonly MicroSuite[] = [scanMicro, copyMicro, writeMicro, establishMicro];

export async function runMicro(argv: string[]): Promise<number> {
  const quick = argv.includes("--quick");
  const filters = argv.filter((arg) => !arg.startsWith("--"));
  const matches = (name: string) => filters.length === 0 || filters.some((filter) => name.includes(filter));
  let failed = 0;
  for (const suite of MICRO_SUITES) {
    try {
      const results = await runMicroSuite(suite, { quick }, matches);
      if (results === null) continue;
      process.stdout.write(`${formatMicroTable(suite, results)}\n\n`);
    } catch (error) {
      failed++;
      process.stdout.write(`FAILED suite ${suite.name}: ${(error as Error).message}\n\n`);
    }
  }
  return failed > 0 ? 6 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runMicro(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
