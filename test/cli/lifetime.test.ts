// How a tzero process ends: a reader of its output that goes away, and
// SIGINT, SIGTERM and SIGHUP, each of which cancels the run and saves the
// --state file, with a second signal during that save finishing or
// abandoning it whole. Real child processes and real signals.
import { currentEngineImage } from "../lang/support.js";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { END_SIGNALS, Lifetime } from "../../src/cli/lifetime.js";
import { Session } from "../../src/lang/session.js";

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

// The two signals are sent back to back, so the second reaches a process
// still alive. Whether it comes before the save starts (abandoned) or while
// it runs (it finishes) depends on timing; each outcome is checked whole.
Ends("should finish or abandon the exit save on a second signal, say which, and keep one whole file", async () => {
  const stateFile = "twice.tz0";
  const first = spawnSync(process.execPath, [main, "--state", stateFile, "mkfbvol", "-cap", "1", "1000"], { cwd: folder, encoding: "utf8" });
  assert.is(first.status, 0, first.stderr);
  const body = "mkfbvol -cap 1 1001\nwrite 1001 -offset 0 -len 256MiB -pattern random -seed 3\necho ready\nsleep 60s\n";
  const run = start(["--state", stateFile, "-script", script("twice.tzs", body)]);
  await until("ready", () => run.output().stdout.includes("ready\n"));
  run.child.kill("SIGTERM");
  run.child.kill("SIGINT");
  const ended = await run.ended;
  assert.is(ended.status, 6);
  // The kernel may hand over the two pending signals in either order.
  const finished = new RegExp(`tzero: SIG(INT|TERM) came during the exit save, which finished first: ${stateFile} holds the new state`).test(ended.stderr);
  const abandoned = ended.stderr.includes(`tzero: ABANDONED: save to ${join(folder, stateFile)} abandoned`);
  assert.ok(finished !== abandoned, ended.stderr);
  if (finished) {
    assert.match(ended.stdout, "CMUC09040I save: 2 volumes");
    assert.is(volumesIn(stateFile), "1000 1001");
  } else {
    assert.not.match(ended.stdout, "CMUC09040I");
    assert.match(ended.stderr, "is as it was");
    assert.is(volumesIn(stateFile), "1000");
  }
  assert.ok(existsSync(join(folder, stateFile)));
  assert.equal(temporaries(), []);
});

const Unit = suite("Lifetime, in process");
Unit.after(() => rmSync(folder, { recursive: true, force: true }));

Unit("should cancel the run on the first signal and abort the exit save on the next, then ignore them", () => {
  const output = new PassThrough();
  const lifetime = new Lifetime(output);
  lifetime.signal("SIGHUP");
  assert.ok(lifetime.run.signal.aborted);
  assert.is((lifetime.run.signal.reason as Error).message, "SIGHUP");
  assert.not.ok(lifetime.save.signal.aborted);
  lifetime.signal("SIGINT");
  assert.is(lifetime.signalled, "SIGHUP");
  assert.is(lifetime.signalledWhileClosing, "SIGINT");
  assert.is((lifetime.save.signal.reason as Error).message, "exit save interrupted by SIGINT");
  lifetime.dispose();
  lifetime.signal("SIGTERM");
  assert.is(lifetime.signalledWhileClosing, "SIGINT");
});

Unit("should take a closed output as the end of the run, and write nothing more to it", () => {
  const written: string[] = [];
  const output = new Writable({ write: (chunk, _encoding, callback) => { written.push(String(chunk)); callback(); } });
  const lifetime = new Lifetime(output).install();
  lifetime.write("before\n");
  output.emit("error", Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
  assert.ok(lifetime.stdoutClosed);
  assert.ok(lifetime.run.signal.aborted);
  lifetime.write("after\n");
  assert.equal(written, ["before\n"]);
  lifetime.dispose();
  // A late EPIPE of a buffered write does not crash the exit either.
  output.emit("error", Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
  for (const name of END_SIGNALS) assert.is(process.listenerCount(name), 0, `${name} handlers are gone`);
});

Unit("should leave the state file as it was when the exit save is abandoned before it starts", async () => {
  const stateFile = join(folder, "abandoned.tz0");
  const first = new Session({ write: () => undefined, workers: 0, stateFile });
  await first.openState();
  await first.runSource("mkfbvol -cap 1 1000", "t.tzs");
  await first.close();
  const before = readFileSync(stateFile);
  const lines: string[] = [];
  const second = new Session({ write: (line) => lines.push(line), workers: 0, stateFile });
  await second.openState();
  await second.runSource("mkfbvol -cap 1 1001", "t.tzs");
  lines.length = 0;
  const lifetime = new Lifetime(null);
  lifetime.signal("SIGTERM");
  lifetime.signal("SIGINT");
  let failure: unknown = null;
  try {
    await second.close(lifetime.save.signal);
  } catch (error) {
    failure = error;
  }
  assert.is((failure as { code?: string }).code, "ABANDONED");
  assert.is((failure as Error).message, `save to ${stateFile} abandoned: its temporary file was removed and ${stateFile} is as it was`);
  assert.equal(lines, []);
  assert.ok(readFileSync(stateFile).equals(before));
  assert.ok(currentEngineImage(second).isClosed);
  assert.equal(temporaries(), []);
});

Ends.run();
Unit.run();
