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
import { GATHER_GAP_MS_DEFAULT, type TcpLinkCommand, type TcpLinkReport, type TcpLinkWorkerData } from "./tcp-link-messages.js";

export interface TcpLinkOptions {
  endpoint: LinkEndpoint;
  siteKey: Uint8Array;
  nodeId: string; // this node, as the receiver sees it
  secondaryImageId: string;
  ackTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  gatherGapMs?: number; // default GATHER_GAP_MS_DEFAULT; tests of batching widen it
}

export class TcpLink extends SenderLink<TcpLinkCommand, TcpLinkReport> {
  readonly secondaryImageId: string;
  private endpoint: LinkEndpoint;
  private attempt!: Promise<void>; // the first dial to `endpoint`
  private settleAttempt!: () => void;
  private hostUp = true;
  private senderEnded = false;
  private connected = false;
  private downReason = "not connected yet";
  peer: string | null = null; // the receiving node's id, once connected

  constructor(primary: StorageImage, options: TcpLinkOptions, handlers: LinkHandlers) {
    const gatherGapMs = options.gatherGapMs ?? GATHER_GAP_MS_DEFAULT;
    if (!Number.isFinite(gatherGapMs) || gatherGapMs <= 0 || gatherGapMs > 1000) {
      throw new RangeError(`gatherGapMs ${options.gatherGapMs} is not a number of milliseconds above 0 and at most 1000`);
    }
    super(primary, options.secondaryImageId, options.ackTimeoutMs ?? ACK_TIMEOUT_MS, handlers);
    this.secondaryImageId = options.secondaryImageId;
    this.endpoint = options.endpoint;
    // Down until the sender has connected: a write before then fails fast.
    primary.core.exports.ring_set_link(this.ring, LinkState.DOWN);
    this.awaitAttempt();
    this.start<TcpLinkWorkerData>(new URL("./tcp-link-worker.js", import.meta.url), {
      primaryMemory: primary.memory, module: primary.core.module, primaryThreadId: this.primaryThreadId, ring: this.ring,
      endpoint: options.endpoint, siteKey: options.siteKey, nodeId: options.nodeId,
      primaryImageId: primary.id, secondaryImageId: options.secondaryImageId,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? LINK_HEARTBEAT_INTERVAL_MS, heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? LINK_HEARTBEAT_TIMEOUT_MS,
      gatherGapMs,
    });
  }

  private awaitAttempt(): void {
    this.attempt = new Promise((resolve) => { this.settleAttempt = resolve; });
  }

  // A dial's outcome settles the wait for it only if it went to the newest endpoint.
  private settleDial(dialed: string | undefined): void {
    if (dialed === `${this.endpoint.host}:${this.endpoint.port}`) this.settleAttempt();
  }

  protected onReport(message: TcpLinkReport): void {
    if (message.type === "up") {
      this.connected = true;
      this.peer = message.peer;
      this.settleDial(message.dialed);
    } else if (message.type === "down") {
      const wasUp = this.connected;
      this.connected = false;
      this.downReason = message.reason;
      this.settleDial(message.dialed);
      if (wasUp && !this.stopping) this.handlers.failed(`the link to ${this.secondaryImageId} was lost: ${message.reason}`);
    }
  }

  protected override ended(): void {
    this.senderEnded = true;
    this.settleAttempt();
  }

  // Resolves once the sender has tried to connect to its newest endpoint (a new path then shows Success or why not).
  connectedOnce(): Promise<void> {
    return this.attempt;
  }

  // The secondary's node takes links at `endpoint` now (restarted on another
  // port): the sender gives up a connection to the old address and dials the
  // new one at once. The same endpoint again changes nothing.
  setEndpoint(endpoint: LinkEndpoint): void {
    if (endpoint.host === this.endpoint.host && endpoint.port === this.endpoint.port) return;
    this.endpoint = endpoint;
    this.awaitAttempt();
    // A sender that has ended, or that the host keeps cut, dials nothing: nobody is to wait for it.
    if (this.senderEnded || !this.hostUp) this.settleAttempt();
    this.send({ type: "endpoint", endpoint });
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
    if (!up) this.settleAttempt();
    if (!up && !this.primary.isClosed) this.primary.core.exports.ring_set_link(this.ring, LinkState.DOWN);
    this.send({ type: "up", up });
  }

  // The state stays as the sender last set it.
  protected doorbellState(): number {
    return Atomics.load(new Int32Array(this.primary.memory.buffer), (this.ring + 8) >>> 2);
  }
}
