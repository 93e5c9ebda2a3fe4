// The reference model of FlashCopy: plain TypeScript, each volume a sparse
// map of its written tracks (so a 16 TiB volume costs what is written), and
// for every relationship an explicit copy of its source's T0 image (the map
// copied at establish; track arrays are never changed in place, so the copy
// shares them safely). Slow and obviously right; the oracle the engine is
// compared with after every step of the property tests, and the baseline of
// the benchmarks.
//
// Shared with the engine, deliberately: the identifier parsing and the rule
// checks (src/engine/ids.ts, rules.ts), which are pure functions with tests of
// their own. Everything about data and bitmaps is independent.

import { BLOCK_SIZE, TRACK_SIZE } from "../core/codes.js";
import { EngineError } from "../engine/errors.js";
import { parseVolumeId, pairId } from "../engine/ids.js";
import {
  checkEstablish, parseOsType, DEFAULT_OS, checkV2Supported, checkIncremental, checkNotRevertible, checkRevertible, checkReverse,
  type Model, type IncrementFacts, type VolumeFacts,
} from "../engine/rules.js";
import { lssOf } from "../engine/ids.js";
import { capacityBlocks, type CapacityUnit } from "../engine/units.js";
import { patternBytes } from "./pattern.js";
import { rangeChecksum, type Hasher } from "./checksum.js";
import { xxhash64 } from "./xxhash.js";
import { TrackRuns } from "./track-runs.js";

// Written tracks by index, each TRACK_SIZE bytes (bytes past the volume's end
// stay zero); a track not in the map reads as zeros. Arrays are replaced, never
// changed in place.
type Tracks = Map<number, Uint8Array>;

interface ModelVolume {
  id: string;
  blocks: number;
  sizeBytes: number;
  os: string;
  data: Tracks;
  unusable: boolean;
}

interface ModelRelationship {
  id: string;
  source: ModelVolume;
  target: ModelVolume;
  t0: Tracks; // the source as it was at establish
  trackCount: number;
  copied: TrackRuns; // tracks whose T0 data is on the target: the others are pending
  nocopy: boolean;
  persist: boolean;
  tgtinhibit: boolean;
  recordSource: Set<number> | null;
  recordTarget: Set<number> | null;
  held: boolean; // -freeze: host writes to the source fail (long busy)
  // setflashrevertible: the target's image before the increment, and the records it consumed.
  revertible: { image: Tracks; recordSource: Set<number>; recordTarget: Set<number> } | null;
}

export interface ModelVolumeSpec {
  id: string;
  capacity: number;
  unit?: CapacityUnit;
  os?: string;
}

export interface ModelFlashOptions {
  nocopy?: boolean;
  persist?: boolean;
  record?: boolean;
  tgtinhibit?: boolean;
  freeze?: boolean;
  tgtpprc?: boolean;
}

export interface ModelIncrementOptions {
  record?: boolean;
  persist?: boolean;
  tgtinhibit?: boolean;
  freeze?: boolean;
  fast?: boolean; // reverse only: no background copy
}

const trackCount = (bytes: number) => Math.ceil(bytes / TRACK_SIZE);

export class ReferenceImage {
  private readonly volumes = new Map<string, ModelVolume>();
  private readonly relationships = new Map<string, ModelRelationship>();

  // `hash` is the xxHash64 its checksums use: the TypeScript one, or the core's
  // hash of raw memory where tests hash many megabytes (it is tested on its own).
  constructor(readonly model: Model = "2105", private readonly hash: Hasher = xxhash64) {}

  createVolume(spec: ModelVolumeSpec): void {
    const id = parseVolumeId(spec.id);
    if (this.volumes.has(id)) throw new EngineError("VOLUME_EXISTS", `volume ${id} already exists`);
    const blocks = capacityBlocks(spec.capacity, spec.unit ?? "blocks");
    const os = spec.os === undefined ? DEFAULT_OS : parseOsType(spec.os);
    const sizeBytes = blocks * BLOCK_SIZE;
    this.volumes.set(id, { id, blocks, sizeBytes, os, data: new Map(), unusable: false });
  }

  removeVolume(idText: string): void {
    const volume = this.volume(idText);
    if (this.relationshipsOf(volume).length > 0) throw new EngineError("VOLUME_IN_RELATIONSHIP", `volume ${volume.id} is in a relationship`);
    this.volumes.delete(volume.id);
  }

  reinitVolume(idText: string): void {
    const volume = this.volume(idText);
    if (this.relationshipsOf(volume).length > 0) throw new EngineError("VOLUME_IN_RELATIONSHIP", `volume ${volume.id} is in a relationship`);
    volume.data.clear();
    volume.unusable = false;
  }

  volumeIds(): string[] {
    return [...this.volumes.keys()].sort();
  }

  dataState(idText: string): "Normal" | "Unusable" {
    return this.volume(idText).unusable ? "Unusable" : "Normal";
  }

  private volume(idText: string): ModelVolume {
    const id = parseVolumeId(idText);
    const volume = this.volumes.get(id);
    if (!volume) throw new EngineError("VOLUME_NOT_FOUND", `volume ${id} does not exist`);
    return volume;
  }

  private relationshipsOf(volume: ModelVolume): ModelRelationship[] {
    return [...this.relationships.values()].filter((r) => r.source === volume || r.target === volume);
  }

  establish(sourceText: string, targetText: string, options: ModelFlashOptions = {}): void {
    const source = this.volume(sourceText);
    const target = this.volume(targetText);
    const id = pairId(source.id, target.id);
    checkEstablish(this.model, this.facts(source), this.facts(target), this.relationships.has(id));
    if (options.freeze) checkV2Supported(this.model, "mkflash -freeze", "the image");
    if (options.tgtpprc) checkV2Supported(this.model, "mkflash -tgtpprc", "the image");
    this.relationships.set(id, {
      id, source, target, t0: new Map(source.data), trackCount: trackCount(source.sizeBytes), copied: new TrackRuns(),
      nocopy: options.nocopy ?? false, persist: options.persist ?? false, tgtinhibit: options.tgtinhibit ?? false,
      recordSource: options.record ? new Set() : null, recordTarget: options.record ? new Set() : null,
      held: options.freeze ?? false, revertible: null,
    });
    target.unusable = false;
  }

  private facts(volume: ModelVolume): VolumeFacts {
    return {
      id: volume.id, blocks: volume.blocks, os: volume.os,
      sourceOf: [...this.relationships.values()].filter((r) => r.source === volume).length,
      targetOf: [...this.relationships.values()].filter((r) => r.target === volume).length,
      usable: !volume.unusable,
    };
  }

  private incrementFacts(relationship: ModelRelationship): IncrementFacts {
    return {
      id: relationship.id, record: relationship.recordSource !== null, persist: relationship.persist,
      revertible: relationship.revertible !== null, pendingTracks: relationship.trackCount - relationship.copied.size,
    };
  }

  // ---- FlashCopy V2 ------------------------------------------------------------------------
  // A new T0, by definition: the target's T0 image is the source as it is now.
  // Tracks whose target bytes already equal it need no copy; the model does
  // not care which those are, it marks every track pending that the change
  // records name, and checks that count against the engine's.

  resync(idText: string, options: ModelIncrementOptions = {}): void {
    checkV2Supported(this.model, "resyncflash", "the image");
    const relationship = this.relationship(idText);
    checkIncremental("resyncflash", this.incrementFacts(relationship));
    this.newIncrement(relationship);
    this.setFlags(relationship, options);
    relationship.held = options.freeze ?? false;
  }

  private newIncrement(relationship: ModelRelationship): void {
    relationship.t0 = new Map(relationship.source.data);
    for (const track of [...relationship.recordSource!, ...relationship.recordTarget!]) relationship.copied.remove(track, track + 1);
    relationship.recordSource = new Set();
    relationship.recordTarget = new Set();
  }

  private setFlags(relationship: ModelRelationship, options: ModelIncrementOptions): void {
    relationship.persist = options.persist ?? false;
    relationship.tgtinhibit = options.tgtinhibit ?? false;
    if (!options.record) {
      relationship.recordSource = null;
      relationship.recordTarget = null;
    }
  }

  reverse(idText: string, options: ModelIncrementOptions = {}): void {
    checkV2Supported(this.model, "reverseflash", "the image");
    const old = this.relationship(idText);
    checkReverse(this.incrementFacts(old), this.facts(old.source), this.facts(old.target));
    const id = pairId(old.target.id, old.source.id);
    const reversed: ModelRelationship = {
      ...old, id, source: old.target, target: old.source, nocopy: options.fast ?? false, held: false,
    };
    this.relationships.delete(old.id);
    this.relationships.set(id, reversed);
    this.newIncrement(reversed);
    this.setFlags(reversed, options);
  }

  setRevertible(idText: string): void {
    checkV2Supported(this.model, "setflashrevertible", "the image");
    const relationship = this.relationship(idText);
    checkIncremental("setflashrevertible", this.incrementFacts(relationship));
    const kept = { image: this.targetImage(relationship), recordSource: relationship.recordSource!, recordTarget: relationship.recordTarget! };
    this.newIncrement(relationship);
    relationship.revertible = kept;
  }

  // The target's tracks as a host reads them: its own, and the T0 tracks
  // where pending. Visits written tracks only.
  private targetImage(relationship: ModelRelationship): Tracks {
    const image = new Map(relationship.target.data);
    for (const track of relationship.target.data.keys()) if (this.pending(relationship, track)) image.delete(track);
    for (const [track, bytes] of relationship.t0) if (this.pending(relationship, track)) image.set(track, bytes);
    return image;
  }

  commitRevertible(idText: string): void {
    checkV2Supported(this.model, "commitflash", "the image");
    const relationship = this.relationship(idText);
    checkRevertible("commitflash", this.incrementFacts(relationship));
    relationship.revertible = null;
  }

  // The target's image goes back to what it was before the increment; the
  // increment's tracks stop being pending and count as changed again.
  revertRevertible(idText: string): void {
    checkV2Supported(this.model, "revertflash", "the image");
    const relationship = this.relationship(idText);
    checkRevertible("revertflash", this.incrementFacts(relationship));
    const kept = relationship.revertible!;
    relationship.target.data = new Map(kept.image);
    for (const track of [...kept.recordSource, ...kept.recordTarget]) relationship.copied.add(track, track + 1);
    kept.recordSource.forEach((track) => relationship.recordSource!.add(track));
    kept.recordTarget.forEach((track) => relationship.recordTarget!.add(track));
    relationship.revertible = null;
  }

  unfreeze(lssText: string): string[] {
    checkV2Supported(this.model, "unfreezeflash", "the image");
    const lss = lssText.toUpperCase();
    if (![...this.volumes.values()].some((volume) => lssOf(volume.id) === lss)) {
      throw new EngineError("LSS_NOT_FOUND", `LSS ${lss} does not exist`);
    }
    const released: string[] = [];
    for (const relationship of this.relationships.values()) {
      if (!relationship.held || lssOf(relationship.source.id) !== lss) continue;
      relationship.held = false;
      released.push(relationship.id);
    }
    return released.sort();
  }

  isRevertible(idText: string): boolean {
    return this.relationship(idText).revertible !== null;
  }

  withdraw(idText: string): boolean {
    const relationship = this.relationship(idText);
    checkNotRevertible("rmflash", this.incrementFacts(relationship));
    const complete = relationship.copied.size === relationship.trackCount;
    if (!complete) relationship.target.unusable = true;
    this.relationships.delete(relationship.id);
    return complete;
  }

  relationship(idText: string): ModelRelationship {
    const [source, target] = idText.split(":");
    const id = pairId(parseVolumeId(source), parseVolumeId(target ?? ""));
    const relationship = this.relationships.get(id);
    if (!relationship) throw new EngineError("RELATIONSHIP_NOT_FOUND", `FlashCopy pair ${id} does not exist`);
    return relationship;
  }

  relationshipIds(): string[] {
    return [...this.relationships.keys()].sort();
  }

  pendingTracks(idText: string): number {
    const relationship = this.relationship(idText);
    return relationship.trackCount - relationship.copied.size;
  }

  recordedTracks(idText: string, side: "source" | "target"): number {
    const relationship = this.relationship(idText);
    const record = side === "source" ? relationship.recordSource : relationship.recordTarget;
    return record?.size ?? 0;
  }

  // Puts track t's T0 data on the target (what every copy does).
  private materialise(relationship: ModelRelationship, track: number): void {
    const t0 = relationship.t0.get(track);
    if (t0) relationship.target.data.set(track, t0);
    else relationship.target.data.delete(track);
    relationship.copied.add(track, track + 1);
  }

  private pending(relationship: ModelRelationship, track: number): boolean {
    return track < relationship.trackCount && !relationship.copied.has(track);
  }

  // Materialises every pending track of the range, visiting written tracks only.
  copyTracks(idText: string, firstTrack: number, count: number): number {
    const relationship = this.relationship(idText);
    const end = Math.min(relationship.trackCount, firstTrack + count);
    if (end <= firstTrack) return 0;
    const inRange = (track: number) => track >= firstTrack && track < end && this.pending(relationship, track);
    const { target, t0 } = relationship;
    for (const track of [...target.data.keys()].filter(inRange)) target.data.delete(track);
    for (const [track, bytes] of t0) if (inRange(track)) target.data.set(track, bytes);
    const copied = end - firstTrack - relationship.copied.countIn(firstTrack, end);
    relationship.copied.add(firstTrack, end);
    return copied;
  }

  // Background copies that have nothing left to copy end, unless persistent.
  settle(): string[] {
    const ended: string[] = [];
    for (const relationship of [...this.relationships.values()]) {
      if (relationship.nocopy || relationship.persist) continue;
      if (relationship.copied.size < relationship.trackCount) continue;
      this.relationships.delete(relationship.id);
      ended.push(relationship.id);
    }
    return ended;
  }

  private checkRange(volume: ModelVolume, offset: number, length: number): void {
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(length) || length < 0 || offset + length > volume.sizeBytes) {
      throw new EngineError("OUT_OF_RANGE", `volume ${volume.id}: bytes ${offset} to ${offset + length} out of range`);
    }
  }

  write(idText: string, offset: number, bytes: Uint8Array): void {
    const volume = this.volume(idText);
    this.checkRange(volume, offset, bytes.length);
    const asTarget = [...this.relationships.values()].find((r) => r.target === volume);
    if (asTarget?.tgtinhibit || asTarget?.revertible) throw new EngineError("TARGET_WRITE_INHIBITED", `volume ${volume.id} is write inhibited`);
    if ([...this.relationships.values()].some((r) => r.source === volume && r.held)) {
      throw new EngineError("LONG_BUSY", `volume ${volume.id} is long busy: a -freeze holds its writes`);
    }
    if (bytes.length === 0) return;
    const firstTrack = Math.floor(offset / TRACK_SIZE);
    const lastTrack = Math.floor((offset + bytes.length - 1) / TRACK_SIZE);
    for (let track = firstTrack; track <= lastTrack; track++) {
      for (const relationship of this.relationships.values()) {
        if (track >= relationship.trackCount) continue;
        if (relationship.source === volume) {
          relationship.recordSource?.add(track);
          if (this.pending(relationship, track)) this.materialise(relationship, track);
        }
        if (relationship.target === volume) {
          relationship.recordTarget?.add(track);
          // A whole-track write would overwrite the materialised track anyway.
          if (this.pending(relationship, track)) this.materialise(relationship, track);
        }
      }
      const start = Math.max(offset, track * TRACK_SIZE);
      const end = Math.min(offset + bytes.length, (track + 1) * TRACK_SIZE);
      const fresh = volume.data.get(track)?.slice() ?? new Uint8Array(TRACK_SIZE);
      fresh.set(bytes.subarray(start - offset, end - offset), start - track * TRACK_SIZE);
      volume.data.set(track, fresh);
    }
  }

  fill(idText: string, offset: number, length: number, value: number): void {
    this.write(idText, offset, new Uint8Array(length).fill(value));
  }

  // A write of zeros, whose whole tracks then hold no data at all (they read
  // as zeros either way): the engine releases whole extents (assembly/trim.ts).
  trim(idText: string, offset: number, length: number): void {
    this.fill(idText, offset, length, 0);
    const volume = this.volume(idText);
    const end = Math.min(offset + length, volume.sizeBytes);
    for (let track = Math.ceil(offset / TRACK_SIZE); (track + 1) * TRACK_SIZE <= end || (track * TRACK_SIZE < end && end === volume.sizeBytes); track++) {
      volume.data.delete(track);
    }
  }

  writePattern(idText: string, offset: number, length: number, seed: number): void {
    this.write(idText, offset, patternBytes(seed, offset, length));
  }

  read(idText: string, offset: number, length: number): Uint8Array {
    const volume = this.volume(idText);
    // A request is checked before the volume's state, as the engine does.
    this.checkRange(volume, offset, length);
    if (volume.unusable) throw new EngineError("VOLUME_UNUSABLE", `volume ${volume.id} is not usable`);
    const result = new Uint8Array(length);
    const asTarget = [...this.relationships.values()].find((r) => r.target === volume);
    for (let at = offset; at < offset + length;) {
      const track = Math.floor(at / TRACK_SIZE);
      const end = Math.min(offset + length, (track + 1) * TRACK_SIZE);
      const from = asTarget && this.pending(asTarget, track) ? asTarget.t0 : volume.data;
      const bytes = from.get(track);
      if (bytes) result.set(bytes.subarray(at - track * TRACK_SIZE, end - track * TRACK_SIZE), at - offset);
      at = end;
    }
    return result;
  }

  // Checksum of a range as a host read sees it (src/model/checksum.ts defines it).
  checksum(idText: string, offset = 0, length?: number): string {
    const volume = this.volume(idText);
    const bytes = length ?? volume.sizeBytes - offset;
    this.checkRange(volume, offset, bytes);
    if (volume.unusable) throw new EngineError("VOLUME_UNUSABLE", `volume ${volume.id} is not usable`);
    const asTarget = [...this.relationships.values()].find((r) => r.target === volume);
    const written = new Set(volume.data.keys());
    if (asTarget) for (const track of asTarget.t0.keys()) if (this.pending(asTarget, track)) written.add(track);
    return rangeChecksum(offset, bytes, (at, count) => this.read(idText, at, count), written, this.hash);
  }
}
