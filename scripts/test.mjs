// Runs every uvu suite under dist/test (each file in its own process, so a
// file that hangs or crashes is reported as such) and ends with the line
// `tests: N passed, M failed`. Exits non-zero when anything failed.
//   node scripts/test.mjs [PATTERN]   only files whose path contains PATTERN
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, relative } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const testRoot = join(root, "dist", "test");
const FILE_TIMEOUT_MS = 6 * 60 * 1000;
const filter = process.argv[2] ?? "";

function findTests(folder) {
  const found = [];
  for (const name of readdirSync(folder).sort()) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith(".test.js")) found.push(path);
  }
  return found;
}

// Every CSI sequence (colours, cursor moves such as ink leaves at exit), so summaries parse cleanly.
const strip = (text) => text.replace(/\u001b\[[0-9;?]*[ -\/]*[@-~]/g, "");
let passed = 0;
let failed = 0;
const broken = [];
for (const file of findTests(testRoot).filter((path) => path.includes(filter))) {
  const name = relative(testRoot, file);
  const result = spawnSync(process.execPath, [file], {
    cwd: root, encoding: "utf8", timeout: FILE_TIMEOUT_MS, env: { ...process.env, FORCE_COLOR: "0" },
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = strip(`${result.stdout ?? ""}${result.stderr ?? ""}`);
  process.stdout.write(`# ${name}\n${output}`);
  const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? NaN);
  const ok = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? NaN);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(output)?.[1] ?? 0);
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    failed++;
    broken.push(`${name}: no uvu summary (exit ${result.status}, signal ${result.signal ?? "none"})`);
    continue;
  }
  passed += ok;
  failed += total - ok - skipped;
  if (result.status !== 0 && total - ok - skipped === 0) {
    failed++;
    broken.push(`${name}: exited with ${result.status ?? result.signal} after its tests`);
  }
}
for (const line of broken) console.log(`FAILED ${line}`);
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
