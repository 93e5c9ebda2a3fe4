// A link in one process: from a primary image to a secondary image, its ring
// in the primary's memory (assembly/mirror.ts) and its sender thread
// (link-worker.ts). Every pair from a volume of the one image to a volume of
// the other goes over it; the cross-process link (tcp-link.ts) replaces the
// sender's apply with a TCP send, the ring and the rest (sender-link.ts)
// staying as they are.
import { ACK_TIMEOUT_MS, LinkState } from "../core/codes.js";
import type { StorageImage } from "../engine/image.js";
import type { LinkCommand, LinkReport, LinkWorkerData } from "./link-messages.js";
import { SenderLink, type LinkHandlers } from "./sender-link.js";
import { checkLinkFaults, type LinkFaults } from "./link-faults.js";

export type { LinkHandlers } from "./sender-link.js";

// The in-process link's own: its receiver cut it (a gap in the sequence, or a seeded fault).
export interface InProcessLinkHandlers extends LinkHandlers {
  cut(reason: string): void;
}

export class Link extends SenderLink<LinkCommand, LinkReport> {
  private readonly secondaryThreadId: number;
  private up = true;
  private cutReason: string | null = null;
  // The seeded faults the sender injected, in order ("drop at frame 12"): a failing test prints them.
  readonly faultsInjected: string[] = [];

  constructor(primary: StorageImage, readonly secondary: StorageImage, private readonly linkHandlers: InProcessLinkHandlers, ackTimeoutMs = ACK_TIMEOUT_MS, faults: LinkFaults | null = null) {
    if (faults !== null) checkLinkFaults(faults);
    super(primary, secondary.id, ackTimeoutMs, linkHandlers);
    this.secondaryThreadId = secondary.threadIds.take();
    this.start<LinkWorkerData>(new URL("./link-worker.js", import.meta.url), {
      primaryMemory: primary.memory, secondaryMemory: secondary.memory, module: primary.core.module,
      primaryThreadId: this.primaryThreadId, secondaryThreadId: this.secondaryThreadId, ring: this.ring, faults,
    });
  }

  protected onReport(message: LinkReport): void {
    if (message.type === "fault") this.faultsInjected.push(`${message.fault} at frame ${message.frame}`);
    if (message.type !== "cut") return;
    this.up = false;
    this.cutReason = message.reason;
    this.linkHandlers.cut(message.reason);
  }

  protected override threads(): Array<readonly [StorageImage, number]> {
    return [[this.primary, this.primaryThreadId], [this.secondary, this.secondaryThreadId]];
  }

  protected override ended(): void {
    if (!this.stopping) this.up = false;
  }

  // Why the sender thread ended on its own (an abort), or null.
  get failure(): string | null {
    return this.aborted ?? this.cutReason;
  }

  // Host writes that found their track's lock held by the sender's copy (assembly/mirror.ts ring + 32).
  get writesMetCopy(): number {
    return this.primary.isClosed ? 0 : this.primary.core.exports.ring_writes_met_copy(this.ring) >>> 0;
  }

  get isUp(): boolean {
    return this.up && this.aborted === null;
  }

  protected doorbellState(): number {
    return this.isUp ? LinkState.UP : LinkState.DOWN;
  }

  setUp(up: boolean): void {
    this.up = up;
    if (up) this.cutReason = null;
    if (!this.primary.isClosed) this.primary.core.exports.ring_set_link(this.ring, up ? LinkState.UP : LinkState.DOWN);
  }
}
