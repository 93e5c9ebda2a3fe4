// Pure helpers that both sides of the Site interface use: ID syntax,
// capacity units, OS types, the shape of I/O port and pool IDs, and the
// errors those helpers raise. None holds or reaches any state.
export { EngineError, isEngineError } from "../engine/errors.js";
export {
  expandVolumeRange, imageId, imageQualifiers, listingRange, lssOf, pairId, parseImageId, parseVolumeId, qualifiedId, unqualified,
} from "../engine/ids.js";
export { capacityBlocks, capacityIn, type CapacityUnit } from "../engine/units.js";
export { OS_TYPES, parseOsType, type Model } from "../engine/rules.js";
export { EXTENTS_PER_GIB, poolIndex } from "../engine/pools.js";
export { EXTENT_SIZE, STAGING_SIZE, TRACK_SIZE } from "../core/codes.js";
import { EngineError } from "../engine/errors.js";

const VOLUME_NAME_LENGTH_MAX = 16;

// DS CLI's names: `#h` becomes the volume ID, `#d` its decimal number; at most 16 characters.
export function volumeName(template: string, id: string): string {
  const name = template.replace(/#h/gi, id).replace(/#d/gi, String(parseInt(id, 16)));
  if (name.length > VOLUME_NAME_LENGTH_MAX) {
    throw new EngineError("BAD_ARGUMENT", `volume name ${name} has ${name.length} characters; DS CLI allows at most ${VOLUME_NAME_LENGTH_MAX}`);
  }
  return name;
}
