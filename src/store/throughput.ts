// Save and load throughput, for `tzero bench`: builds an image with a known
// amount of live data, checks that a save and a load reproduce it exactly,
// and reports GB/s and the bytes written per byte of live data, beside the
// two machine limits they run into: writing a file (the save) and touching
// fresh memory for the first time (the load fills new extents).

import { mkdtempSync, rmSync, statSync, openSync, writeSync, fsyncSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageImage } from "../engine/index.js";
import { EXTENT_SIZE, BLOCK_SIZE } from "../core/codes.js";
import { saveState } from "./save.js";
import { loadState } from "./load.js";
import { StoreError } from "./errors.js";

export interface ThroughputOptions {
  liveBytes?: number; // bytes of non-zero data in the image; default 128 MiB, a whole number of MiB
  volumeBytes?: number; // capacity of each volume; default 256 MiB, a whole number of MiB
  directory?: string; // where the state file goes; default a fresh folder in the OS temporary directory
  seed?: number; // of the data pattern
}

export interface ThroughputResult {
  liveBytes: number; // non-zero bytes saved
  provisionedBytes: number; // capacity of the volumes
  fileBytes: number; // size of the state file
  bytesPerLiveByte: number; // fileBytes / liveBytes
  saveSeconds: number; // whole save: write, fsync, rename, directory fsync
  loadSeconds: number; // whole load into a new image
  saveGBps: number; // live GB (10^9 bytes) saved per second
  loadGBps: number;
  frozenMs: number; // how long the image was quiesced during the save
  // The machine's own limits, measured in the same run, for ratios:
  fileWriteGBps: number; // plain writes of as many bytes to the same folder, fsync included (bounds the save)
  firstTouchGBps: number; // first writes to fresh shared wasm memory (page faults; bounds the load)
}

const MIB = 1 << 20;
const PAGE_BYTES = 65536; // a WebAssembly page

// Live data: the first half of every extent, so that the file skips both
// unallocated extents (the volumes' tails) and zero tracks of allocated ones.
function fillImage(image: StorageImage, liveBytes: number, volumeBytes: number, seed: number): string[] {
  const ids: string[] = [];
  let left = liveBytes;
  for (let index = 0; left > 0; index++) {
    const id = `10${index.toString(16).toUpperCase().padStart(2, "0")}`;
    image.createVolume({ id, capacity: volumeBytes / BLOCK_SIZE, unit: "blocks" });
    ids.push(id);
    for (let extent = 0; extent < volumeBytes / EXTENT_SIZE && left > 0; extent++) {
      const length = Math.min(EXTENT_SIZE / 2, left);
      image.writePattern(id, extent * EXTENT_SIZE, length, seed + index);
      left -= length;
    }
  }
  return ids;
}

const CHUNK_BYTES = 1 << 20;

function measureFileWrite(file: string, bytes: number): number {
  const chunk = new Uint8Array(CHUNK_BYTES).fill(1);
  const started = performance.now();
  const fd = openSync(file, "w");
  try {
    for (let done = 0; done < bytes; done += CHUNK_BYTES) writeSync(fd, chunk, 0, Math.min(CHUNK_BYTES, bytes - done));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  return bytes / ((performance.now() - started) / 1000) / 1e9;
}

function measureFirstTouch(bytes: number): number {
  const memory = new WebAssembly.Memory({ initial: 0, maximum: Math.ceil(bytes / PAGE_BYTES), shared: true });
  const started = performance.now();
  memory.grow(Math.ceil(bytes / PAGE_BYTES));
  new Uint8Array(memory.buffer).fill(1);
  return bytes / ((performance.now() - started) / 1000) / 1e9;
}

export async function measureStoreThroughput(options: ThroughputOptions = {}): Promise<ThroughputResult> {
  const liveBytes = options.liveBytes ?? 128 * MIB;
  const volumeBytes = options.volumeBytes ?? 256 * MIB;
  for (const [name, value] of [["liveBytes", liveBytes], ["volumeBytes", volumeBytes]] as const) {
    if (!Number.isInteger(value / MIB) || value <= 0) throw new StoreError("BAD_ARGUMENT", `${name} ${value} is not a positive whole number of MiB`);
  }
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), "tzero-store-bench-"));
  const file = join(directory, "throughput.tzs");
  const image = new StorageImage({ model: "2107", workers: 0 });
  try {
    const ids = fillImage(image, liveBytes, volumeBytes, options.seed ?? 1);
    const checksums = ids.map((id) => image.checksum(id));
    const saveStarted = performance.now();
    const report = saveState([image], file);
    const saveSeconds = (performance.now() - saveStarted) / 1000;
    await image.close();
    if (report.dataBytes !== liveBytes) throw new StoreError("BAD_RECORD", `the save wrote ${report.dataBytes} bytes of track data for ${liveBytes} live bytes`);
    const loadStarted = performance.now();
    const [loaded] = await loadState(file, { workers: 0 });
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    try {
      ids.forEach((id, index) => {
        if (loaded.checksum(id) !== checksums[index]) throw new StoreError("BAD_RECORD", `volume ${id} did not load as it was saved`);
      });
    } finally {
      await loaded.close();
    }
    const fileBytes = statSync(file).size;
    return {
      liveBytes, provisionedBytes: ids.length * volumeBytes, fileBytes, bytesPerLiveByte: fileBytes / liveBytes,
      saveSeconds, loadSeconds, saveGBps: liveBytes / saveSeconds / 1e9, loadGBps: liveBytes / loadSeconds / 1e9,
      frozenMs: report.frozenMs,
      fileWriteGBps: measureFileWrite(join(directory, "plain-write.bin"), liveBytes), firstTouchGBps: measureFirstTouch(liveBytes),
    };
  } finally {
    await image.close();
    if (options.directory === undefined) rmSync(directory, { recursive: true, force: true });
    else rmSync(file, { force: true });
  }
}
