// Extent pools of a storage image, as DS8000 has them: P0, P1, … with even
// IDs in rank group 0 and odd IDs in rank group 1, each with a capacity that
// its thin volumes draw on as they are written.
//
// The quota itself lives in the core (assembly/pool.ts): a volume reserves an
// extent in its pool's shared entry before it allocates it, from whatever
// thread writes, so a full pool refuses a write before anything changes. This
// table keeps what the core does not need: names, rank groups, which index
// each ID has.
import { EXTENT_SIZE } from "../core/codes.js";
import type { CoreThread } from "../core/core.js";
import { EngineError } from "./errors.js";

export type RankGroup = 0 | 1;

export interface ExtentPool {
  readonly id: string; // "P0"
  readonly index: number; // the core's pool entry: the number of the ID
  readonly rankGroup: RankGroup;
  readonly name: string;
  readonly capacityExtents: number;
}

export interface PoolUsage extends ExtentPool {
  readonly allocatedExtents: number;
}

export interface PoolSpec {
  name: string;
  rankGroup: RankGroup;
  capacityGiB?: number;
  id?: string; // restore: the ID it had
}

export const POOL_MAX = 64; // assembly/layout.ts POOL_MAX
export const EXTENTS_PER_GIB = 2 ** 30 / EXTENT_SIZE;
// The image's space: the 4 GiB its shared memory can reach. The default pools
// split it; the memory bounds all pools together, whatever their quotas say.
export const IMAGE_SPACE_GIB = 4;
export const POOL_CAPACITY_GIB_MAX = 2 ** 20; // 1 PiB: extents fit the core's u32 counters
export const POOL_NAME_LENGTH_MAX = 16;
const POOL_ID = /^P(\d{1,2})$/i;

// `P3` → 3; throws BAD_POOL_ID otherwise.
export function poolIndex(text: string): number {
  const match = POOL_ID.exec(text);
  const index = match ? Number(match[1]) : -1;
  if (index < 0 || index >= POOL_MAX) {
    throw new EngineError("BAD_POOL_ID", `extent pool ID ${text} is not P0 to P${POOL_MAX - 1}`);
  }
  return index;
}

// DS8000: an even LSS's volumes live in rank group 0 pools, an odd one's in rank group 1.
export function rankGroupOfLss(lss: string): RankGroup {
  return (parseInt(lss, 16) % 2) as RankGroup;
}

export class PoolTable {
  private readonly pools = new Map<number, ExtentPool>();

  constructor(private readonly core: CoreThread, private readonly imageId: string) {}

  // P0 and P1, each half of the image's space.
  addDefaults(): void {
    this.create({ name: "fb_pool_0", rankGroup: 0, capacityGiB: IMAGE_SPACE_GIB / 2, id: "P0" });
    this.create({ name: "fb_pool_1", rankGroup: 1, capacityGiB: IMAGE_SPACE_GIB / 2, id: "P1" });
  }

  // The pool takes the lowest free ID of its rank group's parity, unless it names one.
  create(spec: PoolSpec): ExtentPool {
    checkPoolName(spec.name);
    if (spec.rankGroup !== 0 && spec.rankGroup !== 1) {
      throw new EngineError("BAD_ARGUMENT", `rank group ${String(spec.rankGroup)} is not 0 or 1`);
    }
    const capacityGiB = spec.capacityGiB ?? IMAGE_SPACE_GIB / 2;
    if (!Number.isInteger(capacityGiB) || capacityGiB < 0 || capacityGiB > POOL_CAPACITY_GIB_MAX) {
      throw new EngineError("BAD_CAPACITY", `extent pool capacity ${capacityGiB} is not a whole number of GiB from 0 to ${POOL_CAPACITY_GIB_MAX}`);
    }
    if ([...this.pools.values()].some((pool) => pool.name === spec.name)) {
      throw new EngineError("POOL_EXISTS", `an extent pool named ${spec.name} already exists on ${this.imageId}`);
    }
    const index = spec.id === undefined ? this.freeIndex(spec.rankGroup) : this.namedIndex(spec.id, spec.rankGroup);
    const pool: ExtentPool = { id: `P${index}`, index, rankGroup: spec.rankGroup, name: spec.name, capacityExtents: capacityGiB * EXTENTS_PER_GIB };
    this.core.exports.pool_configure(index, pool.capacityExtents);
    this.pools.set(index, pool);
    return pool;
  }

  private freeIndex(rankGroup: RankGroup): number {
    for (let index = rankGroup; index < POOL_MAX; index += 2) if (!this.pools.has(index)) return index;
    throw new EngineError("LIMIT_REACHED", `storage image ${this.imageId} has no free extent pool ID in rank group ${rankGroup}`);
  }

  private namedIndex(id: string, rankGroup: RankGroup): number {
    const index = poolIndex(id);
    if (this.pools.has(index)) throw new EngineError("POOL_EXISTS", `extent pool P${index} already exists on ${this.imageId}`);
    if (index % 2 !== rankGroup) throw new EngineError("RANKGROUP_MISMATCH", `extent pool P${index} is in rank group ${index % 2}, not ${rankGroup}`);
    return index;
  }

  // The caller checks that no volume is in the pool.
  remove(idText: string): ExtentPool {
    const pool = this.get(idText);
    const allocated = this.core.exports.pool_allocated_extents(pool.index) >>> 0;
    if (allocated !== 0) throw new EngineError("BUSY", `extent pool ${pool.id} still has ${allocated} extents allocated`);
    this.core.exports.pool_configure(pool.index, 0);
    this.pools.delete(pool.index);
    return pool;
  }

  // By ID (`P1`) or by name.
  get(text: string): ExtentPool {
    const byName = [...this.pools.values()].find((pool) => pool.name === text);
    if (byName) return byName;
    const pool = this.pools.get(poolIndex(text));
    if (!pool) throw new EngineError("POOL_NOT_FOUND", `extent pool ${text.toUpperCase()} does not exist on ${this.imageId}`);
    return pool;
  }

  has(text: string): boolean {
    try {
      this.get(text);
      return true;
    } catch {
      return false;
    }
  }

  usage(pool: ExtentPool): PoolUsage {
    return { ...pool, allocatedExtents: this.core.exports.pool_allocated_extents(pool.index) >>> 0 };
  }

  list(): ExtentPool[] {
    return [...this.pools.values()].sort((a, b) => a.index - b.index);
  }

  // The first pool of a rank group: where a volume goes when none is named.
  defaultFor(rankGroup: RankGroup): ExtentPool | undefined {
    return this.list().find((pool) => pool.rankGroup === rankGroup);
  }

  clear(): void {
    for (const pool of this.pools.values()) this.core.exports.pool_configure(pool.index, 0);
    this.pools.clear();
  }
}

export function checkPoolName(name: string): void {
  if (name.length === 0 || name.length > POOL_NAME_LENGTH_MAX || !/^[\x21-\x7e]+$/.test(name)) {
    throw new EngineError("BAD_ARGUMENT", `extent pool name ${JSON.stringify(name)} is not 1 to ${POOL_NAME_LENGTH_MAX} printable characters without spaces`);
  }
}
