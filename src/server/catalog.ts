// An image's Copy Services catalog as the server records it, and the change
// from what the server holds to what the image's node now lists: after each
// command the server reads back the parts of the catalog the command could
// have changed and journals only the difference, so a command's effect is
// recorded whatever it was (a removal stopped half-way included).
import type { FlashInfo, PoolInfo, VolumeInfo } from "../site/types.js";
import type { Site } from "../site/site.js";
import type { CatalogChange, CatalogFlash, CatalogPool, CatalogVolume, ImageCatalog } from "./site-state.js";

// The parts of an image's catalog a command may change.
export interface Touches {
  volumes?: boolean;
  pools?: boolean;
  flash?: boolean;
}

export const TOUCHES_ALL: Touches = { volumes: true, pools: true, flash: true };

export function catalogVolume(volume: VolumeInfo): CatalogVolume {
  return { id: volume.id, blocks: volume.blocks, pool: volume.pool, name: volume.name };
}

export function catalogPool(pool: PoolInfo): CatalogPool {
  return { id: pool.id, name: pool.name, rankGroup: pool.rankGroup };
}

export function catalogFlash(flash: FlashInfo): CatalogFlash {
  return {
    id: flash.id, sourceId: flash.sourceId, targetId: flash.targetId, nocopy: flash.nocopy, persist: flash.persist, record: flash.record,
    tgtinhibit: flash.tgtinhibit, tgtpprc: flash.tgtpprc, revertible: flash.revertible, seqnum: flash.seqnum,
  };
}

// What the node lists now of the parts `touches` names (the others: as held).
export async function readCatalog(site: Site, imageId: string, touches: Touches, held: ImageCatalog): Promise<ImageCatalog> {
  const [volumes, pools, flash] = await Promise.all([
    touches.volumes ? site.listVolumes(imageId).then((list) => list.map(catalogVolume)) : held.volumes,
    touches.pools ? site.listPools(imageId).then((list) => list.map(catalogPool)) : held.pools,
    touches.flash ? site.listFlash(imageId).then((list) => list.map(catalogFlash)) : held.flash,
  ]);
  return { volumes, pools, flash };
}

// The record taking `held` to `now`, or null when they are the same.
export function catalogChange(imageId: string, held: ImageCatalog, now: ImageCatalog): CatalogChange | null {
  const change: CatalogChange = {
    type: "catalog.changed", imageId,
    volumes: keyedDifference(held.volumes, now.volumes),
    pools: keyedDifference(held.pools, now.pools),
    flash: keyedDifference(held.flash, now.flash),
  };
  const parts = [change.volumes, change.pools, change.flash];
  return parts.every((part) => part.set.length === 0 && part.remove.length === 0) ? null : change;
}

function keyedDifference<T extends { id: string }>(held: readonly T[], now: readonly T[]): { set: T[]; remove: string[] } {
  const before = new Map(held.map((item) => [item.id, item]));
  const after = new Set(now.map((item) => item.id));
  const set = now.filter((item) => !sameFields(before.get(item.id), item));
  const remove = held.filter((item) => !after.has(item.id)).map((item) => item.id);
  return { set, remove };
}

function sameFields<T extends object>(left: T | undefined, right: T): boolean {
  if (left === undefined) return false;
  const keys = Object.keys(right) as (keyof T)[];
  return keys.length === Object.keys(left).length && keys.every((key) => left[key] === right[key]);
}
