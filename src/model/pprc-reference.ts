// The reference model of PPRC (design.md §4), the oracle of the property
// tests: volumes of several images as sparse maps of written tracks, pairs
// with their out-of-sync sets, and the mirror invariant stated directly: a
// write to the primary of a Full Duplex Metro Mirror pair whose link is up
// lands on both volumes; any other write to a primary lands on it alone and
// marks its tracks out of sync. Copies are instant here: resume and failback
// leave a pair as the engine's is once its copy is done (Full Duplex), and
// say how many tracks had to be sent, which the engine must match exactly.
//
// Slow and obviously right; it shares nothing with the engine but the ID
// parsing and the checksum's definition (src/model/checksum.ts).
import { TRACK_SIZE } from "../core/codes.js";
import { EngineError } from "../engine/errors.js";
import { lssOf, pairId, parseVolumeId } from "../engine/ids.js";
import { rangeChecksum } from "./checksum.js";

type Tracks = Map<number, Uint8Array>;

interface Volume {
  imageId: string;
  id: string;
  sizeBytes: number;
  data: Tracks;
  checksum: { of: Tracks; value: string } | null; // the last one computed, kept while `data` is that map
}

export type ModelPairState = "Copy Pending" | "Full Duplex" | "Suspended";

interface Pair {
  id: string;
  primary: Volume;
  secondary: Volume;
  type: "mmir" | "gcp";
  critmode: boolean;
  tgtread: boolean;
  suspended: boolean;
  reason: string | null;
  outOfSync: Set<number>;
  secondaryHeld: boolean; // false once the secondary was failed over
  writesHeld: boolean; // freezepprc over a -consistgrp path, until unfreezepprc
}

export interface ModelPairStatus {
  id: string;
  state: ModelPairState;
  reason: string | null;
  outOfSyncTracks: number;
}

const key = (imageId: string, id: string) => `${imageId}/${id}`;

export class PprcModel {
  private readonly volumes = new Map<string, Volume>();
  private readonly pairs: Pair[] = [];
  private readonly paths = new Map<string, { consistgrp: boolean }>(); // by "A/10>B/20"
  private readonly linksDown = new Set<string>(); // "A>B"

  createVolume(imageId: string, idText: string, sizeBytes: number): void {
    const id = parseVolumeId(idText);
    this.volumes.set(key(imageId, id), { imageId, id, sizeBytes, data: new Map(), checksum: null });
  }

  private volume(imageId: string, idText: string): Volume {
    const found = this.volumes.get(key(imageId, parseVolumeId(idText)));
    if (!found) throw new EngineError("VOLUME_NOT_FOUND", `volume ${idText} does not exist on ${imageId}`);
    return found;
  }

  makePath(sourceImageId: string, sourceLss: string, targetImageId: string, targetLss: string, consistgrp = false): void {
    this.paths.set(`${sourceImageId}/${sourceLss}>${targetImageId}/${targetLss}`, { consistgrp });
  }

  private pathUp(primary: Volume, secondary: Volume): boolean {
    const path = `${primary.imageId}/${lssOf(primary.id)}>${secondary.imageId}/${lssOf(secondary.id)}`;
    return this.paths.has(path) && !this.linksDown.has(`${primary.imageId}>${secondary.imageId}`);
  }

  private pairOf(volume: Volume): Pair | undefined {
    return this.pairs.find((pair) => pair.primary === volume || (pair.secondary === volume && pair.secondaryHeld));
  }

  private primaryPair(imageId: string, idText: string): Pair {
    const [primaryText, secondaryText] = idText.split(":");
    const primary = this.volume(imageId, primaryText);
    const pair = this.pairs.find((candidate) => candidate.primary === primary && candidate.secondary.id === parseVolumeId(secondaryText));
    if (!pair) throw new EngineError("PAIR_NOT_FOUND", `no pair ${idText} with its primary on ${imageId}`);
    return pair;
  }

  // -mode full: every track is sent; returns the pair's ID. The pair comes out as the engine's does once copied.
  makePair(primaryImageId: string, primaryText: string, secondaryImageId: string, secondaryText: string, options: { type: "mmir" | "gcp"; critmode?: boolean; tgtread?: boolean }): string {
    const primary = this.volume(primaryImageId, primaryText);
    const secondary = this.volume(secondaryImageId, secondaryText);
    const id = pairId(primary.id, secondary.id);
    if (this.pairOf(primary) || this.pairOf(secondary)) throw new EngineError("VOLUME_IN_PAIR", `pair ${id}: a volume is already in a pair`);
    if (secondary.sizeBytes < primary.sizeBytes) throw new EngineError("TARGET_TOO_SMALL", `pair ${id}: the secondary is smaller`);
    if (!this.pathUp(primary, secondary)) throw new EngineError("PATH_NOT_FOUND", `pair ${id}: no Success path`);
    const pair: Pair = {
      id, primary, secondary, type: options.type, critmode: options.critmode ?? false, tgtread: options.tgtread ?? false,
      suspended: false, reason: null, outOfSync: new Set(), secondaryHeld: true, writesHeld: false,
    };
    this.copyAll(pair, this.allTracks(primary));
    this.pairs.push(pair);
    return id;
  }

  private allTracks(volume: Volume): Set<number> {
    return new Set(Array.from({ length: Math.ceil(volume.sizeBytes / TRACK_SIZE) }, (_, track) => track));
  }

  // Sends `tracks` from primary to secondary; returns how many.
  private copyAll(pair: Pair, tracks: Set<number>): number {
    const copy = new Map(pair.secondary.data);
    for (const track of tracks) {
      const data = pair.primary.data.get(track);
      if (data === undefined) copy.delete(track);
      else copy.set(track, data);
    }
    pair.secondary.data = copy;
    pair.outOfSync.clear();
    return tracks.size;
  }

  // A host write: refused on a secondary and on a suspended -critmode primary; mirrored per the invariant.
  write(imageId: string, idText: string, offset: number, bytes: Uint8Array): void {
    const volume = this.volume(imageId, idText);
    if (offset + bytes.byteLength > volume.sizeBytes) throw new EngineError("OUT_OF_RANGE", "beyond the volume's end");
    const pair = this.pairOf(volume);
    if (pair && pair.secondary === volume) throw new EngineError("PPRC_SECONDARY", `volume ${volume.id} is a PPRC secondary`);
    if (pair && pair.primary === volume && pair.writesHeld) throw new EngineError("LONG_BUSY", `volume ${volume.id}: freezepprc holds its writes`);
    if (pair && pair.suspended && pair.critmode) {
      throw new EngineError("MIRROR_FAILED", `volume ${volume.id}: its -critmode pair ${pair.id} is suspended`);
    }
    if (pair && pair.type === "mmir" && !pair.suspended && (!pair.secondaryHeld || !this.pathUp(pair.primary, pair.secondary))) {
      // The write cannot be mirrored: the pair suspends, the write goes on locally with its tracks
      // out of sync, and with -critmode it then fails.
      // With -critmode the write stops at the end of its first track, whose bytes are written.
      pair.suspended = true;
      pair.reason = "Internal Conditions Target";
      const written = pair.critmode ? bytes.subarray(0, Math.min(bytes.byteLength, TRACK_SIZE - (offset % TRACK_SIZE))) : bytes;
      volume.data = applyBytes(volume.data, offset, written);
      for (const track of tracksOf(offset, written.byteLength)) pair.outOfSync.add(track);
      if (pair.critmode) throw new EngineError("MIRROR_FAILED", `volume ${volume.id}: the write could not be mirrored (-critmode)`);
      return;
    }
    volume.data = applyBytes(volume.data, offset, bytes);
    if (!pair) return;
    const mirrored = pair.type === "mmir" && !pair.suspended && pair.secondaryHeld;
    if (mirrored || (pair.type === "gcp" && !pair.suspended)) pair.secondary.data = applyBytes(pair.secondary.data, offset, bytes); // Global Copy: once drained
    else for (const track of tracksOf(offset, bytes.byteLength)) pair.outOfSync.add(track);
  }

  // Whole-volume checksum as the core defines it.
  // The data map is replaced on every change (write, copy), so a checksum is kept while its map is.
  checksum(imageId: string, idText: string): string {
    const volume = this.volume(imageId, idText);
    if (volume.checksum?.of === volume.data) return volume.checksum.value;
    const data = volume.data;
    const value = rangeChecksum(0, volume.sizeBytes, (at, count) => readBytes(data, at, count), new Set(data.keys()));
    volume.checksum = { of: data, value };
    return value;
  }

  pause(imageId: string, id: string): void {
    const pair = this.primaryPair(imageId, id);
    if (pair.suspended) return;
    pair.suspended = true;
    pair.reason = "Host Source";
  }

  // Returns the tracks sent: exactly the out-of-sync ones.
  resume(imageId: string, id: string): number {
    const pair = this.primaryPair(imageId, id);
    if (!pair.suspended) throw new EngineError("PAIR_STATE", `pair ${pair.id} is not suspended`);
    if (!pair.secondaryHeld) throw new EngineError("PAIR_STATE", `pair ${pair.id} was failed over: failback resynchronises it`);
    if (!this.pathUp(pair.primary, pair.secondary)) throw new EngineError("PATH_NOT_FOUND", `pair ${pair.id}: no Success path`);
    pair.suspended = false;
    pair.reason = null;
    return this.copyAll(pair, new Set(pair.outOfSync));
  }

  setLink(primaryImageId: string, secondaryImageId: string, up: boolean): void {
    const link = `${primaryImageId}>${secondaryImageId}`;
    if (up) {
      this.linksDown.delete(link);
      return;
    }
    this.linksDown.add(link);
    for (const pair of this.pairs) {
      if (pair.primary.imageId !== primaryImageId || pair.secondary.imageId !== secondaryImageId || pair.suspended || !pair.secondaryHeld) continue;
      pair.suspended = true;
      pair.reason = "Internal Conditions Target";
    }
  }

  // failoverpprc B:A on B's image: B becomes a suspended primary (Host Source), its out-of-sync set empty.
  failover(imageId: string, id: string): string {
    const [localText, remoteText] = id.split(":");
    const local = this.volume(imageId, localText);
    const old = this.pairs.find((pair) => pair.secondary === local && pair.secondaryHeld && pair.primary.id === parseVolumeId(remoteText));
    if (!old) throw new EngineError("PAIR_NOT_FOUND", `no pair with secondary ${localText} on ${imageId}`);
    old.secondaryHeld = false;
    // A Global Copy primary's drain finds its secondary gone at once; a Metro Mirror one at its next write.
    if (old.type === "gcp" && !old.suspended) {
      old.suspended = true;
      old.reason = "Internal Conditions Target";
    }
    const pair: Pair = {
      id: pairId(local.id, old.primary.id), primary: local, secondary: old.primary, type: old.type, critmode: old.critmode, tgtread: old.tgtread,
      suspended: true, reason: "Host Source", outOfSync: new Set(), secondaryHeld: false, writesHeld: false,
    };
    this.pairs.push(pair);
    return pair.id;
  }

  // failbackpprc B:A on B's image: copies the union of both sides' out-of-sync tracks to A; returns how many.
  failback(imageId: string, id: string): number {
    const pair = this.primaryPair(imageId, id);
    if (pair.secondaryHeld) throw new EngineError("PAIR_STATE", `pair ${pair.id} is not failed over`);
    if (!this.pathUp(pair.primary, pair.secondary)) throw new EngineError("PATH_NOT_FOUND", `pair ${pair.id}: no path back`);
    const union = new Set(pair.outOfSync);
    const old = this.pairs.find((candidate) => candidate.primary === pair.secondary);
    if (old) {
      for (const track of old.outOfSync) union.add(track);
      this.pairs.splice(this.pairs.indexOf(old), 1);
    }
    pair.secondaryHeld = true;
    pair.suspended = false;
    pair.reason = null;
    return this.copyAll(pair, union);
  }

  // freezepprc: every pair over the path suspends (reason Freeze) at once, the path goes, and
  // over a -consistgrp path the primaries' writes are held.
  freeze(sourceImageId: string, sourceLss: string, targetImageId: string, targetLss: string): void {
    const key = `${sourceImageId}/${sourceLss}>${targetImageId}/${targetLss}`;
    const path = this.paths.get(key);
    if (!path) throw new EngineError("PATH_NOT_FOUND", `no path ${sourceLss}:${targetLss} to freeze`);
    for (const pair of this.pairs) {
      const over = pair.primary.imageId === sourceImageId && lssOf(pair.primary.id) === sourceLss
        && pair.secondary.imageId === targetImageId && lssOf(pair.secondary.id) === targetLss && pair.secondaryHeld;
      if (!over) continue;
      pair.suspended = true;
      pair.reason = "Freeze";
      if (path.consistgrp) pair.writesHeld = true;
    }
    this.paths.delete(key);
  }

  // unfreezepprc: every primary of the source LSS takes writes again.
  unfreeze(sourceImageId: string, sourceLss: string): void {
    for (const pair of this.pairs) {
      if (pair.primary.imageId === sourceImageId && lssOf(pair.primary.id) === sourceLss) pair.writesHeld = false;
    }
  }

  remove(imageId: string, id: string): void {
    const pair = this.primaryPair(imageId, id);
    this.pairs.splice(this.pairs.indexOf(pair), 1);
  }

  // The pairs whose primary is on `imageId`, by ID.
  list(imageId: string): ModelPairStatus[] {
    return this.pairs.filter((pair) => pair.primary.imageId === imageId).map((pair) => ({
      id: pair.id,
      state: pair.suspended ? "Suspended" as const : pair.type === "mmir" ? "Full Duplex" as const : "Copy Pending" as const,
      reason: pair.suspended ? pair.reason : null,
      outOfSyncTracks: pair.outOfSync.size, // the backlog: a write here is never in flight, as lspprc's figure leaves such writes out
    })).sort((a, b) => a.id.localeCompare(b.id));
  }

  pairIds(): Array<{ imageId: string; id: string; failedOver: boolean; secondaryImageId: string }> {
    return this.pairs.map((pair) => ({ imageId: pair.primary.imageId, id: pair.id, failedOver: !pair.secondaryHeld, secondaryImageId: pair.secondary.imageId }));
  }
}

function tracksOf(offset: number, length: number): number[] {
  if (length === 0) return [];
  const first = Math.floor(offset / TRACK_SIZE);
  const last = Math.floor((offset + length - 1) / TRACK_SIZE);
  return Array.from({ length: last - first + 1 }, (_, index) => first + index);
}

// A new map with the bytes written: maps and track arrays are replaced, never
// changed in place, so a copy shares them safely.
function applyBytes(old: Tracks, offset: number, bytes: Uint8Array): Tracks {
  const data = new Map(old);
  for (let done = 0; done < bytes.byteLength;) {
    const at = offset + done;
    const track = Math.floor(at / TRACK_SIZE);
    const within = at - track * TRACK_SIZE;
    const count = Math.min(TRACK_SIZE - within, bytes.byteLength - done);
    const next = new Uint8Array(TRACK_SIZE);
    const old = data.get(track);
    if (old) next.set(old);
    next.set(bytes.subarray(done, done + count), within);
    data.set(track, next);
    done += count;
  }
  return data;
}

function readBytes(data: Tracks, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let done = 0; done < length;) {
    const at = offset + done;
    const track = Math.floor(at / TRACK_SIZE);
    const within = at - track * TRACK_SIZE;
    const count = Math.min(TRACK_SIZE - within, length - done);
    const stored = data.get(track);
    if (stored) out.set(stored.subarray(within, within + count), done);
    done += count;
  }
  return out;
}
