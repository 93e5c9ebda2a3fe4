// A link from a primary image of this process to a secondary image of
// another node (design.md §7): its ring in the primary's memory, as an
// in-process link has (link.ts), drained by a sender thread that sends over
// TCP to the secondary's node (tcp-link-worker.ts). The path it carries is
// Success while the connection is open and the host has not cut it; a lost
// connection suspends the link's pairs, and the sender dials again on its own,
// so that resumepprc works once the peer is back.
import { ACK_TIMEOUT_MS, LinkState } from "../core/codes.js";
import type { StorageImage } from "../engine/image.js";
import { LINK_HEARTBEAT_INTERVAL_MS, LINK_HEARTBEAT_TIMEOUT_MS, type LinkEndpoint } from "./link-protocol.js";
import { SenderLink, type LinkHandlers } from "./sender-link.js";
import type { TcpLinkCommand, TcpLinkReport, TcpLinkWorkerData } from "./tcp-link-messages.js";

export interface TcpLinkOptions {
  endpoint: LinkEndpoint;
  siteKey: Uint8Array;
  nodeId: string; // this node, as the receiver sees it
  secondaryImageId: string;
  ackTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
}

export class TcpLink extends SenderLink<TcpLinkCommand, TcpLinkReport> {
  readonly secondaryImageId: string;
  private readonly firstAttempt: Promise<void>;
  private settleFirstAttempt!: () => void;
  private hostUp = true;
  private connected = false;
  private downReason = "not connected yet";
  peer: string | null = null; // the receiving node's id, once connected

  constructor(primary: StorageImage, options: TcpLinkOptions, handlers: LinkHandlers) {
    super(primary, options.secondaryImageId, options.ackTimeoutMs ?? ACK_TIMEOUT_MS, handlers);
    this.secondaryImageId = options.secondaryImageId;
    // Down until the sender has connected: a write before then fails fast.
    primary.core.exports.ring_set_link(this.ring, LinkState.DOWN);
    this.firstAttempt = new Promise((resolve) => { this.settleFirstAttempt = resolve; });
    this.start<TcpLinkWorkerData>(new URL("./tcp-link-worker.js", import.meta.url), {
      primaryMemory: primary.memory, module: primary.core.module, primaryThreadId: this.primaryThreadId, ring: this.ring,
      endpoint: options.endpoint, siteKey: options.siteKey, nodeId: options.nodeId,
      primaryImageId: primary.id, secondaryImageId: options.secondaryImageId,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? LINK_HEARTBEAT_INTERVAL_MS, heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? LINK_HEARTBEAT_TIMEOUT_MS,
    });
  }

  protected onReport(message: TcpLinkReport): void {
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
    }
  }

  protected override ended(): void {
    this.settleFirstAttempt();
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

  // The state stays as the sender last set it.
  protected doorbellState(): number {
    return Atomics.load(new Int32Array(this.primary.memory.buffer), (this.ring + 8) >>> 2);
  }
}
