// How a tzero process ends: a reader of its output that goes away, and
// SIGINT, SIGTERM and SIGHUP, each of which cancels the run and saves the
// --state file, with a second signal during that save finishing or
// abandoning it whole. Real child processes and real signals.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const main = join(process.cwd(), "dist", "src", "cli", "main.js");
const folder = mkdtempSync(join(tmpdir(), "tzero-lifetime-"));

interface Ended {
  status: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { child: ChildProcessWithoutNullStreams; output: () => Ended; ended: Promise<Ended> } {
  const child = spawn(process.execPath, [main, ...args], { cwd: folder });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const output = () => ({ status: child.exitCode, stdout, stderr });
  const ended = new Promise<Ended>((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
  return { child, output, ended };
}

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function script(name: string, text: string): string {
  writeFileSync(join(folder, name), text);
  return name;
}

function volumesIn(stateFile: string): string {
  const result = spawnSync(process.execPath, [main, "--state", stateFile, "lsfbvol", "-fmt", "delim", "-hdr", "off", "-bnr", "off"], {
    cwd: folder, encoding: "utf8", timeout: 60_000,
  });
  assert.is(result.status, 0, result.stderr);
  return result.stdout.split("\n").filter((line) => line.includes(",") && !line.startsWith("CMUC")).map((line) => line.split(",")[1]).join(" ");
}

function temporaries(): string[] {
  return readdirSync(folder).filter((name) => name.endsWith(".tmp"));
}

const Ends = suite("the end of a tzero process");
Ends.after(() => rmSync(folder, { recursive: true, force: true }));

Ends("should end quietly, exit 0, when the reader of its output goes away", async () => {
  const run = start(["-script", script("lots.tzs", "repeat 100000 { echo line }\n")]);
  await until("the first line", () => run.output().stdout.includes("line\n"));
  run.child.stdout.destroy();
  const ended = await run.ended;
  assert.is(ended.stderr, "");
  assert.is(ended.status, 0);
});

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Ends(`should cancel the run on ${signal} and save the --state file`, async () => {
    const stateFile = `${signal}.tz0`;
    const run = start(["--state", stateFile, "-script", script("sleepy.tzs", "mkfbvol -cap 1 1000\necho ready\nsleep 60s\n")]);
    await until("ready", () => run.output().stdout.includes("ready\n"));
    run.child.kill(signal);
    const ended = await run.ended;
    assert.is(ended.status, 6);
    assert.is(ended.stderr, `sleepy.tzs:3:1: CMUN09005E sleep: cancelled (${signal})\nsleep 60s\n^\n`);
    assert.match(ended.stdout, `CMUC09040I save: 1 volume and 0 FlashCopy relationships of 1 storage image saved to ${join(folder, stateFile)}`);
    assert.is(volumesIn(stateFile), "1000");
    assert.equal(temporaries(), []);
  });
}

// Whether the second signal comes before the save starts (abandoned) or
// while it runs (it finishes) depends on timing; each outcome is checked whole.
Ends("should finish or abandon the exit save on a second signal, say which, and keep one whole file", async () => {
  const stateFile = "twice.tz0";
  const first = spawnSync(process.execPath, [main, "--state", stateFile, "mkfbvol", "-cap", "1", "1000"], { cwd: folder, encoding: "utf8" });
  assert.is(first.status, 0, first.stderr);
  const body = "mkfbvol -cap 1 1001\nwrite 1001 -offset 0 -len 256MiB -pattern random -seed 3\necho ready\nsleep 60s\n";
  const run = start(["--state", stateFile, "-script", script("twice.tzs", body)]);
  await until("ready", () => run.output().stdout.includes("ready\n"));
  run.child.kill("SIGTERM");
  await new Promise((resolve) => setTimeout(resolve, 50));
  run.child.kill("SIGINT");
  const ended = await run.ended;
  assert.is(ended.status, 6);
  const finished = ended.stderr.includes(`tzero: SIGINT came during the exit save, which finished first: ${stateFile} holds the new state`);
  const abandoned = ended.stderr.includes("CMUN09052E") || ended.stderr.includes("SAVE_ABANDONED");
  assert.ok(finished !== abandoned, ended.stderr);
  if (finished) {
    assert.match(ended.stdout, "CMUC09040I save: 2 volumes");
    assert.is(volumesIn(stateFile), "1000 1001");
  } else {
    assert.not.match(ended.stdout, "CMUC09040I");
    assert.match(ended.stderr, "the file keeps its last save");
    assert.is(volumesIn(stateFile), "1000");
  }
  assert.ok(existsSync(join(folder, stateFile)));
  assert.equal(temporaries(), []);
});

Ends.run();
