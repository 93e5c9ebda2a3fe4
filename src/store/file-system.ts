// The file operations of a save and a load, behind one small interface so that
// a test can record their order (a save must write, fsync the file, rename it,
// then fsync the folder) or make one of them fail. NODE_FILE_SYSTEM is the real
// one: node:fs, asynchronous on libuv's thread pool, so that a slow disk never
// stalls the event loop; writeSync only for the short quiesced pass of a save.

import { open, write, read, fsync, close, rename, unlink, writeSync, fstat, ftruncate, readdir, mkdir } from "node:fs";
import { promisify } from "node:util";

export interface StoreFileSystem {
  open(path: string, flags: "wx" | "r" | "r+"): Promise<number>; // a file descriptor
  write(fd: number, bytes: Uint8Array, position: number): Promise<number>; // bytes written, maybe fewer
  writeSync(fd: number, bytes: Uint8Array, position: number): number;
  read(fd: number, bytes: Uint8Array, position: number): Promise<number>; // bytes read, 0 at the end
  size(fd: number): Promise<number>;
  fsync(fd: number): Promise<void>;
  close(fd: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
}

const openAsync = promisify(open);
const writeAsync = promisify(write);
const readAsync = promisify(read);
const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);
const renameAsync = promisify(rename);
const unlinkAsync = promisify(unlink);
const fstatAsync = promisify(fstat);
const ftruncateAsync = promisify(ftruncate);
const readdirAsync = promisify(readdir);
const mkdirAsync = promisify(mkdir);

export const NODE_FILE_SYSTEM: StoreFileSystem = {
  open: (path, flags) => openAsync(path, flags),
  write: async (fd, bytes, position) => (await writeAsync(fd, bytes, 0, bytes.byteLength, position)).bytesWritten,
  writeSync: (fd, bytes, position) => writeSync(fd, bytes, 0, bytes.byteLength, position),
  read: async (fd, bytes, position) => (await readAsync(fd, bytes, 0, bytes.byteLength, position)).bytesRead,
  size: async (fd) => (await fstatAsync(fd)).size,
  fsync: (fd) => fsyncAsync(fd),
  close: (fd) => closeAsync(fd),
  rename: (from, to) => renameAsync(from, to),
  unlink: (path) => unlinkAsync(path),
};

// What a journal needs besides: cutting a torn tail off a segment, listing
// its directory, and creating the directory on first start.
export interface JournalFileSystem extends StoreFileSystem {
  truncate(fd: number, length: number): Promise<void>;
  list(directory: string): Promise<string[]>; // entry names, in no particular order
  makeDirectory(directory: string): Promise<void>; // and its parents; no error if it exists
}

export const NODE_JOURNAL_FILE_SYSTEM: JournalFileSystem = {
  ...NODE_FILE_SYSTEM,
  truncate: (fd, length) => ftruncateAsync(fd, length),
  list: (directory) => readdirAsync(directory),
  makeDirectory: async (directory) => {
    await mkdirAsync(directory, { recursive: true });
  },
};
