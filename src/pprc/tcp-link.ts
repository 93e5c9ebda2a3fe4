// A link from a primary image of this process to a secondary image of
// another node (design.md §7): its ring in the primary's memory, as an
// in-process link has (link.ts), drained by a sender thread that sends over
// TCP to the secondary's node (tcp-link-worker.ts). The path it carries is
// Success while the connection is open and the host has not cut it; a lost
// connection suspends the link's pairs, and the sender dials again on its own,
// so that resumepprc works once the peer is back.
import { Worker, MessageChannel } from "node:worker_threads";
import { ACK_TIMEOUT_MS, LinkState } from "../core/codes.js";
import type { StorageImage } from "../engine/image.js";
import { EngineError } from "../engine/errors.js";
import { EXIT_CODE_ABORTED, type LinkPair } from "./link-messages.js";
import type { LinkHandlers } from "./link.js";
import { LINK_HEARTBEAT_INTERVAL_MS, LINK_HEARTBEAT_TIMEOUT_MS, type LinkEndpoint } from "./link-protocol.js";
import type { TcpLinkCommand, TcpLinkReport, TcpLinkWorkerData } from "./tcp-link-messages.js";

const STOP_TIMEOUT_MS = 5_000;

export interface TcpLinkOptions {
  endpoint: LinkEndpoint;
  siteKey: Uint8Array;
  nodeId: string; // this node, as the receiver sees it
  secondaryImageId: string;
  ackTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
}

export class TcpLink {
  readonly ring: number;
  readonly secondaryImageId: string;
  private readonly worker: Worker;
  private readonly commands: MessageChannel;
  private readonly primaryThreadId: number;
  private readonly exited: Promise<number>;
  private readonly firstAttempt: Promise<void>;
  private settleFirstAttempt!: () => void;
  private stopping = false;
  private hostUp = true;
  private connected = false;
  private downReason = "not connected yet";
  private aborted: string | null = null;
  peer: string | null = null; // the receiving node's id, once connected

  constructor(readonly primary: StorageImage, private readonly options: TcpLinkOptions, private readonly handlers: LinkHandlers) {
    this.secondaryImageId = options.secondaryImageId;
    this.ring = primary.core.exports.ring_create();
    if (this.ring === 0) throw new EngineError("NO_SPACE", `storage image ${primary.id} has no room for a link ring to ${options.secondaryImageId}`);
    primary.core.exports.ring_set_ack_timeout(this.ring, options.ackTimeoutMs ?? ACK_TIMEOUT_MS);
    // Down until the sender has connected: a write before then fails fast.
    primary.core.exports.ring_set_link(this.ring, LinkState.DOWN);
    this.primaryThreadId = primary.threadIds.take();
    this.commands = new MessageChannel();
    this.firstAttempt = new Promise((resolve) => { this.settleFirstAttempt = resolve; });
    const workerData: TcpLinkWorkerData = {
      primaryMemory: primary.memory, module: primary.core.module, primaryThreadId: this.primaryThreadId, ring: this.ring,
      commands: this.commands.port2, endpoint: options.endpoint, siteKey: options.siteKey, nodeId: options.nodeId,
      primaryImageId: primary.id, secondaryImageId: options.secondaryImageId,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? LINK_HEARTBEAT_INTERVAL_MS, heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? LINK_HEARTBEAT_TIMEOUT_MS,
    };
    this.worker = new Worker(new URL("./tcp-link-worker.js", import.meta.url), { workerData, transferList: [this.commands.port2] });
    this.worker.on("message", (message: TcpLinkReport) => this.onReport(message));
    this.worker.once("error", (error) => { this.aborted ??= `the link's sender thread failed: ${error.message}`; });
    this.exited = new Promise((resolve) => this.worker.once("exit", (code) => resolve(code)));
    void this.exited.then((code) => this.onExit(code));
    this.worker.unref();
    this.commands.port1.unref();
  }

  private onReport(message: TcpLinkReport): void {
    if (message.type === "up") {
      this.connected = true;
      this.peer = message.peer;
      this.settleFirstAttempt();
    } else if (message.type === "down") {
      const wasUp = this.connected;
      this.connected = false;
      this.downReason = message.reason;
      this.settleFirstAttempt();
      if (wasUp && !this.stopping) this.handlers.failed(`the link to ${this.secondaryImageId} was lost: ${message.reason}`);
    } else if (message.type === "copy-failed") this.handlers.copyFailed(message.primarySlot, message.code);
    else if (message.type === "abort") this.aborted = `the link's sender thread aborted: ${message.message}`;
  }

  private onExit(code: number): void {
    if (!this.primary.isClosed) {
      this.primary.core.exports.ring_set_link(this.ring, LinkState.DOWN);
      this.primary.core.exports.reap_thread(this.primaryThreadId);
      this.primary.threadIds.release(this.primaryThreadId);
    }
    this.settleFirstAttempt();
    if (this.stopping) return;
    this.aborted ??= code === EXIT_CODE_ABORTED ? "the link's sender thread aborted" : `the link's sender thread ended (exit code ${code})`;
    this.handlers.failed(this.aborted);
  }

  // Resolves once the sender has tried to connect once (a new path then shows Success or why not).
  connectedOnce(): Promise<void> {
    return this.firstAttempt;
  }

  get isUp(): boolean {
    return this.hostUp && this.connected && this.aborted === null;
  }

  // Why the path is Failed; null while up, or while cut by the host (then it is just Down).
  get failure(): string | null {
    if (this.aborted !== null) return this.aborted;
    return this.hostUp && !this.connected ? this.downReason : null;
  }

  // Fault injection and failed paths: while down, writes fail fast and copies stop.
  setUp(up: boolean): void {
    this.hostUp = up;
    if (!up && !this.primary.isClosed) this.primary.core.exports.ring_set_link(this.ring, LinkState.DOWN);
    this.send({ type: "up", up });
  }

  setPairs(pairs: LinkPair[]): void {
    this.send({ type: "pairs", pairs });
  }

  private send(command: TcpLinkCommand): void {
    this.commands.port1.postMessage(command);
    // Wakes an idle sender: the doorbell is what it waits on. The state stays as the sender last set it.
    if (!this.primary.isClosed) {
      const state = Atomics.load(new Int32Array(this.primary.memory.buffer), (this.ring + 8) >>> 2);
      this.primary.core.exports.ring_set_link(this.ring, state);
    }
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
