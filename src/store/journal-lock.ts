// The lock file of a journal directory: created with O_EXCL ("wx") and holding
// the pid of its owner, so that two servers never open one directory. A lock
// whose process no longer exists (killed with kill -9) is stale: it is
// removed and taken, and the open reports whose it was.
//
// A lock that names this process's own pid is this process's only if it
// also names this process's start time: a server restarted in a container
// often gets the pid its killed predecessor had.
//
// The lock guards against a second server started by mistake, not against
// two started in the same instant over a stale lock: both could find it
// stale, and the later one remove the lock the earlier one just made. The
// lock is read back after it is made, which narrows that window to the few
// microseconds between the two checks.

import { join } from "node:path";
import { StoreError } from "./errors.js";
import type { JournalFileSystem } from "./file-system.js";
import { LOCK_FILE } from "./journal-format.js";
import { readWholeFile } from "./journal-reader.js";

const ATTEMPTS_MAX = 2; // the first finds a stale lock and removes it, the second takes it

export interface HeldLock {
  path: string;
  stalePid: number | null; // the pid of a dead process whose lock was taken over
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // it exists, owned by another user
  }
}

export async function acquireLock(fileSystem: JournalFileSystem, directory: string, alive: (pid: number) => boolean = processAlive): Promise<HeldLock> {
  const path = join(directory, LOCK_FILE);
  let stalePid: number | null = null;
  for (let attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
    if (await createLock(fileSystem, path)) {
      await checkOwnLock(fileSystem, path);
      return { path, stalePid };
    }
    const owner = await lockOwner(fileSystem, path);
    if (owner !== null && isLive(owner, alive)) {
      throw new StoreError("LOCKED", `${directory} is in use by process ${owner.pid} (its lock file ${path} names it); stop that server first`, { file: path });
    }
    stalePid = owner?.pid ?? -1;
    await unlinkIfPresent(fileSystem, path);
  }
  throw new StoreError("LOCKED", `${directory}: another process took the lock ${path} while this one removed a stale lock`, { file: path });
}

export async function releaseLock(fileSystem: JournalFileSystem, lock: HeldLock): Promise<void> {
  try {
    await fileSystem.unlink(lock.path);
  } catch (cause) {
    throw new StoreError("IO_ERROR", `cannot remove the lock file ${lock.path}: ${(cause as Error).message}`, { file: lock.path, cause });
  }
}

// True when this process made the lock file, false when it exists already.
async function createLock(fileSystem: JournalFileSystem, path: string): Promise<boolean> {
  let fd: number;
  try {
    fd = await fileSystem.open(path, "wx");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new StoreError("IO_ERROR", `cannot create the lock file ${path}: ${(cause as Error).message}`, { file: path, cause });
  }
  try {
    const text = new TextEncoder().encode(`${process.pid} ${START_TIME}\n`);
    if (await fileSystem.write(fd, text, 0) !== text.byteLength) throw new Error("short write");
    await fileSystem.fsync(fd);
  } catch (cause) {
    await fileSystem.close(fd).catch(() => undefined); // the write's error is the one to report
    await unlinkIfPresent(fileSystem, path);
    throw new StoreError("IO_ERROR", `cannot write the lock file ${path}: ${(cause as Error).message}`, { file: path, cause });
  }
  await fileSystem.close(fd);
  return true;
}

async function checkOwnLock(fileSystem: JournalFileSystem, path: string): Promise<void> {
  const owner = await lockOwner(fileSystem, path);
  if (owner === null || owner.pid !== process.pid || owner.startTime !== START_TIME) {
    throw new StoreError("LOCKED", `the lock file ${path} was taken by process ${owner?.pid ?? "unknown"} while this one made it`, { file: path });
  }
}

interface LockOwner {
  pid: number;
  startTime: number | null; // ms since 1970 when its process started
}

// This process's start, as the lock records it.
const START_TIME = Math.round(performance.timeOrigin);

function isLive(owner: LockOwner, alive: (pid: number) => boolean): boolean {
  if (owner.pid === process.pid) return owner.startTime === START_TIME;
  return alive(owner.pid);
}

// Whose a lock file is; null when it names nobody (empty or garbage: its
// maker died between creating and writing it) or when it has just gone.
async function lockOwner(fileSystem: JournalFileSystem, path: string): Promise<LockOwner | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readWholeFile(fileSystem, path);
  } catch (error) {
    if (error instanceof StoreError && (error.cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT") return null;
    throw error;
  }
  const match = /^([1-9]\d{0,9})(?: (\d{1,16}))?$/.exec(new TextDecoder().decode(bytes).trim());
  if (match === null) return null;
  return { pid: Number(match[1]), startTime: match[2] === undefined ? null : Number(match[2]) };
}

async function unlinkIfPresent(fileSystem: JournalFileSystem, path: string): Promise<void> {
  try {
    await fileSystem.unlink(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new StoreError("IO_ERROR", `cannot remove the stale lock file ${path}: ${(cause as Error).message}`, { file: path, cause });
  }
}
