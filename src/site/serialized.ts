// A Site that passes every call's arguments, and every result, error and
// event, through a msgpackr encode and decode on the way to another Site:
// what a remote site does over the wire, minus the wire. Tests run the
// golden scripts through it to prove the interface carries plain data only
// (a class instance, a closure or a Date would not come back as it went).
//
// An AbortSignal is not data: it stays on this side, as a remote site's
// client would keep it and send a cancel request when it fires.
import { Packr } from "msgpackr";
import { SiteError, type SiteErrorData } from "./errors.js";
import type { CallOptions, Site } from "./site.js";
import type {
  ChangeVolumesRequest, CreateVolumesRequest, EstablishRequest, FillSource, FlashCheckOperation, FlashInfo, ImageInfo, IncrementOperation,
  IncrementOptions, LoadReport, LssInfo, MakePairsRequest, MakePathRequest, ModelName, PairInfo, PairOperation, PairsRequest, PathInfo,
  PoolInfo, PortInfo, PortPairInfo, RemovePathsRequest, RevertibleItem, RevertibleOperation, SaveReport, SiteListener,
  VolumeDetail, VolumeInfo, WithdrawResult, WorkloadInfo, WorkloadSpec,
} from "./types.js";

const packr = new Packr({ useRecords: false });
const DEPTH_MAX = 32; // records nest a few levels; deeper is a cycle or a mistake

// Throws a TypeError naming where `value` holds something that is not plain
// data. msgpackr would carry a Date or a Map across without complaint, so the
// check is made here, before encoding, to keep the interface honest.
export function checkPlain(value: unknown, path = "value", depth = 0): void {
  if (value === null || value === undefined) return;
  const type = typeof value;
  if (type === "string" || type === "boolean" || type === "bigint") return;
  if (type === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`${path} is ${String(value)}, not a finite number`);
    return;
  }
  if (type !== "object") throw new TypeError(`${path} is a ${type}, not plain data`);
  if (depth >= DEPTH_MAX) throw new TypeError(`${path} nests deeper than ${DEPTH_MAX} levels`);
  if (value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    value.forEach((item, index) => checkPlain(item, `${path}[${index}]`, depth + 1));
    return;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new TypeError(`${path} is a ${(value as object).constructor?.name ?? "class instance"}, not plain data`);
  }
  for (const [key, item] of Object.entries(value)) checkPlain(item, `${path}.${key}`, depth + 1);
}

// Checked, encoded and decoded: the value as the other side of a wire would see it.
function across<T>(value: T, what: string): T {
  checkPlain(value, what);
  return packr.unpack(packr.pack(value)) as T;
}

// An error crosses as its plain data; one that is not a SiteError arrives as INTERNAL, its message kept.
function errorAcross(error: unknown): SiteError {
  const data: SiteErrorData = error instanceof SiteError
    ? error.toData()
    : { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) };
  return new SiteError(across(data, "error"));
}

export class SerializedSite implements Site {
  constructor(private readonly inner: Site) {}

  // Runs `call` on the inner site with the arguments as they arrive after the wire.
  private async relay<A extends unknown[], R>(args: [...A], call: (...decoded: A) => Promise<R>): Promise<R> {
    const decoded = across(args, "arguments");
    let result: R;
    try {
      result = await call(...decoded);
    } catch (error) {
      throw errorAcross(error);
    }
    return across(result, "result");
  }

  listImages(): Promise<ImageInfo[]> {
    return this.relay([], () => this.inner.listImages());
  }

  addImage(request: { model?: ModelName; id?: string }): Promise<ImageInfo> {
    return this.relay([request], (given) => this.inner.addImage(given));
  }

  listLss(imageId: string): Promise<LssInfo[]> {
    return this.relay([imageId], (image) => this.inner.listLss(image));
  }

  listPorts(imageId: string): Promise<PortInfo[]> {
    return this.relay([imageId], (image) => this.inner.listPorts(image));
  }

  listAvailablePorts(imageId: string, remoteImageId: string): Promise<PortPairInfo[]> {
    return this.relay([imageId, remoteImageId], (image, remote) => this.inner.listAvailablePorts(image, remote));
  }

  makePath(imageId: string, request: MakePathRequest): Promise<PathInfo> {
    return this.relay([imageId, request], (image, given) => this.inner.makePath(image, given));
  }

  listPaths(imageId: string, lsses?: string[]): Promise<PathInfo[]> {
    return this.relay([imageId, lsses], (image, given) => this.inner.listPaths(image, given));
  }

  checkRemovePaths(imageId: string, request: RemovePathsRequest): Promise<string[]> {
    return this.relay([imageId, request], (image, given) => this.inner.checkRemovePaths(image, given));
  }

  removePaths(imageId: string, request: RemovePathsRequest): Promise<string[]> {
    return this.relay([imageId, request], (image, given) => this.inner.removePaths(image, given));
  }

  makePairs(imageId: string, request: MakePairsRequest, options: CallOptions = {}): Promise<string[]> {
    return this.relay([imageId, request], (image, given) => this.inner.makePairs(image, given, options));
  }

  listPairs(imageId: string): Promise<PairInfo[]> {
    return this.relay([imageId], (image) => this.inner.listPairs(image));
  }

  checkPairs(imageId: string, operation: PairOperation, request: PairsRequest): Promise<string[]> {
    return this.relay([imageId, operation, request], (image, op, given) => this.inner.checkPairs(image, op, given));
  }

  changePairs(imageId: string, operation: PairOperation, request: PairsRequest, options: CallOptions = {}): Promise<string[]> {
    return this.relay([imageId, operation, request], (image, op, given) => this.inner.changePairs(image, op, given, options));
  }

  waitForPairs(imageId: string, ids: string[], options: CallOptions & { timeoutMs?: number } = {}): Promise<void> {
    return this.relay([imageId, ids, options.timeoutMs], (image, given, timeoutMs) => this.inner.waitForPairs(image, given, { signal: options.signal, timeoutMs }));
  }

  setLink(imageId: string, remoteImageId: string, up: boolean): Promise<void> {
    return this.relay([imageId, remoteImageId, up], (image, remote, given) => this.inner.setLink(image, remote, given));
  }

  listVolumes(imageId: string): Promise<VolumeInfo[]> {
    return this.relay([imageId], (image) => this.inner.listVolumes(image));
  }

  volume(imageId: string, volumeId: string): Promise<VolumeDetail> {
    return this.relay([imageId, volumeId], (image, id) => this.inner.volume(image, id));
  }

  createVolumes(imageId: string, request: CreateVolumesRequest, options: CallOptions = {}): Promise<string[]> {
    return this.relay([imageId, request], (image, given) => this.inner.createVolumes(image, given, options));
  }

  checkVolumesIdle(imageId: string, ids: string[], action: "removing" | "reinitialising"): Promise<void> {
    return this.relay([imageId, ids, action], (image, given, why) => this.inner.checkVolumesIdle(image, given, why));
  }

  removeVolumes(imageId: string, ids: string[], options: CallOptions = {}): Promise<string[]> {
    return this.relay([imageId, ids], (image, given) => this.inner.removeVolumes(image, given, options));
  }

  reinitVolumes(imageId: string, ids: string[], options: CallOptions = {}): Promise<string[]> {
    return this.relay([imageId, ids], (image, given) => this.inner.reinitVolumes(image, given, options));
  }

  changeVolumes(imageId: string, request: ChangeVolumesRequest, options: CallOptions = {}): Promise<string[]> {
    return this.relay([imageId, request], (image, given) => this.inner.changeVolumes(image, given, options));
  }

  listPools(imageId: string): Promise<PoolInfo[]> {
    return this.relay([imageId], (image) => this.inner.listPools(image));
  }

  pool(imageId: string, idOrName: string): Promise<PoolInfo> {
    return this.relay([imageId, idOrName], (image, id) => this.inner.pool(image, id));
  }

  createPool(imageId: string, request: { name: string; rankGroup: 0 | 1; capacityGiB?: number }): Promise<PoolInfo> {
    return this.relay([imageId, request], (image, given) => this.inner.createPool(image, given));
  }

  checkPoolsRemovable(imageId: string, ids: string[]): Promise<PoolInfo[]> {
    return this.relay([imageId, ids], (image, given) => this.inner.checkPoolsRemovable(image, given));
  }

  removePools(imageId: string, ids: string[]): Promise<string[]> {
    return this.relay([imageId, ids], (image, given) => this.inner.removePools(image, given));
  }

  listFlash(imageId: string): Promise<FlashInfo[]> {
    return this.relay([imageId], (image) => this.inner.listFlash(image));
  }

  establishFlash(imageId: string, request: EstablishRequest, options: CallOptions = {}): Promise<string[]> {
    return this.relay([imageId, request], (image, given) => this.inner.establishFlash(image, given, options));
  }

  checkFlash(imageId: string, operation: FlashCheckOperation, ids: string[]): Promise<string[]> {
    return this.relay([imageId, operation, ids], (image, op, given) => this.inner.checkFlash(image, op, given));
  }

  withdrawFlash(imageId: string, ids: string[], options: CallOptions = {}): Promise<WithdrawResult[]> {
    return this.relay([imageId, ids], (image, given) => this.inner.withdrawFlash(image, given, options));
  }

  incrementFlash(imageId: string, operation: IncrementOperation, ids: string[], options: IncrementOptions): Promise<string[]> {
    return this.relay([imageId, operation, ids, options], (image, op, given, how) => this.inner.incrementFlash(image, op, given, how));
  }

  settleRevertible(imageId: string, operation: RevertibleOperation, items: RevertibleItem[], seqnum?: number): Promise<string[]> {
    return this.relay([imageId, operation, items, seqnum], (image, op, given, number) => this.inner.settleRevertible(image, op, given, number));
  }

  unfreezeFlash(imageId: string, lsses: string[]): Promise<{ lsses: string[]; released: string[] }> {
    return this.relay([imageId, lsses], (image, given) => this.inner.unfreezeFlash(image, given));
  }

  pendingFlash(imageId: string, ids: string[]): Promise<string[]> {
    return this.relay([imageId, ids], (image, given) => this.inner.pendingFlash(image, given));
  }

  waitForCopy(imageId: string, ids: string[], options: CallOptions & { timeoutMs?: number } = {}): Promise<void> {
    const { signal, ...data } = options;
    return this.relay([imageId, ids, data], (image, given, how) => this.inner.waitForCopy(image, given, { ...how, signal }));
  }

  fill(imageId: string, volumeId: string, range: { offset: number; length: number }, source: FillSource, options: CallOptions = {}): Promise<number> {
    return this.relay([imageId, volumeId, range, source], (image, id, where, what) => this.inner.fill(image, id, where, what, options));
  }

  write(imageId: string, volumeId: string, offset: number, data: Uint8Array): Promise<void> {
    return this.relay([imageId, volumeId, offset, data], (image, id, at, bytes) => this.inner.write(image, id, at, bytes));
  }

  read(imageId: string, volumeId: string, offset: number, length: number): Promise<Uint8Array> {
    return this.relay([imageId, volumeId, offset, length], (image, id, at, count) => this.inner.read(image, id, at, count));
  }

  checksum(imageId: string, volumeId: string, offset: number, length: number): Promise<string> {
    return this.relay([imageId, volumeId, offset, length], (image, id, at, count) => this.inner.checksum(image, id, at, count));
  }

  startWorkload(imageId: string, spec: WorkloadSpec): Promise<WorkloadInfo> {
    return this.relay([imageId, spec], (image, given) => this.inner.startWorkload(image, given));
  }

  stopWorkload(name: string): Promise<WorkloadInfo> {
    return this.relay([name], (given) => this.inner.stopWorkload(given));
  }

  waitWorkload(name: string, timeoutMs?: number, options: CallOptions = {}): Promise<WorkloadInfo> {
    return this.relay([name, timeoutMs], (given, bound) => this.inner.waitWorkload(given, bound, options));
  }

  listWorkloads(): Promise<WorkloadInfo[]> {
    return this.relay([], () => this.inner.listWorkloads());
  }

  stopWorkloads(): Promise<void> {
    return this.relay([], () => this.inner.stopWorkloads());
  }

  save(file: string, options: CallOptions = {}): Promise<SaveReport> {
    return this.relay([file], (given) => this.inner.save(given, options));
  }

  load(file: string, options: CallOptions = {}): Promise<LoadReport> {
    return this.relay([file], (given) => this.inner.load(given, options));
  }

  events(listener: SiteListener): () => void {
    return this.inner.events((event) => listener(across(event, "event")));
  }

  close(): Promise<void> {
    return this.relay([], () => this.inner.close());
  }
}
