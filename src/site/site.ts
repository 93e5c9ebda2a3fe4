// One async interface to a site's Copy Services (design.md §6, §7): what the
// scenario language (src/lang) may ask of storage images, whether they are in
// this process (EmbeddedSite) or behind a Copy Services Server.
//
// Every argument and result is plain data (src/site/types.ts); every failure
// is a SiteError (src/site/errors.ts) whose `item` names the entry of the
// request that was refused. A command that names several things (mkflash
// A:B C:D, rmflash of a range, a freeze group) is ONE call, validated entirely
// by the site before it changes anything: all or nothing.
//
// `call` options carry an AbortSignal. It is not data: a local implementation
// honours it directly, a remote one turns an abort into a cancel request.
import type {
  ChangeUserRequest, ChangeVolumesRequest, CreateUserRequest, CreateVolumesRequest, EstablishRequest, FillSource, FlashCheckOperation, FlashInfo, ImageInfo,
  IncrementOperation, IncrementOptions, LoadReport, LssInfo, MakePairsRequest, MakePathRequest, ModelName, PairInfo, PairOperation,
  PairsRequest, PathInfo, PoolInfo, PortInfo, PortPairInfo, RemovePathsRequest, RevertibleItem, RevertibleOperation,
  SaveReport, SiteListener, UserInfo, VolumeDetail, VolumeInfo, WithdrawResult, WorkloadInfo, WorkloadSpec,
  ChangeVolumeGroupRequest, CreateHostConnectionRequest, CreateVolumeGroupRequest, HostConnectionInfo, VolumeGroupInfo,
} from "./types.js";

export interface CallOptions {
  signal?: AbortSignal;
}

export interface Site {
  // ---- images and inventory ------------------------------------------------------------
  listImages(): Promise<ImageInfo[]>; // in the order they were added
  // By ID (model from it), or the next free serial of `model`.
  addImage(request: { model?: ModelName; id?: string }): Promise<ImageInfo>;
  listLss(imageId: string): Promise<LssInfo[]>;
  listPorts(imageId: string): Promise<PortInfo[]>;

  // ---- volumes -----------------------------------------------------------------------------
  listVolumes(imageId: string): Promise<VolumeInfo[]>;
  volume(imageId: string, volumeId: string): Promise<VolumeDetail>;
  createVolumes(imageId: string, request: CreateVolumesRequest, options?: CallOptions): Promise<string[]>;
  // Checks that each volume could go (`action` says why, in the message), changing nothing.
  checkVolumesIdle(imageId: string, ids: string[], action: "removing" | "reinitialising"): Promise<void>;
  removeVolumes(imageId: string, ids: string[], options?: CallOptions): Promise<string[]>;
  reinitVolumes(imageId: string, ids: string[], options?: CallOptions): Promise<string[]>;
  changeVolumes(imageId: string, request: ChangeVolumesRequest, options?: CallOptions): Promise<string[]>;

  // ---- extent pools --------------------------------------------------------------------------
  listPools(imageId: string): Promise<PoolInfo[]>;
  pool(imageId: string, idOrName: string): Promise<PoolInfo>;
  createPool(imageId: string, request: { name: string; rankGroup: 0 | 1; capacityGiB?: number }): Promise<PoolInfo>;
  checkPoolsRemovable(imageId: string, ids: string[]): Promise<PoolInfo[]>;
  removePools(imageId: string, ids: string[]): Promise<string[]>;

  // ---- FlashCopy relationships -----------------------------------------------------------------
  listFlash(imageId: string): Promise<FlashInfo[]>;
  establishFlash(imageId: string, request: EstablishRequest, options?: CallOptions): Promise<string[]>;
  // Checks each pair as `operation` would (and none given twice); returns their IDs. Changes nothing.
  checkFlash(imageId: string, operation: FlashCheckOperation, ids: string[]): Promise<string[]>;
  withdrawFlash(imageId: string, ids: string[], options?: CallOptions): Promise<WithdrawResult[]>;
  // FlashCopy V2 (model 2107). Each returns the relationships' IDs after the operation.
  incrementFlash(imageId: string, operation: IncrementOperation, ids: string[], options: IncrementOptions): Promise<string[]>;
  settleRevertible(imageId: string, operation: RevertibleOperation, items: RevertibleItem[], seqnum?: number): Promise<string[]>;
  // Returns the LSSs as the site writes them and the pairs whose writes were released.
  unfreezeFlash(imageId: string, lsses: string[]): Promise<{ lsses: string[]; released: string[] }>;
  // Of `ids`, those still established; a pair that completed and ended is left out, one never seen is refused.
  pendingFlash(imageId: string, ids: string[]): Promise<string[]>;
  // Resolves when the background copies of `ids` (all, when empty) have completed.
  waitForCopy(imageId: string, ids: string[], options?: CallOptions & { timeoutMs?: number }): Promise<void>;

  // ---- data plane: what scenarios do to volumes ---------------------------------------------------
  fill(imageId: string, volumeId: string, range: { offset: number; length: number }, source: FillSource, options?: CallOptions): Promise<number>;
  write(imageId: string, volumeId: string, offset: number, data: Uint8Array): Promise<void>;
  read(imageId: string, volumeId: string, offset: number, length: number): Promise<Uint8Array>;
  checksum(imageId: string, volumeId: string, offset: number, length: number): Promise<string>;

  // ---- workloads ----------------------------------------------------------------------------------
  startWorkload(imageId: string, spec: WorkloadSpec): Promise<WorkloadInfo>;
  // Stops it and returns its final figures; a workload that failed is refused with its error.
  stopWorkload(name: string): Promise<WorkloadInfo>;
  // Resolves when it ends by itself (-duration); TIMEOUT after `timeoutMs` (default: its duration and 30 s), CANCELLED on abort.
  waitWorkload(name: string, timeoutMs?: number, options?: CallOptions): Promise<WorkloadInfo>;
  listWorkloads(): Promise<WorkloadInfo[]>;
  stopWorkloads(): Promise<void>; // every running one

  // ---- state --------------------------------------------------------------------------------------
  save(file: string, options?: CallOptions): Promise<SaveReport>;
  // Replaces every image with those of the file; workloads stop first. On any error nothing changes.
  load(file: string, options?: CallOptions): Promise<LoadReport>;

  // ---- volume groups and host connections ------------------------------------------------------------
  listVolumeGroups(imageId: string): Promise<VolumeGroupInfo[]>;
  createVolumeGroup(imageId: string, request: CreateVolumeGroupRequest): Promise<VolumeGroupInfo>;
  changeVolumeGroup(imageId: string, request: ChangeVolumeGroupRequest): Promise<VolumeGroupInfo>;
  // Refuses, changing nothing, while a host connection uses one of them.
  removeVolumeGroups(imageId: string, ids: string[]): Promise<string[]>;
  listHostConnections(imageId: string): Promise<HostConnectionInfo[]>;
  // With `nbd`, its NBD endpoint listens before this resolves (bound to the address given).
  createHostConnection(imageId: string, request: CreateHostConnectionRequest): Promise<HostConnectionInfo>;
  // Closes their NBD endpoints and every client attached to them.
  removeHostConnections(imageId: string, ids: string[]): Promise<string[]>;

  // ---- PPRC paths and pairs (design.md §4) ------------------------------------------------------------
  // Port pairs from `imageId` to `remoteImageId` a path may use (lsavailpprcport).
  listAvailablePorts(imageId: string, remoteImageId: string): Promise<PortPairInfo[]>;
  // Sets the LSS pair's whole path set (mkpprcpath replaces it).
  makePath(imageId: string, request: MakePathRequest): Promise<PathInfo>;
  // Paths from `imageId`, of the source LSSs given (all when absent).
  listPaths(imageId: string, lsses?: string[]): Promise<PathInfo[]>;
  // Checks the paths could go (none carries a pair, unless force), changing nothing; returns them as "10:20".
  checkRemovePaths(imageId: string, request: RemovePathsRequest): Promise<string[]>;
  removePaths(imageId: string, request: RemovePathsRequest): Promise<string[]>;
  makePairs(imageId: string, request: MakePairsRequest, options?: CallOptions): Promise<string[]>;
  // Pairs with a volume on `imageId`: primaries, and secondaries (Target states).
  listPairs(imageId: string): Promise<PairInfo[]>;
  // Checks each pair as `operation` would, changing nothing; returns their IDs.
  checkPairs(imageId: string, operation: PairOperation, request: PairsRequest): Promise<string[]>;
  // pausepprc, resumepprc, rmpprc, failoverpprc, failbackpprc: the pairs' IDs after the operation.
  changePairs(imageId: string, operation: PairOperation, request: PairsRequest, options?: CallOptions): Promise<string[]>;
  // Resolves when every pair is Full Duplex (Metro Mirror) or past its first pass (Global Copy).
  waitForPairs(imageId: string, ids: string[], options?: CallOptions & { timeoutMs?: number }): Promise<void>;
  // Cuts (up false) or restores the link from `imageId` to `remoteImageId`: fault injection for scenarios.
  setLink(imageId: string, remoteImageId: string, up: boolean): Promise<void>;

  // ---- users (mkuser / lsuser / showuser / chuser / rmuser) ----------------------------------------------
  // Users live on a Copy Services Server (src/server/users.ts), which checks the caller's authority;
  // an embedded site has none and refuses these with NO_USERS.
  listUsers(): Promise<UserInfo[]>; // by name
  user(name: string): Promise<UserInfo>;
  createUser(request: CreateUserRequest): Promise<UserInfo>;
  changeUser(request: ChangeUserRequest): Promise<UserInfo>;
  removeUser(name: string): Promise<void>;

  // ---- hosts (to come) -------------------------------------------------------------------------------------
  // The nodes that host images go here; an embedded site has one node.

  // ---- events -------------------------------------------------------------------------------------------
  // Subscribes to state changes; returns the unsubscribe function.
  events(listener: SiteListener): () => void;

  // Stops workloads and closes every image.
  close(): Promise<void>;
}
