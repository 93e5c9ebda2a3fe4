// The console's server side in a real `tzero serve`: a REST login's token
// opens /cs/events, changes made by `tzero -hmc1` (a command line, then a
// script on stdin) arrive as events saying so, /cs/console/run answers, and
// the event log is there again after a restart.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { MAIN, ServeSandbox } from "../../support/serve-process.js";
import { StreamClient } from "./support.js";

const IMAGE = "IBM.2107-75SITEA";
const PASSWORD = "Adm1npass";

// Runs `tzero ARGS` with `input` on its stdin; resolves with its exit code and output.
function tzero(args: string[], input = ""): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => { stdout += text; });
    child.stderr.setEncoding("utf8").on("data", (text: string) => { stderr += text; });
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

async function login(url: string): Promise<string> {
  const reply = await fetch(`${url}/api/v1/tokens`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ request: { params: { username: "admin", password: PASSWORD } } }) });
  assert.is(reply.status, 200, await reply.clone().text());
  return ((await reply.json()) as { token: { token: string } }).token.token;
}

const Serve = suite("the console's routes in tzero serve");

Serve("should stream the changes of a DS CLI command line and a script, run a console command, and keep the log across a restart", async () => {
  const sandbox = new ServeSandbox();
  let client: StreamClient | null = null;
  try {
    writeFileSync(sandbox.path("admin.pw"), `${PASSWORD}\n`, { mode: 0o600 });
    const args = ["--image", IMAGE, "--server-state", sandbox.path("a.server"), "--admin-password-file", sandbox.path("admin.pw")];
    const primary = sandbox.start(...args);
    await primary.waitFor(/primary Copy Services Server/);
    const { port } = new URL(primary.url);
    const token = await login(primary.url);
    client = await StreamClient.ready(Number(port), token);
    const hmc = ["-hmc1", `127.0.0.1:${port}`, "-user", "admin", "-passwd", PASSWORD];
    const single = await tzero([...hmc, "mkfbvol", "-dev", IMAGE, "-cap", "1", "1000"]);
    assert.is(single.code, 0, single.stderr);
    const fromShell = await client.next((message) => message.kind === "volume.created", "the command line's event");
    assert.equal([fromShell.user, fromShell.source, fromShell.image, fromShell.ids], ["admin", "shell", IMAGE, ["1000"]]);
    const script = await tzero(hmc, `mkfbvol -dev ${IMAGE} -cap 1 1001\n`);
    assert.is(script.code, 0, script.stderr);
    const fromScript = await client.next((message) => message.kind === "volume.created" && (message.ids as string[])[0] === "1001", "the script's event");
    assert.is(fromScript.source, "script");
    const run = await fetch(`${primary.url}/cs/console/run`, { method: "POST", headers: { "content-type": "application/json", "x-auth-token": token }, body: JSON.stringify({ command: `lsfbvol -dev ${IMAGE}` }) });
    const result = (await run.json()) as { exitCode: number; output: string[]; errors: string[] };
    assert.is(result.exitCode, 0, JSON.stringify(result));
    assert.ok(result.output.some((line) => /\b1000\b/.test(line)) && result.output.some((line) => /\b1001\b/.test(line)), result.output.join("\n"));
    client.close();
    await client.closed;
    assert.is((await primary.stop()).code, 0);
    const again = sandbox.start(...args);
    await again.waitFor(/primary Copy Services Server/);
    const newToken = await login(again.url);
    const log = await fetch(`${again.url}/cs/console/events?since=0&limit=2000`, { headers: { "x-auth-token": newToken } });
    const events = ((await log.json()) as { events: Array<{ kind: string; source: string; ids: string[]; seq: number }> }).events;
    assert.equal(events.filter((event) => event.kind === "volume.created").map((event) => [event.source, event.ids]), [["shell", ["1000"]], ["script", ["1001"]]]);
    assert.is(events.filter((event) => event.kind === "node.joined").length, 2, "one joining per start");
    const missing = await fetch(`${again.url}/cs/console/events`);
    assert.is(missing.status, 401);
  } finally {
    client?.close();
    await sandbox.close();
  }
});

Serve.run();
