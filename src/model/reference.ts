// The reference model of FlashCopy: plain TypeScript, one byte array per
// volume, and for every relationship an explicit copy of its source's T0
// image. Slow and obviously right; the oracle the engine is compared with
// after every step of the property tests, and the baseline of the benchmarks.
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

interface ModelVolume {
  id: string;
  blocks: number;
  sizeBytes: number;
  os: string;
  data: Uint8Array; // whole tracks; bytes past sizeBytes stay zero
  unusable: boolean;
}

interface ModelRelationship {
  id: string;
  source: ModelVolume;
  target: ModelVolume;
  t0: Uint8Array; // the source as it was at establish
  pending: boolean[]; // per track: T0 data not yet on the target
  nocopy: boolean;
  persist: boolean;
  tgtinhibit: boolean;
  recordSource: Set<number> | null;
  recordTarget: Set<number> | null;
  held: boolean; // -freeze: host writes to the source fail (long busy)
  // setflashrevertible: the target's image before the increment, and the records it consumed.
  revertible: { image: Uint8Array; recordSource: Set<number>; recordTarget: Set<number> } | null;
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

  constructor(readonly model: Model = "2105") {}

  createVolume(spec: ModelVolumeSpec): void {
    const id = parseVolumeId(spec.id);
    if (this.volumes.has(id)) throw new EngineError("VOLUME_EXISTS", `volume ${id} already exists`);
    const blocks = capacityBlocks(spec.capacity, spec.unit ?? "blocks");
    const os = spec.os === undefined ? DEFAULT_OS : parseOsType(spec.os);
    const sizeBytes = blocks * BLOCK_SIZE;
    this.volumes.set(id, { id, blocks, sizeBytes, os, data: new Uint8Array(trackCount(sizeBytes) * TRACK_SIZE), unusable: false });
  }

  removeVolume(idText: string): void {
    const volume = this.volume(idText);
    if (this.relationshipsOf(volume).length > 0) throw new EngineError("VOLUME_IN_RELATIONSHIP", `volume ${volume.id} is in a relationship`);
    this.volumes.delete(volume.id);
  }

  reinitVolume(idText: string): void {
    const volume = this.volume(idText);
    if (this.relationshipsOf(volume).length > 0) throw new EngineError("VOLUME_IN_RELATIONSHIP", `volume ${volume.id} is in a relationship`);
    volume.data.fill(0);
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
    const tracks = trackCount(source.sizeBytes);
    this.relationships.set(id, {
      id, source, target, t0: source.data.slice(), pending: new Array<boolean>(tracks).fill(true),
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
      revertible: relationship.revertible !== null, pendingTracks: relationship.pending.filter(Boolean).length,
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
    relationship.t0 = relationship.source.data.slice();
    for (const track of [...relationship.recordSource!, ...relationship.recordTarget!]) relationship.pending[track] = true;
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
    const image = this.read(relationship.target.id, 0, relationship.target.sizeBytes);
    const kept = { image, recordSource: relationship.recordSource!, recordTarget: relationship.recordTarget! };
    this.newIncrement(relationship);
    relationship.revertible = kept;
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
    relationship.target.data.set(kept.image, 0);
    for (const track of [...kept.recordSource, ...kept.recordTarget]) relationship.pending[track] = false;
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
    const complete = relationship.pending.every((pending) => !pending);
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
    return this.relationship(idText).pending.filter(Boolean).length;
  }

  recordedTracks(idText: string, side: "source" | "target"): number {
    const relationship = this.relationship(idText);
    const record = side === "source" ? relationship.recordSource : relationship.recordTarget;
    return record?.size ?? 0;
  }

  // Puts track t's T0 data on the target (what every copy does).
  private materialise(relationship: ModelRelationship, track: number): void {
    const start = track * TRACK_SIZE;
    relationship.target.data.set(relationship.t0.subarray(start, start + TRACK_SIZE), start);
    relationship.pending[track] = false;
  }

  copyTracks(idText: string, firstTrack: number, count: number): number {
    const relationship = this.relationship(idText);
    let copied = 0;
    const end = Math.min(relationship.pending.length, firstTrack + count);
    for (let track = firstTrack; track < end; track++) {
      if (!relationship.pending[track]) continue;
      this.materialise(relationship, track);
      copied++;
    }
    return copied;
  }

  // Background copies that have nothing left to copy end, unless persistent.
  settle(): string[] {
    const ended: string[] = [];
    for (const relationship of [...this.relationships.values()]) {
      if (relationship.nocopy || relationship.persist) continue;
      if (relationship.pending.some(Boolean)) continue;
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
        if (track >= relationship.pending.length) continue;
        if (relationship.source === volume) {
          relationship.recordSource?.add(track);
          if (relationship.pending[track]) this.materialise(relationship, track);
        }
        if (relationship.target === volume) {
          relationship.recordTarget?.add(track);
          // A whole-track write would overwrite the materialised track anyway.
          if (relationship.pending[track]) this.materialise(relationship, track);
        }
      }
    }
    volume.data.set(bytes, offset);
  }

  fill(idText: string, offset: number, length: number, value: number): void {
    this.write(idText, offset, new Uint8Array(length).fill(value));
  }

  writePattern(idText: string, offset: number, length: number, seed: number): void {
    this.write(idText, offset, patternBytes(seed, offset, length));
  }

  read(idText: string, offset: number, length: number): Uint8Array {
    const volume = this.volume(idText);
    // A request is checked before the volume's state, as the engine does.
    this.checkRange(volume, offset, length);
    if (volume.unusable) throw new EngineError("VOLUME_UNUSABLE", `volume ${volume.id} is not usable`);
    const result = volume.data.slice(offset, offset + length);
    const asTarget = [...this.relationships.values()].find((r) => r.target === volume);
    if (!asTarget) return result;
    for (let at = offset; at < offset + length; at++) {
      const track = Math.floor(at / TRACK_SIZE);
      if (track < asTarget.pending.length && asTarget.pending[track]) result[at - offset] = asTarget.t0[at];
    }
    return result;
  }
}
