// Values of the language and the conversions commands apply to their
// arguments: volume IDs and ranges, pairs, sizes, durations, patterns.
import { EngineError, isEngineError, expandVolumeRange, listingRange, pairId, parseVolumeId, unqualified } from "../site/shared.js";
import { isSiteError } from "../site/errors.js";
import { UNITS, type Dimension } from "./tokens.js";
import { TEXT_LENGTH_MAX } from "./lexer.js";
import type { Position, Value } from "./parser.js";
import type { ValueKind } from "./commands.js";

export type { Value } from "./parser.js";
export { TEXT_LENGTH_MAX };
// The most rows a listing value holds (`+` joins listings).
export const LISTING_LENGTH_MAX = 1_048_576;
// The longest wait: what a Node timer holds (2^31 - 1 ms, about 24.8 days).
export const DURATION_MS_MAX = 2_147_483_647;

// The longest text an argument of each kind may have, checked at the command
// before it runs: DS CLI's fields are short, so nothing huge reaches a
// handler, a message or a saved record. A text option (-extpool, -seqnum,
// -delim) has at most 256 characters; a text operand (echo's words) only
// TEXT_LENGTH_MAX. Kinds with a syntax of their own (IDs, sizes) are then
// checked by it.
const ARGUMENT_LENGTH_MAX: Readonly<Record<ValueKind, number>> = {
  volume: 64, volumes: 64, pairs: 64, "volumes-or-pairs": 64, lss: 64, image: 64, number: 64, size: 64, duration: 64,
  enum: 64, pattern: 64, name: 64, command: 64, file: 4096, text: 256,
};

// Throws BAD_ARGUMENT for an argument (or an item of a listing given as one) longer than its kind allows.
export function checkArgumentLength(kind: ValueKind, value: Value, what: string, isOption: boolean): void {
  if (kind === "text" && !isOption) return;
  const limit = ARGUMENT_LENGTH_MAX[kind];
  const visit = (item: Value): void => {
    if (Array.isArray(item)) item.forEach(visit);
    else if (typeof item === "string" && item.length > limit) {
      throw new EngineError("BAD_ARGUMENT", `${what} is ${item.length} characters long; it may have at most ${limit}`);
    }
  };
  visit(value);
}
export type ValueRecord = { [field: string]: Value };

// A command or expression failed. `evaluation` marks a mistake in the
// script itself (an unset variable, a type error), which `expect error`
// does not swallow.
export class CommandFailure extends Error {
  override readonly name = "CommandFailure";
  constructor(
    readonly code: string,
    message: string,
    readonly at?: Position,
    readonly evaluation = false,
  ) {
    super(message);
  }
}

// Re-raises an engine error about one argument with that argument's position.
export function atArgument<T>(at: Position, body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (isEngineError(error) || isSiteError(error)) throw new CommandFailure(error.code, error.message, at);
    if (error instanceof CommandFailure && !error.at) throw new CommandFailure(error.code, error.message, at, error.evaluation);
    throw error;
  }
}

export function typeOf(value: Value): string {
  if (value === null) return "nothing";
  if (Array.isArray(value)) return "a listing";
  if (typeof value === "object") return "a record";
  if (typeof value === "number") return "a number";
  if (typeof value === "string") return "text";
  return "a boolean";
}

export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(12)));
}

export function formatValue(value: Value): string {
  if (value === null) return "";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  return JSON.stringify(value);
}

// ---- IDs ---------------------------------------------------------------------------

// Qualified IDs (IBM.2107-75KDR91/1000) lose their image part here; the
// command context checks that it names the command's image.
function idText(value: Value, what: string): string {
  if (typeof value === "string") return unqualified(value.trim());
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return String(value);
  throw new EngineError("BAD_ARGUMENT", `${what} must be an ID, not ${typeOf(value)}`);
}

export function volumeId(value: Value): string {
  return parseVolumeId(idText(value, "a volume ID"));
}

// `1000`, `1000-1003`, or a list of those.
export function volumeIds(value: Value): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => volumeIds(item));
  const text = idText(value, "a volume ID");
  const dash = text.indexOf("-");
  if (dash < 0) return [parseVolumeId(text)];
  if (dash === 0) throw new EngineError("BAD_VOLUME_ID", `volume range ${text} has no first volume ID (write 1000-1003)`);
  if (dash === text.length - 1) throw new EngineError("BAD_VOLUME_ID", `volume range ${text} has no last volume ID (write 1000-1003)`);
  return expandVolumeRange(text.slice(0, dash), text.slice(dash + 1));
}

// The kind of pair an operand names, for its messages: PPRC commands say "PPRC pair".
export type PairKind = "FlashCopy" | "PPRC";

function pairHalves(text: string, kind: PairKind): string[] {
  const halves = text.split(":");
  if (halves.length !== 2) throw new EngineError("BAD_VOLUME_ID", `${kind} pair ${text} is not of the form SSSS:TTTT`);
  return halves;
}

// `1000:1001`, `1000-1001:1002-1003`, or a list of those: [source, target] pairs.
export function pairs(value: Value, kind: PairKind = "FlashCopy"): Array<[string, string]> {
  if (Array.isArray(value)) return value.flatMap((item) => pairs(item, kind));
  const text = idText(value, `a ${kind} pair`);
  const halves = pairHalves(text, kind);
  const sources = volumeIds(halves[0]);
  const targets = volumeIds(halves[1]);
  if (sources.length !== targets.length) {
    throw new EngineError(
      "BAD_VOLUME_ID",
      `pair range ${text} has ${sources.length} sources and ${targets.length} targets; both sides must have as many volumes`,
    );
  }
  return sources.map((source, index) => [source, targets[index]]);
}

export function pairIds(value: Value, kind: PairKind = "FlashCopy"): string[] {
  return pairs(value, kind).map(([source, target]) => pairId(source, target));
}

export function pprcPairs(value: Value): Array<[string, string]> {
  return pairs(value, "PPRC");
}

export function pprcPairIds(value: Value): string[] {
  return pairIds(value, "PPRC");
}

// A listing's operands as a filter of IDs: `1000`, `0000-FFFF` (whatever exists
// in the range, across LSSs), or lists of those. `digits` is 4 for volumes, 2 for LSSs.
export function idFilter(value: Value, digits: number, what: string): (id: string) => boolean {
  if (Array.isArray(value)) {
    const filters = value.map((item) => idFilter(item, digits, what));
    return (id) => filters.some((filter) => filter(id));
  }
  const [first, last] = listingRange(idText(value, `a ${what}`), digits, what);
  return (id) => {
    const number = parseInt(id, 16);
    return number >= first && number <= last;
  };
}

// A listing's pair operand: `1000:1001` or `0000-FFFF:0000-FFFF`, as a filter of relationships.
export function pairFilter(value: Value, kind: PairKind = "FlashCopy"): (sourceId: string, targetId: string) => boolean {
  if (Array.isArray(value)) {
    const filters = value.map((item) => pairFilter(item, kind));
    return (source, target) => filters.some((filter) => filter(source, target));
  }
  const text = idText(value, `a ${kind} pair`);
  const halves = pairHalves(text, kind);
  const sources = idFilter(halves[0], 4, "volume ID");
  const targets = idFilter(halves[1], 4, "volume ID");
  return (source, target) => sources(source) && targets(target);
}

// ---- quantities ---------------------------------------------------------------------

const QUANTITY = /^(\d+(?:\.\d+)?)([A-Za-z]*)$/;

function quantity(value: Value, dimension: Dimension, what: string, bareAllowed: boolean): number {
  if (typeof value === "number") return value;
  if (typeof value !== "string") throw new EngineError("BAD_ARGUMENT", `${what} must be a ${dimension}, not ${typeOf(value)}`);
  const text = value.trim();
  if (/^0x/i.test(text) && dimension === "size") return exact(hexNumber(text, what), text, what);
  const match = QUANTITY.exec(text);
  if (!match) throw new EngineError("BAD_ARGUMENT", `${what} ${text} is not a ${dimension}`);
  const [, digits, unitText] = match;
  if (unitText === "") {
    if (!bareAllowed) throw new EngineError("BAD_ARGUMENT", `${what} ${text} needs a unit: us, ms, s, min or h`);
    return exact(Number(digits), text, what);
  }
  const unit = UNITS[unitText.toLowerCase()];
  if (!unit || unit.dimension !== dimension) {
    const units = dimension === "size" ? "B, KiB, MiB, GiB, KB, MB, GB" : "us, ms, s, min, h";
    throw new EngineError("BAD_ARGUMENT", `${what} ${text}: ${unitText} is not a unit of ${dimension} (${units})`);
  }
  return exact(Number(digits) * unit.factor, text, what);
}

function hexNumber(text: string, what: string): number {
  if (!/^0x[0-9a-f]+$/i.test(text)) throw new EngineError("BAD_ARGUMENT", `${what} ${text} is not a hexadecimal number: 0x must be followed by hex digits`);
  return parseInt(text.slice(2), 16);
}

// A quantity past 2^53 cannot be held exactly: refused, naming the text as typed.
function exact(number: number, text: string, what: string): number {
  if (number > Number.MAX_SAFE_INTEGER) {
    throw new EngineError("BAD_ARGUMENT", `${what} ${text} is larger than ${Number.MAX_SAFE_INTEGER}, the largest quantity tzero holds exactly`);
  }
  return number;
}

// Bytes, a whole non-negative number: 4096, "4KiB", "1MiB".
export function sizeBytes(value: Value, what: string): number {
  const bytes = quantity(value, "size", what, true);
  if (!Number.isInteger(bytes) || bytes < 0) throw new EngineError("BAD_ARGUMENT", `${what} ${formatValue(value)} is not a whole number of bytes`);
  return bytes;
}

// Milliseconds: a number is milliseconds, text needs a unit ("2s").
export function durationMs(value: Value, what: string): number {
  const ms = quantity(value, "duration", what, false);
  if (!Number.isFinite(ms) || ms < 0) throw new EngineError("BAD_ARGUMENT", `${what} ${formatValue(value)} is not a duration from 0`);
  if (ms > DURATION_MS_MAX) {
    throw new EngineError("BAD_ARGUMENT", `${what} ${formatValue(value)} is longer than ${DURATION_MS_MAX} ms (about 24.8 days), the longest wait a timer holds`);
  }
  return ms;
}

export function numberValue(value: Value, what: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const text = value.trim();
    if (/^0x[0-9a-f]+$/i.test(text)) return exact(parseInt(text.slice(2), 16), text, what);
    if (/^-?\d+(\.\d+)?$/.test(text)) return Math.sign(Number(text)) * exact(Math.abs(Number(text)), text, what);
  }
  throw new EngineError("BAD_ARGUMENT", `${what} ${formatValue(value)} is not a number`);
}

export function wholeNumber(value: Value, what: string, min: number, max: number): number {
  const number = numberValue(value, what);
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new EngineError("BAD_ARGUMENT", `${what} ${formatValue(value)} is not a whole number from ${min} to ${max}`);
  }
  return number;
}

export type DataPattern = { kind: "byte"; value: number } | { kind: "random" };

// `0xNN` (or a number 0-255), or `random`.
export function dataPattern(value: Value): DataPattern {
  if (typeof value === "string" && value.trim().toLowerCase() === "random") return { kind: "random" };
  if (typeof value === "number" || (typeof value === "string" && /^(0x[0-9a-f]{1,2}|\d{1,3})$/i.test(value.trim()))) {
    const byte = numberValue(value, "-pattern");
    if (Number.isInteger(byte) && byte >= 0 && byte <= 255) return { kind: "byte", value: byte };
  }
  throw new EngineError("BAD_ARGUMENT", `-pattern ${formatValue(value)} is not a byte 0x00 to 0xFF, or random`);
}
