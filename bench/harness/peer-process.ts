// The primary's side of a secondary's node in a child process
// (bench/workers/secondary-node.ts), for the link bench and the link tests:
// its hello line, one JSON answer per JSON request, and a link to it.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface, type Interface } from "node:readline";
import type { StorageImage } from "../../src/engine/image.js";
import { TcpLink } from "../../src/pprc/tcp-link.js";

export class PeerProcess<Hello> {
  private readonly answers: string[] = [];
  private waiting: ((line: string) => void) | null = null;

  private constructor(readonly child: ChildProcess, readonly hello: Hello, private readonly lines: Interface) {
    lines.on("line", (line) => {
      const wake = this.waiting;
      this.waiting = null;
      if (wake) wake(line);
      else this.answers.push(line);
    });
  }

  // Runs `script` with `argv` and waits for its hello line.
  static async start<Hello>(script: string, argv: string[], stderr: "inherit" | "ignore"): Promise<PeerProcess<Hello>> {
    const child = spawn(process.execPath, [script, ...argv], { stdio: ["pipe", "pipe", stderr] });
    const lines = createInterface({ input: child.stdout! });
    const first = await new Promise<string>((resolve, reject) => {
      lines.once("line", resolve);
      child.once("exit", (code, signal) => reject(new Error(`the peer ${script} exited (${code ?? signal}) before it listened`)));
    });
    return new PeerProcess(child, JSON.parse(first) as Hello, lines);
  }

  async ask<T>(request: Record<string, unknown>): Promise<T> {
    this.child.stdin!.write(`${JSON.stringify(request)}\n`);
    const line = this.answers.shift() ?? await new Promise<string>((resolve) => { this.waiting = resolve; });
    const answer = JSON.parse(line) as T & { error?: string };
    if (answer.error) throw new Error(answer.error);
    return answer;
  }

  // Resolves once the process is gone (SIGKILL, SIGTERM), or at once for a signal it survives (SIGSTOP).
  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill(signal);
    this.lines.close();
    return signal === "SIGKILL" || signal === "SIGTERM" ? gone : Promise.resolve();
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
}

export interface PeerLinkOptions {
  port: number; // the peer's link receiver
  siteKey: Uint8Array;
  nodeId: string;
  secondaryImageId: string;
  ackTimeoutMs: number;
  gatherGapMs?: number; // TcpLinkOptions.gatherGapMs
}

// A link from `image` to the peer, connected once; every failure it reports lands in `failures`.
export async function linkToPeer(image: StorageImage, options: PeerLinkOptions): Promise<{ link: TcpLink; failures: string[] }> {
  const failures: string[] = [];
  const link = new TcpLink(image, {
    endpoint: { host: "127.0.0.1", port: options.port }, siteKey: options.siteKey, nodeId: options.nodeId,
    secondaryImageId: options.secondaryImageId, ackTimeoutMs: options.ackTimeoutMs, gatherGapMs: options.gatherGapMs,
  }, {
    copyFailed: (slot, code) => failures.push(`copy of slot ${slot} failed: ${code}`),
    failed: (reason) => failures.push(reason),
  });
  await link.connectedOnce();
  if (!link.isUp) {
    await link.close();
    throw new Error(`the link to the peer is not up: ${link.failure}`);
  }
  return { link, failures };
}
