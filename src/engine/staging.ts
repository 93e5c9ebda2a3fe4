// Host bytes into a thread's staging buffer, for the core to copy on.
//
// V8 copies into shared memory (a relaxed copy, as SharedArrayBuffer requires)
// a word at a time only when source and destination agree modulo 8, and a
// byte at a time otherwise, about ten times slower. Host bytes are often at
// odd offsets (a subarray of a network or file buffer, a payload inside a
// frame), so they are staged at their own alignment modulo STAGING_ALIGN and
// the core, which copies from any address, is given the shifted pointer. The
// staging buffer itself is 8-aligned (the core's allocator hands out blocks of
// at least 64 bytes at their size's alignment).
import { STAGING_SIZE } from "../core/codes.js";
import type { CoreThread } from "../core/core.js";

export const STAGING_ALIGN = 8;
// The most bytes one call stages whatever their shift; a multiple of 8, so
// that every chunk of a longer request keeps the first chunk's shift.
export const STAGING_CHUNK = STAGING_SIZE - STAGING_ALIGN;

// Whether `data` fits the staging buffer at its shift.
export function fitsStaging(data: Uint8Array): boolean {
  return (data.byteOffset & (STAGING_ALIGN - 1)) + data.byteLength <= STAGING_SIZE;
}

// Copies `data` (fitsStaging) into the staging buffer; returns the pointer the core reads it from.
export function stage(core: CoreThread, data: Uint8Array): number {
  const shift = data.byteOffset & (STAGING_ALIGN - 1);
  core.staging().set(data, shift);
  return core.stagingPointer + shift;
}
