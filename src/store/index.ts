// tzero state files: storage images saved and loaded, crash-safely.
//
//   saveState(images, file, options?) → Promise<SaveReport>
//     Saves every given StorageImage, at one point in time, to `file`
//     (temporary file, fsync, rename over `file`, fsync of the directory).
//     The data is written in passes while the images run, then the images are
//     quiesced only to write the few tracks that changed since and the
//     relationships: host I/O and background copies wait only then
//     (SaveReport.frozenMs). Asynchronous: the event loop keeps running
//     between frames, except during that short quiesced pass. Call it from
//     the thread that owns the images; volumes must not be created, removed or
//     changed while it runs. One save at a time per image.
//     options.signal abandons it (a second Ctrl-C, SIGTERM during an exit
//     save): the temporary file is removed, `file` is left as it was, and it
//     rejects with StoreError ABANDONED. Once its rename has begun it
//     completes instead. Rejects with StoreError: IO_ERROR, BUSY,
//     FROZEN_TOO_LONG, ABANDONED, BAD_ARGUMENT; `file` is then exactly as it was.
//
//   loadState(file, options?) → Promise<StorageImage[]>
//     Builds NEW images from `file` (options: those of StorageImage, less
//     model and serial, which the file gives, and a `signal` that abandons
//     the load). Resolves only on full success; the caller swaps them in for
//     its current ones (and closes those). On failure nothing was changed and
//     it rejects with a StoreError whose `code` says why: NOT_FOUND, IO_ERROR,
//     BAD_MAGIC, UNSUPPORTED_VERSION, TRUNCATED (`incomplete` is true),
//     CHECKSUM_MISMATCH (also a frame from another save), BAD_LENGTH,
//     NOT_MSGPACK, BAD_RECORD (`field` names the field), TRAILING_DATA, ABANDONED.
//
// The file format is described in format.ts (version 4; versions 1 to 3 still
// load). After a load, background copies resume from their saved bitmaps,
// NOCOPY targets read their T0 images, and unusable volumes stay unusable.
// PPRC paths and pairs are saved from a callback of the caller's PPRC while
// the images are quiesced (SaveOptions.pprc) and handed back, checked, in
// LoadOptions.pprc, for the caller's PPRC to restore.

export { saveState, type SaveOptions, type SaveReport } from "./save.js";
export { loadState, type LoadOptions, type LoadedPprc } from "./load.js";
export { OOS_RUNS_PER_RECORD } from "./pprc-records.js";
export { StoreError, isStoreError, type StoreErrorCode } from "./errors.js";
export { NODE_FILE_SYSTEM, type StoreFileSystem } from "./file-system.js";
export { FORMAT_VERSION } from "./format.js";

// The Copy Services Server's journal (journal.ts): records and snapshots in a
// directory, group-committed, replayed on open.
export { openJournal, Journal, type JournalOptions, type OpenReport, type SnapshotReport } from "./journal.js";
export { RECORD_BYTES_MAX, isJournalFile } from "./journal-format.js";
export { NODE_JOURNAL_FILE_SYSTEM, type JournalFileSystem } from "./file-system.js";
