// `tzero -hmc1 HOST[:PORT] [-hmc2 ...] -user NAME (-passwd P | -pwfile F)`
// as a process, against a Copy Services Server's /cs/shell endpoint in this
// test's process: one command, a script, DS CLI's exit codes (3 no server,
// 5 login refused, 2 usage), -hmc2 when -hmc1 is dead, and the password
// never in what the process prints.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { serveShellEndpoint, startServer, type ShellServerHandle, type TestServer } from "../support/shell-server.js";

const main = join(process.cwd(), "dist", "src", "cli", "main.js");
const folder = mkdtempSync(join(tmpdir(), "tzero-remote-"));
let engine: EmbeddedSite;
let css: TestServer;
let server: ShellServerHandle;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

// Runs the CLI without blocking this process, which serves it.
function tzero(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [main, ...args], { cwd: folder, encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
    });
    child.stdin!.end(input ?? "");
  });
}

function hmc(port = server.port): string {
  return `127.0.0.1:${port}`;
}

function admin(): string[] {
  return ["-user", "admin", "-passwd", css.adminPassword];
}

const Remote = suite("tzero -hmc1");
Remote.before.each(async () => {
  engine = new EmbeddedSite({ workers: 0 });
  css = await startServer(engine);
  server = await serveShellEndpoint(css.backend);
});
Remote.after.each(async () => {
  await server.close();
  await css.close();
  await engine.close();
});
Remote.after(() => rmSync(folder, { recursive: true, force: true }));

Remote("should run one command on the server's site, printing what the embedded shell prints", async () => {
  const made = await tzero(["-hmc1", hmc(), ...admin(), "mkfbvol", "-cap", "1", "-name", "prod", "1000"]);
  assert.is(made.stderr, "");
  assert.is(made.status, 0);
  assert.is(made.stdout, "CMUC00025I mkfbvol: FB volume 1000 successfully created.\n");
  assert.equal((await engine.listVolumes("IBM.2105-75TZ001")).map((volume) => volume.name), ["prod"]);
  const listed = await tzero(["-hmc1", hmc(), ...admin(), "lsfbvol", "-bnr", "off", "-fmt", "delim", "-hdr", "off"]);
  assert.is(listed.status, 0, listed.stderr);
  assert.match(listed.stdout, /^prod,1000,Online,Normal,/);
});

Remote("should run a script, users and all, and leave the server's workloads running when it ends", async () => {
  writeFileSync(join(folder, "users.tzs", ), [
    "mkuser -pw ab1cdefg -group op_copy_services,monitor cody",
    "lsuser -bnr off",
    "showuser -bnr off cody",
    "chuser -group monitor cody",
    "rmuser -quiet cody",
    "mkfbvol -cap 1 1000",
    "workload start busy -vol 1000 -rw write -pattern random -bs 4KiB -iops 50 -seed 3",
  ].join("\n"));
  const result = await tzero(["-hmc1", hmc(), ...admin(), "-script", "users.tzs"]);
  assert.is(result.stderr, "");
  assert.is(result.status, 0);
  const lines = result.stdout.split("\n");
  assert.is(lines[0], "CMUC00133I mkuser: User cody successfully created.");
  assert.equal(lines[1].trim().split(/\s+/), ["Name", "Group", "State"]);
  assert.match(lines[2], /^=+$/);
  assert.equal([lines[3], lines[4]].map((line) => line.trim().split(/\s+/)), [["admin", "admin", "active"], ["cody", "op_copy_services,monitor", "active"]]);
  assert.ok(result.stdout.includes("Group       op_copy_services,monitor\n") || /Group\s+op_copy_services,monitor\n/.test(result.stdout), "showuser");
  assert.ok(result.stdout.includes("CMUC00134I chuser: User cody successfully modified.\n"));
  assert.ok(result.stdout.includes("CMUC00136I rmuser: User cody successfully deleted.\n"));
  assert.equal((await engine.listWorkloads()).map((workload) => workload.running), [true], "the workload outlives the shell");
  await engine.stopWorkloads();
});

Remote("should exit 5 when the login is refused, never printing the password", async () => {
  const result = await tzero(["-hmc1", hmc(), "-user", "admin", "-passwd", "n0tthe1pw", "lsfbvol"]);
  assert.is(result.status, 5);
  assert.match(result.stderr, /AUTHENTICATION_FAILED: 127\.0\.0\.1:\d+: the user name or the password is wrong/);
  assert.not.ok(result.stderr.includes("n0tthe1pw") || result.stdout.includes("n0tthe1pw"));
});

Remote("should exit 3 when no server answers, naming both", async () => {
  const dead = await serveShellEndpoint(css.backend);
  await dead.close();
  const result = await tzero(["-hmc1", hmc(dead.port), "-hmc2", hmc(dead.port), ...admin(), "lsfbvol"]);
  assert.is(result.status, 3);
  assert.match(result.stderr, /CONNECTION_FAILED: no Copy Services Server answered: 127\.0\.0\.1:\d+: connect ECONNREFUSED [^;]*; 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
  assert.not.ok(result.stderr.includes(css.adminPassword));
});

Remote("should work through -hmc2 when -hmc1 is dead", async () => {
  const dead = await serveShellEndpoint(css.backend);
  await dead.close();
  const result = await tzero(["-hmc1", hmc(dead.port), "-hmc2", hmc(), ...admin(), "mkfbvol", "-cap", "1", "1000"]);
  assert.is(result.stderr, "");
  assert.is(result.status, 0);
  assert.equal((await engine.listVolumes("IBM.2105-75TZ001")).map((volume) => volume.id), ["1000"]);
});

Remote("should read the password from -pwfile, and refuse one that others may read", async () => {
  const file = join(folder, "admin.pw");
  writeFileSync(file, `${css.adminPassword}\n`);
  chmodSync(file, 0o644);
  const open = await tzero(["-hmc1", hmc(), "-user", "admin", "-pwfile", file, "lssi", "-s", "-bnr", "off"]);
  assert.is(open.status, 2);
  assert.match(open.stderr, /-pwfile .*admin\.pw may be read by others \(mode 644\); chmod 600/);
  chmodSync(file, 0o600);
  const result = await tzero(["-hmc1", hmc(), "-user", "admin", "-pwfile", file, "lssi", "-s", "-bnr", "off"]);
  assert.is(result.stderr, "");
  assert.is(result.status, 0);
  assert.match(result.stdout, /IBM\.2105-75TZ001/);
});

Remote("should exit 2 for -hmc1 without -user, without a password, with both, or with --state", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["-hmc1", hmc(), "lssi"], /-hmc1 needs -user NAME/],
    [["-hmc1", hmc(), "-user", "admin", "lssi"], /needs one of -passwd PASSWORD and -pwfile FILE/],
    [["-hmc1", hmc(), "-user", "admin", "-passwd", "x", "-pwfile", "f", "lssi"], /needs one of -passwd/],
    [["-user", "admin", "-passwd", "x", "lssi"], /-user needs -hmc1/],
    [["-hmc1", "not a host", "-user", "admin", "-passwd", "x", "lssi"], /-hmc1 "not a host" is not HOST or HOST:PORT/],
    [["--state", "s.tz0", "-hmc1", hmc(), ...admin(), "lssi"], /--state saves this process's storage images/],
  ];
  for (const [args, expected] of cases) {
    const result = await tzero(args);
    assert.is(result.status, 2, args.join(" "));
    assert.match(result.stderr, expected);
  }
});

Remote("should exit 6 with a clear message when a monitor runs mkfbvol, and change nothing", async () => {
  await css.addUser("watcher", "watch1ng", "monitor");
  const result = await tzero(["-hmc1", hmc(), "-user", "watcher", "-passwd", "watch1ng", "mkfbvol", "-cap", "1", "1000"]);
  assert.is(result.status, 6);
  assert.match(result.stderr, /CMUN04008E mkfbvol: watcher \(group monitor\) may not run volume commands/);
  assert.equal(await engine.listVolumes("IBM.2105-75TZ001"), []);
});

Remote.run();
