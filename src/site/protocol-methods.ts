// The Site RPC's table: for every method of the Site interface (src/site/site.ts)
// but events and close, the schemas of its arguments and of its result, and
// how it takes its CallOptions. The wire messages (siteMessageSpecs), the
// server (serveSite), the client (ConnectedSite) and the checks of
// SerializedSite are all made from this one table.
//
// To add a method to the Site interface: add it to Site, then add ONE entry
// here (its argument schemas in order, its result schema, and `signal` if it
// takes CallOptions after its arguments); put new record schemas in
// protocol-schemas.ts. TypeScript refuses the build until the entry exists,
// and nothing else needs changing: the client and SerializedSite take their
// methods from this table.
//
// On the wire a call is `site.<method>` { call, args } and its answer
// `site.<method>.ok` { value } or { error: SiteErrorData }. An argument left
// out (undefined) crosses as null; a Promise<void> result as null.
import type { TSchema } from "@sinclair/typebox";
import type { Site } from "./site.js";
import * as S from "./protocol-schemas.js";

export type SiteMethod = Exclude<keyof Site, "events" | "close">;

export interface SiteMethodSpec {
  args: readonly TSchema[]; // the data arguments, in the method's order
  result: TSchema; // S.Void for Promise<void>
  // It takes CallOptions right after its data arguments: an abort on the
  // client becomes site.cancel, and the server passes the call's own signal.
  signal?: boolean;
  // Its last data argument IS its CallOptions (waitForCopy): the data fields
  // cross the wire, the signal stays with the caller.
  optionsCarryData?: boolean;
  // The reply timeout of a long call, from its arguments (as they cross);
  // every other call gets the client's default.
  timeoutMs?: (args: readonly unknown[]) => number;
}

// A long call waits for the site, not the wire: a day, or the call's own
// timeout and REPLY_SLACK_MS, so that the site's TIMEOUT arrives before the
// wire's would.
export const LONG_CALL_TIMEOUT_MS = 24 * 3600 * 1000;
export const REPLY_SLACK_MS = 30_000;
const TIMER_MS_MAX = 2 ** 31 - 1; // setTimeout's bound: a longer delay fires at once

function ownTimeout(timeoutMs: unknown): number {
  if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs < 0) return LONG_CALL_TIMEOUT_MS;
  return Math.min(TIMER_MS_MAX, Math.ceil(timeoutMs) + REPLY_SLACK_MS);
}

const long = () => LONG_CALL_TIMEOUT_MS;

export const SITE_METHODS = {
  // ---- images and inventory
  listImages: { args: [], result: S.List(S.ImageInfo, S.IMAGES_MAX) },
  addImage: { args: [S.AddImageRequest], result: S.ImageInfo },
  listLss: { args: [S.Id], result: S.List(S.LssInfo, S.LSS_MAX) },
  listPorts: { args: [S.Id], result: S.List(S.PortInfo, S.PORTS_MAX) },
  // ---- volumes
  listVolumes: { args: [S.Id], result: S.List(S.VolumeInfo) },
  volume: { args: [S.Id, S.Id], result: S.VolumeDetail },
  createVolumes: { args: [S.Id, S.CreateVolumesRequest], result: S.Ids, signal: true },
  checkVolumesIdle: { args: [S.Id, S.Ids, S.IdleAction], result: S.Void },
  removeVolumes: { args: [S.Id, S.Ids], result: S.Ids, signal: true },
  reinitVolumes: { args: [S.Id, S.Ids], result: S.Ids, signal: true },
  changeVolumes: { args: [S.Id, S.ChangeVolumesRequest], result: S.Ids, signal: true },
  // ---- extent pools
  listPools: { args: [S.Id], result: S.List(S.PoolInfo) },
  pool: { args: [S.Id, S.Id], result: S.PoolInfo },
  createPool: { args: [S.Id, S.CreatePoolRequest], result: S.PoolInfo },
  checkPoolsRemovable: { args: [S.Id, S.Ids], result: S.List(S.PoolInfo) },
  removePools: { args: [S.Id, S.Ids], result: S.Ids },
  // ---- FlashCopy relationships
  listFlash: { args: [S.Id], result: S.List(S.FlashInfo) },
  establishFlash: { args: [S.Id, S.EstablishRequest], result: S.Ids, signal: true },
  checkFlash: { args: [S.Id, S.FlashCheckOperation, S.Ids], result: S.Ids },
  withdrawFlash: { args: [S.Id, S.Ids], result: S.List(S.WithdrawResult), signal: true },
  incrementFlash: { args: [S.Id, S.IncrementOperation, S.Ids, S.IncrementOptions], result: S.Ids },
  settleRevertible: { args: [S.Id, S.RevertibleOperation, S.RevertibleItems, S.Absent(S.Quantity)], result: S.Ids },
  unfreezeFlash: { args: [S.Id, S.Ids], result: S.UnfreezeResult },
  pendingFlash: { args: [S.Id, S.Ids], result: S.Ids },
  waitForCopy: {
    args: [S.Id, S.Ids, S.WaitOptions], result: S.Void, signal: true, optionsCarryData: true,
    timeoutMs: (args) => ownTimeout((args[2] as { timeoutMs?: unknown } | null)?.timeoutMs),
  },
  // ---- PPRC paths and pairs
  listAvailablePorts: { args: [S.Id, S.Id], result: S.List(S.PortPairInfo, S.PORTS_MAX) },
  makePath: { args: [S.Id, S.MakePathRequest], result: S.PathInfo },
  listPaths: { args: [S.Id, S.Absent(S.Ids)], result: S.List(S.PathInfo) },
  checkRemovePaths: { args: [S.Id, S.RemovePathsRequest], result: S.Ids },
  removePaths: { args: [S.Id, S.RemovePathsRequest], result: S.Ids },
  makePairs: { args: [S.Id, S.MakePairsRequest], result: S.Ids, signal: true, timeoutMs: long },
  listPairs: { args: [S.Id], result: S.List(S.PairInfo) },
  checkPairs: { args: [S.Id, S.PairOperation, S.PairsRequest], result: S.Ids },
  changePairs: { args: [S.Id, S.PairOperation, S.PairsRequest], result: S.Ids, signal: true, timeoutMs: long },
  waitForPairs: {
    args: [S.Id, S.Ids, S.WaitOptions], result: S.Void, signal: true, optionsCarryData: true,
    timeoutMs: (args) => ownTimeout((args[2] as { timeoutMs?: unknown } | null)?.timeoutMs),
  },
  setLink: { args: [S.Id, S.Id, S.Up], result: S.Void },
  // ---- data plane
  fill: { args: [S.Id, S.Id, S.Range, S.FillSource], result: S.Count, signal: true, timeoutMs: long },
  write: { args: [S.Id, S.Id, S.Quantity, S.Data], result: S.Void },
  read: { args: [S.Id, S.Id, S.Quantity, S.Quantity], result: S.Data },
  checksum: { args: [S.Id, S.Id, S.Quantity, S.Quantity], result: S.Checksum, timeoutMs: long },
  // ---- workloads
  startWorkload: { args: [S.Id, S.WorkloadSpec], result: S.WorkloadInfo },
  stopWorkload: { args: [S.ArgumentName], result: S.WorkloadInfo },
  waitWorkload: { args: [S.ArgumentName, S.Absent(S.Quantity)], result: S.WorkloadInfo, signal: true, timeoutMs: (args) => ownTimeout(args[1]) },
  listWorkloads: { args: [], result: S.List(S.WorkloadInfo, S.WORKLOADS_MAX) },
  stopWorkloads: { args: [], result: S.Void },
  // ---- volume groups and host connections
  listVolumeGroups: { args: [S.Id], result: S.List(S.VolumeGroupInfo) },
  createVolumeGroup: { args: [S.Id, S.CreateVolumeGroupRequest], result: S.VolumeGroupInfo },
  changeVolumeGroup: { args: [S.Id, S.ChangeVolumeGroupRequest], result: S.VolumeGroupInfo },
  removeVolumeGroups: { args: [S.Id, S.Ids], result: S.Ids },
  listHostConnections: { args: [S.Id], result: S.List(S.HostConnectionInfo) },
  createHostConnection: { args: [S.Id, S.CreateHostConnectionRequest], result: S.HostConnectionInfo },
  removeHostConnections: { args: [S.Id, S.Ids], result: S.Ids },
  // ---- state
  save: { args: [S.FileName], result: S.SaveReport, signal: true, timeoutMs: long },
  load: { args: [S.FileName], result: S.LoadReport, signal: true, timeoutMs: long },
  // ---- users (a Copy Services Server's; the embedded site refuses them)
  listUsers: { args: [], result: S.List(S.UserInfo, S.USERS_MAX) },
  user: { args: [S.ArgumentName], result: S.UserInfo },
  createUser: { args: [S.CreateUserRequest], result: S.UserInfo },
  changeUser: { args: [S.ChangeUserRequest], result: S.UserInfo },
  removeUser: { args: [S.ArgumentName], result: S.Void },
} as const satisfies Record<SiteMethod, SiteMethodSpec>;

export const SITE_METHOD_NAMES = Object.keys(SITE_METHODS) as SiteMethod[];

export function methodSpec(method: SiteMethod): SiteMethodSpec {
  return SITE_METHODS[method];
}
