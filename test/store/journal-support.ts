// Helpers of the journal tests: a small state machine to journal (a list of
// numbers and their sum), and a file system that records every operation and
// can fail or hold any of them.
import { basename } from "node:path";
import { NODE_JOURNAL_FILE_SYSTEM, type JournalFileSystem, type JournalOptions } from "../../src/store/index.js";

export interface Tally {
  values: number[];
  sum: number;
}

export interface AddRecord {
  type: "add";
  value: number;
  padding?: string; // makes records of a chosen size
}

// Pure: a new state each time. Refuses a record that is not an add of a whole number.
export function applyAdd(state: Tally, record: AddRecord): Tally {
  if (record === null || typeof record !== "object" || record.type !== "add" || !Number.isSafeInteger(record.value)) {
    throw new Error(`not an add record: ${JSON.stringify(record)}`);
  }
  return { values: [...state.values, record.value], sum: state.sum + record.value };
}

export function tallyOptions(extra: Partial<JournalOptions<Tally, AddRecord>> = {}): JournalOptions<Tally, AddRecord> {
  return { initial: () => ({ values: [], sum: 0 }), apply: applyAdd, ...extra };
}

export function add(value: number): AddRecord {
  return { type: "add", value };
}

export interface Operation {
  name: "open" | "write" | "fsync" | "close" | "rename" | "unlink" | "truncate" | "list" | "makeDirectory";
  path: string; // relative to the journal directory ("." for it), sequences without leading zeros, temporaries as NAME.TMP
  flags?: string;
  to?: string;
}

// Readable names: journal-00000000000000000001.tzj → journal-1.tzj, .journal-…<pid>.<hex>.tmp → .journal-1.TMP.
function shortName(directory: string, path: string): string {
  if (path === directory) return ".";
  return basename(path).replace(/\d{20}/, (digits) => String(Number(digits))).replace(/\.\d+\.[0-9a-f]{8}\.tmp$/, ".TMP");
}

// node:fs, recording each operation and calling `before` first (it may throw, or return a promise to hold the operation).
export function recordingFileSystem(directory: string, before: (operation: Operation) => void | Promise<void> = () => undefined): { fileSystem: JournalFileSystem; log: Operation[] } {
  const log: Operation[] = [];
  const paths = new Map<number, string>();
  const record = async (operation: Operation) => {
    log.push(operation);
    await before(operation);
  };
  const base = NODE_JOURNAL_FILE_SYSTEM;
  const fileSystem: JournalFileSystem = {
    async open(path, flags) {
      await record({ name: "open", path: shortName(directory, path), flags });
      const fd = await base.open(path, flags);
      paths.set(fd, shortName(directory, path));
      return fd;
    },
    async write(fd, bytes, position) {
      await record({ name: "write", path: paths.get(fd)! });
      return base.write(fd, bytes, position);
    },
    writeSync: (fd, bytes, position) => base.writeSync(fd, bytes, position),
    read: (fd, bytes, position) => base.read(fd, bytes, position),
    size: (fd) => base.size(fd),
    async fsync(fd) {
      await record({ name: "fsync", path: paths.get(fd)! });
      return base.fsync(fd);
    },
    async close(fd) {
      await record({ name: "close", path: paths.get(fd)! });
      return base.close(fd);
    },
    async rename(from, to) {
      await record({ name: "rename", path: shortName(directory, from), to: shortName(directory, to) });
      return base.rename(from, to);
    },
    async unlink(path) {
      await record({ name: "unlink", path: shortName(directory, path) });
      return base.unlink(path);
    },
    async truncate(fd, length) {
      await record({ name: "truncate", path: paths.get(fd)! });
      return base.truncate(fd, length);
    },
    async list(path) {
      await record({ name: "list", path: shortName(directory, path) });
      return base.list(path);
    },
    async makeDirectory(path) {
      await record({ name: "makeDirectory", path: shortName(directory, path) });
      return base.makeDirectory(path);
    },
  };
  return { fileSystem, log };
}

// The operations that change files or make them durable, as text ("open
// .journal-1.TMP wx", "rename .journal-1.TMP → journal-1.tzj"): reads of files
// and the lock file's own steps are left out.
export function changes(log: readonly Operation[]): string[] {
  const reading = new Set<string>();
  const kept: string[] = [];
  for (const operation of log) {
    if (operation.name === "open" && operation.flags === "r" && operation.path !== ".") reading.add(operation.path);
    if (operation.name === "open" && operation.flags !== "r") reading.delete(operation.path);
    const readOnly = reading.has(operation.path) && (operation.name === "open" || operation.name === "close");
    if (operation.name === "list" || operation.path === "lock" || readOnly) continue;
    kept.push(`${operation.name} ${operation.path}${operation.flags ? ` ${operation.flags}` : ""}${operation.to ? ` → ${operation.to}` : ""}`);
  }
  return kept;
}

export function ioFailure(what: string): Error {
  return Object.assign(new Error(`injected ${what} failure`), { code: "EIO" });
}
