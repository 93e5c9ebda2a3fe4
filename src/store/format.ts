// The tzero state file, format version 4 (versions 1 to 3 differ where noted, and still load).
// Image records may carry `pools` and volume records `pool`: optional fields
// (in either version), whose absence means "no pools saved".
//
//   offset  size  field
//        0     8  magic word "TZ0STATE" (54 5A 30 53 54 41 54 45)
//        8     4  format version, u32 little-endian
//       12     4  the version with every bit inverted: a flipped bit in either
//                 reads as corruption, never as some other version
//       16     8  save identifier, 64 random bits (since version 2; absent in 1)
//       24        frames, back to back, to the end of the file (16 in version 1)
//
// A frame is one record:
//
//        0     4  payload length L, u32 LE, 1 .. FRAME_PAYLOAD_MAX
//        4     4  L with every bit inverted (a flipped length bit is caught
//                 before the length is used)
//        8     8  xxHash64 (seed 0) of the payload XOR frameKey(save
//                 identifier, frame index), u64 LE (version 1: no XOR)
//       16     L  payload: one msgpack value, a map with a string `type`
//
// The key binds every frame to its file and its place in it: a frame spliced
// in from another save, or moved within this one, fails its checksum, so a
// file pieced together from two valid saves is refused rather than loaded as
// a mixture of both. The end record's counts catch frames cut off the end.
//
// Frame order (the loader enforces it):
//
//   header
//   image, volume x N            for each storage image: its structure
//   tracks / zeros, any order    the data, applied in file order
//   relationship, leaf x L  (R)  all relationships of all images, each
//                                followed by the leaves of its bitmaps
//   hosts                   (H)  per image with any: its volume groups and
//                                host connections (host-records.ts)
//   pprc-path x P                since version 4: the PPRC paths from each image
//   pprc-pair, pprc-oos x O      since version 4: each end of each PPRC pair of
//                                the images (pprc-records.ts), a primary's
//                                followed by the runs of its out-of-sync bitmap
//   end
//
// `tracks` frames hold a run of consecutive non-zero tracks of one volume's
// own storage; all-zero tracks are not written, so the file is sparse. A save
// writes the data twice over (save.ts): first a provisional copy while the
// images run, then, with them quiesced, the tracks that changed since, as
// later `tracks` frames (a later frame of a track overrides an earlier one)
// and `zeros` frames (tracks saved non-zero that are now all zero). The
// relationships come last, from the quiesced images, and the loader links
// them only once every track their background copy reads is in place. The
// end record repeats the counts, so a file cut at a frame boundary is caught.
//
// A frame is assembled and checksummed in a 1 MiB staging buffer of a private
// core instance (frame-buffer.ts), which bounds every frame: FRAME_PAYLOAD_MAX
// leaves room for the 16-byte frame header, and a tracks frame carries at most
// TRACKS_PER_FRAME_MAX tracks (512 KiB) plus its few header fields.
//
// Times are milliseconds since 1970 (msgpack numbers); bitmaps and track data
// are msgpack bin values.
//
// Bitmaps are saved in the core's two levels (assembly/bitmap.ts), so that a
// relationship of 16 TiB volumes takes a few KiB until its tracks change: a
// relationship record holds, for each of its bitmaps, a summary of one byte
// per chunk of CHUNK_TRACKS (2^18) tracks, 0 = no bit set, 1 = every bit set,
// 2 = the chunk's bits follow in a leaf frame. The leaf frames of a
// relationship come right after its record, in the order control bitmap,
// source record, target record, each by ascending chunk, and each holds the
// chunk's u64 words (src/engine/snapshot.ts leafBytes: at most 32 KiB).
//
// Versions 1 and 2 (volumes of at most 4 GiB) differ there: a relationship
// record holds each bitmap whole, as one run of u64 words over all tracks
// (the word count rounded up to even), and no leaf frames follow. Loading
// converts them to chunks. Version 1 also has no save identifier and no
// frame keys, and its image records announce their relationships.

import { STAGING_SIZE, TRACK_SIZE } from "../core/codes.js";
import type { OsType } from "../engine/rules.js";

export const MAGIC = new Uint8Array([0x54, 0x5a, 0x30, 0x53, 0x54, 0x41, 0x54, 0x45]); // "TZ0STATE"
export const FORMAT_VERSION = 4;
export const FORMAT_VERSION_MIN = 1; // the oldest version this tzero still reads
// Versions before this one hold each bitmap whole (see above).
export const FORMAT_VERSION_CHUNKED_BITMAPS = 3;
export const PREAMBLE_SIZE_V1 = 16;
export const PREAMBLE_SIZE = 24;

export function hasFlatBitmaps(version: number): boolean {
  return version < FORMAT_VERSION_CHUNKED_BITMAPS;
}

// Files of this version on hold the PPRC paths and pairs of their images.
export const FORMAT_VERSION_PPRC = 4;

export function hasPprc(version: number): boolean {
  return version >= FORMAT_VERSION_PPRC;
}

// The value XOR-ed into frame `index`'s checksum: splitmix64 of the save
// identifier and the index, so that neighbouring indexes give unrelated keys.
export function frameKey(saveId: bigint, index: number): bigint {
  let z = BigInt.asUintN(64, saveId + BigInt(index + 1) * 0x9e3779b97f4a7c15n);
  z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
  z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
  return z ^ (z >> 31n);
}
export const FRAME_HEADER_SIZE = 16;
export const FRAME_PAYLOAD_MAX = STAGING_SIZE - FRAME_HEADER_SIZE;
export const TRACKS_PER_FRAME_MAX = 8;
export const TRACKS_FRAME_DATA_MAX = TRACKS_PER_FRAME_MAX * TRACK_SIZE;

export type RecordType = "header" | "image" | "volume" | "tracks" | "zeros" | "relationship" | "leaf" | "hosts" | "pprc-path" | "pprc-pair" | "pprc-oos" | "end";

// Summary bytes of a bitmap (format version 2).
export const SUMMARY_CLEAR = 0;
export const SUMMARY_SET = 1;
export const SUMMARY_LEAF = 2;

export interface HeaderRecord {
  type: "header";
  generator: string; // the program that wrote the file, for people
  images: number;
}

export interface ImageRecord {
  type: "image";
  model: "2105" | "2107";
  serial: string;
  lss: string[]; // LSSs of its volumes, ascending (they exist because volumes do)
  volumes: number;
  // Version 1 only: a save of version 2 learns the relationships only when
  // it quiesces the images, after this record (the end record counts them).
  relationships?: number;
  // Extent pools, by index. Absent in files written before pools: such an
  // image loads with the default pools and its volumes in none.
  pools?: PoolRecord[];
}

export interface PoolRecord {
  id: string; // P0
  name: string;
  rankGroup: 0 | 1;
  capacityGiB: number;
}

export interface VolumeRecord {
  type: "volume";
  id: string;
  slot: number;
  blocks: number;
  unit: "ds" | "ess" | "blocks";
  os: OsType;
  name: string;
  createdAt: number;
  dataState: "Normal" | "Unusable";
  pool?: string | null; // extent pool ID; absent in files written before pools
  sam?: "standard"; // -sam standard; absent: ese (and in files written before standard volumes)
}

export interface TracksRecord {
  type: "tracks";
  image: number; // index of the image record, 0 = first
  volume: string;
  track: number; // first track of the run
  data: Uint8Array; // whole tracks, the last one cut at the volume's end
}

export interface ZerosRecord {
  type: "zeros";
  image: number;
  volume: string;
  track: number; // first track of a run of tracks that read as zeros
  count: number;
}

export interface RelationshipRecord {
  type: "relationship";
  image: number;
  source: string;
  target: string;
  slot: number;
  nocopy: boolean;
  persist: boolean;
  record: boolean;
  tgtinhibit: boolean;
  // mkflash -tgtpprc: the target may be a PPRC primary. Absent from files
  // written before it was saved, which load it as false (the field is additive).
  tgtpprc?: boolean;
  // mkflash -freeze: the source's writes held until this time (ms since 1970,
  // its LSS's timeout) unless unfreezeflash comes first. Absent (files written
  // before it was saved) or null: no hold, as such files load today.
  heldUntil?: number | null;
  seqnum: number;
  createdAt: number;
  syncedAt: number | null;
  trackCount: number;
  pendingTracks: number;
  copiedBytes: number;
  // Summaries (version 2) or whole bitmaps (version 1) of the control bitmap
  // (bit set = track not yet copied) and, -record only, of the change records.
  bitmap: Uint8Array;
  recordSource: Uint8Array | null;
  recordTarget: Uint8Array | null;
}

export interface LeafRecord {
  type: "leaf";
  image: number;
  source: string;
  target: string;
  bitmap: 0 | 1 | 2; // control bitmap, source record, target record
  chunk: number;
  data: Uint8Array; // the chunk's u64 words
}

// The host side of one image (src/hosts/host-map.ts): its volume groups and
// host connections, with the NBD endpoint each was given (-nbd, as typed).
export interface HostsRecord {
  type: "hosts";
  image: number;
  groups: Array<{ id: string; name: string; groupType: string; volumes: string[] }>;
  connections: Array<{ id: string; name: string; hostType: string; wwpn: string | null; volumeGroup: string | null; nbd: string | null }>;
}

// A PPRC path from an LSS of image `image` to an LSS of image `targetImage`
// (an image of the file, or of another node, reached at `endpoint`).
export interface PprcPathRecord {
  type: "pprc-path";
  image: number;
  targetImage: string; // image ID
  sourceLss: string;
  targetLss: string;
  targetWwnn: string;
  ports: Array<{ local: string; remote: string }>;
  consistgrp: boolean;
  endpoint: string | null; // HOST:PORT of the target image's node; null when the target is in the file
}

// One end of a PPRC pair: the volume `volume` of image `image`, primary or
// secondary of pair `pair` with the volume `otherVolume` (slot `otherSlot`)
// of image `otherImage`. A primary also holds the pair's state; its
// out-of-sync tracks follow in `oosRecords` pprc-oos records.
export interface PprcPairRecord {
  type: "pprc-pair";
  image: number;
  volume: string;
  role: "primary" | "secondary";
  pair: string; // "1000:2000", primary first
  otherImage: string; // image ID
  otherVolume: string;
  otherSlot: number;
  pprcType: "mmir" | "gcp";
  tgtread: boolean;
  critmode: boolean;
  primary: PprcPrimaryState | null; // the primary's side; null for a secondary
  primaryEndpoint: string | null; // a secondary's: where its primary's node takes links (failback dials it)
}

export interface PprcPrimaryState {
  mode: "sync" | "async" | "suspended";
  reason: string | null;
  detail: string | null;
  suspendedAt: number | null;
  firstPassDone: boolean;
  secondaryHeld: boolean; // false once its secondary was failed over
  linked: boolean; // false for a failed-over primary with no path back
  secondaryRestore: string | null; // the restore of a remote secondary it last copied whole after
  trackCount: number;
  outOfSyncTracks: number;
  oosRecords: number;
}

// Out-of-sync tracks of the primary `volume` of image `image`: runs as
// [first track, count] pairs flattened, ascending and apart.
export interface PprcOosRecord {
  type: "pprc-oos";
  image: number;
  volume: string;
  runs: number[];
}

export interface EndRecord {
  type: "end";
  savedAt: number; // the point in time the file holds (when the images were quiesced)
  frames: number; // frames before this one
  images: number;
  volumes: number;
  relationships: number;
  dataBytes: number; // bytes of track data in tracks frames
  zeroTracks: number; // tracks in zeros frames
  pprc?: number; // since version 4: pprc-path and pprc-pair records
}

export type StateRecord = HeaderRecord | ImageRecord | VolumeRecord | TracksRecord | ZerosRecord | RelationshipRecord | LeafRecord | HostsRecord | PprcPathRecord | PprcPairRecord | PprcOosRecord | EndRecord;
