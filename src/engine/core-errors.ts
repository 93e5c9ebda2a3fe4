import { CoreCode, coreCodeName, WAIT_TIMEOUTS_MS } from "../core/codes.js";
import { EngineError, type EngineErrorCode } from "./errors.js";

const ENGINE_CODES: Partial<Record<number, EngineErrorCode>> = {
  [CoreCode.RANGE]: "OUT_OF_RANGE",
  [CoreCode.NO_VOLUME]: "VOLUME_NOT_FOUND",
  [CoreCode.UNUSABLE]: "VOLUME_UNUSABLE",
  [CoreCode.TGTINHIBIT]: "TARGET_WRITE_INHIBITED",
  [CoreCode.NO_SPACE]: "NO_SPACE",
  [CoreCode.LOCK_TIMEOUT]: "LOCK_TIMEOUT",
  [CoreCode.BUSY]: "BUSY",
  [CoreCode.DRAIN_TIMEOUT]: "DRAIN_TIMEOUT",
  [CoreCode.ALLOC_LOCK_TIMEOUT]: "ALLOC_LOCK_TIMEOUT",
  [CoreCode.GATE_TIMEOUT]: "GATE_TIMEOUT",
  [CoreCode.FROZEN]: "FROZEN",
  [CoreCode.LONG_BUSY]: "LONG_BUSY",
  [CoreCode.PPRC_SECONDARY]: "PPRC_SECONDARY",
  [CoreCode.MIRROR_FAILED]: "MIRROR_FAILED",
};

export type Timeouts = { readonly lock: number; readonly alloc: number; readonly gate: number; readonly drain: number };

const seconds = (ms: number) => (ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`);

// What each code means to a user, with the bounds the thread waited.
const EXPLANATIONS: Partial<Record<number, (timeouts: Timeouts) => string>> = {
  [CoreCode.NO_SPACE]: () => "the storage image has no free space left (at most 4 GiB of written data)",
  [CoreCode.LOCK_TIMEOUT]: (t) => `a track stayed locked by another thread for more than ${seconds(t.lock)}`,
  [CoreCode.BUSY]: () => "the volume is busy in another relationship",
  [CoreCode.DRAIN_TIMEOUT]: (t) => `I/O in flight on the volume did not drain within ${seconds(t.drain)}`,
  [CoreCode.ALLOC_LOCK_TIMEOUT]: (t) => `the storage image's allocator stayed locked by another thread for more than ${seconds(t.alloc)}`,
  [CoreCode.GATE_TIMEOUT]: (t) => `the volume stayed frozen (by an establish, withdraw or save) for more than ${seconds(t.gate)}`,
  [CoreCode.FROZEN]: () => "the volume is held frozen by another operation (an establish, withdraw or save in progress)",
  [CoreCode.LONG_BUSY]: () => "the volume is long busy: a consistency group (mkflash -freeze, or freezepprc over a -consistgrp path) holds its writes until unfreezeflash or unfreezepprc, or the LSS's timeout",
  [CoreCode.PPRC_SECONDARY]: () => "the volume is a PPRC secondary: host writes are refused, and host reads unless its pair was made with -tgtread",
  [CoreCode.MIRROR_FAILED]: () => "the write could not be mirrored to the PPRC secondary and its pair has -critmode: the write fails, and so do later ones until the pair is resumed or removed",
};

export function coreCodeExplanation(code: number, timeouts: Timeouts = WAIT_TIMEOUTS_MS): string {
  return EXPLANATIONS[code]?.(timeouts) ?? `the core refused it (${coreCodeName(code)})`;
}

export function engineCodeOf(code: number): EngineErrorCode {
  return ENGINE_CODES[code] ?? "BAD_ARGUMENT";
}

// An engine error for a core result code the engine did not expect to see.
export function coreError(code: number, action: string, timeouts: Timeouts = WAIT_TIMEOUTS_MS): EngineError {
  return new EngineError(engineCodeOf(code), `cannot ${action}: ${coreCodeExplanation(code, timeouts)}`);
}
