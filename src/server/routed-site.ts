// The Site interface as the Copy Services Server answers it, for one caller
// (a user and a request id, or nobody in particular): each call routed to the
// node hosting its image (router.ts), mutating ones recorded before they are
// answered, site-wide ones (images, workloads, save and load) over the nodes.
import { portWwpn } from "../engine/ports.js";
import { SiteError } from "../site/errors.js";
import type { CallOptions, Site } from "../site/site.js";
import type {
  ChangeUserRequest, ChangeVolumesRequest, CreateUserRequest, CreateVolumesRequest, EstablishRequest, FillSource, FlashCheckOperation, FlashInfo, ImageInfo,
  IncrementOperation, IncrementOptions, LoadReport, LssInfo, MakePairsRequest, MakePathRequest, ModelName, PairInfo, PairOperation, PairsRequest, PathInfo,
  PoolInfo, PortInfo, PortPairInfo, RemovePathsRequest, RevertibleItem, RevertibleOperation, SaveReport, SiteListener,
  UserInfo, VolumeDetail, VolumeInfo, WithdrawResult, WorkloadInfo, WorkloadSpec,
  ChangeVolumeGroupRequest, CreateHostConnectionRequest, CreateVolumeGroupRequest, HostConnectionInfo, VolumeGroupInfo,
} from "../site/types.js";
import { acrossImages, checkAcrossImages, routePairCommand, type ReachedImage } from "../site/freeze-across.js";
import { userSiteError } from "./user-errors.js";
import { pairsOfCatalog, pathsOfCatalog, type Touches } from "./catalog.js";
import type { CallerContext, Router } from "./router.js";

// What a view needs of the server beyond routing by image.
export interface SiteCore {
  readonly router: Router;
  listImages(): ImageInfo[]; // in the order they were added, with the site's WWNNs
  addImage(caller: CallerContext, request: { model?: ModelName; id?: string }, nodeId?: string): Promise<ImageInfo>;
  save(file: string, options: CallOptions): Promise<SaveReport>;
  load(caller: CallerContext, file: string, options: CallOptions): Promise<LoadReport>;
  events(listener: SiteListener): () => void;
  users: UserCalls;
}

// The server's users (users.ts) as `actor` asks for them: each checks the
// actor's authority itself (chuser lets anyone change their own password).
export interface UserCalls {
  list(actor: string): UserInfo[];
  show(actor: string, name: string): UserInfo;
  // `caller`: where the change came from, for the event log.
  create(actor: string, request: CreateUserRequest, caller?: CallerContext): Promise<UserInfo>;
  change(actor: string, request: ChangeUserRequest, caller?: CallerContext): Promise<UserInfo>;
  remove(actor: string, name: string, caller?: CallerContext): Promise<void>;
}

const VOLUMES: Touches = { volumes: true };
const VOLUMES_AND_FLASH: Touches = { volumes: true, flash: true };
const POOLS: Touches = { pools: true };
const FLASH: Touches = { flash: true };
// Volume groups and host connections live with their image's node (its NBD endpoints do):
// their calls are recorded as requests, with no catalog of their own yet.
const HOSTS: Touches = {};
// PPRC commands change pairs and paths, on the image they are issued to; the
// other end's change is recorded by the pair watcher's next look (pair-watcher.ts).
const PPRC: Touches = { pprc: true };

export abstract class RoutedSite implements Site {
  protected abstract core(): SiteCore;
  protected abstract readonly caller: CallerContext;

  private get routing(): Router {
    return this.core().router;
  }

  private mutate<T>(method: string, imageId: string, touches: Touches, body: (site: Site) => Promise<T>): Promise<T> {
    return this.routing.mutate(this.caller, { method, imageId, touches }, body);
  }

  // ---- images and inventory ----

  async listImages(): Promise<ImageInfo[]> {
    return this.core().listImages();
  }

  addImage(request: { model?: ModelName; id?: string }): Promise<ImageInfo> {
    return this.core().addImage(this.caller, request);
  }

  listLss(imageId: string): Promise<LssInfo[]> {
    return this.routing.read(imageId, (site) => site.listLss(imageId));
  }

  // The node derives its ports' WWPNs from its own numbering of images; the site's WWNN is the one to show.
  async listPorts(imageId: string): Promise<PortInfo[]> {
    const ports = await this.routing.read(imageId, (site) => site.listPorts(imageId));
    const wwnn = this.core().listImages().find((image) => image.id === imageId)?.wwnn;
    return wwnn === undefined ? ports : ports.map((port) => ({ ...port, wwpn: portWwpn(wwnn, port) }));
  }

  // ---- volumes ----

  listVolumes(imageId: string): Promise<VolumeInfo[]> {
    return this.routing.read(imageId, (site) => site.listVolumes(imageId));
  }

  volume(imageId: string, volumeId: string): Promise<VolumeDetail> {
    return this.routing.read(imageId, (site) => site.volume(imageId, volumeId));
  }

  createVolumes(imageId: string, request: CreateVolumesRequest, options?: CallOptions): Promise<string[]> {
    return this.mutate("createVolumes", imageId, VOLUMES, (site) => site.createVolumes(imageId, request, options));
  }

  checkVolumesIdle(imageId: string, ids: string[], action: "removing" | "reinitialising"): Promise<void> {
    return this.routing.read(imageId, (site) => site.checkVolumesIdle(imageId, ids, action));
  }

  removeVolumes(imageId: string, ids: string[], options?: CallOptions): Promise<string[]> {
    return this.mutate("removeVolumes", imageId, VOLUMES_AND_FLASH, (site) => site.removeVolumes(imageId, ids, options));
  }

  reinitVolumes(imageId: string, ids: string[], options?: CallOptions): Promise<string[]> {
    return this.mutate("reinitVolumes", imageId, VOLUMES, (site) => site.reinitVolumes(imageId, ids, options));
  }

  changeVolumes(imageId: string, request: ChangeVolumesRequest, options?: CallOptions): Promise<string[]> {
    return this.mutate("changeVolumes", imageId, VOLUMES, (site) => site.changeVolumes(imageId, request, options));
  }

  // ---- extent pools ----

  listPools(imageId: string): Promise<PoolInfo[]> {
    return this.routing.read(imageId, (site) => site.listPools(imageId));
  }

  pool(imageId: string, idOrName: string): Promise<PoolInfo> {
    return this.routing.read(imageId, (site) => site.pool(imageId, idOrName));
  }

  createPool(imageId: string, request: { name: string; rankGroup: 0 | 1; capacityGiB?: number }): Promise<PoolInfo> {
    return this.mutate("createPool", imageId, POOLS, (site) => site.createPool(imageId, request));
  }

  checkPoolsRemovable(imageId: string, ids: string[]): Promise<PoolInfo[]> {
    return this.routing.read(imageId, (site) => site.checkPoolsRemovable(imageId, ids));
  }

  removePools(imageId: string, ids: string[]): Promise<string[]> {
    return this.mutate("removePools", imageId, POOLS, (site) => site.removePools(imageId, ids));
  }

  // ---- FlashCopy ----

  listFlash(imageId: string): Promise<FlashInfo[]> {
    return this.routing.read(imageId, (site) => site.listFlash(imageId));
  }

  establishFlash(imageId: string, request: EstablishRequest, options?: CallOptions): Promise<string[]> {
    return this.mutate("establishFlash", imageId, FLASH, (site) => site.establishFlash(imageId, request, options));
  }

  checkFlash(imageId: string, operation: FlashCheckOperation, ids: string[]): Promise<string[]> {
    return this.routing.read(imageId, (site) => site.checkFlash(imageId, operation, ids));
  }

  withdrawFlash(imageId: string, ids: string[], options?: CallOptions): Promise<WithdrawResult[]> {
    return this.mutate("withdrawFlash", imageId, FLASH, (site) => site.withdrawFlash(imageId, ids, options));
  }

  incrementFlash(imageId: string, operation: IncrementOperation, ids: string[], options: IncrementOptions): Promise<string[]> {
    return this.mutate(operation, imageId, FLASH, (site) => site.incrementFlash(imageId, operation, ids, options));
  }

  settleRevertible(imageId: string, operation: RevertibleOperation, items: RevertibleItem[], seqnum?: number): Promise<string[]> {
    return this.mutate(operation, imageId, FLASH, (site) => site.settleRevertible(imageId, operation, items, seqnum));
  }

  unfreezeFlash(imageId: string, lsses: string[]): Promise<{ lsses: string[]; released: string[] }> {
    return this.mutate("unfreezeFlash", imageId, FLASH, (site) => site.unfreezeFlash(imageId, lsses));
  }

  pendingFlash(imageId: string, ids: string[]): Promise<string[]> {
    return this.routing.read(imageId, (site) => site.pendingFlash(imageId, ids));
  }

  waitForCopy(imageId: string, ids: string[], options?: CallOptions & { timeoutMs?: number }): Promise<void> {
    return this.routing.read(imageId, (site) => site.waitForCopy(imageId, ids, options));
  }

  // ---- PPRC: routed by the image the command is issued to. Its node links to the other
  // image in-process, or over TCP when that image is on another node (mkpprcpath tells it where).

  listAvailablePorts(imageId: string, remoteImageId: string): Promise<PortPairInfo[]> {
    return this.routing.read(imageId, (site) => site.listAvailablePorts(imageId, remoteImageId));
  }

  async makePath(imageId: string, request: MakePathRequest): Promise<PathInfo> {
    const routed = await this.acrossNodes(imageId, request);
    return this.mutate("makePath", imageId, PPRC, (site) => site.makePath(imageId, routed));
  }

  // A path to an image of another node: the server checks its WWNN, which
  // only it knows for the whole site, and gives the local node the address
  // where the remote image's node takes links. The data then flows node to
  // node over that link, never through the server.
  private async acrossNodes(imageId: string, request: MakePathRequest): Promise<MakePathRequest> {
    const local = this.routing.image(imageId);
    const remote = this.routing.image(request.remoteImageId);
    if (local.nodeId === remote.nodeId) return request;
    const wwnn = this.core().listImages().find((image) => image.id === remote.info.id)?.wwnn;
    if (wwnn !== undefined && request.remoteWwnn.toUpperCase() !== wwnn.toUpperCase()) {
      throw new SiteError({ code: "BAD_ARGUMENT", message: `-remotewwnn ${request.remoteWwnn} is not the WWNN of ${remote.info.id} (${wwnn}; lssi -l shows it)`, option: "remotewwnn" });
    }
    const ports = await this.routing.read(remote.info.id, (site) => site.listPorts(remote.info.id));
    const endpoint = ports.find((port) => port.endpoint !== undefined)?.endpoint;
    if (endpoint === undefined) {
      throw new SiteError({ code: "NOT_SUPPORTED", message: `node ${remote.nodeId} of ${remote.info.id} takes no PPRC links (it is not a tzero serve node)` });
    }
    return { ...request, remoteEndpoint: endpoint };
  }

  // A node that is not connected: its paths and pairs as the server last recorded them, each saying so.
  async listPaths(imageId: string, lsses?: string[]): Promise<PathInfo[]> {
    const lastKnown = this.routing.unreachable(imageId);
    if (lastKnown === null) return this.routing.read(imageId, (site) => site.listPaths(imageId, lsses));
    const paths = pathsOfCatalog(imageId, this.routing.image(imageId).catalog);
    const wanted = lsses?.map((lss) => lss.toUpperCase());
    return paths.filter((path) => wanted === undefined || wanted.includes(path.sourceLss)).map((path) => ({ ...path, lastKnown }));
  }

  checkRemovePaths(imageId: string, request: RemovePathsRequest): Promise<string[]> {
    return this.routing.read(imageId, (site) => site.checkRemovePaths(imageId, request));
  }

  removePaths(imageId: string, request: RemovePathsRequest): Promise<string[]> {
    return this.mutate("removePaths", imageId, PPRC, (site) => site.removePaths(imageId, request));
  }

  makePairs(imageId: string, request: MakePairsRequest, options?: CallOptions): Promise<string[]> {
    return this.mutate("makePairs", imageId, PPRC, (site) => site.makePairs(imageId, request, options));
  }

  async listPairs(imageId: string): Promise<PairInfo[]> {
    const lastKnown = this.routing.unreachable(imageId);
    if (lastKnown === null) return this.routing.read(imageId, (site) => site.listPairs(imageId));
    return pairsOfCatalog(imageId, this.routing.image(imageId).catalog).map((pair) => ({ ...pair, lastKnown }));
  }

  async checkPairs(imageId: string, operation: PairOperation, request: PairsRequest): Promise<string[]> {
    const route = routePairCommand(imageId, operation, request);
    if (route.across === null) return this.routing.read(route.imageId, (site) => site.checkPairs(route.imageId, operation, route.request));
    await checkAcrossImages(route.across.operation, route.across.members, request, (id) => this.reached(id));
    return request.ids.map((id) => id.toUpperCase());
  }

  // freezepprc and unfreezepprc whose LSS pairs have primaries on several
  // images (IMAGE/10:REMOTE/20) go to each image's node in two phases
  // (src/site/freeze-across.ts), recorded as one command of -dev's image.
  changePairs(imageId: string, operation: PairOperation, request: PairsRequest, options?: CallOptions): Promise<string[]> {
    const route = routePairCommand(imageId, operation, request);
    const { across } = route;
    if (across === null) return this.mutate(operation, route.imageId, PPRC, (site) => site.changePairs(route.imageId, operation, route.request, options));
    return this.mutate(operation, imageId, PPRC, () => acrossImages(across.operation, across.members, request, (id) => this.reached(id)));
  }

  private reached(imageId: string): ReachedImage {
    const { nodeId } = this.routing.image(imageId);
    return { site: this.routing.siteOf(imageId), where: `node ${nodeId} (image ${imageId})` };
  }

  waitForPairs(imageId: string, ids: string[], options?: CallOptions & { timeoutMs?: number }): Promise<void> {
    return this.routing.read(imageId, (site) => site.waitForPairs(imageId, ids, options));
  }

  setLink(imageId: string, remoteImageId: string, up: boolean): Promise<void> {
    return this.mutate("setLink", imageId, PPRC, (site) => site.setLink(imageId, remoteImageId, up));
  }

  // ---- data plane: routed, never recorded (the catalog does not hold data) ----

  fill(imageId: string, volumeId: string, range: { offset: number; length: number }, source: FillSource, options?: CallOptions): Promise<number> {
    return this.routing.read(imageId, (site) => site.fill(imageId, volumeId, range, source, options));
  }

  write(imageId: string, volumeId: string, offset: number, data: Uint8Array): Promise<void> {
    return this.routing.read(imageId, (site) => site.write(imageId, volumeId, offset, data));
  }

  read(imageId: string, volumeId: string, offset: number, length: number): Promise<Uint8Array> {
    return this.routing.read(imageId, (site) => site.read(imageId, volumeId, offset, length));
  }

  checksum(imageId: string, volumeId: string, offset: number, length: number): Promise<string> {
    return this.routing.read(imageId, (site) => site.checksum(imageId, volumeId, offset, length));
  }

  // ---- volume groups and host connections ----

  listVolumeGroups(imageId: string): Promise<VolumeGroupInfo[]> {
    return this.routing.read(imageId, (site) => site.listVolumeGroups(imageId));
  }

  createVolumeGroup(imageId: string, request: CreateVolumeGroupRequest): Promise<VolumeGroupInfo> {
    return this.mutate("createVolumeGroup", imageId, HOSTS, (site) => site.createVolumeGroup(imageId, request));
  }

  changeVolumeGroup(imageId: string, request: ChangeVolumeGroupRequest): Promise<VolumeGroupInfo> {
    return this.mutate("changeVolumeGroup", imageId, HOSTS, (site) => site.changeVolumeGroup(imageId, request));
  }

  removeVolumeGroups(imageId: string, ids: string[]): Promise<string[]> {
    return this.mutate("removeVolumeGroups", imageId, HOSTS, (site) => site.removeVolumeGroups(imageId, ids));
  }

  listHostConnections(imageId: string): Promise<HostConnectionInfo[]> {
    return this.routing.read(imageId, (site) => site.listHostConnections(imageId));
  }

  createHostConnection(imageId: string, request: CreateHostConnectionRequest): Promise<HostConnectionInfo> {
    return this.mutate("createHostConnection", imageId, HOSTS, (site) => site.createHostConnection(imageId, request));
  }

  removeHostConnections(imageId: string, ids: string[]): Promise<string[]> {
    return this.mutate("removeHostConnections", imageId, HOSTS, (site) => site.removeHostConnections(imageId, ids));
  }

  // ---- workloads: each runs on its image's node; names are unique across the site ----

  async startWorkload(imageId: string, spec: WorkloadSpec): Promise<WorkloadInfo> {
    const owner = this.routing.image(imageId).nodeId;
    for (const { nodeId, site } of this.routing.connectedNodes()) {
      if (nodeId === owner) continue;
      if ((await site.listWorkloads()).some((workload) => workload.running && workload.spec.name === spec.name)) {
        throw new SiteError({ code: "WORKLOAD_EXISTS", message: `workload ${spec.name} is already running; stop it first`, item: 0 });
      }
    }
    return this.routing.read(imageId, (site) => site.startWorkload(imageId, spec));
  }

  stopWorkload(name: string): Promise<WorkloadInfo> {
    return this.workloadSite(name).then((site) => site.stopWorkload(name));
  }

  waitWorkload(name: string, timeoutMs?: number, options?: CallOptions): Promise<WorkloadInfo> {
    return this.workloadSite(name).then((site) => site.waitWorkload(name, timeoutMs, options));
  }

  // The connected node running workload `name` (or, if none runs it, the first that knows it).
  private async workloadSite(name: string): Promise<Site> {
    let known: Site | null = null;
    for (const { site } of this.routing.connectedNodes()) {
      const found = (await site.listWorkloads()).find((workload) => workload.spec.name === name);
      if (found?.running) return site;
      if (found !== undefined) known ??= site;
    }
    if (known !== null) return known;
    throw new SiteError({ code: "WORKLOAD_NOT_FOUND", message: `there is no workload ${name}`, item: 0 });
  }

  async listWorkloads(): Promise<WorkloadInfo[]> {
    const lists = await Promise.all(this.routing.connectedNodes().map(({ site }) => site.listWorkloads()));
    return lists.flat();
  }

  async stopWorkloads(): Promise<void> {
    await Promise.all(this.routing.connectedNodes().map(({ site }) => site.stopWorkloads()));
  }

  // ---- state ----

  save(file: string, options: CallOptions = {}): Promise<SaveReport> {
    return this.core().save(file, options);
  }

  load(file: string, options: CallOptions = {}): Promise<LoadReport> {
    return this.core().load(this.caller, file, options);
  }

  // ---- users: as the caller, who must be a logged-in user ----

  private async asUser<T>(call: (users: UserCalls, actor: string) => T | Promise<T>): Promise<T> {
    const actor = this.caller.user;
    if (actor === undefined) throw new SiteError({ code: "NOT_AUTHORIZED", message: "user commands need a logged-in user: this view of the server has none" });
    try {
      return await call(this.core().users, actor);
    } catch (error) {
      throw userSiteError(error);
    }
  }

  listUsers(): Promise<UserInfo[]> {
    return this.asUser((users, actor) => users.list(actor));
  }

  user(name: string): Promise<UserInfo> {
    return this.asUser((users, actor) => users.show(actor, name));
  }

  createUser(request: CreateUserRequest): Promise<UserInfo> {
    return this.asUser((users, actor) => users.create(actor, request, this.caller));
  }

  changeUser(request: ChangeUserRequest): Promise<UserInfo> {
    return this.asUser((users, actor) => users.change(actor, request, this.caller));
  }

  removeUser(name: string): Promise<void> {
    return this.asUser((users, actor) => users.remove(actor, name, this.caller));
  }

  // ---- events ----

  events(listener: SiteListener): () => void {
    return this.core().events(listener);
  }

  abstract close(): Promise<void>;
}
