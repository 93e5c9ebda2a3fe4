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

export type { LinkHandlers } from "./sender-link.js";

export class Link extends SenderLink<LinkCommand, LinkReport> {
  private readonly secondaryThreadId: number;
  private up = true;

  constructor(primary: StorageImage, readonly secondary: StorageImage, handlers: LinkHandlers, ackTimeoutMs = ACK_TIMEOUT_MS) {
    super(primary, secondary.id, ackTimeoutMs, handlers);
    this.secondaryThreadId = secondary.threadIds.take();
    this.start<LinkWorkerData>(new URL("./link-worker.js", import.meta.url), {
      primaryMemory: primary.memory, secondaryMemory: secondary.memory, module: primary.core.module,
      primaryThreadId: this.primaryThreadId, secondaryThreadId: this.secondaryThreadId, ring: this.ring,
    });
  }

  // Every report but the common ones is the base's: the in-process sender has none of its own.
  protected onReport(): void {}

  protected override threads(): Array<readonly [StorageImage, number]> {
    return [[this.primary, this.primaryThreadId], [this.secondary, this.secondaryThreadId]];
  }

  protected override ended(): void {
    if (!this.stopping) this.up = false;
  }

  // Why the sender thread ended on its own (an abort), or null.
  get failure(): string | null {
    return this.aborted;
  }

  get isUp(): boolean {
    return this.up && this.aborted === null;
  }

  protected doorbellState(): number {
    return this.isUp ? LinkState.UP : LinkState.DOWN;
  }

  setUp(up: boolean): void {
    this.up = up;
    if (!this.primary.isClosed) this.primary.core.exports.ring_set_link(this.ring, up ? LinkState.UP : LinkState.DOWN);
  }
}
