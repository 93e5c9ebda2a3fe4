// loadState: new storage images from a state file, or an error and nothing.
//
// The file is read frame by frame (frame-reader.ts verifies lengths and
// checksums), each record is checked field by field (records.ts) and applied
// to images built for this load only. The caller gets them on full success
// and swaps them in; on any failure the new images are closed and the error
// is thrown, so the running state is never touched.

import { openSync, closeSync, fstatSync } from "node:fs";
import { resolve } from "node:path";
import { StorageImage, isEngineError, type ImageOptions } from "../engine/index.js";
import { TRACK_SIZE } from "../core/codes.js";
import {
  restoreVolume, writeVolumeTracks, markUnusable, restoreRelationship, bitmapBytes, bitmapPopulation,
} from "../engine/snapshot.js";
import { FrameReader, type Frame } from "./frame-reader.js";
import { StoreError } from "./errors.js";
import {
  recordType, headerRecord, imageRecord, volumeRecord, tracksRecord, relationshipRecord, endRecord, type FieldFailure,
} from "./records.js";
import type { HeaderRecord, ImageRecord, RecordType } from "./format.js";

// Options of the images built (model and serial come from the file).
export type LoadOptions = Omit<ImageOptions, "model" | "serial">;

export async function loadState(file: string, options: LoadOptions = {}): Promise<StorageImage[]> {
  const images: StorageImage[] = [];
  try {
    readState(resolve(file), options, images);
    return images;
  } catch (error) {
    await Promise.all(images.map((image) => image.close()));
    throw error;
  }
}

function readState(file: string, options: LoadOptions, images: StorageImage[]): void {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === "ENOENT";
    throw new StoreError(missing ? "NOT_FOUND" : "IO_ERROR", `cannot open ${file}: ${(cause as Error).message}`, { file, cause });
  }
  try {
    const reader = new FrameReader(fd, file, fstatSync(fd).size);
    reader.readPreamble();
    const loader = new StateLoader(file, options, images);
    for (;;) {
      const frame = reader.next();
      if (frame === null) throw reader.fail("TRUNCATED", `the file ends after frame ${loader.frames - 1} without its end record`);
      if (loader.apply(frame)) break;
    }
    if (reader.offset !== reader.size) {
      throw reader.fail("TRAILING_DATA", `${reader.size - reader.offset} bytes follow the end record at byte ${reader.offset}`);
    }
  } finally {
    closeSync(fd);
  }
}

// Where the loader is in the frame order of format.ts.
type Phase = "start" | "images" | "volumes" | "tracks" | "relationships";

interface CurrentImage {
  image: StorageImage;
  record: ImageRecord;
  volumes: number;
  relationships: number;
}

class StateLoader {
  private phase: Phase = "start";
  private header: HeaderRecord | null = null;
  private current: CurrentImage | null = null;
  private frame: Frame | null = null;
  private readonly totals = { volumes: 0, relationships: 0, dataBytes: 0 };
  frames = 0;

  constructor(
    private readonly file: string,
    private readonly options: LoadOptions,
    private readonly images: StorageImage[],
  ) {}

  private where(): string {
    const frame = this.frame as Frame;
    return `${this.file}: frame ${frame.index} at byte ${frame.offset}`;
  }

  private fail(message: string, field?: string, cause?: unknown): StoreError {
    const frame = this.frame as Frame;
    return new StoreError("BAD_RECORD", `${this.where()}: ${message}`, { file: this.file, offset: frame.offset, frame: frame.index, field, cause });
  }

  private readonly fieldFailure: FieldFailure = (type, field, message) => this.fail(`${type} record: field ${field} ${message}`, field);

  // Applies one frame; true once the end record has been applied.
  apply(frame: Frame): boolean {
    this.frame = frame;
    this.frames++;
    const type = recordType(frame.value, this.fieldFailure);
    this.checkOrder(type);
    try {
      return this.applyRecord(type, frame.value);
    } catch (error) {
      if (!isEngineError(error)) throw error;
      throw this.fail(`${type} record cannot be applied: ${error.message}`, undefined, error);
    }
  }

  private checkOrder(type: RecordType): void {
    const allowed: Record<Phase, readonly RecordType[]> = {
      start: ["header"],
      images: ["image", "end"],
      volumes: ["volume", "tracks", "relationship", "image", "end"],
      tracks: ["tracks", "relationship", "image", "end"],
      relationships: ["relationship", "image", "end"],
    };
    if (!allowed[this.phase].includes(type)) {
      throw this.fail(`a ${type} record cannot come here (expected ${allowed[this.phase].join(" or ")}; see the frame order of the format)`, "type");
    }
  }

  private applyRecord(type: RecordType, value: unknown): boolean {
    switch (type) {
      case "header":
        this.header = headerRecord(value, this.fieldFailure);
        this.phase = "images";
        return false;
      case "image":
        this.closeImage();
        this.openImage(imageRecord(value, this.fieldFailure));
        return false;
      case "volume":
        this.applyVolume(value);
        return false;
      case "tracks":
        this.applyTracks(value);
        return false;
      case "relationship":
        this.applyRelationship(value);
        return false;
      case "end":
        this.closeImage();
        this.applyEnd(value);
        return true;
    }
  }

  private openImage(record: ImageRecord): void {
    const header = this.header as HeaderRecord;
    if (this.images.length >= header.images) throw this.fail(`more image records than the ${header.images} the header announces`, "images");
    const image = new StorageImage({ ...this.options, model: record.model, serial: record.serial });
    this.images.push(image);
    if (this.images.some((other) => other !== image && other.id === image.id)) throw this.fail(`storage image ${image.id} appears twice`, "serial");
    this.current = { image, record, volumes: 0, relationships: 0 };
    this.phase = "volumes";
  }

  // Checks that the image got every volume and relationship it announced.
  private closeImage(): void {
    const current = this.current;
    if (current === null) return;
    const { image, record } = current;
    if (current.volumes !== record.volumes) throw this.fail(`image ${image.id} announced ${record.volumes} volumes but ${current.volumes} followed`, "volumes");
    if (current.relationships !== record.relationships) {
      throw this.fail(`image ${image.id} announced ${record.relationships} relationships but ${current.relationships} followed`, "relationships");
    }
    const lss = image.listLss();
    if (lss.join(",") !== record.lss.join(",")) throw this.fail(`image ${image.id} lists LSSs ${record.lss.join(" ")} but its volumes are in ${lss.join(" ")}`, "lss");
    this.current = null;
  }

  private applyVolume(value: unknown): void {
    const current = this.current as CurrentImage;
    const record = volumeRecord(value, this.fieldFailure);
    if (current.volumes >= current.record.volumes) throw this.fail(`image ${current.image.id} announced only ${current.record.volumes} volumes`, "volumes");
    restoreVolume(current.image, { ...record, createdAt: new Date(record.createdAt) });
    if (record.dataState === "Unusable") markUnusable(current.image, record.id);
    current.volumes++;
    this.totals.volumes++;
  }

  private applyTracks(value: unknown): void {
    const current = this.current as CurrentImage;
    const record = tracksRecord(value, this.fieldFailure);
    if (current.volumes !== current.record.volumes) throw this.fail("track data comes before the last volume record of its image", "type");
    if (!current.image.hasVolume(record.volume)) throw this.fail(`tracks record: volume ${record.volume} is not a volume of ${current.image.id}`, "volume");
    const volume = current.image.volume(record.volume);
    const offset = record.track * TRACK_SIZE;
    const end = offset + record.data.byteLength;
    const wholeTracks = record.data.byteLength % TRACK_SIZE === 0;
    if (end > volume.sizeBytes || (!wholeTracks && end !== volume.sizeBytes)) {
      throw this.fail(`tracks record: ${record.data.byteLength} bytes from track ${record.track} are not whole tracks within volume ${volume.id} (${volume.sizeBytes} bytes)`, "data");
    }
    writeVolumeTracks(current.image, volume.id, record.track, record.data);
    this.totals.dataBytes += record.data.byteLength;
    this.phase = "tracks";
  }

  private applyRelationship(value: unknown): void {
    const current = this.current as CurrentImage;
    const record = relationshipRecord(value, this.fieldFailure, bitmapBytes);
    if (current.volumes !== current.record.volumes) throw this.fail("a relationship comes before the last volume record of its image", "type");
    if (current.relationships >= current.record.relationships) {
      throw this.fail(`image ${current.image.id} announced only ${current.record.relationships} relationships`, "relationships");
    }
    const pair = `${record.source}:${record.target}`;
    if (!current.image.hasVolume(record.source)) throw this.fail(`relationship ${pair}: source ${record.source} is not a volume of ${current.image.id}`, "source");
    const sourceTracks = Math.ceil(current.image.volume(record.source).sizeBytes / TRACK_SIZE);
    if (record.trackCount !== sourceTracks) throw this.fail(`relationship ${pair}: trackCount ${record.trackCount}, but its source has ${sourceTracks} tracks`, "trackCount");
    const counted = bitmapPopulation(record.bitmap);
    if (counted !== record.pendingTracks) throw this.fail(`relationship ${pair}: pendingTracks ${record.pendingTracks}, but its bitmap has ${counted} tracks pending`, "pendingTracks");
    const restored = restoreRelationship(current.image, {
      ...record, sourceId: record.source, targetId: record.target,
      createdAt: new Date(record.createdAt), syncedAt: record.syncedAt === null ? null : new Date(record.syncedAt),
    });
    if (restored.pendingTracks !== record.pendingTracks) {
      throw this.fail(`relationship ${pair}: the core counts ${restored.pendingTracks} pending tracks, the file ${record.pendingTracks}`, "bitmap");
    }
    current.relationships++;
    this.totals.relationships++;
    this.phase = "relationships";
  }

  private applyEnd(value: unknown): void {
    const record = endRecord(value, this.fieldFailure);
    const header = this.header as HeaderRecord;
    if (this.images.length !== header.images) throw this.fail(`the header announces ${header.images} images but ${this.images.length} followed`, "images");
    const expected: [keyof typeof record & string, number][] = [
      ["frames", this.frames - 1], ["images", this.images.length], ["volumes", this.totals.volumes],
      ["relationships", this.totals.relationships], ["dataBytes", this.totals.dataBytes],
    ];
    for (const [field, actual] of expected) {
      if (record[field] !== actual) throw this.fail(`end record: field ${field} is ${record[field]} but the file holds ${actual}`, field);
    }
  }
}
