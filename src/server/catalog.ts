// An image's Copy Services catalog as the server records it, and the change
// from what the server holds to what the image's node now lists: after each
// command the server reads back the parts of the catalog the command could
// have changed and journals only the difference, so a command's effect is
// recorded whatever it was (a removal stopped half-way included).
import type { FlashInfo, PairInfo, PathInfo, PoolInfo, VolumeInfo } from "../site/types.js";
import type { Site } from "../site/site.js";
import type { CatalogChange, CatalogFlash, CatalogPair, CatalogPath, CatalogPool, CatalogVolume, ImageCatalog } from "./site-state.js";

// The parts of an image's catalog a command may change.
export interface Touches {
  volumes?: boolean;
  pools?: boolean;
  flash?: boolean;
  pprc?: boolean; // pairs and paths
}

export const TOUCHES_ALL: Touches = { volumes: true, pools: true, flash: true, pprc: true };

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

export function catalogPair(pair: PairInfo): CatalogPair {
  return {
    id: pair.id, role: pair.role, primaryImageId: pair.primaryImageId, secondaryImageId: pair.secondaryImageId, state: pair.state, reason: pair.reason,
    type: pair.type, outOfSyncTracks: pair.outOfSyncTracks, tgtread: pair.tgtread, critmode: pair.critmode, suspendedAtMs: pair.suspendedAtMs,
    sourceLss: pair.sourceLss, firstPassDone: pair.firstPassDone, detail: pair.detail,
  };
}

export function catalogPath(path: PathInfo): CatalogPath {
  return {
    id: `${path.targetImageId}/${path.sourceLss}:${path.targetLss}`, targetImageId: path.targetImageId, sourceLss: path.sourceLss, targetLss: path.targetLss,
    targetWwnn: path.targetWwnn, ports: path.ports.map(({ local, remote }) => ({ local, remote })), consistgrp: path.consistgrp, state: path.state, reason: path.reason,
  };
}

// The pairs and paths as the Site interface answers them, from what the catalog of `imageId` last recorded.
export function pairsOfCatalog(imageId: string, catalog: ImageCatalog): PairInfo[] {
  return (catalog.pairs ?? []).map((pair) => ({ ...pair, imageId, sentTracks: 0 }));
}

export function pathsOfCatalog(imageId: string, catalog: ImageCatalog): PathInfo[] {
  return (catalog.paths ?? []).map(({ id: _id, ports, ...path }) => ({ ...path, sourceImageId: imageId, ports: ports.map((port) => ({ ...port })) }));
}

// What the node lists now of the parts `touches` names (the others: as held).
export async function readCatalog(site: Site, imageId: string, touches: Touches, held: ImageCatalog): Promise<ImageCatalog> {
  const [volumes, pools, flash, pairs, paths] = await Promise.all([
    touches.volumes ? site.listVolumes(imageId).then((list) => list.map(catalogVolume)) : held.volumes,
    touches.pools ? site.listPools(imageId).then((list) => list.map(catalogPool)) : held.pools,
    touches.flash ? site.listFlash(imageId).then((list) => list.map(catalogFlash)) : held.flash,
    touches.pprc ? site.listPairs(imageId).then((list) => list.map(catalogPair)) : held.pairs ?? [],
    touches.pprc ? site.listPaths(imageId).then((list) => list.map(catalogPath)) : held.paths ?? [],
  ]);
  return { volumes, pools, flash, pairs, paths };
}

// The record taking `held` to `now`, or null when they are the same.
export function catalogChange(imageId: string, held: ImageCatalog, now: ImageCatalog): CatalogChange | null {
  const change: CatalogChange = {
    type: "catalog.changed", imageId,
    volumes: keyedDifference(held.volumes, now.volumes),
    pools: keyedDifference(held.pools, now.pools),
    flash: keyedDifference(held.flash, now.flash),
    pairs: keyedDifference(held.pairs ?? [], now.pairs ?? [], PAIR_COUNTS),
    paths: keyedDifference(held.paths ?? [], now.paths ?? []),
  };
  const parts = [change.volumes, change.pools, change.flash, change.pairs!, change.paths!];
  return parts.every((part) => part.set.length === 0 && part.remove.length === 0) ? null : change;
}

// A pair whose out-of-sync count alone changed has not changed for the journal (site-state.ts).
const PAIR_COUNTS: ReadonlySet<string> = new Set(["outOfSyncTracks"]);

function keyedDifference<T extends { id: string }>(held: readonly T[], now: readonly T[], ignored: ReadonlySet<string> = new Set()): { set: T[]; remove: string[] } {
  const before = new Map(held.map((item) => [item.id, item]));
  const after = new Set(now.map((item) => item.id));
  const set = now.filter((item) => !sameFields(before.get(item.id), item, ignored));
  const remove = held.filter((item) => !after.has(item.id)).map((item) => item.id);
  return { set, remove };
}

// Shallow: the one array field (a path's ports) is compared as its JSON.
function sameFields<T extends object>(left: T | undefined, right: T, ignored: ReadonlySet<string>): boolean {
  if (left === undefined) return false;
  const keys = Object.keys(right) as (keyof T)[];
  const same = (key: keyof T) => ignored.has(key as string) || left[key] === right[key] || (Array.isArray(right[key]) && JSON.stringify(left[key]) === JSON.stringify(right[key]));
  return keys.length === Object.keys(left).length && keys.every(same);
}
