// Checks of decoded records: every field present, of its type and within its
// bounds, before anything is built from it. A failure names the record type
// and the field. Fields this version does not know are ignored.

import { BLOCKS_MAX, CAPACITY_UNITS } from "../engine/units.js";
import { OS_TYPES, MODELS } from "../engine/rules.js";
import { POOL_MAX, POOL_CAPACITY_GIB_MAX } from "../engine/pools.js";
import { VOLUME_SLOT_MAX, REL_SLOT_MAX, TRACK_SIZE, EXTENT_SIZE, VOLUME_SIZE_MAX, CHUNK_TRACKS } from "../core/codes.js";
import type { StoreError } from "./errors.js";
import {
  TRACKS_FRAME_DATA_MAX, hasFlatBitmaps, hasPprc, SUMMARY_LEAF,
  type RecordType, type LeafRecord, type HeaderRecord, type ImageRecord, type VolumeRecord, type TracksRecord, type ZerosRecord,
  type RelationshipRecord, type EndRecord, type PoolRecord,
} from "./format.js";

export type FieldFailure = (type: string, field: string, message: string) => StoreError;

const RECORD_TYPES: readonly RecordType[] = ["header", "image", "volume", "tracks", "zeros", "relationship", "leaf", "hosts", "pprc-path", "pprc-pair", "pprc-oos", "end"];
const CHUNKS_MAX = Math.ceil(VOLUME_SIZE_MAX / TRACK_SIZE / CHUNK_TRACKS);
const LEAF_BYTES_MAX = CHUNK_TRACKS / 8;
const IMAGES_MAX = 256;
const TRACKS_MAX = Math.ceil(VOLUME_SIZE_MAX / TRACK_SIZE);
const EXTENT_TRACKS = EXTENT_SIZE / TRACK_SIZE;
const VOLUME_ID = /^[0-9A-F]{4}$/;
const LSS_ID = /^[0-9A-F]{2}$/;
const POOL_ID = /^P\d{1,2}$/;
const SERIAL = /^[^\s]+$/; // the engine takes any serial; an image ID is IBM.MODEL-SERIAL

type Fields = Record<string, unknown>;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value === "object" ? "a map" : String(value);
}

class Checker {
  constructor(readonly type: string, readonly fields: Fields, readonly failure: FieldFailure) {}

  fail(field: string, message: string): StoreError {
    return this.failure(this.type, field, `${message}, not ${describe(this.fields[field])}`);
  }

  whole(field: string, low: number, high: number): number {
    const value = this.fields[field];
    if (typeof value !== "number" || !Number.isInteger(value) || value < low || value > high) {
      throw this.fail(field, `must be a whole number from ${low} to ${high}`);
    }
    return value;
  }

  text(field: string, pattern?: RegExp): string {
    const value = this.fields[field];
    // No length limit of its own: whatever a save wrote fits a frame, and so loads.
    if (typeof value !== "string") throw this.fail(field, "must be a string");
    if (pattern && !pattern.test(value)) throw this.fail(field, `must match ${pattern}`);
    return value;
  }

  oneOf<T extends string>(field: string, values: readonly T[]): T {
    const value = this.fields[field];
    if (typeof value !== "string" || !(values as readonly string[]).includes(value)) throw this.fail(field, `must be one of ${values.join(", ")}`);
    return value as T;
  }

  flag(field: string): boolean {
    const value = this.fields[field];
    if (typeof value !== "boolean") throw this.fail(field, "must be true or false");
    return value;
  }

  // A flag added after the version that introduced its record: absent reads as `absent`.
  flagOr(field: string, absent: boolean): boolean {
    return this.fields[field] === undefined ? absent : this.flag(field);
  }

  time(field: string): number {
    return this.whole(field, 0, Number.MAX_SAFE_INTEGER);
  }

  timeOrNull(field: string): number | null {
    return this.fields[field] === null ? null : this.time(field);
  }

  bytes(field: string, low: number, high: number): Uint8Array {
    const value = this.fields[field];
    if (!(value instanceof Uint8Array) || value.byteLength < low || value.byteLength > high) {
      throw this.fail(field, `must be binary data of ${low === high ? low : `${low} to ${high}`} bytes`);
    }
    return value;
  }

  bytesOrNull(field: string, length: number): Uint8Array | null {
    return this.fields[field] === null ? null : this.bytes(field, length, length);
  }
}

// The record's type, after checking it is a map with a known string `type`.
export function recordType(value: unknown, failure: FieldFailure): RecordType {
  // A plain map only: msgpackr decodes some bytes (0xc1, extensions) to objects of its own classes.
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) {
    throw failure("frame", "type", `the payload must be a map with a type field, not ${describe(value)}`);
  }
  const type = (value as Fields).type;
  if (typeof type !== "string" || !(RECORD_TYPES as readonly string[]).includes(type)) {
    throw failure("frame", "type", `must be one of ${RECORD_TYPES.join(", ")}, not ${describe(type)}`);
  }
  return type as RecordType;
}

function checker(type: RecordType, value: unknown, failure: FieldFailure): Checker {
  return new Checker(type, value as Fields, failure);
}

export function headerRecord(value: unknown, failure: FieldFailure): HeaderRecord {
  const check = checker("header", value, failure);
  return { type: "header", generator: check.text("generator"), images: check.whole("images", 0, IMAGES_MAX) };
}

// Version 1 image records announce their relationships; version 2 ones do not (format.ts).
export function imageRecord(value: unknown, failure: FieldFailure, version: number): ImageRecord {
  const check = checker("image", value, failure);
  const lss = check.fields.lss;
  if (!Array.isArray(lss) || lss.length > 255 || !lss.every((item) => typeof item === "string" && LSS_ID.test(item))) {
    throw check.fail("lss", "must be an array of two-hex-digit LSS IDs");
  }
  return {
    type: "image",
    model: check.oneOf("model", MODELS),
    serial: check.text("serial", SERIAL),
    lss: lss as string[],
    volumes: check.whole("volumes", 0, VOLUME_SLOT_MAX),
    ...(version === 1 ? { relationships: check.whole("relationships", 0, REL_SLOT_MAX) } : {}),
    ...(check.fields.pools === undefined ? {} : { pools: poolRecords(check) }),
  };
}

function poolRecords(check: Checker): PoolRecord[] {
  const pools = check.fields.pools;
  if (!Array.isArray(pools) || pools.length > POOL_MAX) throw check.fail("pools", `must be an array of at most ${POOL_MAX} extent pools`);
  return pools.map((pool, index) => {
    if (pool === null || typeof pool !== "object" || Object.getPrototypeOf(pool) !== Object.prototype) {
      throw check.fail("pools", `must hold maps, and item ${index} is not one`);
    }
    const item = new Checker(`image pools[${index}]`, pool as Fields, check.failure);
    return {
      id: item.text("id", POOL_ID),
      name: item.text("name"),
      rankGroup: item.whole("rankGroup", 0, 1) as 0 | 1,
      capacityGiB: item.whole("capacityGiB", 0, POOL_CAPACITY_GIB_MAX),
    };
  });
}

export function volumeRecord(value: unknown, failure: FieldFailure): VolumeRecord {
  const check = checker("volume", value, failure);
  return {
    type: "volume",
    id: check.text("id", VOLUME_ID),
    slot: check.whole("slot", 0, VOLUME_SLOT_MAX - 1),
    blocks: check.whole("blocks", 1, BLOCKS_MAX),
    unit: check.oneOf("unit", CAPACITY_UNITS),
    os: check.oneOf("os", OS_TYPES),
    name: check.text("name"),
    createdAt: check.time("createdAt"),
    dataState: check.oneOf("dataState", ["Normal", "Unusable"] as const),
    ...(check.fields.pool === undefined || check.fields.pool === null ? {} : { pool: check.text("pool", POOL_ID) }),
    ...(check.fields.sam === undefined ? {} : { sam: check.oneOf("sam", ["standard"] as const) }),
  };
}

export function tracksRecord(value: unknown, failure: FieldFailure): TracksRecord {
  const check = checker("tracks", value, failure);
  return {
    type: "tracks",
    image: check.whole("image", 0, IMAGES_MAX - 1),
    volume: check.text("volume", VOLUME_ID),
    track: check.whole("track", 0, TRACKS_MAX - 1),
    data: check.bytes("data", 1, TRACKS_FRAME_DATA_MAX),
  };
}

export function zerosRecord(value: unknown, failure: FieldFailure): ZerosRecord {
  const check = checker("zeros", value, failure);
  return {
    type: "zeros",
    image: check.whole("image", 0, IMAGES_MAX - 1),
    volume: check.text("volume", VOLUME_ID),
    track: check.whole("track", 0, TRACKS_MAX - 1),
    count: check.whole("count", 1, EXTENT_TRACKS), // a save writes runs within one extent
  };
}

// Bytes of one whole bitmap of format versions 1 and 2: u64 words over all tracks, an even count.
function flatBitmapBytes(trackCount: number): number {
  const words = Math.ceil(trackCount / 64);
  return (words + (words & 1)) * 8;
}

// Bitmaps are whole in format versions 1 and 2 and summaries (a byte per chunk) since.
export function relationshipRecord(value: unknown, failure: FieldFailure, version: number): RelationshipRecord {
  const check = checker("relationship", value, failure);
  const trackCount = check.whole("trackCount", 1, hasFlatBitmaps(version) ? Math.ceil(2 ** 32 / TRACK_SIZE) : TRACKS_MAX);
  const flat = hasFlatBitmaps(version);
  const bytes = flat ? flatBitmapBytes(trackCount) : Math.ceil(trackCount / CHUNK_TRACKS);
  const record = check.flag("record");
  const recordSource = check.bytesOrNull("recordSource", bytes);
  const recordTarget = check.bytesOrNull("recordTarget", bytes);
  if (!flat) {
    for (const field of ["bitmap", "recordSource", "recordTarget"]) checkSummary(check, field);
  }
  if (record && (recordSource === null || recordTarget === null)) {
    throw check.fail(recordSource === null ? "recordSource" : "recordTarget", "must be present for a -record relationship");
  }
  if (!record && (recordSource !== null || recordTarget !== null)) {
    throw check.fail(recordSource !== null ? "recordSource" : "recordTarget", "must be null for a relationship without -record");
  }
  return {
    type: "relationship",
    image: check.whole("image", 0, IMAGES_MAX - 1),
    source: check.text("source", VOLUME_ID),
    target: check.text("target", VOLUME_ID),
    slot: check.whole("slot", 0, REL_SLOT_MAX - 1),
    nocopy: check.flag("nocopy"),
    persist: check.flag("persist"),
    record,
    tgtinhibit: check.flag("tgtinhibit"),
    tgtpprc: check.flagOr("tgtpprc", false),
    heldUntil: check.fields.heldUntil === undefined ? null : check.timeOrNull("heldUntil"),
    seqnum: check.whole("seqnum", 0, 0xffffffff),
    createdAt: check.time("createdAt"),
    syncedAt: check.timeOrNull("syncedAt"),
    trackCount,
    pendingTracks: check.whole("pendingTracks", 0, trackCount),
    copiedBytes: check.whole("copiedBytes", 0, Number.MAX_SAFE_INTEGER),
    bitmap: check.bytes("bitmap", bytes, bytes),
    recordSource,
    recordTarget,
  };
}

function checkSummary(check: Checker, field: string): void {
  const summary = check.fields[field];
  if (!(summary instanceof Uint8Array)) return; // bytes() and bytesOrNull() check presence and length
  if (summary.some((state) => state > SUMMARY_LEAF)) throw check.fail(field, `must hold one byte per chunk, each 0 (clear), 1 (set) or ${SUMMARY_LEAF} (in a leaf frame)`);
}

export function leafRecord(value: unknown, failure: FieldFailure): LeafRecord {
  const check = checker("leaf", value, failure);
  return {
    type: "leaf",
    image: check.whole("image", 0, IMAGES_MAX - 1),
    source: check.text("source", VOLUME_ID),
    target: check.text("target", VOLUME_ID),
    bitmap: check.whole("bitmap", 0, 2) as 0 | 1 | 2,
    chunk: check.whole("chunk", 0, CHUNKS_MAX - 1),
    data: check.bytes("data", 16, LEAF_BYTES_MAX),
  };
}

// Files of format version 4 on also count their PPRC paths and pair ends.
export function endRecord(value: unknown, failure: FieldFailure, version: number): EndRecord {
  const check = checker("end", value, failure);
  const count = (field: string) => check.whole(field, 0, Number.MAX_SAFE_INTEGER);
  return {
    type: "end",
    savedAt: check.time("savedAt"),
    frames: count("frames"),
    images: count("images"),
    volumes: count("volumes"),
    relationships: count("relationships"),
    dataBytes: count("dataBytes"),
    zeroTracks: count("zeroTracks"),
    ...(hasPprc(version) ? { pprc: count("pprc") } : {}),
  };
}
