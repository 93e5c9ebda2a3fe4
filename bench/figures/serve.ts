// The site's server as real `tzero serve` processes on loopback.
//
// - serve.command: a mkfbvol + rmfbvol pair (createVolumes then removeVolumes
//   of one volume) through a primary server in another process, over its REST
//   API (login once; each change journaled with an fsync before it is
//   answered), against the same pair on an EmbeddedSite in this process.
//   Ratio = embedded median / server median per round: reported, no bar.
// - serve.takeover: a primary and its backup; the primary is killed with
//   kill -9 and the time is taken until the backup accepts its first command
//   (a login and a mkfbvol answered 201). The bar (design.md §11): within the
//   heartbeat timeout + 1 s. Ratio = bar / measured, so ≥ 1 meets it.
// Every answer is checked before it counts: the created volume is listed,
// then gone; the backup's volume is listed by the new primary.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EmbeddedSite, EMBEDDED_IMAGE_ID } from "../../src/site/embedded.js";
import { withTempDirectory } from "../harness/fixtures.js";
import { check, type FigureResult, type Suite, type SuiteContext } from "../harness/suite.js";
import { median, spreadOf, formatMs } from "../harness/stats.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const START_MS_MAX = 60_000;
const TAKEOVER_WAIT_MS_MAX = 60_000;
const PASSWORD = "Bench1pw";
const BAR_SLACK_MS = 1000;

export const serveSuite: Suite = {
  name: "serve",
  figures: ["serve.command", "serve.takeover"],
  async run(context) {
    return withTempDirectory("tzero-serve-bench-", async (folder) => {
      writeFileSync(join(folder, "admin.pw"), `${PASSWORD}\n`, { mode: 0o600 });
      return [await commandFigure(context, folder), await takeoverFigure(context, folder)];
    });
  },
};

// ---- processes --------------------------------------------------------------------------------

class Child {
  log = "";
  private readonly child: ChildProcess;

  constructor(args: string[], cwd: string) {
    this.child = spawn(process.execPath, [MAIN, "serve", "--listen", "0", "--workers", "0", ...args], { cwd, stdio: ["ignore", "ignore", "pipe"] });
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (text: string) => { this.log += text; });
  }

  get url(): string {
    return /listening on (\S+)/.exec(this.log)?.[1] ?? "";
  }

  // Polls the log (bounded) until `pattern` is in it.
  async waitFor(pattern: RegExp, timeoutMs = START_MS_MAX): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.log)) {
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`tzero serve did not log ${pattern}:\n${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

// ---- a REST client: a token, then one request at a time ---------------------------------------

async function login(url: string): Promise<string | null> {
  const reply = await fetch(`${url}/api/v1/tokens`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ request: { params: { username: "admin", password: PASSWORD } } }) });
  if (reply.status !== 200) return null;
  return ((await reply.json()) as { token: { token: string } }).token.token;
}

async function request(url: string, token: string, method: string, path: string, params?: Record<string, unknown>): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { "x-auth-token": token };
  if (params !== undefined) headers["content-type"] = "application/json";
  const reply = await fetch(`${url}/api/v1${path}`, { method, headers, body: params === undefined ? undefined : JSON.stringify({ request: { params } }) });
  return { status: reply.status, body: await reply.json() };
}

const createParams = (id: string) => ({ cap: "1", captype: "gib", pool: "P0", ids: [id] });

// ---- serve.command --------------------------------------------------------------------------------

async function commandFigure(context: SuiteContext, folder: string): Promise<FigureResult> {
  const rounds = context.quick ? 3 : 5;
  const count = context.quick ? 20 : 100;
  const primary = new Child(["--image", "IBM.2107-75BNCH1", "--server-state", join(folder, "command.server"), "--admin-password-file", join(folder, "admin.pw")], folder);
  const embedded = new EmbeddedSite({ workers: 0 });
  try {
    await primary.waitFor(/primary Copy Services Server/);
    const token = await login(primary.url);
    check(token !== null, "admin logs in with the --admin-password-file password");
    const server = async () => {
      check((await request(primary.url, token!, "POST", "/volumes", createParams("1000"))).status === 201, "the server created volume 1000");
      check((await request(primary.url, token!, "DELETE", "/volumes/1000")).status < 300, "the server removed volume 1000");
    };
    const local = async () => {
      await embedded.createVolumes(EMBEDDED_IMAGE_ID, { ids: ["1000"], capacity: 1, unit: "ds" });
      await embedded.removeVolumes(EMBEDDED_IMAGE_ID, ["1000"]);
    };
    await verifyServerPair(primary.url, token!);
    context.progress("serve: mkfbvol + rmfbvol through a tzero serve primary vs embedded");
    const serverMs: number[] = [];
    const embeddedMs: number[] = [];
    await roundMedian(count, server);
    await roundMedian(count, local);
    for (let round = 0; round < rounds; round++) {
      serverMs.push(await roundMedian(count, server));
      embeddedMs.push(await roundMedian(count, local));
    }
    const ratios = embeddedMs.map((value, index) => value / serverMs[index]);
    return {
      key: "serve.command", figure: "mkfbvol + rmfbvol through a tzero serve primary (REST, journaled) vs an EmbeddedSite in this process",
      value: `server ${span(serverMs)}, embedded ${span(embeddedMs)} per pair`,
      bar: "reported", ratio: median(ratios), spread: spreadOf(ratios), met: null,
      verified: "before timing, the server's volume 1000 was listed after the create and gone after the remove; every create answered 201",
      note: `ratio = embedded median / server median per round; medians of ${count} serial pairs per round, ${rounds} rounds`,
      details: { serverMs, embeddedMs, count, rounds },
    };
  } finally {
    primary.kill("SIGKILL");
    await embedded.close();
  }
}

async function verifyServerPair(url: string, token: string): Promise<void> {
  check((await request(url, token, "POST", "/volumes", createParams("1000"))).status === 201, "the server created volume 1000");
  const listed = await request(url, token, "GET", "/volumes");
  check(listed.body.data.volumes.some((volume: { id: string }) => volume.id === "1000"), "volume 1000 is listed after mkfbvol");
  const removed = await request(url, token, "DELETE", "/volumes/1000");
  check(removed.status < 300, `rmfbvol answered ${removed.status}`);
  const after = await request(url, token, "GET", "/volumes");
  check(!after.body.data.volumes.some((volume: { id: string }) => volume.id === "1000"), "volume 1000 is gone after rmfbvol");
}

async function roundMedian(count: number, once: () => Promise<void>): Promise<number> {
  const samples: number[] = [];
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    await once();
    samples.push(performance.now() - started);
  }
  return median(samples);
}

const span = (samples: number[]) => `${formatMs(median(samples))} (${formatMs(Math.min(...samples))}–${formatMs(Math.max(...samples))})`;

// ---- serve.takeover --------------------------------------------------------------------------------

async function takeoverFigure(context: SuiteContext, folder: string): Promise<FigureResult> {
  const rounds = context.quick ? 1 : 3;
  const heartbeatTimeoutMs = context.quick ? 1500 : 3000;
  const barMs = heartbeatTimeoutMs + BAR_SLACK_MS;
  const takeoverMs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    context.progress(`serve: takeover, round ${round + 1} of ${rounds} (heartbeat timeout ${heartbeatTimeoutMs} ms)`);
    takeoverMs.push(await oneTakeover(join(folder, `takeover-${round}`), heartbeatTimeoutMs));
  }
  const ratios = takeoverMs.map((ms) => barMs / ms);
  return {
    key: "serve.takeover", figure: "backup takeover: kill -9 of the primary to the first command accepted by the backup",
    value: `${span(takeoverMs)} (heartbeat timeout ${heartbeatTimeoutMs} ms)`,
    bar: `≤ heartbeat timeout + 1 s (${formatMs(barMs)})`, ratio: median(ratios), spread: spreadOf(ratios), met: Math.min(...ratios) >= 1,
    verified: "the backup was in step before the kill; after it, its term was above the primary's and the volume it accepted is listed",
    note: `ratio = bar / measured per round, ${rounds} round${rounds === 1 ? "" : "s"}; met only when every round is within the bar`,
    details: { takeoverMs, heartbeatTimeoutMs, rounds },
  };
}

async function oneTakeover(folder: string, heartbeatTimeoutMs: number): Promise<number> {
  mkdirSync(folder);
  const common = ["--heartbeat-timeout-ms", String(heartbeatTimeoutMs), "--admin-password-file", join(folder, "..", "admin.pw")];
  const primary = new Child([...common, "--image", "IBM.2107-75BNCHA", "--server-state", join(folder, "a.server")], folder);
  let backup: Child | null = null;
  try {
    await primary.waitFor(/primary Copy Services Server, term 1/);
    backup = new Child([...common, "--image", "IBM.2107-75BNCHB", "--join", primary.url, "--backup", "--site-key-file", join(folder, "a.server", "site.key"), "--server-state", join(folder, "b.server")], folder);
    await primary.waitFor(/backup IBM\.2107-75BNCHB in step/);
    await backup.waitFor(/registered with/);
    const killedAt = performance.now();
    primary.kill("SIGKILL");
    const acceptedAt = await firstAccepted(backup.url);
    await backup.waitFor(/took over as primary with term 2/);
    return acceptedAt - killedAt;
  } finally {
    primary.kill("SIGKILL");
    backup?.kill("SIGKILL");
  }
}

// Polls the backup with a login and a mkfbvol until one is accepted; the time of that answer.
async function firstAccepted(url: string): Promise<number> {
  const deadline = performance.now() + TAKEOVER_WAIT_MS_MAX;
  while (performance.now() < deadline) {
    const token = await login(url).catch(() => null);
    if (token !== null) {
      const created = await request(url, token, "POST", "/volumes", createParams("2000"));
      if (created.status === 201) {
        const at = performance.now();
        const listed = await request(url, token, "GET", "/volumes");
        check(listed.body.data.volumes.some((volume: { id: string }) => volume.id === "2000"), "the backup's new volume is listed");
        return at;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`the backup accepted no command within ${TAKEOVER_WAIT_MS_MAX} ms of the kill`);
}
