// `--state FILE`, `save` and `load` from the command line: a scenario saves,
// is killed, starts again and finds everything as it was; bad files are
// refused and never overwritten.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const main = join(process.cwd(), "dist", "src", "cli", "main.js");
const folder = mkdtempSync(join(tmpdir(), "tzero-state-"));

function tzero(args: string[]) {
  const result = spawnSync(process.execPath, [main, "-workers", "2", ...args], { cwd: folder, encoding: "utf8", timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function script(name: string, text: string): string {
  writeFileSync(join(folder, name), text);
  return name;
}

// Runs `setup` with --state `stateFile` until it echoes "saved", then kills it with SIGKILL; its stdout.
async function killedAfterSave(stateFile: string, setup: string): Promise<string> {
  const child = spawn(process.execPath, [main, "--state", stateFile, "-script", setup], { cwd: folder });
  let output = "";
  child.stdout.on("data", (chunk) => { output += String(chunk); });
  const deadline = Date.now() + 60_000;
  while (!output.includes("\nsaved\n") && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(output.includes("\nsaved\n"), output);
  child.kill("SIGKILL");
  await new Promise((resolve) => child.once("exit", resolve));
  return output;
}

const State = suite("--state");
State.after(() => rmSync(folder, { recursive: true, force: true }));

State("should find volumes, relationships and copies as they were after a kill -9", async () => {
  const setup = script("setup.tzs", [
    "mkfbvol -cap 16384 -type blocks -os aix -name prod 1000",
    "mkfbvol -cap 16384 -type blocks -os aix -name mine 1001",
    "mkfbvol -cap 16384 -type blocks -os aix -name bkp 1002",
    "fill 1000 -pattern random -seed 7",
    "let t0 = checksum 1000",
    "mkflash -nocp -seqnum 12 1000:1001",
    "write 1000 -offset 0 -len 1MiB -pattern 0xAA",
    "echo T0 $t0",
    "save",
    "echo saved",
    "sleep 60s",
  ].join("\n"));
  const output = await killedAfterSave("s.tz0", setup);
  const t0 = /T0 ([0-9a-f]{16})/.exec(output)?.[1];
  assert.ok(t0, output);
  const check = script("check.tzs", [
    "assert (lsfbvol 1000).Name == \"prod\"",
    `assert checksum 1001 == "${t0}"`,
    `assert checksum 1000 != "${t0}"`,
    "assert (lsflash -l 1000:1001).OutOfSyncTracks == 112",
    "assert (lsflash -l 1000:1001).BackgroundCopy == \"Disabled\"",
    "rmflash -quiet 1000:1001",
    "assert (lsfbvol 1001).datastate == \"Unusable\"",
    "# a new background copy started after the restart runs to completion",
    "mkflash 1000:1002",
    "wait flash 1000:1002",
    "assert checksum 1002 == checksum 1000",
  ].join("\n"));
  const second = tzero(["--state", "s.tz0", "-script", check]);
  assert.is(second.status, 0, second.stdout + second.stderr);
  assert.ok(second.stdout.includes("CMUC09040I save:"), "saved again on exit");
});

State("should refuse a corrupt state file at start and leave it untouched", () => {
  const bad = join(folder, "bad.tz0");
  const good = readFileSync(join(folder, "s.tz0"));
  const flipped = Buffer.from(good);
  flipped[Math.floor(flipped.length / 2)] ^= 0x10;
  writeFileSync(bad, flipped);
  const result = tzero(["--state", "bad.tz0", "-script", script("noop.tzs", "echo hello\n")]);
  assert.is(result.status, 6);
  assert.ok(result.stderr.includes("CHECKSUM_MISMATCH"), result.stderr);
  assert.not.ok(result.stdout.includes("hello"), "nothing runs on a state that did not load");
  assert.ok(Buffer.compare(readFileSync(bad), flipped) === 0, "the bad file is not overwritten");
});

State("should start fresh on a state file that does not exist yet, and create it on exit", () => {
  const result = tzero(["--state", "new.tz0", "-script", script("new.tzs", "mkfbvol -cap 256 -type blocks 1000\n")]);
  assert.is(result.status, 0, result.stderr);
  assert.ok(existsSync(join(folder, "new.tz0")));
  const again = tzero(["--state", "new.tz0", "-script", script("again.tzs", "assert (lsfbvol).length == 1\n")]);
  assert.is(again.status, 0, again.stdout + again.stderr);
});

State("should refuse save without a file or --state, and a bad load, changing nothing", () => {
  writeFileSync(join(folder, "junk.tz0"), "not a state file at all");
  const result = tzero(["-script", script("errors.tzs", [
    "mkfbvol -cap 256 -type blocks 1000",
    "expect error NO_STATE_FILE save",
    "expect error BAD_MAGIC load junk.tz0",
    "expect error NOT_FOUND load missing.tz0",
    "assert (lsfbvol).length == 1",
    "save copy.tz0",
    "mkfbvol -cap 256 -type blocks 1001",
    "load copy.tz0",
    "assert (lsfbvol).length == 1",
  ].join("\n"))]);
  assert.is(result.status, 0, result.stdout + result.stderr);
  assert.ok(result.stdout.includes("CMUN09040E save:"), result.stdout);
  assert.ok(result.stdout.includes("CMUC09041I load:"), result.stdout);
});
State("should find PPRC paths and pairs as they were after a kill -9, and resume to equal", async () => {
  const remote = "IBM.2107-75SITEB";
  const setup = script("pprc-setup.tzs", [
    `mksi ${remote}`,
    "mkfbvol -cap 1 -os aix 1000 1001",
    `mkfbvol -cap 1 -os aix -dev ${remote} 2000 2001`,
    "fill 1000 -pattern random -seed 3",
    `mkpprcpath -remotedev ${remote} -remotewwnn 5005076303FFC002 -srclss 10 -tgtlss 20 I0010:I0143`,
    `mkpprc -remotedev ${remote} -type mmir -tgtread -wait 1000:2000 1001:2001`,
    `pausepprc -remotedev ${remote} 1001:2001`,
    "write 1001 -offset 0 -len 4KiB -pattern 0x11",
    "write 1001 -offset 3MiB -len 64KiB -pattern 0x22",
    "save",
    "echo saved",
    "sleep 60s",
  ].join("\n"));
  await killedAfterSave("pprc.tz0", setup);
  const check = script("pprc-check.tzs", [
    "assert (lspprc -l 1000:2000).State == \"Full Duplex\"",
    "assert (lspprc -l 1001:2001).State == \"Suspended\"",
    "assert (lspprc -l 1001:2001).Reason == \"Host Source\"",
    "assert (lspprc -l 1001:2001).OutOfSyncTracks == 2",
    `assert (lspprc -l -dev ${remote} 1000:2000).State == "Target Full Duplex"`,
    `expect error PPRC_SECONDARY write 2000 -dev ${remote} -offset 0 -len 4KiB -pattern 0x33`,
    "write 1000 -offset 0 -len 4KiB -pattern 0x44",
    `assert checksum 2000 -dev ${remote} == checksum 1000`,
    `resumepprc -remotedev ${remote} 1001:2001`,
    "wait pprc 1001:2001",
    `assert checksum 2001 -dev ${remote} == checksum 1001`,
    "echo pprc ok",
  ].join("\n"));
  const result = tzero(["--state", "pprc.tz0", "-script", check]);
  assert.is(result.status, 0, result.stdout + result.stderr);
  assert.ok(result.stdout.includes("pprc ok"), result.stdout);
});

State.run();
