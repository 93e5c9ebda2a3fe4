// The embedded site: the storage images of this process (src/engine), their
// workloads and their state file, behind the Site interface. It is what
// `tzero` runs on by default; every rule a command's items must pass is
// checked here, over the whole command, before anything changes.
import { availableParallelism } from "node:os";
import { StorageImage, type CopyFault, type ProgressEvent, type Relationship, type RelationshipStatus, type Volume } from "../engine/image.js";
import { EngineError, isEngineError } from "../engine/errors.js";
import { imageId, lssOf, pairId, parseImageId } from "../engine/ids.js";
import { checkEstablish, checkV2Supported, type Model, type V2Operation } from "../engine/rules.js";
import { capacityBlocks } from "../engine/units.js";
import { rankGroupOfLss, type ExtentPool } from "../engine/pools.js";
import { IO_PORTS, portWwpn } from "../engine/ports.js";
import { Workload, WorkloadSet } from "../engine/workload.js";
import { Pprc, type PairStatus, type PathStatus, type Peer } from "../pprc/pprc.js";
import type { LinkIdentity } from "../pprc/remote-image.js";
import type { LinkFaults } from "../pprc/link-faults.js";
import type { LinkControl } from "../pprc/link-receiver.js";
import { parseVolumeId } from "../engine/ids.js";
import { parsePortPair } from "../pprc/paths.js";
import { isStoreError, loadState, saveState, type LoadedPprc } from "../store/index.js";
import type { HostsRecord } from "../store/format.js";
import { DefaultEndpoint } from "../hosts/default-endpoint.js";
import { HOST_TYPES, HostMap, type HostConnection, type HostReach, type VolumeGroup } from "../hosts/host-map.js";
import { SiteError } from "./errors.js";
import { acrossImages, checkAcrossImages, routePairCommand, type ReachedImage } from "./freeze-across.js";
import type { CallOptions, Site } from "./site.js";
import { volumeName } from "./shared.js";
import type {
  ChangeVolumesRequest, CreateVolumesRequest, EstablishRequest, FillSource, FlashCheckOperation, FlashInfo, ImageInfo, IncrementOperation,
  IncrementOptions, LoadReport, LssInfo, MakePairsRequest, MakePathRequest, ModelName, PairInfo, PairOperation, PairsRequest, PathInfo,
  PoolInfo, PortInfo, PortPairInfo, RemovePathsRequest, RevertibleItem, RevertibleOperation, SaveReport, SiteEvent,
  SiteListener, UserInfo, VolumeDetail, VolumeInfo, WithdrawResult, WorkloadInfo, WorkloadSpec,
  ChangeVolumeGroupRequest, CreateHostConnectionRequest, CreateVolumeGroupRequest, HostConnectionInfo, VolumeGroupInfo,
} from "./types.js";

export interface EmbeddedSiteOptions {
  workers?: number; // background-copy workers per storage image
  images?: Array<{ model: ModelName; id: string }>; // default: one 2105, EMBEDDED_IMAGE_ID
  adopt?: StorageImage[]; // images made elsewhere (tests, tools), taken as they are instead of `images`
  // Where the NBD endpoints say why they refused a request or closed a connection (default: standard error).
  log?: (line: string) => void;
  mirrorAckTimeoutMs?: number; // how long a mirrored write waits for its secondary (tests shorten it)
  // A node of a site (tzero serve): who it is to other nodes' links, and where it takes them.
  links?: LinkIdentity;
  pprcFreezeTimeoutMs?: number; // how long freezepprc holds writes without unfreezepprc (default 60 s; tests shorten it)
  linkFaults?: LinkFaults; // seeded faults of the in-process PPRC links (tests: src/pprc/link-faults.ts)
}

export const EMBEDDED_IMAGE_ID = "IBM.2105-75TZ001";
const WORKLOAD_WAIT_SLACK_MS = 30_000;

// Runs `body`, and turns an engine or store error into a SiteError naming entry `item` of the request.
function forItem<T>(item: number | undefined, body: () => T): T {
  try {
    return body();
  } catch (error) {
    throw siteError(error, item);
  }
}

async function forItemAsync<T>(item: number | undefined, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw siteError(error, item);
  }
}

function siteError(error: unknown, item?: number, option?: string): unknown {
  if (error instanceof SiteError) return error;
  if (isEngineError(error)) return new SiteError({ code: error.code, message: error.message, item, option, bytesWritten: error.bytesWritten });
  if (isStoreError(error)) return new SiteError({ code: error.code, message: error.message, item, option });
  return error;
}

// Users live on a Copy Services Server; the shell of one process has no server and no users.
function noUsers(): SiteError {
  return new SiteError({
    code: "NO_USERS",
    message: "users live on a Copy Services Server, and this embedded shell has none; connect to one with tzero -hmc1 HOST -user NAME -passwd PASSWORD",
  });
}

function forOption<T>(option: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    throw siteError(error, undefined, option);
  }
}

function volumeInfo(image: StorageImage, volume: Volume): VolumeInfo {
  return {
    id: volume.id, lss: volume.lss, name: volume.name, os: volume.os, blocks: volume.blocks, sizeBytes: volume.sizeBytes,
    unit: volume.unit, pool: volume.pool, sam: volume.sam, dataState: image.dataState(volume.id), createdAtMs: volume.createdAt.getTime(),
  };
}

function flashInfo(status: RelationshipStatus): FlashInfo {
  return {
    id: status.id, sourceId: status.sourceId, targetId: status.targetId, trackCount: status.trackCount, pendingTracks: status.pendingTracks,
    nocopy: status.nocopy, persist: status.persist, record: status.record, tgtinhibit: status.tgtinhibit, tgtpprc: status.tgtpprc,
    seqnum: status.seqnum, revertible: status.revertible, writesHeld: status.writesHeld, activeCopy: status.activeCopy,
    bytesPerSecond: status.bytesPerSecond, state: status.state, reason: status.reason,
    held: status.fault !== null && !status.fault.retrying,
    createdAtMs: status.createdAt.getTime(), syncedAtMs: status.syncedAt === null ? null : status.syncedAt.getTime(),
  };
}

function volumeGroupInfo(group: VolumeGroup): VolumeGroupInfo {
  return { id: group.id, name: group.name, type: group.type, volumes: [...group.volumes] };
}

function hostConnectionInfo(host: HostConnection, reach: HostReach): HostConnectionInfo {
  const { counters } = reach;
  return {
    id: host.id, name: host.name, wwpn: host.wwpn, hostType: host.hostType, profile: HOST_TYPES.get(host.hostType) ?? host.hostType,
    volumeGroup: host.volumeGroup, nbd: reach.address, clients: counters.clients, ios: counters.ios, bytes: counters.bytes,
    busyNs: counters.busyNs, queuedPeakBytes: counters.queuedPeakBytes,
  };
}

function pathInfo(path: PathStatus): PathInfo {
  return {
    sourceImageId: path.sourceImageId, targetImageId: path.targetImageId, sourceLss: path.sourceLss, targetLss: path.targetLss,
    targetWwnn: path.targetWwnn, ports: path.ports.map((pair) => ({ local: pair.local, remote: pair.remote })), consistgrp: path.consistgrp,
    state: path.state, reason: path.reason,
  };
}

const REMOTE_REQUIRED: ReadonlySet<PairOperation> = new Set(["failoverpprc", "failbackpprc", "freezepprc", "unfreezepprc"]);

// "10:20" → the source and target LSS, each checked by the PPRC layer.
function lssPair(text: string): [string, string] {
  const parts = text.split(":");
  if (parts.length !== 2) throw new EngineError("BAD_ARGUMENT", `${text} is not an LSS pair SOURCE_LSS:TARGET_LSS such as 10:20`);
  return [parts[0], parts[1]];
}

function pairInfo(status: PairStatus): PairInfo {
  const { suspendedAt, ...rest } = status;
  return { ...rest, suspendedAtMs: suspendedAt === null ? null : suspendedAt.getTime() };
}

function workloadInfo(workload: Workload): WorkloadInfo {
  return {
    spec: { ...workload.spec }, imageId: workload.image.id, state: workload.state, running: workload.running,
    failureReason: workload.failureReason, stats: workload.stats(),
  };
}

export class EmbeddedSite implements Site {
  private readonly images: StorageImage[] = []; // in the order they were added
  private readonly workloads = new WorkloadSet();
  private readonly workers: number;
  private readonly completed = new Map<StorageImage, Set<string>>();
  private readonly listeners = new Set<SiteListener>();
  private readonly hostMaps = new Map<StorageImage, HostMap>();
  private defaultNbd: DefaultEndpoint | null = null; // tzero serve --nbd
  private readonly log: (line: string) => void;
  private pprc: Pprc;
  private readonly mirrorAckTimeoutMs: number | undefined;
  private readonly links: LinkIdentity | undefined;
  private readonly pprcFreezeTimeoutMs: number | undefined;
  private readonly linkFaults: LinkFaults | undefined;

  constructor(options: EmbeddedSiteOptions = {}) {
    this.links = options.links;
    this.workers = options.workers ?? availableParallelism();
    this.log = options.log ?? ((line) => void process.stderr.write(`${line}\n`));
    this.mirrorAckTimeoutMs = options.mirrorAckTimeoutMs;
    this.pprcFreezeTimeoutMs = options.pprcFreezeTimeoutMs;
    this.linkFaults = options.linkFaults;
    this.pprc = this.newPprc();
    if (options.adopt !== undefined) for (const image of options.adopt) this.track(image);
    else for (const spec of options.images ?? [{ model: "2105", id: EMBEDDED_IMAGE_ID }]) this.addEngineImage(spec.model, spec.id);
  }

  private newPprc(): Pprc {
    return new Pprc({
      wwnnOf: (image) => this.imageInfo(image, this.images.indexOf(image)).wwnn, ackTimeoutMs: this.mirrorAckTimeoutMs, freezeTimeoutMs: this.pprcFreezeTimeoutMs, linkFaults: this.linkFaults,
      identity: this.links, localImage: (id) => this.images.find((image) => image.id === id),
    });
  }

  // What this node answers other nodes' PPRC (its link receiver serves it).
  linkControl(): LinkControl {
    return this.pprc.control();
  }

  // The other image of a PPRC command: of this process, or, on a node of a site, of another node PPRC knows.
  private peer(id: string): Peer {
    if (this.links === undefined || this.images.some((image) => image.id === id)) return this.image(id);
    return forItem(undefined, () => this.pprc.peerOf(id));
  }

  // The PPRC layer, for tests in this process that look beneath the interface.
  enginePprc(): Pprc {
    return this.pprc;
  }

  // The engine's image, for tests and tools in this process that look beneath the interface.
  engineImage(id: string): StorageImage {
    return this.image(id);
  }

  engineImages(): readonly StorageImage[] {
    return this.images;
  }

  // ---- images and inventory --------------------------------------------------------------

  async listImages(): Promise<ImageInfo[]> {
    return this.images.map((image, index) => this.imageInfo(image, index));
  }

  async addImage(request: { model?: ModelName; id?: string }): Promise<ImageInfo> {
    return forItem(undefined, () => {
      const image = this.addImageSync(request.model, request.id);
      return this.imageInfo(image, this.images.indexOf(image));
    });
  }

  private addImageSync(model: Model | undefined, idText: string | undefined): StorageImage {
    let id: string;
    let chosenModel: Model;
    if (idText === undefined) {
      chosenModel = model ?? "2105";
      let number = this.images.length + 1;
      while (this.images.some((image) => image.id.endsWith(`-75TZ${String(number).padStart(3, "0")}`))) number++;
      id = imageId(chosenModel, `75TZ${String(number).padStart(3, "0")}`);
    } else {
      const parts = parseImageId(idText);
      if (model !== undefined && model !== parts.model) {
        throw new EngineError("BAD_MODEL", `storage image ${idText} is a ${parts.model}, not a ${model}`);
      }
      chosenModel = parts.model;
      id = imageId(parts.model, parts.serial);
    }
    if (this.images.some((image) => image.id === id)) throw new EngineError("IMAGE_EXISTS", `storage image ${id} already exists`);
    const image = this.addEngineImage(chosenModel, id);
    this.defaultNbd?.addImage(this.hostMap(image));
    this.emit({ type: "image-added", imageId: image.id });
    return image;
  }

  private addEngineImage(model: Model, id: string): StorageImage {
    const image = new StorageImage({ model, serial: id.slice(id.indexOf("-") + 1), workers: this.workers });
    this.track(image);
    return image;
  }

  // Follows an image's engine events as plain SiteEvents.
  private track(image: StorageImage): void {
    const completed = new Set<string>();
    const imageId = image.id;
    image.on("progress", (progress: ProgressEvent) => this.emit({ type: "flash-progress", imageId, ...progress }));
    image.on("fault", ({ id, fault }: { id: string; fault: CopyFault }) => this.emit({
      type: "flash-fault", imageId, id, state: fault.state, code: fault.code, reason: fault.reason, retrying: fault.retrying,
    }));
    image.on("recovered", ({ id }: { id: string }) => this.emit({ type: "flash-recovered", imageId, id }));
    image.on("unfrozen", (event: { lss: string; released: string[]; reason: string }) => this.emit({
      type: "flash-unfrozen", imageId, lss: event.lss, released: [...event.released], reason: event.reason,
    }));
    image.on("copied", (relationship: Relationship) => {
      completed.add(relationship.id);
      this.emit({
        type: "flash-copied", imageId: image.id, id: relationship.id, trackCount: relationship.trackCount,
        createdAtMs: relationship.createdAt.getTime(), syncedAtMs: relationship.syncedAt === null ? null : relationship.syncedAt.getTime(),
      });
    });
    this.completed.set(image, completed);
    this.hostMaps.set(image, new HostMap(image, this.log));
    this.images.push(image);
  }

  // One WWNN per image, by its place in the site: 5005076303FFC001, …
  private imageInfo(image: StorageImage, index: number): ImageInfo {
    return { id: image.id, model: image.model, wwnn: `5005076303FFC${(index + 1).toString(16).toUpperCase().padStart(3, "0")}` };
  }

  private image(id: string): StorageImage {
    const image = this.images.find((candidate) => candidate.id === id);
    if (!image) throw new SiteError({ code: "IMAGE_NOT_FOUND", message: `storage image ${id} does not exist (lssi lists them; mksi adds one)` });
    return image;
  }

  async listLss(imageId: string): Promise<LssInfo[]> {
    const image = this.image(imageId);
    const volumes = image.listVolumes();
    return image.listLss().map((lss) => ({ id: lss, volumeCount: volumes.filter((volume) => volume.lss === lss).length }));
  }

  async listPorts(imageId: string): Promise<PortInfo[]> {
    const image = this.image(imageId);
    const wwnn = this.imageInfo(image, this.images.indexOf(image)).wwnn;
    // On a node of a site every port is an endpoint of the node's link listener.
    const endpoint = this.links?.endpoint;
    const at = endpoint === undefined || endpoint === null ? {} : { endpoint: `${endpoint.host}:${endpoint.port}` };
    return IO_PORTS.map((port) => ({ id: port.id, enclosure: port.enclosure, slot: port.slot, port: port.port, wwpn: portWwpn(wwnn, port), ...at }));
  }

  // ---- volumes -----------------------------------------------------------------------------

  async listVolumes(imageId: string): Promise<VolumeInfo[]> {
    const image = this.image(imageId);
    return image.listVolumes().map((volume) => volumeInfo(image, volume));
  }

  async volume(imageId: string, volumeId: string): Promise<VolumeDetail> {
    const image = this.image(imageId);
    return forItem(undefined, () => {
      const volume = image.volume(volumeId);
      const flashCopies = image.relationshipsOf(volume.id).map((relationship) => relationship.id);
      return { ...volumeInfo(image, volume), allocatedBytes: image.allocatedBytes(volume.id), flashCopies };
    });
  }

  async createVolumes(imageId: string, request: CreateVolumesRequest): Promise<string[]> {
    const image = this.image(imageId);
    const poolId = request.pool === undefined ? undefined : forOption("extpool", () => image.pools.get(request.pool!).id);
    const seen = new Set<string>();
    request.ids.forEach((id, index) => forItem(index, () => {
      if (seen.has(id)) throw new EngineError("VOLUME_EXISTS", `volume ${id} is given twice`);
      seen.add(id);
      if (image.hasVolume(id)) throw new EngineError("VOLUME_EXISTS", `volume ${id} already exists on ${image.id}`);
      volumePool(image, id, poolId);
    }));
    const template = request.nameTemplate;
    const names = forItem(undefined, () => request.ids.map((id) => (template === undefined ? undefined : volumeName(template, id))));
    const created: string[] = [];
    try {
      request.ids.forEach((id, index) => {
        image.createVolume({ id, capacity: request.capacity, unit: request.unit, os: request.os, name: names[index], pool: volumePool(image, id, poolId).id, sam: request.sam });
        created.push(id);
      });
    } catch (error) {
      // Only this command's fresh volumes go: nothing else changed.
      for (const id of created) image.removeVolume(id);
      throw siteError(error);
    }
    // Standard volumes' pages are faulted in before mkfbvol answers, a slice of the event loop at a time.
    for (const id of created) await image.touchVolume(id);
    return created;
  }

  async checkVolumesIdle(imageId: string, ids: string[], action: "removing" | "reinitialising"): Promise<void> {
    const image = this.image(imageId);
    ids.forEach((id, index) => forItem(index, () => this.checkIdle(image, id, action)));
  }

  private checkIdle(image: StorageImage, id: string, action: string): void {
    const volume = image.idleVolume(id, action);
    const groups = this.hostMap(image).groupsOf(volume.id);
    if (action === "removing" && groups.length > 0) {
      throw new EngineError("VOLUME_MAPPED", `volume ${volume.id} is in volume group ${groups[0].id} (${groups[0].name}); chvolgrp -action remove it first`);
    }
    this.checkNotInPair(image, volume.id, action);
    const running = this.workloads.runningOn(image, volume.id);
    if (running.length > 0) throw new EngineError("BUSY", `volume ${volume.id} has workload ${running[0].spec.name} running on it; stop it first`);
  }

  private checkNotInPair(image: StorageImage, volumeId: string, action: string): void {
    const pair = this.pprc.volumeInPair(image, volumeId);
    if (pair !== null) throw new EngineError("VOLUME_IN_PAIR", `volume ${volumeId} is in PPRC pair ${pair}; ${action} it needs rmpprc first`);
  }

  async removeVolumes(imageId: string, ids: string[], options: CallOptions = {}): Promise<string[]> {
    const image = this.image(imageId);
    ids.forEach((id, index) => forItem(index, () => this.checkIdle(image, id, "removing")));
    for (const [index, id] of ids.entries()) await forItemAsync(index, () => image.drained(() => image.removeVolume(id), options.signal));
    return ids;
  }

  async reinitVolumes(imageId: string, ids: string[], options: CallOptions = {}): Promise<string[]> {
    const image = this.image(imageId);
    ids.forEach((id, index) => forItem(index, () => this.checkIdle(image, id, "reinitialising")));
    for (const [index, id] of ids.entries()) await forItemAsync(index, () => image.drained(() => image.reinitVolume(id), options.signal));
    return ids;
  }

  async changeVolumes(imageId: string, request: ChangeVolumesRequest, options: CallOptions = {}): Promise<string[]> {
    const image = this.image(imageId);
    const { capacity, nameTemplate: template } = request;
    const changes = request.ids.map((id, index) => forItem(index, () => {
      const volume = image.volume(id);
      const name = template === undefined ? undefined : volumeName(template, volume.id);
      const unit = request.unit ?? volume.unit;
      if (capacity === undefined) return { id: volume.id, name, unit };
      image.idleVolume(volume.id, "changing the capacity of");
      this.checkNotInPair(image, volume.id, "changing the capacity of");
      const blocks = capacityBlocks(capacity, unit);
      if (blocks <= volume.blocks) {
        throw new EngineError("BAD_CAPACITY", `volume ${volume.id} has ${volume.blocks} blocks; -cap ${capacity} (${blocks} blocks) does not grow it, and volumes never shrink`);
      }
      return { id: volume.id, name, unit, capacity };
    }));
    for (const change of changes) {
      // Growing freezes the volume; a freeze that could not drain its I/O in time is retried.
      if (change.capacity !== undefined) await forItemAsync(undefined, () => image.drained(() => image.growVolume(change.id, change.capacity!, change.unit), options.signal));
      if (change.name !== undefined) image.renameVolume(change.id, change.name);
    }
    this.hostMap(image).refresh();
    return changes.map((change) => change.id);
  }

  // ---- extent pools ------------------------------------------------------------------------

  private poolInfo(image: StorageImage, pool: ExtentPool): PoolInfo {
    const usage = image.pools.usage(pool);
    return {
      id: pool.id, index: pool.index, name: pool.name, rankGroup: pool.rankGroup, capacityExtents: usage.capacityExtents,
      allocatedExtents: usage.allocatedExtents, volumeCount: image.listVolumes().filter((volume) => volume.pool === pool.id).length,
    };
  }

  async listPools(imageId: string): Promise<PoolInfo[]> {
    const image = this.image(imageId);
    return image.pools.list().map((pool) => this.poolInfo(image, pool));
  }

  async pool(imageId: string, idOrName: string): Promise<PoolInfo> {
    const image = this.image(imageId);
    return forItem(undefined, () => this.poolInfo(image, image.pools.get(idOrName)));
  }

  async createPool(imageId: string, request: { name: string; rankGroup: 0 | 1; capacityGiB?: number }): Promise<PoolInfo> {
    const image = this.image(imageId);
    return forItem(undefined, () => this.poolInfo(image, image.pools.create(request)));
  }

  async checkPoolsRemovable(imageId: string, ids: string[]): Promise<PoolInfo[]> {
    const image = this.image(imageId);
    const pools = ids.map((id, index) => forItem(index, () => image.pools.get(id)));
    return pools.map((pool, index) => forItem(index, () => {
      const members = image.listVolumes().filter((volume) => volume.pool === pool.id);
      if (members.length > 0) throw new EngineError("POOL_NOT_EMPTY", `extent pool ${pool.id} holds ${members.length} volume(s) (${members[0].id} first); remove them before the pool`);
      return this.poolInfo(image, pool);
    }));
  }

  async removePools(imageId: string, ids: string[]): Promise<string[]> {
    const pools = await this.checkPoolsRemovable(imageId, ids);
    const image = this.image(imageId);
    return pools.map((pool, index) => forItem(index, () => image.removePool(pool.id).id));
  }

  // ---- FlashCopy -----------------------------------------------------------------------------

  async listFlash(imageId: string): Promise<FlashInfo[]> {
    const image = this.image(imageId);
    return image.listRelationships().map((relationship) => flashInfo(image.status(relationship.id)));
  }

  async establishFlash(imageId: string, request: EstablishRequest, options: CallOptions = {}): Promise<string[]> {
    const image = this.image(imageId);
    request.pairs.forEach(([, target], index) => forItem(index, () => {
      // A missing volume is checkPairs' to name, source first.
      if (!image.hasVolume(target)) return;
      const id = image.volume(target).id;
      const inPair = this.pprc.volumeRole(image, id);
      if (inPair?.role === "secondary") {
        throw new EngineError("VOLUME_IN_PAIR", `volume ${id} is the secondary of PPRC pair ${inPair.pairId}: a FlashCopy target cannot be a PPRC secondary, whose data comes from its primary only`);
      }
      if (inPair?.role === "primary" && !request.options.tgtpprc) {
        throw new EngineError("VOLUME_IN_PAIR", `volume ${id} is the primary of PPRC pair ${inPair.pairId}: a FlashCopy onto a Remote Mirror and Copy primary needs -tgtpprc`);
      }
    }));
    checkPairs(image, request.pairs);
    const created: string[] = [];
    // drained(): an establish whose drain of in-flight I/O timed out is retried from the event loop.
    for (const [index, [source, target]] of request.pairs.entries()) {
      const relationship = await forItemAsync(index, () => image.drained(() => image.establish(source, target, request.options), options.signal));
      created.push(relationship.id);
    }
    this.hostMap(image).refresh();
    return created;
  }

  // V2 operations refuse a pair given twice; rmflash, as DS CLI, finds the second one gone.
  async checkFlash(imageId: string, operation: FlashCheckOperation, ids: string[]): Promise<string[]> {
    return this.checkedFlash(this.image(imageId), operation, ids);
  }

  private checkedFlash(image: StorageImage, operation: FlashCheckOperation, ids: string[]): string[] {
    const seen = new Set<string>();
    return ids.map((id, index) => forItem(index, () => {
      const relationship = image.checkFlashV2(operation, id);
      if (operation !== "rmflash" && seen.has(relationship.id)) throw new EngineError("BAD_ARGUMENT", `FlashCopy pair ${relationship.id} is given twice`);
      seen.add(relationship.id);
      return relationship.id;
    }));
  }

  async withdrawFlash(imageId: string, ids: string[], options: CallOptions = {}): Promise<WithdrawResult[]> {
    const image = this.image(imageId);
    this.checkedFlash(image, "rmflash", ids);
    const results: WithdrawResult[] = [];
    for (const [index, id] of ids.entries()) {
      const relationship = forItem(index, () => image.relationship(id));
      const complete = await forItemAsync(index, () => image.drained(() => image.withdraw(id), options.signal));
      results.push({ id: relationship.id, targetId: relationship.targetId, complete });
    }
    this.hostMap(image).refresh();
    return results;
  }

  async incrementFlash(imageId: string, operation: IncrementOperation, ids: string[], options: IncrementOptions): Promise<string[]> {
    const image = this.image(imageId);
    const checked = this.checkedFlash(image, operation, ids);
    const { fast, freeze, ...common } = options;
    const change = (id: string): string => {
      if (operation === "resyncflash") return image.resync(id, { ...common, freeze }).id;
      if (operation === "reverseflash") return image.reverse(id, { ...common, fast }).id;
      return image.setRevertible(id, { seqnum: options.seqnum }).id;
    };
    try {
      // drained(), as for an establish: a change whose drain of in-flight I/O timed out is retried from the event loop.
      const changed: string[] = [];
      for (const [index, id] of checked.entries()) changed.push(await forItemAsync(index, () => image.drained(() => change(id))));
      return changed;
    } finally {
      this.hostMap(image).refresh();
    }
  }

  async settleRevertible(imageId: string, operation: RevertibleOperation, items: RevertibleItem[], seqnum?: number): Promise<string[]> {
    const image = this.image(imageId);
    forItem(undefined, () => checkV2Supported(image.model, operation, image.id));
    const chosen: Array<{ id: string; item: number }> = [];
    items.forEach((entry, index) => forItem(index, () => {
      const relationships = entry.pairs !== undefined
        ? entry.pairs.map((id) => image.checkFlashV2(operation, id))
        : (entry.sources ?? []).flatMap((id) => revertibleOf(image, operation, id, seqnum));
      for (const relationship of relationships) {
        if (chosen.some((given) => given.id === relationship.id)) throw new EngineError("BAD_ARGUMENT", `FlashCopy pair ${relationship.id} is given twice`);
        chosen.push({ id: relationship.id, item: index });
      }
    }));
    try {
      return chosen.map(({ id, item }) => forItem(item, () => (operation === "commitflash" ? image.commitRevertible(id) : image.revertRevertible(id)).id));
    } finally {
      this.hostMap(image).refresh();
    }
  }

  async unfreezeFlash(imageId: string, lsses: string[]): Promise<{ lsses: string[]; released: string[] }> {
    const image = this.image(imageId);
    const checked = lsses.map((lss, index) => forItem(index, () => image.checkUnfreeze(lss)));
    const released = checked.flatMap((lss, index) => forItem(index, () => image.unfreeze(lss)));
    return { lsses: checked, released };
  }

  async pendingFlash(imageId: string, ids: string[]): Promise<string[]> {
    const image = this.image(imageId);
    const completed = this.completed.get(image) ?? new Set<string>();
    const pending: string[] = [];
    ids.forEach((id, index) => forItem(index, () => {
      if (image.hasRelationship(id)) pending.push(id);
      else if (!completed.has(id)) image.relationship(id);
    }));
    return pending;
  }

  async waitForCopy(imageId: string, ids: string[], options: CallOptions & { timeoutMs?: number } = {}): Promise<void> {
    const image = this.image(imageId);
    await forItemAsync(undefined, () => image.waitForCopy(ids, { timeoutMs: options.timeoutMs, signal: options.signal }));
  }

  // ---- PPRC paths and pairs -------------------------------------------------------------------

  async listAvailablePorts(imageId: string, remoteImageId: string): Promise<PortPairInfo[]> {
    this.image(imageId);
    // On a node of a site the server has checked that the image exists on another node.
    if (this.links === undefined) this.image(remoteImageId);
    return IO_PORTS.flatMap((local) => IO_PORTS.map((remote) => ({ local: local.id, remote: remote.id, type: "FCP" as const })));
  }

  async makePath(imageId: string, request: MakePathRequest): Promise<PathInfo> {
    const local = this.image(imageId);
    const ports = request.ports.map((text, index) => forItem(index, () => parsePortPair(text)));
    const remote = request.remoteEndpoint === undefined ? this.peer(request.remoteImageId) : forItem(undefined, () => this.pprc.addRemote(request.remoteImageId, request.remoteEndpoint!));
    const path = forItem(undefined, () => this.pprc.makePath(local, remote, {
      wwnn: request.remoteWwnn, sourceLss: request.sourceLss, targetLss: request.targetLss, ports, consistgrp: request.consistgrp ?? false,
    }));
    await this.pprc.linkSettled(local, remote);
    return pathInfo(forItem(undefined, () => this.pprc.listPaths(local).find((candidate) => candidate.sourceLss === path.sourceLss
      && candidate.targetLss === path.targetLss && candidate.targetImageId === remote.id)!));
  }

  async listPaths(imageId: string, lsses?: string[]): Promise<PathInfo[]> {
    const image = this.image(imageId);
    return forItem(undefined, () => this.pprc.listPaths(image, lsses).map(pathInfo));
  }

  private pathsToRemove(imageId: string, request: RemovePathsRequest) {
    const local = this.image(imageId);
    const remote = this.peer(request.remoteImageId);
    return request.lssPairs.map((text, index) => forItem(index, () => {
      const parts = text.split(":");
      if (parts.length !== 2) throw new EngineError("BAD_ARGUMENT", `PPRC path ${text} is not SOURCE_LSS:TARGET_LSS such as 10:20`);
      return this.pprc.checkRemovePaths(local, remote, [[parts[0], parts[1]]], request.force ?? false)[0];
    }));
  }

  async checkRemovePaths(imageId: string, request: RemovePathsRequest): Promise<string[]> {
    return this.pathsToRemove(imageId, request).map((path) => `${path.sourceLss}:${path.targetLss}`);
  }

  async removePaths(imageId: string, request: RemovePathsRequest): Promise<string[]> {
    const paths = this.pathsToRemove(imageId, request);
    await forItemAsync(undefined, () => this.pprc.removePaths(paths));
    this.emit({ type: "pprc-changed", imageId, ids: [] });
    return paths.map((path) => `${path.sourceLss}:${path.targetLss}`);
  }

  async makePairs(imageId: string, request: MakePairsRequest): Promise<string[]> {
    const primary = this.image(imageId);
    const secondary = this.peer(request.remoteImageId);
    const options = { type: request.type, mode: request.mode, tgtread: request.tgtread, critmode: request.critmode };
    const pairs = request.pairs;
    // A secondary on another node: what the checks need of its volumes is read from its node first.
    if ("isRemote" in secondary) {
      for (const [index, [, secondaryId]] of pairs.entries()) await forItemAsync(index, () => secondary.fetchVolumes([parseVolumeId(secondaryId)]));
    }
    pairs.forEach((pair, index) => forItem(index, () => this.pprc.checkMake(primary, secondary, pairs.slice(0, index + 1), options)));
    const made = await forItemAsync(undefined, () => this.pprc.make(primary, secondary, pairs, options));
    this.emit({ type: "pprc-changed", imageId, ids: made });
    return made;
  }

  async listPairs(imageId: string): Promise<PairInfo[]> {
    const image = this.image(imageId);
    const held = await this.pprc.listHeld(image);
    return [...this.pprc.list(image), ...held].sort((a, b) => a.id.localeCompare(b.id)).map(pairInfo);
  }

  // Each pair is checked alone and then the list as a whole (none given twice), so a refusal names its item.
  async checkPairs(imageId: string, operation: PairOperation, request: PairsRequest): Promise<string[]> {
    const route = routePairCommand(imageId, operation, request);
    if (route.across !== null) {
      await checkAcrossImages(route.across.operation, route.across.members, request, (id) => this.reached(id));
      return request.ids.map((id) => id.toUpperCase());
    }
    [imageId, request] = [route.imageId, route.request];
    const local = this.image(imageId);
    const remote = request.remoteImageId === undefined ? null : this.peer(request.remoteImageId);
    if (REMOTE_REQUIRED.has(operation) && remote === null) {
      throw new SiteError({ code: "BAD_ARGUMENT", message: `${operation} needs -remotedev: the image of the pairs' other volumes`, option: "remotedev" });
    }
    if (operation === "resumepprc") {
      for (const [index, id] of request.ids.entries()) await forItemAsync(index, () => this.pprc.refreshSecondary(local, id));
    }
    const check = (ids: string[]) => {
      if (operation === "freezepprc") return this.pprc.checkFreeze(local, remote!, ids.map(lssPair));
      if (operation === "unfreezepprc") return this.pprc.checkUnfreeze(local, remote!, ids.map(lssPair));
      if (operation === "failoverpprc") return this.pprc.checkFailover(local, remote!, ids);
      if (operation === "failbackpprc") return this.pprc.checkFailback(local, remote!, ids);
      if (operation === "resumepprc") return this.pprc.checkResume(local, remote, ids, request.type);
      return this.pprc.checkPairs(local, remote, ids);
    };
    request.ids.forEach((id, index) => forItem(index, () => check(request.ids.slice(0, index + 1))));
    return request.ids.map((id) => id.toUpperCase());
  }

  private reached(imageId: string): ReachedImage {
    return { site: this, where: `image ${this.image(imageId).id}` };
  }

  async changePairs(imageId: string, operation: PairOperation, request: PairsRequest): Promise<string[]> {
    // A freeze whose LSS pairs name primaries on several images of this process: in two phases (freeze-across.ts).
    const route = routePairCommand(imageId, operation, request);
    if (route.across !== null) return acrossImages(route.across.operation, route.across.members, request, (id) => this.reached(id));
    [imageId, request] = [route.imageId, route.request];
    await this.checkPairs(imageId, operation, request);
    const local = this.image(imageId);
    const remote = request.remoteImageId === undefined ? null : this.peer(request.remoteImageId);
    const ids = await forItemAsync(undefined, () => {
      if (operation === "pausepprc") return this.pprc.pause(local, remote, request.ids);
      if (operation === "resumepprc") return this.pprc.resume(local, remote, request.ids, request.type);
      if (operation === "rmpprc") return this.pprc.remove(local, remote, request.ids);
      if (operation === "failoverpprc") return this.pprc.failover(local, remote!, request.ids);
      if (operation === "freezepprc") return this.pprc.freeze(local, remote!, request.ids.map(lssPair), request.holdWrites ?? false);
      if (operation === "unfreezepprc") return this.pprc.unfreeze(local, remote!, request.ids.map(lssPair));
      return this.pprc.failback(local, remote!, request.ids);
    });
    this.emit({ type: "pprc-changed", imageId, ids });
    return ids;
  }

  async waitForPairs(imageId: string, ids: string[], options: CallOptions & { timeoutMs?: number } = {}): Promise<void> {
    const image = this.image(imageId);
    ids.forEach((id, index) => forItem(index, () => this.pprc.pair(image, id)));
    await forItemAsync(undefined, () => this.pprc.waitForSync(image, ids, options));
  }

  async setLink(imageId: string, remoteImageId: string, up: boolean): Promise<void> {
    const local = this.image(imageId);
    const remote = this.peer(remoteImageId);
    await forItemAsync(undefined, () => this.pprc.setLink(local, remote, up));
    this.emit({ type: "pprc-changed", imageId, ids: [] });
  }

  // ---- data plane ------------------------------------------------------------------------------

  async fill(imageId: string, volumeId: string, range: { offset: number; length: number }, source: FillSource, options: CallOptions = {}): Promise<number> {
    const image = this.image(imageId);
    return forItemAsync(undefined, () => image.fillAsync(volumeId, range.offset, range.length, source, { signal: options.signal }));
  }

  async write(imageId: string, volumeId: string, offset: number, data: Uint8Array): Promise<void> {
    const image = this.image(imageId);
    forItem(undefined, () => image.write(volumeId, offset, data));
  }

  async read(imageId: string, volumeId: string, offset: number, length: number): Promise<Uint8Array> {
    const image = this.image(imageId);
    return forItem(undefined, () => image.read(volumeId, offset, length));
  }

  async checksum(imageId: string, volumeId: string, offset: number, length: number): Promise<string> {
    const image = this.image(imageId);
    return forItem(undefined, () => image.checksum(volumeId, offset, length));
  }

  // ---- volume groups and host connections -------------------------------------------------

  private hostMap(image: StorageImage): HostMap {
    const map = this.hostMaps.get(image);
    if (!map) throw new SiteError({ code: "IMAGE_NOT_FOUND", message: `storage image ${image.id} is no longer part of this site` });
    return map;
  }

  async listVolumeGroups(imageId: string): Promise<VolumeGroupInfo[]> {
    return this.hostMap(this.image(imageId)).listGroups().map(volumeGroupInfo);
  }

  async createVolumeGroup(imageId: string, request: CreateVolumeGroupRequest): Promise<VolumeGroupInfo> {
    const map = this.hostMap(this.image(imageId));
    return forItem(undefined, () => volumeGroupInfo(map.createGroup(request)));
  }

  async changeVolumeGroup(imageId: string, request: ChangeVolumeGroupRequest): Promise<VolumeGroupInfo> {
    const map = this.hostMap(this.image(imageId));
    return forItem(undefined, () => volumeGroupInfo(map.changeGroup(request)));
  }

  async removeVolumeGroups(imageId: string, ids: string[]): Promise<string[]> {
    const map = this.hostMap(this.image(imageId));
    ids.forEach((id, index) => forItem(index, () => map.checkGroupsRemovable([id])));
    return forItem(undefined, () => map.removeGroups(ids));
  }

  async listHostConnections(imageId: string): Promise<HostConnectionInfo[]> {
    const map = this.hostMap(this.image(imageId));
    return map.listHosts().map((host) => hostConnectionInfo(host, map.reach(host)));
  }

  async createHostConnection(imageId: string, request: CreateHostConnectionRequest): Promise<HostConnectionInfo> {
    const map = this.hostMap(this.image(imageId));
    return forItemAsync(undefined, async () => {
      const host = await map.createHost(request);
      return hostConnectionInfo(host, map.reach(host));
    });
  }

  // A default endpoint that cannot listen again is said, not fatal: the load has happened.
  private async restartDefaultNbd(requested: string | null): Promise<void> {
    if (requested === null) return;
    await this.startDefaultNbd(requested).catch((error: Error) => this.log(`nbd: the default endpoint did not listen again after the load: ${error.message}`));
  }

  // tzero serve --nbd: the endpoint of the host connections made without
  // -nbd, on every image of the node (src/hosts/default-endpoint.ts has the
  // export names). Resolves with the address it listens on.
  async startDefaultNbd(address: string): Promise<string> {
    return forItemAsync(undefined, async () => {
      if (this.defaultNbd !== null) throw new EngineError("BAD_ARGUMENT", `this node already has a default NBD endpoint at ${this.defaultNbd.address}`);
      this.defaultNbd = await DefaultEndpoint.start(() => this.images.map((image) => this.hostMap(image)), address, this.log);
      return this.defaultNbd.address;
    });
  }

  async removeHostConnections(imageId: string, ids: string[]): Promise<string[]> {
    const map = this.hostMap(this.image(imageId));
    ids.forEach((id, index) => forItem(index, () => map.host(id)));
    return forItemAsync(undefined, () => map.removeHosts(ids));
  }

  // ---- workloads -------------------------------------------------------------------------------

  async startWorkload(imageId: string, spec: WorkloadSpec): Promise<WorkloadInfo> {
    const image = this.image(imageId);
    if (this.workloads.get(spec.name)?.running) {
      throw new SiteError({ code: "WORKLOAD_EXISTS", message: `workload ${spec.name} is already running; stop it first`, item: 0 });
    }
    forOption("vol", () => image.volume(spec.volumeId));
    return forItem(undefined, () => workloadInfo(this.workloads.start(image, spec)));
  }

  private workload(name: string): Workload {
    const workload = this.workloads.get(name);
    if (!workload) throw new SiteError({ code: "WORKLOAD_NOT_FOUND", message: `there is no workload ${name}`, item: 0 });
    return workload;
  }

  async stopWorkload(name: string): Promise<WorkloadInfo> {
    const workload = this.workload(name);
    await workload.stop();
    if (workload.error) throw siteError(workload.error);
    return workloadInfo(workload);
  }

  async waitWorkload(name: string, timeoutMs?: number, options: CallOptions = {}): Promise<WorkloadInfo> {
    const workload = this.workload(name);
    const duration = workload.spec.durationMs;
    if (workload.running && duration === undefined) {
      throw new SiteError({ code: "BAD_ARGUMENT", message: `workload ${workload.spec.name} runs until stopped (it has no -duration); use workload stop` });
    }
    const bound = timeoutMs ?? (duration ?? 0) + WORKLOAD_WAIT_SLACK_MS;
    await abortable(workload.done, bound, options.signal, `workload ${workload.spec.name} did not end within ${bound} ms`);
    if (workload.error) throw siteError(workload.error);
    return workloadInfo(workload);
  }

  async listWorkloads(): Promise<WorkloadInfo[]> {
    return this.workloads.list().map(workloadInfo);
  }

  async stopWorkloads(): Promise<void> {
    await this.workloads.stopAll();
  }

  // ---- state -----------------------------------------------------------------------------------

  async save(file: string, options: CallOptions = {}): Promise<SaveReport> {
    const hosts = this.images.map((image) => this.hostMaps.get(image)?.snapshot() ?? null);
    const pprc = () => this.pprc.snapshot(this.images);
    return forItemAsync(undefined, async () => ({ ...(await saveState(this.images, file, { signal: options.signal, hosts, pprc })) }));
  }

  async load(file: string, options: CallOptions = {}): Promise<LoadReport> {
    const hosts = new Map<StorageImage, HostsRecord>();
    const saved: LoadedPprc = { paths: [], pairs: [] };
    const loaded = await forItemAsync(undefined, () => loadState(file, { workers: this.workers, signal: options.signal, hosts, pprc: saved }));
    if (loaded.length === 0) {
      await Promise.all(loaded.map((image) => image.close()));
      throw new SiteError({ code: "BAD_ARGUMENT", message: `state file ${file} holds no storage image` });
    }
    const pprc = await this.restorePprc(file, loaded, saved);
    await this.workloads.stopAll();
    // The links and pairs of the images the file replaces go with them.
    await this.pprc.close();
    this.pprc = pprc;
    // The endpoints of the images replaced close first, so that the loaded host connections can listen where they did.
    const defaultRequested = this.defaultNbd?.requested ?? null;
    await this.defaultNbd?.close();
    this.defaultNbd = null;
    const replaced = this.images.splice(0, this.images.length);
    await Promise.all(replaced.map((image) => this.hostMaps.get(image)?.close()));
    for (const image of loaded) this.track(image);
    for (const [image, record] of hosts) await this.hostMap(image).restore(record);
    await this.restartDefaultNbd(defaultRequested);
    for (const image of replaced) {
      this.completed.delete(image);
      this.hostMaps.delete(image);
    }
    await Promise.all(replaced.map((image) => image.close()));
    this.emit({ type: "images-replaced", imageIds: loaded.map((image) => image.id) });
    return {
      images: loaded.map((image) => ({ id: image.id, volumes: image.listVolumes().length, relationships: image.listRelationships().length })),
    };
  }

  // The file's PPRC on a new Pprc over its images; on failure both are closed and the running state is untouched.
  private async restorePprc(file: string, loaded: StorageImage[], saved: LoadedPprc): Promise<Pprc> {
    const pprc = this.newPprc();
    try {
      await pprc.restore(loaded, saved);
      return pprc;
    } catch (error) {
      await pprc.close();
      await Promise.all(loaded.map((image) => image.close()));
      if (!isEngineError(error)) throw error;
      throw new SiteError({ code: error.code, message: `state file ${file}: ${error.message}; nothing was loaded` });
    }
  }

  // ---- users: an embedded site has none ----------------------------------------------------------

  async listUsers(): Promise<UserInfo[]> {
    throw noUsers();
  }

  async user(): Promise<UserInfo> {
    throw noUsers();
  }

  async createUser(): Promise<UserInfo> {
    throw noUsers();
  }

  async changeUser(): Promise<UserInfo> {
    throw noUsers();
  }

  async removeUser(): Promise<void> {
    throw noUsers();
  }

  // ---- events ----------------------------------------------------------------------------------

  events(listener: SiteListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: SiteEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  async close(): Promise<void> {
    await this.workloads.stopAll();
    await this.defaultNbd?.close();
    this.defaultNbd = null;
    await Promise.all([...this.hostMaps.values()].map((map) => map.close()));
    await this.pprc.close();
    await Promise.all(this.images.map((image) => image.close()));
  }
}

// The named pool, checked against the volume's LSS, or the first pool of the LSS's rank group.
function volumePool(image: StorageImage, id: string, poolId: string | undefined): ExtentPool {
  const lss = lssOf(id);
  if (poolId !== undefined) return image.poolForLss(poolId, lss);
  const pool = image.pools.defaultFor(rankGroupOfLss(lss));
  if (!pool) throw new EngineError("POOL_NOT_FOUND", `storage image ${image.id} has no extent pool of rank group ${rankGroupOfLss(lss)} for LSS ${lss}; mkextpool makes one`);
  return pool;
}

interface Counts {
  sourceOf: number;
  targetOf: number;
}

// Runs the engine's establish rules over every pair first, counting the
// pairs before it in the same command, so a refused pair changes nothing.
function checkPairs(image: StorageImage, list: Array<[string, string]>): void {
  const counts = new Map<string, Counts>();
  const countsOf = (id: string): Counts => {
    let entry = counts.get(id);
    if (!entry) {
      const relationships = image.relationshipsOf(id);
      entry = {
        sourceOf: relationships.filter((relationship) => relationship.sourceId === id).length,
        targetOf: relationships.filter((relationship) => relationship.targetId === id).length,
      };
      counts.set(id, entry);
    }
    return entry;
  };
  const planned = new Set<string>();
  list.forEach(([sourceId, targetId], index) => forItem(index, () => {
    const source = image.volume(sourceId);
    const target = image.volume(targetId);
    const id = pairId(source.id, target.id);
    const facts = (volume: Volume) => ({
      id: volume.id, blocks: volume.blocks, os: volume.os, usable: image.dataState(volume.id) === "Normal", ...countsOf(volume.id),
    });
    checkEstablish(image.model, facts(source), facts(target), image.hasRelationship(id) || planned.has(id));
    planned.add(id);
    countsOf(source.id).sourceOf++;
    countsOf(target.id).targetOf++;
  }));
}

function revertibleOf(image: StorageImage, operation: V2Operation, sourceText: string, seqnum: number | undefined): Relationship[] {
  const source = image.volume(sourceText);
  const found = image.relationshipsOf(source.id)
    .filter((relationship) => relationship.sourceId === source.id && relationship.revertible)
    .filter((relationship) => seqnum === undefined || relationship.seqnum === seqnum);
  if (found.length === 0) {
    const which = seqnum === undefined ? "" : ` with sequence number ${seqnum.toString(16).toUpperCase()}`;
    throw new EngineError("NOT_REVERTIBLE", `source volume ${source.id} has no revertible FlashCopy relationship${which}: ${operation} needs setflashrevertible first`);
  }
  return found.map((relationship) => image.checkFlashV2(operation, relationship.id));
}

// Resolves with the promise; rejects with TIMEOUT after `timeoutMs` or CANCELLED on abort.
export function abortable<T>(promise: Promise<T>, timeoutMs: number, signal: AbortSignal | undefined, timeoutMessage: string): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const timer = setTimeout(() => finish(() => reject(new SiteError({ code: "TIMEOUT", message: timeoutMessage }))), timeoutMs);
    const onAbort = () => finish(() => reject(new SiteError({ code: "CANCELLED", message: "cancelled" })));
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      settle();
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then((value) => finish(() => resolvePromise(value)), (error) => finish(() => reject(error)));
  });
}
