// The `tzero` command: scripts by -script and by standard input, one-shot
// commands, exit codes 0/1/2/6, and errors with file:line:col and a caret.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const main = join(process.cwd(), "dist", "src", "cli", "main.js");
const folder = mkdtempSync(join(tmpdir(), "tzero-cli-"));

function tzero(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [main, ...args], { cwd: folder, encoding: "utf8", input, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function script(name: string, text: string): string {
  writeFileSync(join(folder, name), text);
  return name;
}

const Cli = suite("tzero");
Cli.after(() => rmSync(folder, { recursive: true, force: true }));

Cli("should run a script and exit 0", () => {
  const result = tzero(["-script", script("ok.tzs", "mkfbvol -cap 256 -type blocks 1000-1001\nmkflash -nocp 1000:1001\nlsflash -s -bnr off\n")]);
  assert.is(result.status, 0, result.stderr);
  assert.is(result.stdout, [
    "CMUC00025I mkfbvol: FB volume 1000 successfully created.",
    "CMUC00025I mkfbvol: FB volume 1001 successfully created.",
    "CMUC00137I mkflash: FlashCopy pair 1000:1001 successfully created.",
    "ID", "=========", "1000:1001", "",
  ].join("\n"));
  assert.is(result.stderr, "");
});

Cli("should exit 6 at the first failed command, naming file:line:col with a caret", () => {
  const result = tzero(["-script", script("fail.tzs", "mkfbvol -cap 256 -type blocks 1000 1100\nmkflash 1000:1100\necho never\n")]);
  assert.is(result.status, 6);
  assert.is(result.stderr, [
    "fail.tzs:2:9: CMUN03042E mkflash: FlashCopy pair 1000:1100: source is in LSS 10 and target in LSS 11; a 2105 requires both in the same LSS",
    "mkflash 1000:1100",
    "        ^", "",
  ].join("\n"));
  assert.not.ok(result.stdout.includes("never"));
});

Cli("should exit 1 when an assertion fails", () => {
  const result = tzero(["-script", script("assert.tzs", "let x = 2\nassert $x > 3, \"x is small\"\n")]);
  assert.is(result.status, 1);
  assert.is(result.stderr, "assert.tzs:2:8: assertion failed: x is small (left: 2, right: 3)\nassert $x > 3, \"x is small\"\n       ^\n");
});

Cli("should exit 2 on a syntax error, running nothing", () => {
  const result = tzero(["-script", script("syntax.tzs", "mkfbvol -cap 256 -type blocks 1000\nmkflash -nocopy 1000:1001\n")]);
  assert.is(result.status, 2);
  assert.is(result.stdout, "");
  assert.ok(result.stderr.startsWith("syntax.tzs:2:9: mkflash: unknown option -nocopy"));
  assert.ok(result.stderr.endsWith("mkflash -nocopy 1000:1001\n        ^\n"));
});

Cli("should run commands piped to standard input as a script", () => {
  const result = tzero([], "mkfbvol -cap 256 -type blocks 1000\nassert (lsfbvol).length == 1\nexpect error VOLUME_EXISTS mkfbvol -cap 1 1000\n");
  assert.is(result.status, 0, result.stderr);
  assert.ok(result.stdout.includes("CMUN02004E mkfbvol: volume 1000 already exists on IBM.2105-75TZ001"));
  const failed = tzero([], "showfbvol 1000\n");
  assert.is(failed.status, 6);
  assert.ok(failed.stderr.startsWith("<stdin>:1:11: CMUN02013E showfbvol: volume 1000 does not exist"));
});

Cli("should say plainly, exit 6, when the process may not reserve a storage image's memory", () => {
  for (const args of ["lsflash", "-script missing.tzs", ""]) {
    const command = `ulimit -v 3000000; exec "${process.execPath}" "${main}" ${args} < /dev/null`;
    const result = spawnSync("sh", ["-c", command], { cwd: folder, encoding: "utf8", timeout: 60_000 });
    if (args.startsWith("-script")) {
      assert.is(result.stderr, "tzero: cannot read script missing.tzs: no such file\n");
      continue;
    }
    assert.is(result.stderr.split("\n")[0], "tzero: NO_MEMORY: cannot reserve the 4 GiB of address space a storage image's memory needs (WebAssembly.Memory(): could not allocate memory); raise the process's memory limit (ulimit -v)");
    assert.is(result.status, 6, result.stderr);
  }
});

Cli("should read a -script FILE as a stream with the same checks: a device, a folder, a BOM", () => {
  const device = tzero(["-script", "/dev/zero"]);
  assert.is(device.stderr, "/dev/zero:1:1: unexpected control character U+0000 (is this a binary file?)\n");
  assert.is(device.status, 2);
  const directory = tzero(["-script", "."]);
  assert.is(directory.stderr, "tzero: cannot read script .: it is a folder, not a file\n");
  assert.is(directory.status, 2);
  const bom = tzero(["-script", script("bom.tzs", "\ufeffecho from a Windows editor\n")]);
  assert.is(bom.stdout, "from a Windows editor\n");
  assert.is(bom.status, 0, bom.stderr);
});

Cli("should run one command given on the command line", () => {
  const result = tzero(["help", "mkflash"]);
  assert.is(result.status, 0);
  assert.ok(result.stdout.startsWith("mkflash: establish FlashCopy pairs\nusage: mkflash"));
  assert.is(tzero(["lsflash"]).stdout, "CMUC00234I lsflash: No Flash Copy found.\n");
  // The command's own options are its own, not tzero's.
  const listing = tzero(["lsfbvol", "-fmt", "json", "-bnr", "off"]);
  assert.is(listing.status, 0, listing.stderr);
  assert.is(listing.stdout, "CMUC00234I lsfbvol: No FB Volume found.\n");
  const withState = tzero(["--state", "single.tz0", "lsflash", "-l"]);
  assert.ok(withState.stdout.startsWith("CMUC00234I lsflash: No Flash Copy found.\nCMUC09040I save:"), withState.stdout);
});

Cli("should exit 2 for a missing script or a bad option, and 0 for -help", () => {
  const missing = tzero(["-script", "nowhere.tzs"]);
  assert.is(missing.status, 2);
  assert.is(missing.stderr, "tzero: cannot read script nowhere.tzs: no such file\n");
  assert.is(tzero(["-script"]).status, 2);
  const help = tzero(["-help"]);
  assert.is(help.status, 0);
  assert.ok(help.stdout.startsWith("usage: tzero"));
});

Cli("should hand tzero bench to the benchmarks", () => {
  const result = tzero(["bench", "--list"]);
  assert.is(result.status, 0, result.stderr);
  assert.ok(result.stdout.length > 0);
});

Cli("should take a DS CLI profile with -cfg, and refuse a bad one with exit code 2", () => {
  script("site.profile", "devid: IBM.2107-75KDR91\nformat: delim\nbanner: off\nheader: off\nfullid: on\n");
  const result = tzero(["-cfg", "site.profile", "-script", script("cfg.tzs", "mkfbvol -extpool P1 -cap 1 0101\nlsfbvol -s\n")]);
  assert.is(result.stderr, "");
  assert.equal(result.stdout.trim().split("\n"), ["CMUC00025I mkfbvol: FB volume 0101 successfully created.", "IBM.2107-75KDR91/0101"]);
  script("bad.profile", "format: delim\nbogus: 1\n");
  const bad = tzero(["-cfg", "bad.profile", "-script", "cfg.tzs"]);
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /CMUN09060E profile bad\.profile:2: unknown key bogus/);
});

Cli.run();
