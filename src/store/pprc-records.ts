// Checks of decoded PPRC records (format.ts, version 4 on): paths, pair ends
// and out-of-sync runs, each field present, of its type and within its
// bounds. A failure names the record type and the field ("pprc-pair record:
// field primary.mode …"). Whether the images and volumes they name exist,
// and whether the two ends of a pair agree, is the loader's and PPRC's check.
import type { PprcOosRecord, PprcPairRecord, PprcPathRecord, PprcPrimaryState } from "./format.js";
import type { FieldFailure } from "./records.js";
import { TRACK_SIZE, VOLUME_SIZE_MAX, VOLUME_SLOT_MAX } from "../core/codes.js";

const IMAGES_MAX = 256;
const TRACKS_MAX = Math.ceil(VOLUME_SIZE_MAX / TRACK_SIZE);
const PORT_PAIRS_MAX = 8; // src/pprc/paths.ts
// Runs per pprc-oos record: 2 numbers of at most 5 msgpack bytes each, so a record stays far below a frame.
export const OOS_RUNS_PER_RECORD = 16_384;
const IMAGE_ID = /^IBM\.(2105|2107)-\S+$/;
const VOLUME_ID = /^[0-9A-F]{4}$/;
const LSS_ID = /^[0-9A-F]{2}$/;
const PAIR_ID = /^[0-9A-F]{4}:[0-9A-F]{4}$/;
const PORT_ID = /^I[0-9A-F]{4}$/;
const WWNN = /^[0-9A-F]{16}$/;
const ENDPOINT = /^\S{1,300}:\d{1,5}$/;
const RESTORE = /^[0-9a-f]{16}$/;
const TEXT_LENGTH_MAX = 4096;

type Fields = Record<string, unknown>;

function isMap(value: unknown): value is Fields {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Uint8Array);
}

class PprcChecker {
  constructor(private readonly type: string, readonly fields: Fields, private readonly where: string, private readonly failure: FieldFailure) {}

  fail(field: string, message: string): never {
    const value = this.fields[field];
    throw this.failure(this.type, `${this.where}${field}`, `${message}, not ${value === undefined ? "absent" : JSON.stringify(value)?.slice(0, 60)}`);
  }

  text(field: string, pattern?: RegExp): string {
    const value = this.fields[field];
    if (typeof value !== "string" || value.length > TEXT_LENGTH_MAX) this.fail(field, `must be a string of at most ${TEXT_LENGTH_MAX} characters`);
    if (pattern !== undefined && !pattern.test(value as string)) this.fail(field, `must match ${pattern}`);
    return value as string;
  }

  textOrNull(field: string, pattern?: RegExp): string | null {
    return this.fields[field] === null ? null : this.text(field, pattern);
  }

  whole(field: string, low: number, high: number): number {
    const value = this.fields[field];
    if (typeof value !== "number" || !Number.isInteger(value) || value < low || value > high) this.fail(field, `must be a whole number from ${low} to ${high}`);
    return value as number;
  }

  timeOrNull(field: string): number | null {
    return this.fields[field] === null ? null : this.whole(field, 0, Number.MAX_SAFE_INTEGER);
  }

  flag(field: string): boolean {
    const value = this.fields[field];
    if (typeof value !== "boolean") this.fail(field, "must be true or false");
    return value as boolean;
  }

  oneOf<T extends string>(field: string, values: readonly T[]): T {
    const value = this.fields[field];
    if (typeof value !== "string" || !(values as readonly string[]).includes(value)) this.fail(field, `must be one of ${values.join(", ")}`);
    return value as T;
  }

  list(field: string, low: number, high: number): unknown[] {
    const value = this.fields[field];
    if (!Array.isArray(value) || value.length < low || value.length > high) this.fail(field, `must be an array of ${low} to ${high} entries`);
    return value as unknown[];
  }

  map(field: string): PprcChecker {
    const value = this.fields[field];
    if (!isMap(value)) this.fail(field, "must be a map");
    return new PprcChecker(this.type, value as Fields, `${this.where}${field}.`, this.failure);
  }
}

function checker(type: string, value: unknown, failure: FieldFailure): PprcChecker {
  return new PprcChecker(type, value as Fields, "", failure);
}

export function pprcPathRecord(value: unknown, failure: FieldFailure): PprcPathRecord {
  const check = checker("pprc-path", value, failure);
  const ports = check.list("ports", 1, PORT_PAIRS_MAX).map((item, index) => {
    if (!isMap(item)) return check.fail("ports", `must hold maps of local and remote ports, and item ${index} is not one`);
    const port = new PprcChecker("pprc-path", item, `ports[${index}].`, failure);
    return { local: port.text("local", PORT_ID), remote: port.text("remote", PORT_ID) };
  });
  return {
    type: "pprc-path", image: check.whole("image", 0, IMAGES_MAX - 1), targetImage: check.text("targetImage", IMAGE_ID),
    sourceLss: check.text("sourceLss", LSS_ID), targetLss: check.text("targetLss", LSS_ID), targetWwnn: check.text("targetWwnn", WWNN),
    ports, consistgrp: check.flag("consistgrp"), endpoint: check.textOrNull("endpoint", ENDPOINT),
  };
}

export function pprcPairRecord(value: unknown, failure: FieldFailure): PprcPairRecord {
  const check = checker("pprc-pair", value, failure);
  const role = check.oneOf("role", ["primary", "secondary"] as const);
  const volume = check.text("volume", VOLUME_ID);
  const pair = check.text("pair", PAIR_ID);
  const otherVolume = check.text("otherVolume", VOLUME_ID);
  const expected = role === "primary" ? `${volume}:${otherVolume}` : `${otherVolume}:${volume}`;
  if (pair !== expected) check.fail("pair", `must be ${expected} for the ${role} ${volume} of a pair with ${otherVolume}`);
  if (role === "primary" && check.fields.primary === null) check.fail("primary", "must hold the pair's state for a primary");
  if (role === "secondary" && check.fields.primary !== null) check.fail("primary", "must be null for a secondary");
  return {
    type: "pprc-pair", image: check.whole("image", 0, IMAGES_MAX - 1), volume, role, pair,
    otherImage: check.text("otherImage", IMAGE_ID), otherVolume, otherSlot: check.whole("otherSlot", 0, VOLUME_SLOT_MAX - 1),
    pprcType: check.oneOf("pprcType", ["mmir", "gcp"] as const), tgtread: check.flag("tgtread"), critmode: check.flag("critmode"),
    primary: role === "primary" ? primaryState(check.map("primary")) : null,
    primaryEndpoint: check.textOrNull("primaryEndpoint", ENDPOINT),
  };
}

function primaryState(check: PprcChecker): PprcPrimaryState {
  const mode = check.oneOf("mode", ["sync", "async", "suspended"] as const);
  const trackCount = check.whole("trackCount", 1, TRACKS_MAX);
  const outOfSyncTracks = check.whole("outOfSyncTracks", 0, trackCount);
  const state: PprcPrimaryState = {
    mode, reason: check.textOrNull("reason"), detail: check.textOrNull("detail"), suspendedAt: check.timeOrNull("suspendedAt"),
    firstPassDone: check.flag("firstPassDone"), secondaryHeld: check.flag("secondaryHeld"), linked: check.flag("linked"),
    secondaryRestore: check.textOrNull("secondaryRestore", RESTORE), trackCount, outOfSyncTracks,
    oosRecords: check.whole("oosRecords", 0, Math.ceil(TRACKS_MAX / 2 / OOS_RUNS_PER_RECORD)),
  };
  if (!state.linked && mode !== "suspended") check.fail("mode", "must be suspended for a primary without a link");
  if (state.oosRecords > 0 && outOfSyncTracks === 0) check.fail("oosRecords", "must be 0 when no track is out of sync");
  return state;
}

// Runs within `trackCount` tracks, from track `from` on (past the runs of the record before, apart from them).
export function pprcOosRecord(value: unknown, failure: FieldFailure, trackCount: number, from: number): PprcOosRecord {
  const check = checker("pprc-oos", value, failure);
  const runs = check.list("runs", 2, OOS_RUNS_PER_RECORD * 2);
  if (runs.length % 2 !== 0) check.fail("runs", "must hold [first track, count] pairs: an even number of whole numbers");
  let next = from;
  for (let index = 0; index < runs.length; index += 2) {
    const [first, count] = [runs[index], runs[index + 1]];
    const whole = (item: unknown) => typeof item === "number" && Number.isInteger(item);
    if (!whole(first) || !whole(count) || (count as number) < 1) check.fail("runs", `must hold whole numbers, each count at least 1 (run ${index / 2})`);
    if ((first as number) < next) check.fail("runs", `must be ascending and apart: run ${index / 2} starts at track ${first}, before track ${next}`);
    if ((first as number) + (count as number) > trackCount) check.fail("runs", `run ${index / 2} ends past the primary's ${trackCount} tracks`);
    next = (first as number) + (count as number) + 1;
  }
  return { type: "pprc-oos", image: check.whole("image", 0, IMAGES_MAX - 1), volume: check.text("volume", VOLUME_ID), runs: runs as number[] };
}
