// Runs every uvu suite under dist/test (each file in its own process, so a
// file that hangs or crashes is reported as such) and ends with the line
// `tests: N passed, M failed, K skipped`. Exits non-zero when anything failed.
//   node scripts/test.mjs [PATTERN] [--root=DIR] [--file-timeout-ms=N]
//     PATTERN              only files whose path contains PATTERN
//     --root=DIR           look for *.test.js files under DIR instead of dist/test
//     --file-timeout-ms=N  a file still running after N ms is killed and fails (default 6 min)
// Folders named `fixtures` hold helpers of the tests, never tests, and are not searched.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, relative, resolve } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function parseArguments(argv) {
  const options = { filter: "", testRoot: join(root, "dist", "test"), fileTimeoutMs: 6 * 60 * 1000 };
  for (const argument of argv) {
    const [name, value] = argument.split(/=(.*)/s);
    if (name === "--root" && value) options.testRoot = resolve(value);
    else if (name === "--file-timeout-ms" && /^[1-9]\d*$/.test(value ?? "")) options.fileTimeoutMs = Number(value);
    else if (argument.startsWith("--")) throw new Error(`unknown or malformed option ${argument} (expected --root=DIR or --file-timeout-ms=N)`);
    else options.filter = argument;
  }
  return options;
}

function findTests(folder) {
  const found = [];
  for (const name of readdirSync(folder).sort()) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) {
      if (name !== "fixtures") found.push(...findTests(path));
    } else if (name.endsWith(".test.js")) found.push(path);
  }
  return found;
}

// Every CSI sequence (colours, cursor moves such as ink leaves at exit), so summaries parse cleanly.
const strip = (text) => text.replace(/\u001b\[[0-9;?]*[ -\/]*[@-~]/g, "");

// uvu's summary block: Total counts the tests that ran (skipped ones are not
// among them), Passed those that passed, Skipped those left out.
function parseSummary(output) {
  const match = /^\s*Total:\s+(\d+)\s*\n\s*Passed:\s+(\d+)\s*\n\s*Skipped:\s+(\d+)\s*$/m.exec(output);
  return match ? { total: Number(match[1]), passed: Number(match[2]), skipped: Number(match[3]) } : null;
}

// uvu prints one ` FAIL ` header per failed test: `FAIL  suite  "test name"`.
const failureHeaders = (output) => [...output.matchAll(/^\s*FAIL\s+(.*)$/gm)].map((match) => match[1].trim());

// test/support/tools.ts prints one line per suite whose outside tool is missing.
const missingTools = (output) => [...output.matchAll(/^# skipped: (.*)$/gm)].map((match) => match[1].trim());

function howItEnded(result, fileTimeoutMs) {
  if (result.error?.code === "ETIMEDOUT") return `still running after ${fileTimeoutMs} ms, killed`;
  if (result.error) return `could not run: ${result.error.message}`;
  if (result.signal) return `killed by ${result.signal}`;
  return `exit ${result.status}`;
}

// One file's counts. A file without a summary did not finish: its passes are
// not credited and it counts one failure beside those it printed.
function judge(name, result, fileTimeoutMs) {
  const output = strip(`${result.stdout ?? ""}${result.stderr ?? ""}`);
  const failures = failureHeaders(output);
  const counts = { output, passed: 0, failed: failures.length, skipped: 0, problems: failures.map((test) => `${name}: ${test}`), tools: missingTools(output) };
  const summary = parseSummary(output);
  const ending = howItEnded(result, fileTimeoutMs);
  if (!summary || result.error || result.signal) {
    counts.failed++;
    counts.problems.push(`${name}: did not finish (${ending}${summary ? "" : ", no uvu summary"})`);
    return counts;
  }
  counts.passed = summary.passed;
  counts.skipped = summary.skipped;
  // uvu swallows an error thrown by a before or after hook: its tests count in
  // Total but neither pass nor print a failure.
  const unaccounted = summary.total - summary.passed - failures.length;
  if (unaccounted !== 0) {
    counts.failed += Math.max(unaccounted, 1);
    counts.problems.push(`${name}: uvu ran ${summary.total} tests, ${summary.passed} passed and ${failures.length} failed (a hook threw?)`);
  }
  if (result.status !== 0 && counts.failed === 0) {
    counts.failed++;
    counts.problems.push(`${name}: ${ending} after its tests passed`);
  }
  return counts;
}

function main() {
  let options;
  try {
    options = parseArguments(process.argv.slice(2));
  } catch (error) {
    console.error(`test.mjs: ${error.message}`);
    process.exit(2);
  }
  const totals = { passed: 0, failed: 0, skipped: 0 };
  const problems = [];
  const tools = [];
  const files = findTests(options.testRoot).filter((path) => path.includes(options.filter));
  for (const file of files) {
    const name = relative(options.testRoot, file);
    const result = spawnSync(process.execPath, [file], {
      cwd: root, encoding: "utf8", timeout: options.fileTimeoutMs, killSignal: "SIGKILL",
      env: { ...process.env, FORCE_COLOR: "0" }, maxBuffer: 64 * 1024 * 1024,
    });
    const counts = judge(name, result, options.fileTimeoutMs);
    const output = counts.output.endsWith("\n") || counts.output === "" ? counts.output : `${counts.output}\n`;
    process.stdout.write(`# ${name}\n${output}`);
    totals.passed += counts.passed;
    totals.failed += counts.failed;
    totals.skipped += counts.skipped;
    problems.push(...counts.problems);
    tools.push(...counts.tools.map((line) => `${name}: ${line}`));
  }
  if (files.length === 0) {
    totals.failed++;
    problems.push(`no test files under ${options.testRoot} match "${options.filter}"`);
  }
  for (const line of tools) console.log(`SKIPPED ${line}`);
  for (const line of problems) console.log(`FAILED ${line}`);
  console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  process.exit(totals.failed > 0 ? 1 : 0);
}

main();
