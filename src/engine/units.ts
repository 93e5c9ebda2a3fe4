// Capacities: DS CLI units and blocks.
import { BLOCK_SIZE, VOLUME_SIZE_MAX } from "../core/codes.js";
import { EngineError } from "./errors.js";

export type CapacityUnit = "ds" | "ess" | "blocks";

export const CAPACITY_UNITS: readonly CapacityUnit[] = ["ds", "ess", "blocks"];

const UNIT_BYTES: Record<CapacityUnit, number> = {
  ds: 2 ** 30, // binary GiB, DS8000 "ds" volumes
  ess: 1e9, // decimal GB, ESS 2105 volumes
  blocks: BLOCK_SIZE,
};

export const BLOCKS_MAX = Math.floor(VOLUME_SIZE_MAX / BLOCK_SIZE);

// Whole 512-byte blocks for a capacity, rounded up.
export function capacityBlocks(value: number, unit: CapacityUnit): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new EngineError("BAD_CAPACITY", `capacity ${value} is not a positive number`);
  }
  if (unit === "blocks" && !Number.isInteger(value)) {
    throw new EngineError("BAD_CAPACITY", `capacity ${value} blocks is not a whole number of blocks`);
  }
  const blocks = Math.ceil((value * UNIT_BYTES[unit]) / BLOCK_SIZE);
  if (blocks > BLOCKS_MAX) {
    throw new EngineError(
      "BAD_CAPACITY",
      `capacity ${value} (${unit}) is ${blocks} blocks; a volume holds at most ${BLOCKS_MAX} blocks (16 TiB)`,
    );
  }
  return blocks;
}

// Capacity in a unit, for listings (DS CLI shows GiB with 1 decimal for ds, 2 for ess).
export function capacityIn(blocks: number, unit: CapacityUnit): number {
  return (blocks * BLOCK_SIZE) / UNIT_BYTES[unit];
}
