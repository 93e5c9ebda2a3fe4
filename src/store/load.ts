// loadState: new storage images from a state file, or an error and nothing.
//
// The file is read frame by frame (frame-reader.ts verifies lengths and
// checksums), each record is checked field by field (records.ts) and applied
// to images built for this load only. The caller gets them on full success
// and swaps them in; on any failure the new images are closed and the error
// is thrown, so the running state is never touched. Reads are asynchronous
// and the event loop runs between frames, so a load of any size never holds
// it for long; an AbortSignal abandons the load (StoreError ABANDONED).

import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { resolve } from "node:path";
import { StorageImage, isEngineError, type ImageOptions, type Volume } from "../engine/index.js";
import { TRACK_SIZE } from "../core/codes.js";
import {
  restoreVolume, writeVolumeTracks, markUnusable, restoreRelationship, bitmapPopulation, bitmapFromFlat, chunkCount, leafBytes, leafTailClear,
  type BitmapChunk, type ChunkedBitmap,
} from "../engine/snapshot.js";
import { FrameReader, type Frame } from "./frame-reader.js";
import { NODE_FILE_SYSTEM, type StoreFileSystem } from "./file-system.js";
import { StoreError } from "./errors.js";
import {
  recordType, headerRecord, imageRecord, volumeRecord, tracksRecord, zerosRecord, relationshipRecord, leafRecord, endRecord,
  type FieldFailure,
} from "./records.js";
import {
  hasFlatBitmaps, SUMMARY_CLEAR, SUMMARY_SET,
  type HeaderRecord, type ImageRecord, type RecordType, type EndRecord, type RelationshipRecord,
} from "./format.js";
import type { HostsRecord, PprcPairRecord, PprcPathRecord } from "./format.js";
import { hostsRecord } from "./host-records.js";
import { hasPprc } from "./format.js";
import { pprcOosRecord, pprcPairRecord, pprcPathRecord } from "./pprc-records.js";

// The PPRC records of a file, checked against its images and volumes; a
// primary's out-of-sync runs gathered from its pprc-oos records.
export interface LoadedPprc {
  paths: PprcPathRecord[];
  pairs: Array<{ record: PprcPairRecord; runs: number[] }>;
}

// Options of the images built (model and serial come from the file), and of the load.
export interface LoadOptions extends Omit<ImageOptions, "model" | "serial"> {
  signal?: AbortSignal; // abandons the load: nothing is changed, it rejects with StoreError ABANDONED
  fileSystem?: StoreFileSystem; // default: node:fs
  // Filled with each image's hosts record (its volume groups and host connections), checked against its volumes.
  hosts?: Map<StorageImage, HostsRecord>;
  // Filled with the PPRC paths and pair ends of the images (format version 4 on); PPRC restores them.
  pprc?: LoadedPprc;
}

const SLICE_MS = 10; // longest stretch of applying frames between two turns of the event loop

export async function loadState(file: string, options: LoadOptions = {}): Promise<StorageImage[]> {
  const images: StorageImage[] = [];
  try {
    await readState(resolve(file), options, images);
    return images;
  } catch (error) {
    await Promise.all(images.map((image) => image.close()));
    throw error;
  }
}

async function readState(file: string, options: LoadOptions, images: StorageImage[]): Promise<void> {
  const { signal, fileSystem = NODE_FILE_SYSTEM, hosts = new Map(), pprc = { paths: [], pairs: [] }, ...imageOptions } = options;
  const checkAbort = () => {
    if (signal?.aborted) throw new StoreError("ABANDONED", `load of ${file} abandoned: nothing was changed`, { file });
  };
  checkAbort();
  let fd: number;
  try {
    fd = await fileSystem.open(file, "r");
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === "ENOENT";
    throw new StoreError(missing ? "NOT_FOUND" : "IO_ERROR", `cannot open ${file}: ${(cause as Error).message}`, { file, cause });
  }
  try {
    const reader = new FrameReader(fileSystem, fd, file, await fileSystem.size(fd));
    await reader.readPreamble();
    const loader = new StateLoader(file, imageOptions, images, reader.version, hosts, pprc);
    let sliceStarted = performance.now();
    for (;;) {
      const frame = await reader.next();
      if (frame === null) throw reader.fail("TRUNCATED", truncatedMessage(loader.frames, reader.offset));
      if (loader.apply(frame)) break;
      checkAbort();
      if (performance.now() - sliceStarted < SLICE_MS) continue;
      await yieldToEventLoop();
      sliceStarted = performance.now();
      checkAbort();
    }
    if (reader.offset !== reader.size) {
      throw reader.fail("TRAILING_DATA", `${reader.size - reader.offset} bytes follow the end record at byte ${reader.offset}`);
    }
  } finally {
    await fileSystem.close(fd).catch(() => undefined); // read-only: nothing to lose
  }
}

function truncatedMessage(frames: number, offset: number): string {
  if (frames === 0) return `the file is truncated: it ends at byte ${offset}, right after its preamble, before any frame`;
  return `the file is truncated: it ends at byte ${offset}, after ${frames} frames, without its end record`;
}

// Where the loader is in the frame order of format.ts.
type Phase = "start" | "structure" | "data" | "relationships" | "hosts" | "pprc";

const PPRC_STARTS: readonly RecordType[] = ["pprc-path", "pprc-pair"];
const ALLOWED: Record<Phase, readonly RecordType[]> = {
  start: ["header"],
  structure: ["image", "volume", "tracks", "zeros", "relationship", "hosts", ...PPRC_STARTS, "end"],
  data: ["tracks", "zeros", "relationship", "hosts", ...PPRC_STARTS, "end"],
  relationships: ["relationship", "leaf", "hosts", ...PPRC_STARTS, "end"],
  hosts: ["hosts", ...PPRC_STARTS, "end"],
  pprc: [...PPRC_STARTS, "pprc-oos", "end"],
};

const BITMAP_FIELDS = ["bitmap", "recordSource", "recordTarget"] as const;

// A relationship record whose leaf frames have not all come yet (format.ts).
interface PendingRelationship {
  record: RelationshipRecord;
  loaded: LoadedImage;
  chunks: (BitmapChunk[] | null)[]; // per bitmap, "clear"/"set" from the summary, leaves as they come
  missing: [number, number][]; // [bitmap, chunk] of the leaves still to come, in file order
}

interface LoadedImage {
  image: StorageImage;
  record: ImageRecord;
  volumes: number;
  relationships: number;
}

class StateLoader {
  private phase: Phase = "start";
  private header: HeaderRecord | null = null;
  private readonly loaded: LoadedImage[] = [];
  private frame: Frame | null = null;
  private readonly totals = { volumes: 0, relationships: 0, dataBytes: 0, zeroTracks: 0 };
  private pending: PendingRelationship | null = null;
  // The primary whose pprc-oos records are still to come, and the first track the next may start at.
  private pendingOos: { pair: LoadedPprc["pairs"][number]; left: number; from: number } | null = null;
  private pprcRecords = 0;
  frames = 0;

  constructor(
    private readonly file: string,
    private readonly options: Omit<ImageOptions, "model" | "serial">,
    private readonly images: StorageImage[],
    private readonly version: number,
    private readonly hosts: Map<StorageImage, HostsRecord>,
    private readonly pprc: LoadedPprc,
  ) {}

  private fail(message: string, field?: string, cause?: unknown): StoreError {
    const frame = this.frame as Frame;
    const where = `${this.file}: frame ${frame.index} at byte ${frame.offset}`;
    return new StoreError("BAD_RECORD", `${where}: ${message}`, { file: this.file, offset: frame.offset, frame: frame.index, field, cause });
  }

  private readonly fieldFailure: FieldFailure = (type, field, message) => this.fail(`${type} record: field ${field} ${message}`, field);

  // Applies one frame; true once the end record has been applied.
  apply(frame: Frame): boolean {
    this.frame = frame;
    this.frames++;
    const type = recordType(frame.value, this.fieldFailure);
    this.advance(type);
    try {
      this.applyRecord(type, frame.value);
    } catch (error) {
      if (!isEngineError(error)) throw error;
      throw this.fail(`${type} record cannot be applied: ${error.message}`, undefined, error);
    }
    return type === "end";
  }

  // Checks the record may come here, and moves to the phase it starts.
  private advance(type: RecordType): void {
    if (!ALLOWED[this.phase].includes(type)) {
      throw this.fail(`a ${type} record cannot come here (expected ${ALLOWED[this.phase].join(" or ")}; see the frame order of the format)`, "type");
    }
    if (type === "volume" && this.loaded.length === 0) throw this.fail("a volume record comes before any image record", "type");
    if (type === "leaf" && hasFlatBitmaps(this.version)) throw this.fail(`a leaf record cannot come in a file of format version ${this.version}`, "type");
    if (type !== "leaf" && this.pending !== null) throw this.missingLeaf();
    if (type.startsWith("pprc-") && !hasPprc(this.version)) throw this.fail(`a ${type} record cannot come in a file of format version ${this.version}`, "type");
    if (type !== "pprc-oos" && this.pendingOos !== null) throw this.missingOos();
    const next: Phase = type === "header" || type === "image" || type === "volume" ? "structure"
      : type === "hosts" ? "hosts"
      : type.startsWith("pprc-") ? "pprc"
      : type === "relationship" || type === "leaf" || type === "end" ? "relationships" : "data";
    if (this.phase === "structure" && next !== "structure") this.closeStructure();
    this.phase = next;
  }

  private applyRecord(type: RecordType, value: unknown): void {
    switch (type) {
      case "header": this.header = headerRecord(value, this.fieldFailure); break;
      case "image": this.openImage(imageRecord(value, this.fieldFailure, this.version)); break;
      case "volume": this.applyVolume(value); break;
      case "tracks": this.applyTracks(value); break;
      case "zeros": this.applyZeros(value); break;
      case "relationship": this.applyRelationship(value); break;
      case "leaf": this.applyLeaf(value); break;
      case "hosts": this.applyHosts(value); break;
      case "pprc-path": this.applyPprcPath(value); break;
      case "pprc-pair": this.applyPprcPair(value); break;
      case "pprc-oos": this.applyPprcOos(value); break;
      case "end": this.applyEnd(value); break;
    }
  }

  private openImage(record: ImageRecord): void {
    const header = this.header as HeaderRecord;
    if (this.images.length >= header.images) throw this.fail(`more image records than the ${header.images} the header announces`, "images");
    const image = new StorageImage({ ...this.options, model: record.model, serial: record.serial, defaultPools: record.pools === undefined });
    this.images.push(image);
    for (const pool of record.pools ?? []) {
      try {
        image.pools.create({ id: pool.id, name: pool.name, rankGroup: pool.rankGroup, capacityGiB: pool.capacityGiB });
      } catch (error) {
        if (isEngineError(error)) throw this.fail(`extent pool ${pool.id}: ${error.message}`, "pools");
        throw error;
      }
    }
    if (this.images.some((other) => other !== image && other.id === image.id)) throw this.fail(`storage image ${image.id} appears twice`, "serial");
    this.loaded.push({ image, record, volumes: 0, relationships: 0 });
  }

  // After the last image and volume record: every image has all its volumes.
  private closeStructure(): void {
    const header = this.header as HeaderRecord;
    if (this.images.length !== header.images) throw this.fail(`the header announces ${header.images} images but ${this.images.length} came before the data`, "images");
    for (const { image, record, volumes } of this.loaded) {
      if (volumes !== record.volumes) throw this.fail(`image ${image.id} announced ${record.volumes} volumes but ${volumes} followed it`, "volumes");
      const lss = image.listLss();
      if (lss.join(",") !== record.lss.join(",")) throw this.fail(`image ${image.id} lists LSSs ${record.lss.join(" ")} but its volumes are in ${lss.join(" ")}`, "lss");
    }
  }

  private loadedImage(index: number): LoadedImage {
    const loaded = this.loaded[index];
    if (loaded === undefined) throw this.fail(`image ${index} does not exist (the file has ${this.loaded.length})`, "image");
    return loaded;
  }

  private volumeOf(loaded: LoadedImage, id: string, field: string): Volume {
    if (!loaded.image.hasVolume(id)) throw this.fail(`volume ${id} is not a volume of ${loaded.image.id}`, field);
    return loaded.image.volume(id);
  }

  private applyVolume(value: unknown): void {
    const current = this.loaded[this.loaded.length - 1];
    const record = volumeRecord(value, this.fieldFailure);
    if (current.volumes >= current.record.volumes) throw this.fail(`image ${current.image.id} announced only ${current.record.volumes} volumes`, "volumes");
    restoreVolume(current.image, { ...record, createdAt: new Date(record.createdAt) });
    if (record.dataState === "Unusable") markUnusable(current.image, record.id);
    current.volumes++;
    this.totals.volumes++;
  }

  private applyTracks(value: unknown): void {
    const record = tracksRecord(value, this.fieldFailure);
    const loaded = this.loadedImage(record.image);
    const volume = this.volumeOf(loaded, record.volume, "volume");
    const end = record.track * TRACK_SIZE + record.data.byteLength;
    const wholeTracks = record.data.byteLength % TRACK_SIZE === 0;
    if (end > volume.sizeBytes || (!wholeTracks && end !== volume.sizeBytes)) {
      throw this.fail(`tracks record: ${record.data.byteLength} bytes from track ${record.track} are not whole tracks within volume ${volume.id} (${volume.sizeBytes} bytes)`, "data");
    }
    writeVolumeTracks(loaded.image, volume.id, record.track, record.data);
    this.totals.dataBytes += record.data.byteLength;
  }

  private applyZeros(value: unknown): void {
    const record = zerosRecord(value, this.fieldFailure);
    const loaded = this.loadedImage(record.image);
    const volume = this.volumeOf(loaded, record.volume, "volume");
    const offset = record.track * TRACK_SIZE;
    if (offset >= volume.sizeBytes) throw this.fail(`zeros record: track ${record.track} lies beyond volume ${volume.id}`, "track");
    const length = Math.min(record.count * TRACK_SIZE, volume.sizeBytes - offset);
    writeVolumeTracks(loaded.image, volume.id, record.track, new Uint8Array(length));
    this.totals.zeroTracks += record.count;
  }

  private applyRelationship(value: unknown): void {
    const record = relationshipRecord(value, this.fieldFailure, this.version);
    const loaded = this.loadedImage(record.image);
    const announced = loaded.record.relationships;
    if (announced !== undefined && loaded.relationships >= announced) {
      throw this.fail(`image ${loaded.image.id} announced only ${announced} relationships`, "relationships");
    }
    const pair = `${record.source}:${record.target}`;
    const sourceTracks = Math.ceil(this.volumeOf(loaded, record.source, "source").sizeBytes / TRACK_SIZE);
    if (record.trackCount !== sourceTracks) throw this.fail(`relationship ${pair}: trackCount ${record.trackCount}, but its source has ${sourceTracks} tracks`, "trackCount");
    if (hasFlatBitmaps(this.version)) {
      const flat = (bytes: Uint8Array | null) => (bytes === null ? null : bitmapFromFlat(bytes, record.trackCount));
      this.restore(record, loaded, [flat(record.bitmap), flat(record.recordSource), flat(record.recordTarget)]);
      return;
    }
    const pending: PendingRelationship = { record, loaded, chunks: [], missing: [] };
    BITMAP_FIELDS.forEach((field, which) => {
      const summary = record[field];
      pending.chunks.push(summary === null ? null : Array.from(summary, (state, chunk): BitmapChunk => {
        if (state !== SUMMARY_CLEAR && state !== SUMMARY_SET) pending.missing.push([which, chunk]);
        return state === SUMMARY_SET ? "set" : "clear";
      }));
    });
    this.pending = pending;
    this.restorePending();
  }

  private missingLeaf(): StoreError {
    const { record, missing } = this.pending as PendingRelationship;
    const [which, chunk] = missing[0];
    return this.fail(`relationship ${record.source}:${record.target}: the leaf of chunk ${chunk} of its ${BITMAP_FIELDS[which]} is missing (its summary says one follows)`, "type");
  }

  private applyLeaf(value: unknown): void {
    const record = leafRecord(value, this.fieldFailure);
    if (this.pending === null) throw this.fail("a leaf record must follow a relationship record whose summary announces it", "type");
    const { record: owner, chunks, missing } = this.pending;
    const [which, chunk] = missing[0];
    const matches = record.image === owner.image && record.source === owner.source && record.target === owner.target;
    if (!matches || record.bitmap !== which || record.chunk !== chunk) {
      throw this.fail(`leaf record: expected chunk ${chunk} of the ${BITMAP_FIELDS[which]} of relationship ${owner.source}:${owner.target}, not chunk ${record.chunk} of bitmap ${record.bitmap} of ${record.source}:${record.target}`, "chunk");
    }
    const bytes = leafBytes(owner.trackCount, chunk);
    if (record.data.byteLength !== bytes) throw this.fail(`leaf record: field data must be ${bytes} bytes for chunk ${chunk}, not ${record.data.byteLength}`, "data");
    if (!leafTailClear(owner.trackCount, chunk, record.data)) {
      throw this.fail(`leaf record: field data has bits set past the last track of the source (${owner.trackCount} tracks)`, "data");
    }
    // A copy: the frame reader reuses its buffer for the next frame.
    (chunks[which] as BitmapChunk[])[chunk] = record.data.slice();
    missing.shift();
    this.restorePending();
  }

  // Restores the pending relationship once its last leaf has come.
  private restorePending(): void {
    const pending = this.pending as PendingRelationship;
    if (pending.missing.length > 0) return;
    this.pending = null;
    const trackCount = pending.record.trackCount;
    const [bitmap, recordSource, recordTarget] = pending.chunks.map((chunks): ChunkedBitmap | null => (chunks === null ? null : { trackCount, chunks }));
    if (bitmap?.chunks.length !== chunkCount(trackCount)) throw this.fail(`relationship ${pending.record.source}:${pending.record.target}: bitmap summary has the wrong length`, "bitmap");
    this.restore(pending.record, pending.loaded, [bitmap, recordSource, recordTarget]);
  }

  private restore(record: RelationshipRecord, loaded: LoadedImage, [bitmap, recordSource, recordTarget]: (ChunkedBitmap | null)[]): void {
    const pair = `${record.source}:${record.target}`;
    const counted = bitmapPopulation(bitmap as ChunkedBitmap);
    if (counted !== record.pendingTracks) throw this.fail(`relationship ${pair}: pendingTracks ${record.pendingTracks}, but its bitmap has ${counted} tracks pending`, "pendingTracks");
    const restored = restoreRelationship(loaded.image, {
      ...record, sourceId: record.source, targetId: record.target, bitmap: bitmap as ChunkedBitmap, recordSource, recordTarget,
      createdAt: new Date(record.createdAt), syncedAt: record.syncedAt === null ? null : new Date(record.syncedAt),
    });
    if (restored.pendingTracks !== record.pendingTracks) {
      throw this.fail(`relationship ${pair}: the core counts ${restored.pendingTracks} pending tracks, the file ${record.pendingTracks}`, "bitmap");
    }
    loaded.relationships++;
    this.totals.relationships++;
  }

  // One per image at most; every group's volumes are the image's, every connection's group one of the record's.
  private applyHosts(value: unknown): void {
    const record = hostsRecord(value, this.fieldFailure);
    const loaded = this.loadedImage(record.image);
    if (this.hosts.has(loaded.image)) throw this.fail(`a second hosts record for image ${loaded.image.id}`, "image");
    const groupIds = new Set<string>();
    record.groups.forEach((group, index) => {
      if (groupIds.has(group.id)) throw this.fail(`hosts record: field groups[${index}].id: volume group ${group.id} appears twice`, `groups[${index}].id`);
      groupIds.add(group.id);
      const missing = group.volumes.find((volume) => !loaded.image.hasVolume(volume));
      if (missing !== undefined) throw this.fail(`hosts record: field groups[${index}].volumes holds ${missing}, not a volume of ${loaded.image.id}`, `groups[${index}].volumes`);
    });
    const hostIds = new Set<string>();
    record.connections.forEach((host, index) => {
      if (hostIds.has(host.id)) throw this.fail(`hosts record: field connections[${index}].id: host connection ${host.id} appears twice`, `connections[${index}].id`);
      hostIds.add(host.id);
      if (host.volumeGroup !== null && !groupIds.has(host.volumeGroup)) {
        throw this.fail(`hosts record: field connections[${index}].volumeGroup: host connection ${host.id} uses volume group ${host.volumeGroup}, which the record does not hold`, `connections[${index}].volumeGroup`);
      }
    });
    this.hosts.set(loaded.image, record);
  }

  private applyPprcPath(value: unknown): void {
    const record = pprcPathRecord(value, this.fieldFailure);
    const loaded = this.loadedImage(record.image);
    if (!loaded.image.listLss().includes(record.sourceLss)) throw this.fail(`pprc-path record: LSS ${record.sourceLss} does not exist on ${loaded.image.id}`, "sourceLss");
    const inFile = this.images.some((image) => image.id === record.targetImage);
    if (inFile === (record.endpoint !== null)) {
      throw this.fail(`pprc-path record: field endpoint must be ${inFile ? "null for a target image in the file" : "HOST:PORT for a target image of another node"}`, "endpoint");
    }
    this.pprc.paths.push(record);
    this.pprcRecords++;
  }

  private applyPprcPair(value: unknown): void {
    const record = pprcPairRecord(value, this.fieldFailure);
    const loaded = this.loadedImage(record.image);
    const volume = this.volumeOf(loaded, record.volume, "volume");
    const trackCount = Math.ceil(volume.sizeBytes / TRACK_SIZE);
    const primary = record.primary;
    if (primary !== null && primary.trackCount !== trackCount) {
      throw this.fail(`pprc-pair record: pair ${record.pair}: field primary.trackCount is ${primary.trackCount}, but volume ${volume.id} has ${trackCount} tracks`, "primary.trackCount");
    }
    const pair = { record, runs: [] as number[] };
    this.pprc.pairs.push(pair);
    this.pprcRecords++;
    if (primary !== null && primary.outOfSyncTracks > 0 && primary.oosRecords === 0) {
      throw this.fail(`pprc-pair record: pair ${record.pair}: ${primary.outOfSyncTracks} tracks out of sync, but no pprc-oos record announced`, "primary.oosRecords");
    }
    if (primary !== null && primary.oosRecords > 0) this.pendingOos = { pair, left: primary.oosRecords, from: 0 };
  }

  private missingOos(): StoreError {
    const { pair, left } = this.pendingOos!;
    return this.fail(`pprc-pair ${pair.record.pair}: ${left} of its pprc-oos records are missing (its record announces them)`, "type");
  }

  private applyPprcOos(value: unknown): void {
    const pending = this.pendingOos;
    if (pending === null) throw this.fail("a pprc-oos record must follow the pprc-pair record of a primary that announces it", "type");
    const { record: owner } = pending.pair;
    const record = pprcOosRecord(value, this.fieldFailure, owner.primary!.trackCount, pending.from);
    if (record.image !== owner.image || record.volume !== owner.volume) {
      throw this.fail(`pprc-oos record: expected the runs of volume ${owner.volume} of image ${owner.image}, not of ${record.volume} of image ${record.image}`, "volume");
    }
    pending.pair.runs.push(...record.runs);
    const last = record.runs.length - 2;
    pending.from = record.runs[last] + record.runs[last + 1] + 1;
    if (--pending.left > 0) return;
    this.pendingOos = null;
    let counted = 0;
    for (let index = 1; index < pending.pair.runs.length; index += 2) counted += pending.pair.runs[index];
    if (counted !== owner.primary!.outOfSyncTracks) {
      throw this.fail(`pprc-oos record: pair ${owner.pair}: its runs hold ${counted} tracks, but its pprc-pair record says ${owner.primary!.outOfSyncTracks} are out of sync`, "runs");
    }
  }

  private applyEnd(value: unknown): void {
    const record = endRecord(value, this.fieldFailure, this.version);
    for (const { image, record: announced, relationships } of this.loaded) {
      if (announced.relationships !== undefined && relationships !== announced.relationships) {
        throw this.fail(`image ${image.id} announced ${announced.relationships} relationships but ${relationships} followed`, "relationships");
      }
    }
    const expected: [Exclude<keyof EndRecord, "type" | "savedAt">, number][] = [
      ["frames", this.frames - 1], ["images", this.images.length], ["volumes", this.totals.volumes],
      ["relationships", this.totals.relationships], ["dataBytes", this.totals.dataBytes], ["zeroTracks", this.totals.zeroTracks],
      ...(hasPprc(this.version) ? [["pprc", this.pprcRecords] as ["pprc", number]] : []),
    ];
    for (const [field, actual] of expected) {
      if (record[field] !== actual) throw this.fail(`end record: field ${field} is ${record[field]} but the file holds ${actual}`, field);
    }
  }
}
