// Fixtures shared by the suites: pre-touched volume pairs, pointers to their
// data in the image's memory, and waiting without burning a core.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StorageImage, Volume } from "../../src/engine/index.js";
import { Xorshift32 } from "./random.js";
import { percentile } from "./stats.js";
import { check } from "./suite.js";

export const EXTENT_SIZE = 1 << 20;

// The data pointer of every extent of a volume (0 while unallocated), for the
// raw memory.copy baselines; contiguousPointer() checks them against host reads.
export function extentPointers(image: StorageImage, volume: Volume): Uint32Array {
  const count = Math.ceil(volume.sizeBytes / EXTENT_SIZE);
  const pointers = new Uint32Array(count);
  // usize comes back from the core as a signed i32: >>> 0 keeps pointers above 2 GiB right.
  for (let extent = 0; extent < count; extent++) pointers[extent] = image.core.exports.volume_extent_pointer(volume.slot, extent) >>> 0;
  return pointers;
}

// Pointer to the first byte of a volume whose first `bytes` were written in one
// request, so that their extents lie back to back in memory (a fresh image
// allocates them in order) and one memory.copy can move them. Checked against
// host reads.
export function contiguousPointer(image: StorageImage, volume: Volume, bytes = volume.sizeBytes): number {
  const pointers = extentPointers(image, volume);
  const extents = Math.ceil(bytes / EXTENT_SIZE);
  check(pointers[0] !== 0, `the first extent of ${volume.id} is allocated`);
  for (let extent = 1; extent < extents; extent++) {
    check(pointers[extent] === pointers[0] + extent * EXTENT_SIZE, `extents of ${volume.id} lie back to back`);
  }
  const memory = new Uint8Array(image.memory.buffer);
  for (const offset of [0, bytes - 4096]) {
    const read = image.read(volume.id, offset, 4096);
    const raw = memory.subarray(pointers[0] + offset, pointers[0] + offset + 4096);
    check(Buffer.compare(read, raw) === 0, `bytes at ${volume.id}+${offset} through the core equal the raw pointer's`);
  }
  return pointers[0];
}

export interface TouchedPair {
  source: Volume;
  target: Volume;
  bytes: number;
  sourcePointer: number;
  targetPointer: number;
}

// A source and a target of `bytes` each, both written in full, so that every
// page of both is resident: first touch of fresh memory costs seconds per GiB
// on this VM, and a ratio is only fair if both sides find the memory touched.
export function touchedPair(image: StorageImage, sourceId: string, targetId: string, bytes: number, seed: number): TouchedPair {
  const blocks = bytes / 512;
  const source = image.createVolume({ id: sourceId, capacity: blocks, unit: "blocks" });
  const target = image.createVolume({ id: targetId, capacity: blocks, unit: "blocks" });
  image.writePattern(source.id, 0, bytes, seed);
  image.writePattern(target.id, 0, bytes, seed + 1);
  return {
    source, target, bytes,
    sourcePointer: contiguousPointer(image, source),
    targetPointer: contiguousPointer(image, target),
  };
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

// Sleeps the calling thread (the main thread may block in Node) without spinning.
export function pause(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

const WAKE_CHECK_MS = 50;

// Waits until a relationship has no pending track, asleep on its pending
// counter: the core notifies the counter when it reaches zero, so the main
// thread neither spins nor wakes to poll (either would take a core from the
// copy workers on a 2-core machine). Returns the milliseconds waited.
export function waitNoPending(image: StorageImage, relSlot: number, timeoutMs: number): number {
  const start = performance.now();
  const pointer = image.core.exports.rel_pending_pointer(relSlot);
  if (pointer === 0) throw new Error(`relationship slot ${relSlot} is not active`);
  const words = new Int32Array(image.memory.buffer);
  for (let pending = Atomics.load(words, pointer >> 2); pending > 0; pending = Atomics.load(words, pointer >> 2)) {
    if (performance.now() - start > timeoutMs) throw new Error(`background copy still pending after ${timeoutMs} ms`);
    Atomics.wait(words, pointer >> 2, pending, WAKE_CHECK_MS);
  }
  return performance.now() - start;
}

// The words of the first chunk of a relationship's control bitmap (its leaf,
// assembly/bitmap.ts), for scans over plain memory: the chunk must have been
// materialised (a track of it copied), and covers the whole bitmap when the
// source has at most CHUNK_TRACKS tracks.
export function controlLeaf(image: StorageImage, relationshipSlot: number): { pointer: number; wordCount: number } {
  const header = image.core.exports.rel_bitmap(relationshipSlot, 0);
  check(header !== 0, "the relationship has a control bitmap");
  const view = new DataView(image.memory.buffer);
  const trackCount = view.getUint32(header, true);
  const pointer = view.getUint32(header + 8, true);
  check(pointer !== 0 && pointer !== 0xffffffff, "the first chunk of the control bitmap has a leaf");
  const words = Math.ceil(Math.min(trackCount, 1 << 18) / 64);
  return { pointer, wordCount: words + (words & 1) };
}

// A fresh temporary directory for a suite's files, removed when `body` ends, however it ends.
export async function withTempDirectory<T>(prefix: string, body: (directory: string) => Promise<T>): Promise<T> {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  try {
    return await body(directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

// p50 of `count` host writes of `data` at seeded random `data`-sized offsets within the first `bytes` of `volume`, in µs.
export function writeP50Micros(image: StorageImage, volume: string, bytes: number, data: Uint8Array, count: number, seed: number): number {
  const random = new Xorshift32(seed);
  const slots = Math.floor(bytes / data.byteLength);
  const samples = new Array<number>(count);
  for (let index = 0; index < count; index++) {
    const offset = (random.next() % slots) * data.byteLength;
    const started = performance.now();
    image.write(volume, offset, data);
    samples[index] = (performance.now() - started) * 1000;
  }
  return percentile(samples, 50);
}
