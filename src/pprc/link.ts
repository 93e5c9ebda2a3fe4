// A link in one process: from a primary image to a secondary image, its ring
// in the primary's memory (assembly/mirror.ts) and its sender thread
// (link-worker.ts). Every pair from a volume of the one image to a volume of
// the other goes over it; the cross-process link later replaces the sender's
// apply with a TCP send, the ring staying as it is.
import { Worker } from "node:worker_threads";
import { MessageChannel } from "node:worker_threads";
import { ACK_TIMEOUT_MS, LinkState } from "../core/codes.js";
import type { StorageImage } from "../engine/image.js";
import { EngineError } from "../engine/errors.js";
import { EXIT_CODE_ABORTED, type LinkCommand, type LinkPair, type LinkReport, type LinkWorkerData } from "./link-messages.js";

const STOP_TIMEOUT_MS = 5_000;

export interface LinkHandlers {
  copyFailed(primarySlot: number, code: number): void;
  failed(reason: string): void; // the sender thread aborted or ended: the link is down
}

export class Link {
  readonly ring: number;
  private readonly worker: Worker;
  private readonly commands: MessageChannel;
  private readonly primaryThreadId: number;
  private readonly secondaryThreadId: number;
  private readonly exited: Promise<number>;
  private stopping = false;
  private up = true;
  // Why the sender thread ended on its own (an abort), or null.
  failure: string | null = null;

  constructor(
    readonly primary: StorageImage,
    readonly secondary: StorageImage,
    private readonly handlers: LinkHandlers,
    ackTimeoutMs = ACK_TIMEOUT_MS,
  ) {
    this.ring = primary.core.exports.ring_create();
    if (this.ring === 0) throw new EngineError("NO_SPACE", `storage image ${primary.id} has no room for a link ring to ${secondary.id}`);
    primary.core.exports.ring_set_ack_timeout(this.ring, ackTimeoutMs);
    this.primaryThreadId = primary.threadIds.take();
    this.secondaryThreadId = secondary.threadIds.take();
    this.commands = new MessageChannel();
    const workerData: LinkWorkerData = {
      primaryMemory: primary.memory, secondaryMemory: secondary.memory, module: primary.core.module,
      primaryThreadId: this.primaryThreadId, secondaryThreadId: this.secondaryThreadId, ring: this.ring,
      commands: this.commands.port2,
    };
    this.worker = new Worker(new URL("./link-worker.js", import.meta.url), { workerData, transferList: [this.commands.port2] });
    this.worker.on("message", (message: LinkReport) => this.onReport(message));
    this.worker.once("error", (error) => {
      this.failure ??= `the link's sender thread failed: ${error.message}`;
    });
    this.exited = new Promise((resolve) => this.worker.once("exit", (code) => resolve(code)));
    void this.exited.then((code) => this.onExit(code));
    this.worker.unref();
    this.commands.port1.unref();
  }

  private onReport(message: LinkReport): void {
    if (message.type === "copy-failed") this.handlers.copyFailed(message.primarySlot, message.code);
    else if (message.type === "abort") this.failure = `the link's sender thread aborted: ${message.message}`;
  }

  private onExit(code: number): void {
    this.release();
    if (this.stopping) return;
    this.failure ??= code === EXIT_CODE_ABORTED ? "the link's sender thread aborted" : `the link's sender thread ended (exit code ${code})`;
    this.setUp(false);
    this.handlers.failed(this.failure);
  }

  // Thread ids go back, their locks and gate bits reaped (a killed sender may hold a track).
  private release(): void {
    for (const [image, id] of [[this.primary, this.primaryThreadId], [this.secondary, this.secondaryThreadId]] as const) {
      if (image.isClosed) continue;
      image.core.exports.reap_thread(id);
      image.threadIds.release(id);
    }
  }

  get isUp(): boolean {
    return this.up && this.failure === null;
  }

  // Fault injection and failed paths: while down, writes fail fast and copies stop.
  setUp(up: boolean): void {
    this.up = up;
    if (!this.primary.isClosed) this.primary.core.exports.ring_set_link(this.ring, up ? LinkState.UP : LinkState.DOWN);
  }

  setPairs(pairs: LinkPair[]): void {
    this.send({ type: "pairs", pairs });
  }

  private send(command: LinkCommand): void {
    this.commands.port1.postMessage(command);
    // Wakes an idle sender: the doorbell is what it waits on.
    if (!this.primary.isClosed) this.primary.core.exports.ring_set_link(this.ring, this.up && this.failure === null ? LinkState.UP : LinkState.DOWN);
  }

  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.setUp(false);
    this.send({ type: "stop" });
    const timer = setTimeout(() => void this.worker.terminate(), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }
}
