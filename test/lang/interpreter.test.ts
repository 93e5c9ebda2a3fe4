// The interpreter: variables, expressions, assertions, expect error, repeat,
// source, quit, confirmation, cancellation, commands as values, waiting.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { currentEngineImage, recordedSession, run, runOk, type Recorded } from "./support.js";
import { formatError, maskPasswords } from "../../src/lang/errors.js";

const Values = suite("values and expressions");

Values("should compute with numbers, units, text and booleans", async () => {
  const recorded = recordedSession();
  const lines = await runOk(recorded, [
    "let size = 4KiB * 2 + 1",
    "let name = \"vol\" + 7",
    "echo $size $name ${name}x (1 + 2 * 3) (10 % 4) (7 / 2) (-2s)",
    "assert $size == 8193 && $name == \"vol7\" && !(1 > 2) || false",
    "assert \"abc\" < \"abd\" && 2GiB >= 2048MiB && 1000 == \"1000\"",
  ].join("\n"));
  assert.equal(lines, ["8193 vol7 vol7x 7 2 3.5 -2000"]);
  await recorded.session.close();
});

Values("should take fields of listings and records", async () => {
  const recorded = recordedSession();
  const lines = await runOk(recorded, [
    "mkfbvol -cap 256 -type blocks -name a 1000-1002",
    "let vols = lsfbvol",
    "echo ($vols.length)",
    "echo (lsfbvol 1001).Name (lsfbvol)[2].ID (lsfbvol)[-1].id (showfbvol 1000).OS",
    "mkflash -nocp 1000:1001",
    "assert (lsflash -l 1000:1001).OutOfSyncTracks == 2",
    "assert (lsflash 1000:1001).BackgroundCopy == \"Disabled\"",
    "assert (lsflash 1002).length == 0",
  ].join("\n"));
  assert.equal(lines.slice(3, 5), ["3", "a 1002 1002 aix"]);
  await recorded.session.close();
});

Values("should take fields of listing variables inside words and strings, and keep text after text", async () => {
  const recorded = recordedSession();
  await runOk(recorded, "mkfbvol -cap 256 -type blocks -name n 1000\nlet v = lsfbvol 1000\nlet name = \"file\"");
  assert.equal(await runOk(recorded, 'echo $v.Name $v.ID:x "$v.ID.bin" $name.bin'), ["n 1000:x 1000.bin file.bin"]);
  await recorded.session.close();
});

Values("should refuse a field of a many-row listing, naming the way out", async () => {
  const recorded = recordedSession();
  await runOk(recorded, "mkfbvol -cap 256 -type blocks 1000-1001");
  const error = await run(recorded.session, "echo (lsfbvol).Name");
  assert.is(error?.code, "NO_SUCH_FIELD");
  assert.is(error?.reason, "the listing has 2 rows: pick one with [0] to [1] before .Name");
  assert.is(error?.exitCode, 6);
  const missing = await run(recorded.session, "echo (lsfbvol 1000).Size");
  assert.ok(missing?.reason.startsWith("no field Size; the fields are Name, ID,"));
  await recorded.session.close();
});

Values("should report type errors and unset variables at their position", async () => {
  const recorded = recordedSession();
  const typeError = await run(recorded.session, 'let x = 1 - "a"');
  assert.equal([typeError?.code, typeError?.reason, typeError?.col], ["TYPE_ERROR", "- needs two numbers, not a number and text", 11]);
  const unset = await run(recorded.session, "let y = 2\necho $y $z");
  assert.equal([unset?.code, unset?.line, unset?.col], ["UNDEFINED_VARIABLE", 2, 9]);
  const divide = await run(recorded.session, "let x = 1 / 0");
  assert.is(divide?.reason, "division by zero");
  await recorded.session.close();
});

const Statements = suite("statements");

Statements("should fail an assertion with exit code 1, its text and both sides", async () => {
  const recorded = recordedSession();
  const source = "let t0 = \"abc\"\n\nassert $t0 == \"abd\"   # must match\n";
  const error = await run(recorded.session, source);
  assert.is(error?.kind, "assertion");
  assert.is(error?.exitCode, 1);
  assert.is(error?.code, "ASSERTION");
  assert.is(formatError(error!, source), 't.tzs:3:8: assertion failed: $t0 == "abd" (left: "abc", right: "abd")\nassert $t0 == "abd"   # must match\n       ^');
  const withMessage = await run(recorded.session, 'assert 1 > 2, "one is " + 1');
  assert.is(withMessage?.reason, "assertion failed: one is 1 (left: 1, right: 2)");
  const notBoolean = await run(recorded.session, "assert 3");
  assert.is(notBoolean?.code, "TYPE_ERROR");
  await recorded.session.close();
});

Statements("should pass expect error only when the command fails, with the code if given", async () => {
  const recorded = recordedSession();
  const lines = await runOk(recorded, "mkfbvol -cap 256 -type blocks 1000 1100\nexpect error LSS_MISMATCH mkflash 1000:1100\nexpect error rmflash -quiet 1000:1100");
  assert.equal(lines.slice(-2), [
    "CMUN03042E mkflash: FlashCopy pair 1000:1100: source is in LSS 10 and target in LSS 11; a 2105 requires both in the same LSS",
    "CMUN03048E rmflash: FlashCopy pair 1000:1100 does not exist on IBM.2105-75TZ001",
  ]);
  const wrongCode = await run(recorded.session, "expect error OS_MISMATCH mkflash 1000:1100");
  assert.is(wrongCode?.kind, "assertion");
  assert.is(wrongCode?.reason.startsWith("expected mkflash to fail with OS_MISMATCH, but it failed with LSS_MISMATCH"), true);
  const succeeded = await run(recorded.session, "expect error lsfbvol");
  assert.is(succeeded?.reason, "expected lsfbvol to fail, but it succeeded");
  assert.is(succeeded?.exitCode, 1);
  // A mistake in the script is not the failure it expects.
  const unset = await run(recorded.session, "expect error mkflash $nowhere");
  assert.is(unset?.code, "UNDEFINED_VARIABLE");
  assert.is(unset?.exitCode, 6);
  await recorded.session.close();
});

Statements("should repeat a block, stop at the first failure, and end at quit", async () => {
  const recorded = recordedSession();
  const error = await run(recorded.session, "let n = 0\nrepeat 3 {\n  let n = $n + 1\n  echo $n\n}\nassert $n == 3\nquit\necho never");
  assert.is(error, null);
  assert.equal(recorded.lines, ["1", "2", "3"]);
  assert.is(recorded.session.quitRequested, true);
  const stopped = await run(recorded.session, "echo a\nmkflash 1000:1001\necho b");
  assert.is(stopped?.line, 2);
  assert.not.ok(recorded.lines.includes("b"));
  await recorded.session.close();
});

Statements("should source a file relative to the including script, with its own positions", async () => {
  const folder = mkdtempSync(join(tmpdir(), "tzero-source-"));
  writeFileSync(join(folder, "volumes.tzs"), "mkfbvol -cap 256 -type blocks 1000\nlet from_inner = 5\n");
  writeFileSync(join(folder, "broken.tzs"), "\nmkflash -bogus 1000:1001\n");
  const recorded = recordedSession();
  assert.is(await run(recorded.session, "source volumes.tzs\nassert $from_inner == 5", join(folder, "main.tzs")), null);
  const error = await run(recorded.session, "source broken.tzs", join(folder, "main.tzs"));
  assert.equal([error?.kind, error?.exitCode, error?.file, error?.line, error?.col], ["syntax", 2, join(folder, "broken.tzs"), 2, 9]);
  assert.ok(formatError(error!).includes("mkflash -bogus 1000:1001\n        ^"));
  await recorded.session.close();
  rmSync(folder, { recursive: true, force: true });
});

Statements("should show a password in an echoed line as stars, the caret still under its column", async () => {
  const recorded = recordedSession();
  const source = 'mkuser -pw "s3cret pass" -bogus x bob';
  const error = await run(recorded.session, source, "t.tzs");
  const shown = formatError(error!, source);
  assert.not.ok(shown.includes("s3cret"), shown);
  assert.ok(shown.includes('mkuser -pw ************* -bogus x bob\n                         ^'), shown);
  assert.is(maskPasswords("chuser -pw abc -pw 'x y' u"), "chuser -pw *** -pw ***** u");
  await recorded.session.close();
});

Statements("should ask before rmflash and rmfbvol, and say when the answer is no", async () => {
  const questions: string[] = [];
  let answer = false;
  const recorded = recordedSession({ confirm: async (question) => (questions.push(question), answer) });
  await runOk(recorded, "mkfbvol -cap 256 -type blocks 1000-1001\nmkflash -nocp 1000:1001");
  assert.equal(await runOk(recorded, "rmflash 1000:1001"), ["CMUC09002W rmflash: FlashCopy pair 1000:1001 not removed."]);
  assert.equal(questions, ["CMUC00144W rmflash: Are you sure you want to remove the FlashCopy pair 1000:1001? [y/n]:"]);
  answer = true;
  assert.equal(await runOk(recorded, "rmflash 1000:1001"), [
    "CMUC00140I rmflash: FlashCopy pair 1000:1001 successfully removed.",
    "CMUC09002W rmflash: target 1001 was not completely copied and is now unusable; make it a FlashCopy target again or release its data with initfbvol.",
  ]);
  assert.equal(await runOk(recorded, "rmfbvol 1001"), ["CMUC00028I rmfbvol: FB volume 1001 successfully deleted."]);
  assert.is(questions[2], "CMUC00027W rmfbvol: Are you sure you want to delete FB volume 1001? [y/n]:");
  await recorded.session.close();
});

Statements("should cancel a sleep when the run's signal aborts", async () => {
  const recorded = recordedSession();
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  const started = performance.now();
  try {
    await recorded.session.runSource("sleep 10s\necho after", "t.tzs", { signal: controller.signal });
    assert.unreachable("the sleep should have been cancelled");
  } catch (error) {
    assert.is((error as { code: string }).code, "CANCELLED");
  }
  assert.ok(performance.now() - started < 2000);
  assert.equal(recorded.lines, []);
  await recorded.session.close();
});

Statements("should cancel mkflash -wait, leaving the pair established", async () => {
  const recorded = recordedSession({ refreshMs: 20 });
  await runOk(recorded, "mkfbvol -cap 256 -type blocks 1000-1001");
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 60);
  try {
    await recorded.session.runSource("mkflash -wait 1000:1001", "t.tzs", { signal: controller.signal });
    assert.unreachable("with no copy workers the wait cannot end by itself");
  } catch (error) {
    assert.is((error as { code: string }).code, "CANCELLED");
  }
  assert.ok(currentEngineImage(recorded.session).hasRelationship("1000:1001"));
  await recorded.session.close();
});

const Data = suite("data, copies and workloads");

Data("should copy in the background and wait for it with mkflash -wait and wait flash", async () => {
  const recorded = recordedSession({ workers: 1, refreshMs: 20 });
  try {
    await copyAndWait(recorded);
  } finally {
    await recorded.session.close();
  }
});

async function copyAndWait(recorded: Recorded): Promise<void> {
  const lines = await runOk(recorded, [
    "mkfbvol -cap 8192 -type blocks 1000-1003",
    "fill 1000 -pattern random -seed 3",
    "fill 1002 -pattern 0x5a",
    "let t0 = checksum 1000",
    "mkflash -wait 1000:1001",
    "assert checksum 1001 == $t0",
    "assert (lsflash 1000:1001).length == 0   # a completed copy ends by itself",
    "mkflash -persist 1002:1003",
    "wait flash -timeout 20s 1002:1003",
    "assert (lsflash -l 1002:1003).OutOfSyncTracks == 0",
    "wait flash 1000:1001                     # already complete: nothing to wait for",
  ].join("\n"));
  assert.ok(lines.includes("CMUC09030I mkflash: FlashCopy pair 1000:1001 background copy complete."));
  assert.ok(lines.includes("1000:1001 background copy complete"));
  assert.ok(lines.includes("CMUC09030I wait: FlashCopy pair 1002:1003 background copy complete."));
}

Data("should make -record relationships persistent, as DS CLI does", async () => {
  const recorded = recordedSession();
  await runOk(recorded, "mkfbvol -cap 256 -type blocks 1000-1001\nmkflash -record 1000:1001");
  assert.equal(await runOk(recorded, "echo (lsflash 1000:1001).Persistent (lsflash 1000:1001).Recording"), ["Enabled Enabled"]);
  await recorded.session.close();
});

Data("should make an unusable target usable again with initfbvol", async () => {
  const recorded = recordedSession();
  await runOk(recorded, [
    "mkfbvol -cap 256 -type blocks 1000-1001",
    "fill 1000 -pattern 0x11",
    "mkflash -nocp 1000:1001",
    "rmflash -quiet 1000:1001",
    "assert (showfbvol 1001).datastate == \"Unusable\"",
    "expect error VOLUME_UNUSABLE read 1001 -offset 0 -len 1",
  ].join("\n"));
  assert.equal(await runOk(recorded, "initfbvol -quiet 1001"), ["CMUC00340I initfbvol: FB volume 1001 successfully initialised."]);
  assert.equal(await runOk(recorded, "echo (showfbvol 1001).datastate (read 1001 -offset 0 -len 2)"), ["Normal 0000"]);
  await recorded.session.close();
});

Data("should write, read, import and export bytes", async () => {
  const folder = mkdtempSync(join(tmpdir(), "tzero-data-"));
  const bytes = new Uint8Array(100_000).map((_, index) => (index * 7) & 0xff);
  writeFileSync(join(folder, "in.bin"), bytes);
  const recorded = recordedSession({ cwd: folder });
  await runOk(recorded, "mkfbvol -cap 256 -type blocks 1000\nimport 1000 in.bin\nexport 1000 out.bin\nwrite 1000 -offset 1 -len 2 -pattern 0xee");
  const out = readFileSync(join(folder, "out.bin"));
  assert.is(out.length, 256 * 512);
  assert.equal(out.subarray(0, bytes.length), Buffer.from(bytes));
  assert.ok(out.subarray(bytes.length).every((byte) => byte === 0));
  assert.equal(await runOk(recorded, "echo (read 1000 -offset 0 -len 4)"), ["00eeee15"]);
  await recorded.session.close();
  rmSync(folder, { recursive: true, force: true });
});

Data("should run a workload with a duration, with figures, while the T0 copy holds", async () => {
  const recorded = recordedSession();
  await runOk(recorded, [
    "mkfbvol -cap 2048 -type blocks 1000-1001",
    "fill 1000 -pattern random -seed 7",
    "let t0 = checksum 1000",
    "mkflash -nocp 1000:1001",
    "workload start oltp -vol 1000 -rw mixed -pattern hotspot -bs 4KiB -duration 300ms -seed 11",
    "workload wait oltp",
    "assert checksum 1001 == $t0",
    "assert checksum 1000 != $t0",
    "let stats = lsworkload oltp",
    "assert $stats.IOs > 100 && $stats.IOPS > 0 && $stats.State == \"finished\"",
    "assert $stats.P99us >= $stats.P50us",
  ].join("\n"));
  await recorded.session.close();
});

Data("should pace a workload to its -iops limit", async () => {
  const recorded = recordedSession();
  await runOk(recorded, "mkfbvol -cap 256 -type blocks 1000\nworkload start slow -vol 1000 -rw read -pattern seq -bs 512 -iops 200 -duration 500ms\nworkload wait slow");
  const ios = (await recorded.session.site.listWorkloads()).find((workload) => workload.spec.name === "slow")!.stats.ios;
  assert.ok(ios >= 60 && ios <= 110, `200 IOPS for 0.5 s should be about 100 I/Os, was ${ios}`);
  await recorded.session.close();
});

Values("should refuse a text longer than TEXT_LENGTH_MAX as a script error at its statement", async () => {
  const recorded = recordedSession();
  const error = await run(recorded.session, 'let a = "xxxxxxxxxxxxxxxx"\nrepeat 25 { let a = "$a$a" }\n');
  assert.ok(error);
  assert.is(error.code, "VALUE_TOO_LARGE");
  assert.is(error.kind, "command");
  assert.is(error.message, "t.tzs:2:21: the text would be 2097152 characters long; a text holds at most 1048576");
  // The last value that fitted is kept.
  assert.is((recorded.session.variables.get("a") as string).length, 1_048_576);
  await recorded.session.close();
});

Values("should bound texts built by +, listings joined by + and numbers", async () => {
  const recorded = recordedSession();
  const text = await run(recorded.session, 'let a = "xxxxxxxxxxxxxxxx"\nrepeat 25 { let a = $a + $a }\n');
  assert.is(text?.message, "t.tzs:2:24: the text would be 2097152 characters long; a text holds at most 1048576");
  await runOk(recorded, "mkfbvol -cap 256 -type blocks 1000\nlet rows = lsfbvol");
  const rows = await run(recorded.session, "repeat 25 { let rows = $rows + $rows }");
  assert.is(rows?.message, "t.tzs:1:30: the listing would have 1048577 rows; a listing holds at most 1048576".replace("1048577", String(2 ** 21)));
  const number = await run(recorded.session, "let n = 2\nrepeat 20 { let n = $n * $n }");
  assert.is(number?.message, "t.tzs:2:24: 1.3407807929942597e+154 * 1.3407807929942597e+154 is too large for a number");
  // Evaluation errors: expect error does not swallow them.
  const expected = await run(recorded.session, 'expect error echo ("$a" + "$a")');
  assert.is(expected?.code, "VALUE_TOO_LARGE");
  await recorded.session.close();
});

Values.run();
Statements.run();
Data.run();
