// Follows the background copies a live view shows. Pure sampling over the
// engine, apart from React, so the figures can be tested without a terminal.
import type { Relationship, StorageImage } from "../../engine/image.js";
import { TRACK_SIZE } from "../../core/codes.js";

// copying: background copy running; copied: every track copied (the
// relationship may have ended by itself); withdrawn: it ended before its copy
// completed; nocopy: a -nocp relationship, which has no background copy;
// held: its background copy cannot go on (State not Valid, `reason` says why).
export type CopyState = "copying" | "copied" | "withdrawn" | "nocopy" | "held";

export interface CopyRow {
  id: string;
  trackCount: number;
  tracksLeft: number;
  // The latest rate while copying; once copied, the average from establish to completion when known.
  bytesPerSecond: number;
  state: CopyState;
  reason?: string;
}

export class CopyTracker {
  private readonly rows = new Map<string, CopyRow>();
  private readonly copied = new Map<string, Relationship>();
  private readonly pairs: string[];
  private readonly onCopied = (relationship: Relationship) => {
    this.copied.set(relationship.id, relationship);
  };

  // `pairs` empty follows every background copy of the image, including ones established later.
  constructor(private readonly image: StorageImage, pairs: readonly string[]) {
    this.pairs = pairs.map((pair) => pair.toUpperCase());
    image.on("copied", this.onCopied);
  }

  sample(): CopyRow[] {
    for (const id of this.wantedIds()) this.rows.set(id, this.sampleOne(id));
    return [...this.rows.values()];
  }

  // True when no followed relationship has a background copy still running.
  static settled(rows: readonly CopyRow[]): boolean {
    return rows.every((row) => row.state !== "copying");
  }

  dispose(): void {
    this.image.off("copied", this.onCopied);
  }

  private wantedIds(): string[] {
    if (this.pairs.length > 0) return this.pairs;
    const running = this.image.listRelationships().filter((r) => !r.nocopy).map((r) => r.id);
    return [...new Set([...this.rows.keys(), ...running])];
  }

  private sampleOne(id: string): CopyRow {
    const previous = this.rows.get(id);
    if (this.image.hasRelationship(id)) {
      const status = this.image.status(id);
      const held = status.fault !== null && !status.fault.retrying;
      const state: CopyState = status.nocopy ? "nocopy" : status.pendingTracks === 0 ? "copied" : held ? "held" : "copying";
      const rate = state === "copied" ? averageRate(status) ?? status.bytesPerSecond : status.bytesPerSecond;
      const row: CopyRow = { id, trackCount: status.trackCount, tracksLeft: status.pendingTracks, bytesPerSecond: rate, state };
      if (state === "held") row.reason = `${status.state}: ${status.reason}`;
      return row;
    }
    // Gone: it ended by itself after its copy (or before this view first looked), or was withdrawn.
    const trackCount = previous?.trackCount ?? this.sourceTrackCount(id);
    const ended = this.copied.get(id);
    if (ended || previous === undefined || previous.state === "copied") {
      const rate = (ended && averageRate(ended)) ?? previous?.bytesPerSecond ?? 0;
      return { id, trackCount, tracksLeft: 0, bytesPerSecond: rate, state: "copied" };
    }
    return { ...previous, bytesPerSecond: 0, state: "withdrawn" };
  }

  private sourceTrackCount(id: string): number {
    const sourceId = id.split(":")[0];
    if (!this.image.hasVolume(sourceId)) return 0;
    return Math.ceil(this.image.volume(sourceId).sizeBytes / TRACK_SIZE);
  }
}

// Bytes copied from establish to completion over the time it took; undefined
// while not complete. Completion is noticed at the engine's next progress poll,
// so for copies of a few milliseconds this is a lower bound.
function averageRate(relationship: Relationship): number | undefined {
  if (relationship.syncedAt === null) return undefined;
  const seconds = Math.max(1, relationship.syncedAt.getTime() - relationship.createdAt.getTime()) / 1000;
  return (relationship.trackCount * TRACK_SIZE) / seconds;
}
