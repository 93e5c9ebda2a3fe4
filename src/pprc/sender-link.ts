// What both kinds of link have in common (link.ts in one process,
// tcp-link.ts to another node): a ring in the primary's memory
// (assembly/mirror.ts) drained by a sender thread, the commands the host
// posts to it, the thread's end (its thread ids reaped, the host told unless
// it was stopped) and its stop.
import { Worker, MessageChannel, type MessagePort } from "node:worker_threads";
import { LinkState } from "../core/codes.js";
import type { StorageImage } from "../engine/image.js";
import { EngineError } from "../engine/errors.js";
import { EXIT_CODE_ABORTED, type LinkPair } from "./link-messages.js";

const STOP_TIMEOUT_MS = 5_000;

export interface LinkHandlers {
  copyFailed(primarySlot: number, code: number): void;
  failed(reason: string): void; // the sender thread aborted or ended: the link is down
}

// The commands and reports every sender thread understands, beside its own.
type BaseCommand = { type: "pairs"; pairs: LinkPair[] } | { type: "stop" };
type BaseReport = { type: "ready" } | { type: "copy-failed"; primarySlot: number; code: number } | { type: "abort"; message: string };

export abstract class SenderLink<Command extends { type: string }, Report extends { type: string }> {
  readonly ring: number;
  protected readonly primaryThreadId: number;
  protected stopping = false;
  // Why the sender thread ended on its own (an abort), or null.
  protected aborted: string | null = null;
  private readonly commands = new MessageChannel();
  private worker: Worker | null = null;
  private exited: Promise<number> = Promise.resolve(0);

  constructor(readonly primary: StorageImage, secondaryImageId: string, ackTimeoutMs: number, protected readonly handlers: LinkHandlers) {
    this.ring = primary.core.exports.ring_create();
    if (this.ring === 0) throw new EngineError("NO_SPACE", `storage image ${primary.id} has no room for a link ring to ${secondaryImageId}`);
    primary.core.exports.ring_set_ack_timeout(this.ring, ackTimeoutMs);
    this.primaryThreadId = primary.threadIds.take();
  }

  // Starts the sender thread `script` with `data` and the command port as its workerData.
  protected start<Data extends { commands: MessagePort }>(script: URL, data: Omit<Data, "commands">): void {
    const workerData = { ...data, commands: this.commands.port2 } as Data;
    const worker = new Worker(script, { workerData, transferList: [this.commands.port2] });
    worker.on("message", (message: Report | BaseReport) => this.onBaseReport(message));
    worker.once("error", (error) => { this.aborted ??= `the link's sender thread failed: ${error.message}`; });
    this.exited = new Promise((resolve) => worker.once("exit", (code) => resolve(code)));
    void this.exited.then((code) => this.onExit(code));
    worker.unref();
    this.commands.port1.unref();
    this.worker = worker;
  }

  private onBaseReport(message: Report | BaseReport): void {
    const base = message as BaseReport;
    if (base.type === "copy-failed") this.handlers.copyFailed(base.primarySlot, base.code);
    else if (base.type === "abort") this.aborted = `the link's sender thread aborted: ${base.message}`;
    else if (base.type !== "ready") this.onReport(message as Report);
  }

  // A report of this kind of link's own.
  protected abstract onReport(message: Report): void;

  // The link is down first (writers then fail fast), then the thread's ids go back, their locks and gate bits reaped (a killed sender may hold a track).
  private onExit(code: number): void {
    if (!this.primary.isClosed) this.primary.core.exports.ring_set_link(this.ring, LinkState.DOWN);
    for (const [image, id] of this.threads()) {
      if (image.isClosed) continue;
      image.core.exports.reap_thread(id);
      image.threadIds.release(id);
    }
    this.ended();
    if (this.stopping) return;
    this.aborted ??= code === EXIT_CODE_ABORTED ? "the link's sender thread aborted" : `the link's sender thread ended (exit code ${code})`;
    this.handlers.failed(this.aborted);
  }

  // The thread ids the sender thread holds in each image.
  protected threads(): Array<readonly [StorageImage, number]> {
    return [[this.primary, this.primaryThreadId]];
  }

  // The sender thread has ended, stopped or not.
  protected ended(): void {}

  // The link state the ring keeps when the host rings its doorbell.
  protected abstract doorbellState(): number;

  // Fault injection and failed paths: while down, writes fail fast and copies stop.
  abstract setUp(up: boolean): void;

  setPairs(pairs: LinkPair[]): void {
    this.send({ type: "pairs", pairs });
  }

  protected send(command: Command | BaseCommand): void {
    this.commands.port1.postMessage(command);
    // Wakes an idle sender: the doorbell is what it waits on.
    if (!this.primary.isClosed) this.primary.core.exports.ring_set_link(this.ring, this.doorbellState());
  }

  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.setUp(false);
    this.send({ type: "stop" });
    const worker = this.worker;
    const timer = setTimeout(() => void worker?.terminate(), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }
}
