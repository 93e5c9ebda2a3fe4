// tzero state files: storage images saved and loaded, crash-safely.
//
//   saveState(images, file, options?) → SaveReport          synchronous
//     Saves every given StorageImage, at one point in time, to `file`
//     (temporary file, fsync, rename over `file`, fsync of the directory).
//     The data is written while the images run, then the images are quiesced
//     briefly to write what changed meanwhile and the relationships: host I/O
//     and background copies wait only then (SaveReport.frozenMs, about 0.15 s
//     per GiB of live data when little changes). Call it from the thread that
//     owns the images, and run nothing else on it meanwhile (it is synchronous
//     for that reason). Throws StoreError: IO_ERROR, BUSY, FROZEN_TOO_LONG,
//     BAD_ARGUMENT; `file` is then exactly as it was.
//
//   loadState(file, options?) → Promise<StorageImage[]>
//     Builds NEW images from `file` (options: those of StorageImage, less
//     model and serial, which the file gives). Resolves only on full success;
//     the caller swaps them in for its current ones (and closes those). On
//     failure nothing was changed and it rejects with a StoreError whose
//     `code` says why: NOT_FOUND, IO_ERROR, BAD_MAGIC, UNSUPPORTED_VERSION,
//     TRUNCATED (`incomplete` is true), CHECKSUM_MISMATCH, BAD_LENGTH,
//     NOT_MSGPACK, BAD_RECORD (`field` names the field), TRAILING_DATA.
//
//   measureStoreThroughput(options?) → Promise<ThroughputResult>
//     Save and load GB/s and bytes written per byte of live data, checked
//     for correctness first (for `tzero bench`).
//
// The file format is described in format.ts. After a load, background copies
// resume from their saved bitmaps, NOCOPY targets read their T0 images, and
// unusable volumes stay unusable.

export { saveState, type SaveOptions, type SaveReport } from "./save.js";
export { loadState, type LoadOptions } from "./load.js";
export { measureStoreThroughput, type ThroughputOptions, type ThroughputResult } from "./throughput.js";
export { StoreError, isStoreError, type StoreErrorCode } from "./errors.js";
export { FORMAT_VERSION } from "./format.js";
