// scripts/test.mjs against fixture test files whose outcome is known: counts
// that add up (a failure beside skips counts once), crashes, hangs, hooks that
// throw and missing outside tools each fail the run, and the last line is
// always `tests: N passed, M failed, K skipped`.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const runner = fileURLToPath(new URL("../../../scripts/test.mjs", import.meta.url));
const fixtures = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

interface Run { status: number | null; lines: string[]; last: string }

function runOn(fixture: string, options: { ci?: boolean; extra?: string[] } = {}): Run {
  const result = spawnSync(process.execPath, [runner, `--root=${fixtures(fixture)}`, ...(options.extra ?? [])], {
    encoding: "utf8", env: { ...process.env, CI: options.ci ? "true" : "" }, timeout: 120_000,
  });
  const lines = `${result.stdout}${result.stderr}`.trimEnd().split("\n");
  return { status: result.status, lines, last: lines.at(-1) ?? "" };
}

// The runner's output holds the fixtures' own FAIL headers; never print it
// whole, or this file's runner would count them as failures of its own.
const quoted = (run: Run) => run.lines.filter((line) => /^(tests:|FAILED|SKIPPED)/.test(line)).join(" | ");

test("should count a failure beside two skips as one failure, not cancel it", () => {
  const run = runOn("failure-beside-skips");
  assert.is(run.last, "tests: 5 passed, 1 failed, 2 skipped", quoted(run));
  assert.is(run.status, 1);
  assert.ok(run.lines.some((line) => line.startsWith("FAILED mixed.test.js:") && line.includes("fails")), quoted(run));
});

test("should pass a run where everything passes", () => {
  const run = runOn("passing");
  assert.is(run.last, "tests: 2 passed, 0 failed, 0 skipped", quoted(run));
  assert.is(run.status, 0);
});

test("should fail a file that crashes mid-run, crediting none of its passes", () => {
  const run = runOn("crash");
  assert.is(run.last, "tests: 0 passed, 1 failed, 0 skipped", quoted(run));
  assert.is(run.status, 1);
  assert.ok(run.lines.includes("FAILED crash.test.js: did not finish (exit 7, no uvu summary)"), quoted(run));
});

test("should kill and fail a file that hangs", () => {
  const run = runOn("hang", { extra: ["--file-timeout-ms=3000"] });
  assert.is(run.last, "tests: 0 passed, 1 failed, 0 skipped", quoted(run));
  assert.is(run.status, 1);
  assert.ok(run.lines.includes("FAILED hang.test.js: did not finish (still running after 3000 ms, killed, no uvu summary)"), quoted(run));
});

test("should fail the tests of a suite whose before hook throws", () => {
  const run = runOn("hook-throws");
  assert.is(run.last, "tests: 0 passed, 2 failed, 0 skipped", quoted(run));
  assert.is(run.status, 1);
});

test("should fail a file that exits non-zero after its tests pass", () => {
  const run = runOn("after-tests-exit");
  assert.is(run.last, "tests: 1 passed, 1 failed, 0 skipped", quoted(run));
  assert.is(run.status, 1);
});

test("should skip, and say so, the tests whose outside tool is missing", () => {
  const run = runOn("missing-tool");
  assert.is(run.last, "tests: 1 passed, 0 failed, 2 skipped", quoted(run));
  assert.is(run.status, 0);
  assert.ok(run.lines.includes("SKIPPED missing-tool.test.js: 2 tests need tzero-no-such-tool (tzero-no-such-tool is not on PATH)"), quoted(run));
});

test("should fail, when CI=true, the tests whose outside tool is missing", () => {
  const run = runOn("missing-tool", { ci: true });
  assert.is(run.last, "tests: 1 passed, 2 failed, 0 skipped", quoted(run));
  assert.is(run.status, 1);
});

test("should refuse an unknown option, naming it", () => {
  const result = spawnSync(process.execPath, [runner, "--bogus=1"], { encoding: "utf8" });
  assert.is(result.status, 2);
  assert.match(result.stderr, "unknown or malformed option --bogus=1");
});

test("should fail a run in which no file matches", () => {
  const run = runOn("passing", { extra: ["no-such-test-file"] });
  assert.is(run.last, "tests: 0 passed, 1 failed, 0 skipped", quoted(run));
  assert.is(run.status, 1);
});

test.run();
