// PPRC in state files (src/store/format.ts, version 4): the records of a
// path and of each end of a pair, and the runs of a primary's out-of-sync
// bitmap, which lives in the core. Pprc.snapshot builds them while a save
// holds the images quiesced; Pprc.restore rebuilds paths and pairs from them.
//
// After a restore, a pair whose two ends were in the same file is as it was
// saved (the same point in time on both sides: its out-of-sync tracks are
// exact). A primary whose secondary is on another node comes back Suspended
// with every track out of sync: writes after the save (a resume's too) may
// have reached the secondary and been lost here, and which tracks they were
// is known to neither side. A secondary whose primary is on another node
// comes back a secondary with a restore token; its primary copies it whole
// once at its next resume, since
// the file may predate writes it had acknowledged.
import { randomBytes } from "node:crypto";
import type { PprcOosRecord, PprcPairRecord, PprcPathRecord } from "../store/format.js";
import { OOS_RUNS_PER_RECORD } from "../store/pprc-records.js";
import { EngineError } from "../engine/errors.js";
import type { StorageImage } from "../engine/image.js";
import { CoreCode, MirrorMode } from "../core/codes.js";
import type { Path } from "./paths.js";
import type { LinkEndpoint } from "./link-protocol.js";

export type PprcStateRecord = PprcPathRecord | PprcPairRecord | PprcOosRecord;

export const MODE_NAMES: Record<number, "sync" | "async" | "suspended"> = {
  [MirrorMode.SYNC]: "sync", [MirrorMode.ASYNC]: "async", [MirrorMode.SUSPENDED]: "suspended",
};
export const MODES = { sync: MirrorMode.SYNC, async: MirrorMode.ASYNC, suspended: MirrorMode.SUSPENDED } as const;

export function endpointText(endpoint: LinkEndpoint | null | undefined): string | null {
  return endpoint === null || endpoint === undefined ? null : `${endpoint.host}:${endpoint.port}`;
}

export function pathRecord(path: Path, image: number, endpoint: string | null): PprcPathRecord {
  return {
    type: "pprc-path", image, targetImage: path.targetImageId, sourceLss: path.sourceLss, targetLss: path.targetLss,
    targetWwnn: path.targetWwnn, ports: path.ports.map((pair) => ({ local: pair.local, remote: pair.remote })), consistgrp: path.consistgrp, endpoint,
  };
}

// The primary's out-of-sync tracks as [first, count] runs, flattened.
export function outOfSyncRuns(image: StorageImage, slot: number): number[] {
  const exports = image.core.exports;
  const runs: number[] = [];
  for (let track = exports.pprc_next_out_of_sync(slot, 0); track >= 0; track = exports.pprc_next_out_of_sync(slot, track + 1)) {
    const last = runs.length - 2;
    if (last >= 0 && runs[last] + runs[last + 1] === track) runs[last + 1]++;
    else runs.push(track, 1);
  }
  return runs;
}

// The runs cut into pprc-oos records of at most OOS_RUNS_PER_RECORD runs.
export function oosRecords(image: number, volume: string, runs: readonly number[]): PprcOosRecord[] {
  const records: PprcOosRecord[] = [];
  for (let first = 0; first < runs.length; first += OOS_RUNS_PER_RECORD * 2) {
    records.push({ type: "pprc-oos", image, volume, runs: runs.slice(first, first + OOS_RUNS_PER_RECORD * 2) });
  }
  return records;
}

export function markRuns(image: StorageImage, slot: number, runs: readonly number[]): void {
  for (let index = 0; index < runs.length; index += 2) {
    for (let track = runs[index]; track < runs[index] + runs[index + 1]; track++) {
      const code = image.core.exports.pprc_mark_out_of_sync(slot, track);
      if (code !== CoreCode.OK) throw new EngineError("OUT_OF_RANGE", `track ${track} of the saved out-of-sync tracks cannot be marked on ${image.id} (core code ${code})`);
    }
  }
}

// A token for one restore of a secondary: its primary copies it whole once per token.
export function restoreToken(): string {
  return randomBytes(8).toString("hex");
}

// An error of the PPRC records of a state file, naming the pair or path.
export function stateError(message: string): EngineError {
  return new EngineError("BAD_ARGUMENT", `the state file's PPRC: ${message}`);
}
