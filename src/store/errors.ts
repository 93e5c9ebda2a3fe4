// Errors of saving and loading state. Callers act on `code` (stable) and, for
// a file that ends early, on `incomplete`; the message names the file, the
// frame and the field that was wrong, for people.

export type StoreErrorCode =
  | "NOT_FOUND" // the state file does not exist
  | "IO_ERROR" // the file system refused a read, write, fsync or rename
  | "BAD_MAGIC" // not a tzero state file (its first 8 bytes are not the magic word)
  | "UNSUPPORTED_VERSION" // a format version this tzero cannot read (a newer one)
  | "TRUNCATED" // the file ends before its end record (incomplete = true)
  | "CHECKSUM_MISMATCH" // a frame's bytes differ from what was written (bit flip, overwrite)
  | "BAD_LENGTH" // a length field larger than any frame this format writes
  | "NOT_MSGPACK" // a frame whose checksum holds but whose payload is not one msgpack value
  | "BAD_RECORD" // a record that decodes but has a missing, mistyped or impossible field
  | "TRAILING_DATA" // bytes after the end record
  | "BUSY" // the images could not be quiesced for a consistent save
  | "FROZEN_TOO_LONG" // a save gave up rather than keep host I/O waiting past its budget
  | "ABANDONED" // the caller's AbortSignal stopped a save or a load; the old file and the images are as they were
  | "BAD_ARGUMENT" // a caller's argument (closed image, duplicate image IDs, bad option, oversized record)
  | "LOCKED" // a journal directory held by another live process (its lock file names it)
  | "WRONG_JOURNAL" // a journal file that belongs to another journal (its journal id differs)
  | "MISSING_RECORDS" // a journal whose sequence numbers skip: a segment is missing or out of place
  | "CLOSED"; // a journal used after close, or after a failed write made it refuse more

export interface StoreErrorDetails {
  file?: string;
  offset?: number; // byte offset in the file of the frame (or preamble field) at fault
  frame?: number; // index of the frame at fault, 0 = first after the preamble
  field?: string; // record field at fault
  cause?: unknown;
}

export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly file?: string;
  readonly offset?: number;
  readonly frame?: number;
  readonly field?: string;

  constructor(readonly code: StoreErrorCode, message: string, details: StoreErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.file = details.file;
    this.offset = details.offset;
    this.frame = details.frame;
    this.field = details.field;
  }

  // True when the file ended early: it may still be being written, or a writer died.
  get incomplete(): boolean {
    return this.code === "TRUNCATED";
  }
}

export function isStoreError(error: unknown): error is StoreError {
  return error instanceof StoreError;
}

// Runs one file-system step, turning what the file system throws into an
// IO_ERROR that names the file and the step.
export async function ioStep<T>(file: string, action: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (cause) {
    if (cause instanceof StoreError) throw cause;
    throw new StoreError("IO_ERROR", `cannot ${action} ${file}: ${(cause as Error).message}`, { file, cause });
  }
}
