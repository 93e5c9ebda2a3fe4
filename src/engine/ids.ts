// Volume, LSS, pair and storage image identifiers in DS CLI form.
import { EngineError } from "./errors.js";

const VOLUME_ID = /^[0-9A-Fa-f]{4}$/;
const IMAGE_ID = /^IBM\.(2105|2107)-([0-9A-Z]{7})$/;

// A volume ID `LLVV` in hex: LSS `LL` (00-FE) and volume `VV`. Returns it upper-cased.
export function parseVolumeId(text: string): string {
  if (!VOLUME_ID.test(text)) {
    throw new EngineError("BAD_VOLUME_ID", `volume ID ${text} is not four hex digits LLVV`);
  }
  const id = text.toUpperCase();
  if (id.startsWith("FF")) throw new EngineError("BAD_VOLUME_ID", `volume ID ${id} is in LSS FF, which is reserved`);
  return id;
}

export function lssOf(volumeId: string): string {
  return volumeId.slice(0, 2);
}

export function volumeNumber(volumeId: string): number {
  return parseInt(volumeId, 16);
}

export function formatVolumeId(value: number): string {
  return value.toString(16).toUpperCase().padStart(4, "0");
}

// `1000-1003` → 1000, 1001, 1002, 1003 (one LSS, ascending).
export function expandVolumeRange(first: string, last: string): string[] {
  const start = volumeNumber(parseVolumeId(first));
  const end = volumeNumber(parseVolumeId(last));
  if (end < start) throw new EngineError("BAD_VOLUME_ID", `volume range ${first}-${last} runs backwards`);
  if (lssOf(formatVolumeId(start)) !== lssOf(formatVolumeId(end))) {
    throw new EngineError("BAD_VOLUME_ID", `volume range ${first}-${last} spans more than one LSS`);
  }
  const ids: string[] = [];
  for (let value = start; value <= end; value++) ids.push(formatVolumeId(value));
  return ids;
}

export function pairId(sourceId: string, targetId: string): string {
  return `${sourceId}:${targetId}`;
}

export interface ImageIdParts {
  model: "2105" | "2107";
  serial: string;
}

export function parseImageId(text: string): ImageIdParts {
  const match = IMAGE_ID.exec(text.toUpperCase());
  if (!match) {
    throw new EngineError("IMAGE_NOT_FOUND", `storage image ID ${text} is not of the form IBM.2105-75TZ001`);
  }
  return { model: match[1] as "2105" | "2107", serial: match[2] };
}

export function imageId(model: string, serial: string): string {
  return `IBM.${model}-${serial}`;
}

// ---- fully qualified IDs and listing ranges (DS CLI) --------------------------------

// `IBM.2107-75KDR91/1000`: the image's ID, a slash, the object's own ID.
const QUALIFIER = /IBM\.(?:2105|2107)-[0-9A-Z]{7}\//gi;

export function qualifiedId(imageIdText: string, id: string): string {
  return `${imageIdText}/${id}`;
}

// The image IDs an operand's text qualifies its IDs with (none for bare IDs).
export function imageQualifiers(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => imageQualifiers(item));
  if (typeof value !== "string") return [];
  return [...value.matchAll(QUALIFIER)].map((match) => match[0].slice(0, -1).toUpperCase());
}

// The text without its qualifiers: `IBM.2107-75KDR91/1000:IBM.2107-75KDR91/1001` → `1000:1001`.
export function unqualified(text: string): string {
  return text.replace(QUALIFIER, "");
}

// A listing's range of hex IDs of `digits` digits (`0000-FFFF`, `10-1F`, or one
// ID): the bounds, which may span LSSs and include FF, since a listing's range
// means "whatever exists in it".
export function listingRange(text: string, digits: number, what: string): [number, number] {
  const pattern = new RegExp(`^([0-9A-Fa-f]{${digits}})(?:-([0-9A-Fa-f]{${digits}}))?$`);
  const match = pattern.exec(unqualified(text.trim()));
  if (!match) throw new EngineError("BAD_VOLUME_ID", `${what} ${text} is not ${digits} hex digits, or a range of them such as ${"0".repeat(digits)}-${"F".repeat(digits)}`);
  const first = parseInt(match[1], 16);
  const last = match[2] === undefined ? first : parseInt(match[2], 16);
  if (last < first) throw new EngineError("BAD_VOLUME_ID", `${what} range ${text} runs backwards`);
  return [first, last];
}
