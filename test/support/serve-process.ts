// `tzero serve` children for the process tests: each on a port of its own
// choosing (--listen 0), its stderr log kept and watched line by line, so a
// test waits for an event ("node X joined") rather than for a time.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";

export const MAIN = join(process.cwd(), "dist", "src", "cli", "main.js");
export const WAIT_MS_DEFAULT = 20_000;

export class ServeProcess {
  log = "";
  stdout = "";
  url = "";
  private readonly child: ChildProcess;
  private readonly watchers: Array<() => void> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly args: readonly string[], cwd: string) {
    this.child = spawn(process.execPath, [MAIN, "serve", ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stderr!.setEncoding("utf8");
    this.child.stdout!.setEncoding("utf8");
    this.child.stdout!.on("data", (text: string) => { this.stdout += text; });
    this.child.stderr!.on("data", (text: string) => {
      this.log += text;
      this.url ||= /listening on (\S+)/.exec(this.log)?.[1] ?? "";
      for (const wake of this.watchers.splice(0)) wake();
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => {
      for (const wake of this.watchers.splice(0)) wake();
      resolve({ code, signal });
    }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  // Resolves once the log has `count` lines matching `pattern`; fails naming it after `timeoutMs` or when the process ends.
  async waitFor(pattern: RegExp, count = 1, timeoutMs = WAIT_MS_DEFAULT): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.log.split("\n").filter((line) => pattern.test(line));
      if (lines.length >= count) return lines[count - 1];
      if (!this.running) throw new Error(`tzero serve ${this.args.join(" ")} ended before logging ${pattern} (${count}x):\n${this.log}`);
      if (Date.now() >= deadline) throw new Error(`tzero serve ${this.args.join(" ")} did not log ${pattern} (${count}x) within ${timeoutMs} ms:\n${this.log}`);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, Math.min(200, Math.max(1, deadline - Date.now())));
        this.watchers.push(() => { clearTimeout(timer); wake(); });
      });
    }
  }

  async listening(): Promise<string> {
    await this.waitFor(/listening on /);
    return this.url;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.kill("SIGTERM");
    return this.exited;
  }
}

// A folder for a test's state files, and every child started in it, all cleaned up by `close`.
export class ServeSandbox {
  readonly folder = mkdtempSync(join(tmpdir(), "tzero-serve-"));
  private readonly children: ServeProcess[] = [];

  path(name: string): string {
    return join(this.folder, name);
  }

  start(...args: string[]): ServeProcess {
    const child = new ServeProcess(["--listen", "0", "--heartbeat-timeout-ms", "1500", "--workers", "1", ...args], this.folder);
    this.children.push(child);
    return child;
  }

  async close(): Promise<void> {
    for (const child of this.children) child.kill("SIGKILL");
    await Promise.all(this.children.map((child) => child.exited));
    rmSync(this.folder, { recursive: true, force: true });
  }
}

// A TCP port free on the loopback now, for a child's --link-listen (it may be taken again before the child binds it).
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
