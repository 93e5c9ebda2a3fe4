// Follows the background copies a live view shows. Pure sampling over the
// site, apart from React, so the figures can be tested without a terminal.
import type { Site } from "../../site/site.js";
import type { FlashInfo, PairInfo } from "../../site/types.js";
import { TRACK_SIZE } from "../../site/shared.js";

// copying: background copy running; copied: every track copied (the
// relationship may have ended by itself); withdrawn: it ended before its copy
// completed; nocopy: a -nocp relationship, which has no background copy;
// held: its background copy cannot go on (State not Valid, `reason` says why).
export type CopyState = "copying" | "copied" | "withdrawn" | "nocopy" | "held";

export interface CopyRow {
  id: string;
  kind: "flash" | "pprc"; // a FlashCopy background copy, or a PPRC pair's Copy Pending
  trackCount: number;
  tracksLeft: number;
  // The latest rate while copying; once copied, the average from establish to completion when known.
  bytesPerSecond: number;
  state: CopyState;
  reason?: string;
}

// What a relationship's average rate needs: its size and when it started and completed.
interface CopyTimes {
  trackCount: number;
  createdAtMs: number;
  syncedAtMs: number | null;
}

export class CopyTracker {
  private readonly rows = new Map<string, CopyRow>();
  private readonly copied = new Map<string, CopyTimes>();
  private readonly pairs: string[];
  private readonly mirrors: string[];
  // Per PPRC pair: tracks sent at the last sample and when, for its rate.
  private readonly sent = new Map<string, { tracks: number; atMs: number }>();
  private readonly unsubscribe: () => void;

  // `pairs` empty follows every background copy of the image, including ones established later,
  // unless `mirrors` (PPRC pairs whose Copy Pending to follow) is given.
  constructor(private readonly site: Site, private readonly imageId: string, pairs: readonly string[], mirrors: readonly string[] = []) {
    this.pairs = pairs.map((pair) => pair.toUpperCase());
    this.mirrors = mirrors.map((pair) => pair.toUpperCase());
    this.unsubscribe = site.events((event) => {
      if (event.type === "flash-copied" && event.imageId === imageId) this.copied.set(event.id, event);
    });
  }

  // One look at the site: every followed relationship's row.
  async sample(): Promise<CopyRow[]> {
    if (this.mirrors.length > 0) {
      const pairs = new Map((await this.site.listPairs(this.imageId)).filter((pair) => pair.role === "primary").map((pair) => [pair.id, pair]));
      for (const id of this.mirrors) this.rows.set(id, this.sampleMirror(id, pairs.get(id)));
      if (this.pairs.length === 0) return [...this.rows.values()];
    }
    const relationships = new Map((await this.site.listFlash(this.imageId)).map((relationship) => [relationship.id, relationship]));
    for (const id of this.wantedIds(relationships)) this.rows.set(id, await this.sampleOne(id, relationships.get(id)));
    return [...this.rows.values()];
  }

  // A PPRC pair: its out-of-sync tracks are what Copy Pending has left; the most seen is its whole copy.
  private sampleMirror(id: string, pair: PairInfo | undefined): CopyRow {
    const previous = this.rows.get(id);
    if (pair === undefined) return { id, kind: "pprc", trackCount: previous?.trackCount ?? 0, tracksLeft: previous?.tracksLeft ?? 0, bytesPerSecond: 0, state: "withdrawn" };
    const nowMs = performance.now();
    const last = this.sent.get(id);
    this.sent.set(id, { tracks: pair.sentTracks, atMs: nowMs });
    const rate = last === undefined || nowMs <= last.atMs ? previous?.bytesPerSecond ?? 0 : ((pair.sentTracks - last.tracks) * TRACK_SIZE * 1000) / (nowMs - last.atMs);
    const synced = pair.state === "Full Duplex" || (pair.type === "gcp" && pair.firstPassDone);
    const state: CopyState = synced ? "copied" : pair.state === "Suspended" ? "held" : "copying";
    const row: CopyRow = {
      id, kind: "pprc", trackCount: Math.max(previous?.trackCount ?? 0, pair.outOfSyncTracks), tracksLeft: synced ? 0 : pair.outOfSyncTracks, bytesPerSecond: rate, state,
    };
    if (state === "held") row.reason = `Suspended: ${pair.reason}`;
    return row;
  }

  // True when no followed relationship has a background copy still running.
  static settled(rows: readonly CopyRow[]): boolean {
    return rows.every((row) => row.state !== "copying");
  }

  dispose(): void {
    this.unsubscribe();
  }

  private wantedIds(relationships: ReadonlyMap<string, FlashInfo>): string[] {
    if (this.pairs.length > 0) return this.pairs;
    const running = [...relationships.values()].filter((r) => !r.nocopy).map((r) => r.id);
    return [...new Set([...this.rows.keys(), ...running])];
  }

  private async sampleOne(id: string, status: FlashInfo | undefined): Promise<CopyRow> {
    const previous = this.rows.get(id);
    if (status !== undefined) {
      const state: CopyState = status.nocopy ? "nocopy" : status.pendingTracks === 0 ? "copied" : status.held ? "held" : "copying";
      const rate = state === "copied" ? averageRate(status) ?? status.bytesPerSecond : status.bytesPerSecond;
      const row: CopyRow = { id, kind: "flash", trackCount: status.trackCount, tracksLeft: status.pendingTracks, bytesPerSecond: rate, state };
      if (state === "held") row.reason = `${status.state}: ${status.reason}`;
      return row;
    }
    // Gone: it ended by itself after its copy (or before this view first looked), or was withdrawn.
    const trackCount = previous?.trackCount ?? await this.sourceTrackCount(id);
    const ended = this.copied.get(id);
    if (ended || previous === undefined || previous.state === "copied") {
      const rate = (ended && averageRate(ended)) ?? previous?.bytesPerSecond ?? 0;
      return { id, kind: "flash", trackCount, tracksLeft: 0, bytesPerSecond: rate, state: "copied" };
    }
    return { ...previous, bytesPerSecond: 0, state: "withdrawn" };
  }

  private async sourceTrackCount(id: string): Promise<number> {
    const sourceId = id.split(":")[0];
    const source = (await this.site.listVolumes(this.imageId)).find((volume) => volume.id === sourceId);
    return source === undefined ? 0 : Math.ceil(source.sizeBytes / TRACK_SIZE);
  }
}

// Bytes copied from establish to completion over the time it took; undefined
// while not complete. Completion is noticed at the engine's next progress poll,
// so for copies of a few milliseconds this is a lower bound.
function averageRate(relationship: CopyTimes): number | undefined {
  if (relationship.syncedAtMs === null) return undefined;
  const seconds = Math.max(1, relationship.syncedAtMs - relationship.createdAtMs) / 1000;
  return (relationship.trackCount * TRACK_SIZE) / seconds;
}
