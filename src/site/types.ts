// The plain data that crosses the Site interface (src/site/site.ts): records,
// requests and events made of strings, numbers, booleans, arrays, plain
// objects and Uint8Array only, so that every one survives an encode/decode
// (msgpackr) unchanged. IDs are strings as DS CLI writes them; sizes are
// numbers up to 2^53 - 1; times are milliseconds since the epoch.

export type ModelName = "2105" | "2107";
export type CapacityUnitName = "ds" | "ess" | "blocks";

export interface ImageInfo {
  id: string; // "IBM.2107-75KDR91"
  model: ModelName;
  wwnn: string; // one per image, by its place in the site
}

export interface VolumeInfo {
  id: string; // "1000"
  lss: string; // "10"
  name: string;
  os: string;
  blocks: number;
  sizeBytes: number;
  unit: CapacityUnitName;
  pool: string | null; // extent pool ID, or null for a volume in no pool
  sam: "ese" | "standard"; // storage allocation method (mkfbvol -sam)
  dataState: "Normal" | "Unusable";
  createdAtMs: number;
}

// showfbvol's extra facts.
export interface VolumeDetail extends VolumeInfo {
  allocatedBytes: number;
  flashCopies: string[]; // "SSSS:TTTT" of every relationship the volume is in
}

export interface LssInfo {
  id: string; // "10"
  volumeCount: number;
}

export interface PoolInfo {
  id: string; // "P0"
  index: number;
  name: string;
  rankGroup: 0 | 1;
  capacityExtents: number;
  allocatedExtents: number;
  volumeCount: number;
}

export interface PortInfo {
  id: string; // "I0010"
  enclosure: number;
  slot: number;
  port: number;
  wwpn: string;
  endpoint?: string; // "host:port" where the node takes PPRC links (a node of a site only)
}

export interface FlashInfo {
  id: string; // "1000:1001"
  sourceId: string;
  targetId: string;
  trackCount: number;
  pendingTracks: number;
  nocopy: boolean;
  persist: boolean;
  record: boolean;
  tgtinhibit: boolean;
  tgtpprc: boolean;
  seqnum: number;
  revertible: boolean;
  writesHeld: boolean;
  activeCopy: boolean;
  bytesPerSecond: number;
  state: "Valid" | "Validation Required" | "Tgt Failed";
  reason: string | null; // why the state is not Valid
  held: boolean; // the background copy is stopped by a failure that is not being retried
  createdAtMs: number;
  syncedAtMs: number | null;
}

// mkvolgrp / lsvolgrp / showvolgrp: which volumes a host may see.
export interface VolumeGroupInfo {
  id: string; // "V0"
  name: string;
  type: "scsimask" | "scsimap256" | "os400mask" | "os400map256";
  volumes: string[]; // volume IDs, ascending
}

// mkhostconnect / lshostconnect: a host, its volume group and its NBD endpoint.
export interface HostConnectionInfo {
  id: string; // "0000"
  name: string;
  wwpn: string | null;
  hostType: string; // "LinuxRHEL"
  profile: string; // "Intel - Linux RHEL"
  volumeGroup: string | null; // "V0"
  nbd: string | null; // the address it listens on: "127.0.0.1:10809" or a unix socket path
  clients: number; // NBD clients attached now
  ios: number; // NBD requests served
  bytes: number; // NBD bytes moved
  busyNs: number; // the sum over its NBD requests of the time each spent in the server
  queuedPeakBytes: number; // the most NBD reply bytes one of its connections has had queued for a client not reading them (bounded per connection)
}

// PPRC (design.md §4): a path from an LSS of one image to an LSS of another, one row per port pair.
export interface PathInfo {
  sourceImageId: string;
  targetImageId: string;
  sourceLss: string; // "10"
  targetLss: string; // "20"
  targetWwnn: string;
  ports: Array<{ local: string; remote: string }>;
  consistgrp: boolean;
  state: "Success" | "Failed";
  reason: string | null; // why Failed
  // Set when the image's node is not connected and the Copy Services Server answers from its catalog: why.
  lastKnown?: string;
}

export interface PortPairInfo {
  local: string; // "I0010"
  remote: string; // "I0143"
  type: "FCP";
}

export type PprcType = "mmir" | "gcp";

export interface PairInfo {
  id: string; // "1000:2000", primary first
  imageId: string; // the image it is listed on
  primaryImageId: string;
  secondaryImageId: string;
  role: "primary" | "secondary";
  state: "Copy Pending" | "Full Duplex" | "Suspended" | "Target Copy Pending" | "Target Full Duplex" | "Target Suspended";
  reason: string | null; // why Suspended
  type: PprcType;
  outOfSyncTracks: number;
  tgtread: boolean;
  critmode: boolean;
  suspendedAtMs: number | null;
  sourceLss: string;
  firstPassDone: boolean;
  sentTracks: number; // tracks Copy Pending and resyncs sent to the secondary
  detail: string | null; // what failed, for a pair the link or the secondary suspended
  // Set when the image's node is not connected and the Copy Services Server answers from its catalog: why.
  lastKnown?: string;
}

// A user of the site's Copy Services Server (lsuser, showuser). The password
// never crosses the interface after it was set.
export interface UserInfo {
  name: string;
  groups: string[]; // admin, op_storage, op_volume, op_copy_services, service, monitor, no_access
  state: "active" | "locked";
  failedLogins: number; // since the last successful login
  passwordExpired: boolean; // set by an administrator: to be changed at the next login
}

// ---- requests ----------------------------------------------------------------------

export interface MakePathRequest {
  remoteImageId: string;
  remoteWwnn: string;
  sourceLss: string;
  targetLss: string;
  ports: string[]; // "I0010:I0143"
  consistgrp?: boolean;
  remoteEndpoint?: string; // "host:port" of the remote image's node, when it is another node (the server gives it)
}

export interface RemovePathsRequest {
  remoteImageId: string;
  lssPairs: string[]; // "10:20"
  force?: boolean;
}

export interface MakePairsRequest {
  remoteImageId: string;
  pairs: Array<[string, string]>; // [primary, secondary]
  type: PprcType;
  mode?: "full" | "nocp";
  tgtread?: boolean;
  critmode?: boolean;
}

// pausepprc, resumepprc, rmpprc (issued to the primary's image), failoverpprc and failbackpprc;
// freezepprc and unfreezepprc, whose ids are LSS pairs ("10:20") rather than volume pairs.
export type PairOperation = "pausepprc" | "resumepprc" | "rmpprc" | "failoverpprc" | "failbackpprc" | "freezepprc" | "unfreezepprc";

export interface PairsRequest {
  remoteImageId?: string; // -remotedev: required by failover, failback, freeze and unfreeze
  ids: string[];
  type?: PprcType; // resumepprc: convert the pairs to this type
  // freezepprc: hold the primaries' writes whatever their paths' -consistgrp, until
  // unfreezepprc or the LSS's timeout (the first phase of a freeze across nodes, src/site/freeze-across.ts).
  holdWrites?: boolean;
}

// ---- requests (volumes, FlashCopy) -------------------------------------------------------

// mkuser: the groups as typed (`op_storage,monitor`), so the server's own
// rules name what was wrong with them.
export interface CreateUserRequest {
  name: string;
  password: string;
  groups: string;
}

// chuser: at least one of the changes.
export interface ChangeUserRequest {
  name: string;
  password?: string;
  groups?: string;
  lock?: boolean;
  unlock?: boolean;
}

export interface CreateVolumesRequest {
  ids: string[];
  capacity: number;
  unit: CapacityUnitName;
  os?: string;
  nameTemplate?: string; // -name: `#h` becomes the volume ID, `#d` its decimal number
  pool?: string; // -extpool: a pool ID or name
  sam?: "ese" | "standard"; // -sam: default ese
}

export interface ChangeVolumesRequest {
  ids: string[];
  nameTemplate?: string; // -name, as for CreateVolumesRequest
  capacity?: number; // grow to, in `unit` (default: each volume's own)
  unit?: CapacityUnitName;
}

export interface CreateVolumeGroupRequest {
  name: string;
  type?: string; // -type, default scsimask
  volumes: string[];
}

export interface ChangeVolumeGroupRequest {
  id: string;
  action?: "add" | "remove" | "replace";
  volumes?: string[];
  name?: string;
}

export interface CreateHostConnectionRequest {
  name: string;
  hostType: string;
  wwpn?: string;
  volumeGroup?: string;
  nbd?: string; // HOST:PORT or a unix socket path
}

export interface FlashOptions {
  nocopy?: boolean;
  persist?: boolean;
  record?: boolean;
  tgtinhibit?: boolean;
  seqnum?: number;
  freeze?: boolean;
  tgtpprc?: boolean;
}

export interface EstablishRequest {
  pairs: Array<[string, string]>; // [source, target]
  options: FlashOptions;
}

export interface IncrementOptions {
  record?: boolean;
  persist?: boolean;
  tgtinhibit?: boolean;
  tgtpprc?: boolean;
  seqnum?: number;
  freeze?: boolean; // resyncflash only
  fast?: boolean; // reverseflash only
}

export type IncrementOperation = "resyncflash" | "reverseflash" | "setflashrevertible";
export type RevertibleOperation = "commitflash" | "revertflash";
export type FlashCheckOperation = "rmflash" | IncrementOperation | RevertibleOperation;

// commitflash / revertflash: each item is pairs, or source volumes standing for their revertible relationships.
export interface RevertibleItem {
  pairs?: string[];
  sources?: string[];
}

export interface WithdrawResult {
  id: string;
  targetId: string;
  complete: boolean; // false: the copy was incomplete and the target is now unusable
}

export type FillSource = { kind: "byte"; value: number } | { kind: "pattern"; seed: number };

export interface WorkloadSpec {
  name: string;
  volumeId: string;
  rw: "read" | "write" | "mixed";
  pattern: "random" | "seq" | "hotspot";
  blockBytes: number;
  iopsMax?: number;
  durationMs?: number;
  seed: number;
}

export interface WorkloadStats {
  name: string;
  volumeId: string;
  running: boolean;
  iops: number;
  bytesPerSecond: number;
  p50Micros: number;
  p99Micros: number;
  ios: number;
}

export interface WorkloadInfo {
  spec: WorkloadSpec;
  imageId: string;
  state: string; // running, finished, failed, stopped
  running: boolean;
  failureReason: string | null;
  stats: WorkloadStats;
}

export interface SaveReport {
  file: string;
  images: number;
  volumes: number;
  relationships: number;
  bytesWritten: number;
  dataBytes: number;
  changedBytes: number;
  passes: number;
  frozenBytes: number;
  frozenMs: number;
  drainMs: number;
  elapsedMs: number;
}

export interface LoadReport {
  images: Array<{ id: string; volumes: number; relationships: number }>;
}

// ---- events ------------------------------------------------------------------------

// State changes pushed to subscribers (Site.events): a progress view or a
// remote shell learns of them without polling the engine.
export type SiteEvent =
  | { type: "flash-progress"; imageId: string; id: string; tracksLeft: number; trackCount: number; bytesPerSecond: number }
  | { type: "flash-copied"; imageId: string; id: string; trackCount: number; createdAtMs: number; syncedAtMs: number | null }
  // A background copy stopped by a failure (state and why), and again once it goes on.
  | { type: "flash-fault"; imageId: string; id: string; state: "Validation Required" | "Tgt Failed"; code: string; reason: string; retrying: boolean }
  | { type: "flash-recovered"; imageId: string; id: string }
  // An LSS's consistency group released its held writes (unfreezeflash, or its timeout).
  | { type: "flash-unfrozen"; imageId: string; lss: string; released: string[]; reason: string }
  // A PPRC pair's state changed (made, suspended, resumed, removed, failed over or back).
  | { type: "pprc-changed"; imageId: string; ids: string[] }
  | { type: "image-added"; imageId: string }
  | { type: "images-replaced"; imageIds: string[] };

export type SiteListener = (event: SiteEvent) => void;
