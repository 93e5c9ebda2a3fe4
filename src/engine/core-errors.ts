import { CoreCode, coreCodeName } from "../core/codes.js";
import { EngineError, type EngineErrorCode } from "./errors.js";

const ENGINE_CODES: Partial<Record<number, EngineErrorCode>> = {
  [CoreCode.RANGE]: "OUT_OF_RANGE",
  [CoreCode.NO_VOLUME]: "VOLUME_NOT_FOUND",
  [CoreCode.UNUSABLE]: "VOLUME_UNUSABLE",
  [CoreCode.TGTINHIBIT]: "TARGET_WRITE_INHIBITED",
  [CoreCode.NO_SPACE]: "NO_SPACE",
  [CoreCode.TIMEOUT]: "TIMEOUT",
  [CoreCode.BUSY]: "BUSY",
  [CoreCode.LONG_BUSY]: "LONG_BUSY",
};

const EXPLANATIONS: Partial<Record<number, string>> = {
  [CoreCode.NO_SPACE]: "the storage image has no free space left (at most 4 GiB of written data)",
  [CoreCode.TIMEOUT]: "timed out waiting for I/O on the volume to drain",
  [CoreCode.BUSY]: "the volume is busy in another relationship",
  [CoreCode.LONG_BUSY]: "the volume is long busy: a FlashCopy consistency group (mkflash -freeze) holds its writes until unfreezeflash or the LSS's timeout",
};

// An engine error for a core result code the engine did not expect to see.
export function coreError(code: number, action: string): EngineError {
  const engineCode = ENGINE_CODES[code] ?? "BAD_ARGUMENT";
  const why = EXPLANATIONS[code] ?? `the core refused it (${coreCodeName(code)})`;
  return new EngineError(engineCode, `cannot ${action}: ${why}`);
}
