// TypeBox schemas of the plain data that crosses the Site interface
// (src/site/types.ts): every record, request and event, and SiteErrorData.
// They are the validation of the Site RPC (src/site/protocol.ts) and its
// documentation; src/wire refuses any schema without a bound, so every
// string, array and byte string here has one.
//
// Bounds, and why each is what it is:
// - An ARGUMENT's text gets the scenario language's own bounds (64 for IDs
//   and names, 256 for a text option, 4096 for a file name; src/lang/values.ts),
//   so that a name too long for DS CLI still reaches the site and is refused
//   there with DS CLI's message, the same through every kind of site.
// - A RESULT's text gets DS CLI's exact bounds (16 characters for a volume or
//   pool name), since the site never returns more.
// - Lists hold up to 65,536 entries: a storage image's whole volume address
//   space (LSS 00–FF × 256 volumes), so a listing of any image fits. The
//   frame bound (16 MiB + 64 KiB, src/wire/codec.ts) still applies to the
//   encoded message as a whole.
// - Data for write/read: 16 MiB, one staging-sized run and then some.
import { Type, type TSchema } from "@sinclair/typebox";

export const ID_LENGTH_MAX = 64; // image, volume, LSS, pool, port and pair IDs as arguments
export const ARGUMENT_NAME_LENGTH_MAX = 64; // names and name templates as arguments (src/lang/values.ts "name")
export const ARGUMENT_TEXT_LENGTH_MAX = 256; // a text option's value (src/lang/values.ts "text")
export const FILE_NAME_LENGTH_MAX = 4096; // a state file's path (src/lang/values.ts "file")
export const NAME_LENGTH_MAX = 16; // DS CLI's names of volumes and extent pools, as the site returns them
export const OS_LENGTH_MAX = 64;
export const WWN_LENGTH_MAX = 32; // 16 hex digits, with room for separators
export const STATE_LENGTH_MAX = 64; // a workload's state, a relationship's reason code
export const REASON_LENGTH_MAX = 4096; // why a relationship or a workload is not well
export const CODE_LENGTH_MAX = 64; // an error code: the wire's bound on codes
export const ERROR_MESSAGE_LENGTH_MAX = 65_536; // an error message, cut to this (it may list many items)
export const LIST_ITEMS_MAX = 65_536; // entries of a listing or a request's list
export const IMAGES_MAX = 1024; // storage images in one site
export const LSS_MAX = 256;
export const PORTS_MAX = 1024;
export const WORKLOADS_MAX = 4096;
export const DATA_BYTES_MAX = 16 * 1024 * 1024; // write's data and read's result
export const CALL_ID_MAX = Number.MAX_SAFE_INTEGER;
export const REQUEST_ID_LENGTH_MAX = 128; // a caller's id of a command, the same on its retry (src/server/router.ts)

const closed = { additionalProperties: false } as const;

// ---- scalars -----------------------------------------------------------------------------------

export const Id = Type.String({ maxLength: ID_LENGTH_MAX });
export const Ids = Type.Array(Id, { maxItems: LIST_ITEMS_MAX });
// Quantities the site checks itself (it names the one out of range); the schema only asks for a finite number.
export const Quantity = Type.Number();
export const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
export const TimeMs = Type.Number({ minimum: 0 });
export const Model = Type.Union([Type.Literal("2105"), Type.Literal("2107")]);
export const CapacityUnit = Type.Union([Type.Literal("ds"), Type.Literal("ess"), Type.Literal("blocks")]);
export const RankGroup = Type.Union([Type.Literal(0), Type.Literal(1)]);
export const ResultName = Type.String({ maxLength: NAME_LENGTH_MAX });
export const ArgumentName = Type.String({ maxLength: ARGUMENT_NAME_LENGTH_MAX });
export const ArgumentText = Type.String({ maxLength: ARGUMENT_TEXT_LENGTH_MAX });
export const FileName = Type.String({ maxLength: FILE_NAME_LENGTH_MAX });
export const Reason = Type.String({ maxLength: REASON_LENGTH_MAX });
export const Void = Type.Null(); // a Promise<void> result: null on the wire, undefined to the caller

// ---- records (results) ------------------------------------------------------------------------

export const ENDPOINT_LENGTH_MAX = 300; // "host:port" of a node's link listener
export const ImageInfo = Type.Object({ id: Id, model: Model, wwnn: Type.String({ maxLength: WWN_LENGTH_MAX }) }, closed);

const Sam = Type.Union([Type.Literal("ese"), Type.Literal("standard")]);
const volumeFields = {
  id: Id, lss: Id, name: ResultName, os: Type.String({ maxLength: OS_LENGTH_MAX }), blocks: Count, sizeBytes: Count, unit: CapacityUnit,
  pool: Type.Union([Id, Type.Null()]), sam: Sam, dataState: Type.Union([Type.Literal("Normal"), Type.Literal("Unusable")]), createdAtMs: TimeMs,
};
export const VolumeInfo = Type.Object(volumeFields, closed);
export const VolumeDetail = Type.Object({ ...volumeFields, allocatedBytes: Count, flashCopies: Ids }, closed);

export const LssInfo = Type.Object({ id: Id, volumeCount: Count }, closed);

export const PoolInfo = Type.Object({
  id: Id, index: Count, name: ResultName, rankGroup: RankGroup, capacityExtents: Count, allocatedExtents: Count, volumeCount: Count,
}, closed);

export const PortInfo = Type.Object({
  id: Id, enclosure: Count, slot: Count, port: Count, wwpn: Type.String({ maxLength: WWN_LENGTH_MAX }), endpoint: Type.Optional(Type.String({ maxLength: ENDPOINT_LENGTH_MAX })),
}, closed);

const FlashState = Type.Union([Type.Literal("Valid"), Type.Literal("Validation Required"), Type.Literal("Tgt Failed")]);
export const FlashInfo = Type.Object({
  id: Id, sourceId: Id, targetId: Id, trackCount: Count, pendingTracks: Count,
  nocopy: Type.Boolean(), persist: Type.Boolean(), record: Type.Boolean(), tgtinhibit: Type.Boolean(), tgtpprc: Type.Boolean(),
  seqnum: Count, revertible: Type.Boolean(), writesHeld: Type.Boolean(), activeCopy: Type.Boolean(), bytesPerSecond: Type.Number({ minimum: 0 }),
  state: FlashState, reason: Type.Union([Reason, Type.Null()]), held: Type.Boolean(), createdAtMs: TimeMs, syncedAtMs: Type.Union([TimeMs, Type.Null()]),
}, closed);

export const WithdrawResult = Type.Object({ id: Id, targetId: Id, complete: Type.Boolean() }, closed);

export const WorkloadSpec = Type.Object({
  name: ArgumentName,
  volumeId: Id,
  rw: Type.Union([Type.Literal("read"), Type.Literal("write"), Type.Literal("mixed")]),
  pattern: Type.Union([Type.Literal("random"), Type.Literal("seq"), Type.Literal("hotspot")]),
  blockBytes: Quantity,
  iopsMax: Type.Optional(Quantity),
  durationMs: Type.Optional(Quantity),
  seed: Quantity,
}, closed);

export const WorkloadStats = Type.Object({
  name: ArgumentName, volumeId: Id, running: Type.Boolean(), iops: Type.Number({ minimum: 0 }), bytesPerSecond: Type.Number({ minimum: 0 }),
  p50Micros: Type.Number({ minimum: 0 }), p99Micros: Type.Number({ minimum: 0 }), ios: Count,
}, closed);

export const WorkloadInfo = Type.Object({
  spec: WorkloadSpec, imageId: Id, state: Type.String({ maxLength: STATE_LENGTH_MAX }), running: Type.Boolean(),
  failureReason: Type.Union([Reason, Type.Null()]), stats: WorkloadStats,
}, closed);

export const SaveReport = Type.Object({
  file: FileName, images: Count, volumes: Count, relationships: Count, bytesWritten: Count, dataBytes: Count, changedBytes: Count,
  passes: Count, frozenBytes: Count, frozenMs: Type.Number({ minimum: 0 }), drainMs: Type.Number({ minimum: 0 }), elapsedMs: Type.Number({ minimum: 0 }),
}, closed);

// ---- users of a Copy Services Server

export const USERS_MAX = 4096;
const USER_GROUPS_MAX = 7; // admin, op_storage, op_volume, op_copy_services, service, monitor, no_access
const UserName = ArgumentName;
const UserGroup = Type.String({ maxLength: 32 });
export const UserInfo = Type.Object({
  name: UserName, groups: Type.Array(UserGroup, { maxItems: USER_GROUPS_MAX }), state: Type.Union([Type.Literal("active"), Type.Literal("locked")]),
  failedLogins: Count, passwordExpired: Type.Boolean(),
}, closed);
// Passwords and group lists as typed: the server's rules name what is wrong with them.
export const CreateUserRequest = Type.Object({ name: UserName, password: ArgumentText, groups: ArgumentText }, closed);
export const ChangeUserRequest = Type.Object({
  name: UserName, password: Type.Optional(ArgumentText), groups: Type.Optional(ArgumentText), lock: Type.Optional(Type.Boolean()), unlock: Type.Optional(Type.Boolean()),
}, closed);

export const LoadReport = Type.Object({
  images: Type.Array(Type.Object({ id: Id, volumes: Count, relationships: Count }, closed), { maxItems: IMAGES_MAX }),
}, closed);

export const VolumeGroupType = Type.Union([Type.Literal("scsimask"), Type.Literal("scsimap256"), Type.Literal("os400mask"), Type.Literal("os400map256")]);
export const VolumeGroupInfo = Type.Object({ id: Id, name: ResultName, type: VolumeGroupType, volumes: Ids }, closed);
const HostText = Type.String({ maxLength: ARGUMENT_TEXT_LENGTH_MAX });
export const HostConnectionInfo = Type.Object({
  id: Id, name: ResultName, wwpn: Type.Union([Type.String({ maxLength: WWN_LENGTH_MAX }), Type.Null()]), hostType: ArgumentName, profile: HostText,
  volumeGroup: Type.Union([Id, Type.Null()]), nbd: Type.Union([FileName, Type.Null()]), clients: Count, ios: Count, bytes: Count, busyNs: Count, queuedPeakBytes: Count,
}, closed);

export const UnfreezeResult = Type.Object({ lsses: Ids, released: Ids }, closed);

// ---- requests (arguments) -----------------------------------------------------------------------

export const AddImageRequest = Type.Object({ model: Type.Optional(Model), id: Type.Optional(Id) }, closed);

export const CreateVolumesRequest = Type.Object({
  ids: Ids, capacity: Quantity, unit: CapacityUnit, os: Type.Optional(ArgumentName), nameTemplate: Type.Optional(ArgumentName), pool: Type.Optional(Id),
  sam: Type.Optional(Sam),
}, closed);

export const ChangeVolumesRequest = Type.Object({
  ids: Ids, nameTemplate: Type.Optional(ArgumentName), capacity: Type.Optional(Quantity), unit: Type.Optional(CapacityUnit),
}, closed);

// -type, -name and the rest are checked by the site, which names what was wrong.
export const CreateVolumeGroupRequest = Type.Object({ name: ArgumentName, type: Type.Optional(ArgumentName), volumes: Ids }, closed);
export const ChangeVolumeGroupRequest = Type.Object({
  id: Id, action: Type.Optional(Type.Union([Type.Literal("add"), Type.Literal("remove"), Type.Literal("replace")])), volumes: Type.Optional(Ids),
  name: Type.Optional(ArgumentName),
}, closed);
export const CreateHostConnectionRequest = Type.Object({
  name: ArgumentName, hostType: ArgumentName, wwpn: Type.Optional(ArgumentName), volumeGroup: Type.Optional(Id), nbd: Type.Optional(FileName),
}, closed);

export const IdleAction = Type.Union([Type.Literal("removing"), Type.Literal("reinitialising")]);

export const CreatePoolRequest = Type.Object({ name: ArgumentName, rankGroup: RankGroup, capacityGiB: Type.Optional(Quantity) }, closed);

export const FlashOptions = Type.Object({
  nocopy: Type.Optional(Type.Boolean()), persist: Type.Optional(Type.Boolean()), record: Type.Optional(Type.Boolean()),
  tgtinhibit: Type.Optional(Type.Boolean()), seqnum: Type.Optional(Quantity), freeze: Type.Optional(Type.Boolean()), tgtpprc: Type.Optional(Type.Boolean()),
}, closed);

export const EstablishRequest = Type.Object({
  pairs: Type.Array(Type.Tuple([Id, Id]), { maxItems: LIST_ITEMS_MAX }),
  options: FlashOptions,
}, closed);

export const IncrementOperation = Type.Union([Type.Literal("resyncflash"), Type.Literal("reverseflash"), Type.Literal("setflashrevertible")]);
export const RevertibleOperation = Type.Union([Type.Literal("commitflash"), Type.Literal("revertflash")]);
export const FlashCheckOperation = Type.Union([Type.Literal("rmflash"), IncrementOperation, RevertibleOperation]);

export const IncrementOptions = Type.Object({
  record: Type.Optional(Type.Boolean()), persist: Type.Optional(Type.Boolean()), tgtinhibit: Type.Optional(Type.Boolean()),
  tgtpprc: Type.Optional(Type.Boolean()), seqnum: Type.Optional(Quantity), freeze: Type.Optional(Type.Boolean()), fast: Type.Optional(Type.Boolean()),
}, closed);

export const RevertibleItem = Type.Object({ pairs: Type.Optional(Ids), sources: Type.Optional(Ids) }, closed);
export const RevertibleItems = Type.Array(RevertibleItem, { maxItems: LIST_ITEMS_MAX });

// waitForCopy's options without the signal (which stays with the caller).
export const WaitOptions = Type.Object({ timeoutMs: Type.Optional(Quantity) }, closed);

export const Range = Type.Object({ offset: Quantity, length: Quantity }, closed);
export const FillSource = Type.Union([
  Type.Object({ kind: Type.Literal("byte"), value: Quantity }, closed),
  Type.Object({ kind: Type.Literal("pattern"), seed: Quantity }, closed),
]);
export const Checksum = Type.String({ maxLength: 64 }); // 16 hex digits today
export const Data = Type.Uint8Array({ maxByteLength: DATA_BYTES_MAX });

// ---- PPRC (design.md §4) ------------------------------------------------------------------------------

export const PORT_PAIRS_MAX = 8; // a path's port pairs (src/pprc/paths.ts); requests may list more, the site names the excess
const PortPair = Type.Object({ local: Id, remote: Id }, closed);
const PprcType = Type.Union([Type.Literal("mmir"), Type.Literal("gcp")]);
export const Up = Type.Boolean(); // setLink: the link restored (true) or cut (false)
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const PathInfo = Type.Object({
  sourceImageId: Id, targetImageId: Id, sourceLss: Id, targetLss: Id, targetWwnn: Type.String({ maxLength: WWN_LENGTH_MAX }),
  ports: Type.Array(PortPair, { maxItems: PORT_PAIRS_MAX }), consistgrp: Type.Boolean(),
  state: Type.Union([Type.Literal("Success"), Type.Literal("Failed")]), reason: Nullable(Reason), lastKnown: Type.Optional(Reason),
}, closed);
export const PortPairInfo = Type.Object({ local: Id, remote: Id, type: Type.Literal("FCP") }, closed);
const PairState = Type.Union(["Copy Pending", "Full Duplex", "Suspended", "Target Copy Pending", "Target Full Duplex", "Target Suspended"].map((state) => Type.Literal(state)));
export const PairInfo = Type.Object({
  id: Id, imageId: Id, primaryImageId: Id, secondaryImageId: Id, role: Type.Union([Type.Literal("primary"), Type.Literal("secondary")]),
  state: PairState, reason: Nullable(Reason), type: PprcType, outOfSyncTracks: Count, tgtread: Type.Boolean(), critmode: Type.Boolean(),
  suspendedAtMs: Nullable(TimeMs), sourceLss: Id, firstPassDone: Type.Boolean(), sentTracks: Count, detail: Nullable(Reason),
  lastKnown: Type.Optional(Reason),
}, closed);

export const MakePathRequest = Type.Object({
  remoteImageId: Id, remoteWwnn: Type.String({ maxLength: ARGUMENT_TEXT_LENGTH_MAX }), sourceLss: Id, targetLss: Id,
  ports: Type.Array(Type.String({ maxLength: ARGUMENT_TEXT_LENGTH_MAX }), { maxItems: LIST_ITEMS_MAX }), consistgrp: Type.Optional(Type.Boolean()),
  remoteEndpoint: Type.Optional(Type.String({ maxLength: ENDPOINT_LENGTH_MAX })),
}, closed);
export const RemovePathsRequest = Type.Object({ remoteImageId: Id, lssPairs: Ids, force: Type.Optional(Type.Boolean()) }, closed);
export const MakePairsRequest = Type.Object({
  remoteImageId: Id, pairs: Type.Array(Type.Tuple([Id, Id]), { maxItems: LIST_ITEMS_MAX }), type: PprcType,
  mode: Type.Optional(Type.Union([Type.Literal("full"), Type.Literal("nocp")])), tgtread: Type.Optional(Type.Boolean()), critmode: Type.Optional(Type.Boolean()),
}, closed);
export const PairOperation = Type.Union(["pausepprc", "resumepprc", "rmpprc", "failoverpprc", "failbackpprc", "freezepprc", "unfreezepprc"].map((operation) => Type.Literal(operation)));
export const PairsRequest = Type.Object({ remoteImageId: Type.Optional(Id), ids: Ids, type: Type.Optional(PprcType), holdWrites: Type.Optional(Type.Boolean()) }, closed);

// ---- errors and events ----------------------------------------------------------------------------

export const SiteErrorData = Type.Object({
  code: Type.String({ minLength: 1, maxLength: CODE_LENGTH_MAX }),
  message: Type.String({ maxLength: ERROR_MESSAGE_LENGTH_MAX }),
  item: Type.Optional(Count),
  option: Type.Optional(Type.String({ maxLength: ID_LENGTH_MAX })),
  bytesWritten: Type.Optional(Count),
}, closed);

const FaultState = Type.Union([Type.Literal("Validation Required"), Type.Literal("Tgt Failed")]);
export const SiteEvent = Type.Union([
  Type.Object({ type: Type.Literal("flash-progress"), imageId: Id, id: Id, tracksLeft: Count, trackCount: Count, bytesPerSecond: Type.Number({ minimum: 0 }) }, closed),
  Type.Object({ type: Type.Literal("flash-copied"), imageId: Id, id: Id, trackCount: Count, createdAtMs: TimeMs, syncedAtMs: Type.Union([TimeMs, Type.Null()]) }, closed),
  Type.Object({
    type: Type.Literal("flash-fault"), imageId: Id, id: Id, state: FaultState, code: Type.String({ maxLength: CODE_LENGTH_MAX }), reason: Reason, retrying: Type.Boolean(),
  }, closed),
  Type.Object({ type: Type.Literal("flash-recovered"), imageId: Id, id: Id }, closed),
  Type.Object({ type: Type.Literal("flash-unfrozen"), imageId: Id, lss: Id, released: Ids, reason: Reason }, closed),
  Type.Object({ type: Type.Literal("pprc-changed"), imageId: Id, ids: Ids }, closed),
  Type.Object({ type: Type.Literal("image-added"), imageId: Id }, closed),
  Type.Object({ type: Type.Literal("images-replaced"), imageIds: Type.Array(Id, { maxItems: IMAGES_MAX }) }, closed),
]);

// An argument that may be left out: null on the wire, undefined to the site.
export function Absent<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}

export function List<T extends TSchema>(schema: T, maxItems = LIST_ITEMS_MAX) {
  return Type.Array(schema, { maxItems });
}
