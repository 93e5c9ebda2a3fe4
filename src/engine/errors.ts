// Engine errors: a stable `code` callers act on, and a message that names the
// volume or pair and the rule. Nothing is changed when one is thrown, except
// where the error says otherwise: a write that failed part-way carries
// `bytesWritten` (and its message says how much was written).

export type EngineErrorCode =
  | "VOLUME_NOT_FOUND"
  | "VOLUME_EXISTS"
  | "BAD_VOLUME_ID"
  | "BAD_CAPACITY"
  | "BAD_OS_TYPE"
  | "BAD_ARGUMENT"
  | "SOURCE_EQUALS_TARGET"
  | "TARGET_TOO_SMALL"
  | "LSS_MISMATCH"
  | "VOLUME_IN_RELATIONSHIP"
  | "TOO_MANY_TARGETS"
  | "TARGET_HAS_SOURCE"
  | "CASCADE_NOT_ALLOWED"
  | "OS_MISMATCH"
  | "RELATIONSHIP_NOT_FOUND"
  | "TARGET_WRITE_INHIBITED"
  | "VOLUME_UNUSABLE"
  | "OUT_OF_RANGE"
  | "NO_SPACE"
  | "BUSY"
  | "TIMEOUT"
  | "LOCK_TIMEOUT"
  | "DRAIN_TIMEOUT"
  | "ALLOC_LOCK_TIMEOUT"
  | "GATE_TIMEOUT"
  | "FROZEN"
  | "CORE_ABORT"
  | "WORKER_EXITED"
  | "CANCELLED"
  | "IMAGE_NOT_FOUND"
  | "IMAGE_EXISTS"
  | "BAD_MODEL"
  | "LIMIT_REACHED"
  | "CLOSED"
  | "NOT_SUPPORTED"
  | "NOT_INCREMENTAL"
  | "COPY_INCOMPLETE"
  | "REVERTIBLE"
  | "NOT_REVERTIBLE"
  | "LONG_BUSY"
  | "BAD_POOL_ID"
  | "POOL_NOT_FOUND"
  | "POOL_EXISTS"
  | "POOL_NOT_EMPTY"
  | "RANKGROUP_MISMATCH"
  | "LSS_NOT_FOUND"
  | "VOLGRP_NOT_FOUND"
  | "VOLGRP_EXISTS"
  | "VOLGRP_IN_USE"
  | "VOLUME_MAPPED"
  | "HOST_NOT_FOUND"
  | "HOST_EXISTS"
  | "BAD_HOST_TYPE"
  | "BAD_WWPN"
  // PPRC (src/pprc)
  | "PPRC_SECONDARY"
  | "MIRROR_FAILED"
  | "BAD_PORT"
  | "PATH_NOT_FOUND"
  | "PATH_IN_USE"
  | "PAIR_NOT_FOUND"
  | "VOLUME_IN_PAIR"
  | "PAIR_STATE"
  | "LINK_DOWN";

export class EngineError extends Error {
  override readonly name = "EngineError";
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    // Bytes of a write that reached the volume before it failed; absent when it changed nothing.
    readonly bytesWritten?: number,
  ) {
    super(message);
  }
}

export function isEngineError(error: unknown): error is EngineError {
  return error instanceof EngineError;
}
