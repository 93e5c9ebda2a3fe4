// A storage image: its volumes, FlashCopy relationships, host I/O and the
// background-copy workers, over one shared WebAssembly memory.
import { EventEmitter } from "node:events";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { availableParallelism } from "node:os";
import {
  CoreCode, RelFlag, STAGING_SIZE, TRACK_SIZE, BLOCK_SIZE, EXTENT_SIZE, VOLUME_SLOT_MAX, REL_SLOT_MAX, VolumeState, WAIT_TIMEOUTS_MS,
  FIND_MANY_TRACKS_MAX, FIND_MANY_TRACKS_MIN,
} from "../core/codes.js";
import { CoreThread, coreModule, createImageMemory, defaultBuild, type CoreBuild, type WaitTimeouts } from "../core/core.js";
import { EngineError } from "./errors.js";
import { parseVolumeId, lssOf, pairId, imageId } from "./ids.js";
import { checkEstablish, parseOsType, DEFAULT_OS, type Model, type OsType, type V2Operation } from "./rules.js";
import { capacityBlocks, type CapacityUnit } from "./units.js";
import { CopyPool, type CopyFailure, type WorkerExit } from "./copy-pool.js";
import { CopyFaults, type CopyFault, type FlashState } from "./copy-faults.js";
import { ThreadIds } from "./threads.js";
import { coreError, type Timeouts } from "./core-errors.js";
import { fitsStaging, stage, STAGING_CHUNK } from "./staging.js";
import { PoolTable, rankGroupOfLss, type ExtentPool } from "./pools.js";
import { provisionExtents, touchExtents, type Sam } from "./provision.js";

export type { CopyFault, FlashState, WorkerExit };
import { FlashV2, relationshipFlags, type IncrementOptions, type ReverseOptions } from "./flash-v2.js";

export interface VolumeSpec {
  id: string;
  capacity: number;
  unit?: CapacityUnit; // default "blocks" when capacity is given in blocks; DS CLI defaults to ds
  os?: string;
  name?: string;
  pool?: string; // extent pool ID or name; absent: in no pool (no quota)
  sam?: Sam; // storage allocation method; absent: ese (thin)
}

export interface Volume {
  readonly id: string;
  readonly lss: string;
  readonly slot: number;
  readonly blocks: number;
  readonly sizeBytes: number;
  readonly unit: CapacityUnit;
  readonly os: OsType;
  name: string;
  readonly pool: string | null; // extent pool ID, or null for a volume in no pool
  readonly sam: Sam; // ese: extents on first write; standard: all allocated at creation (provision.ts)
  readonly createdAt: Date;
}

export interface FlashOptions {
  nocopy?: boolean;
  persist?: boolean;
  record?: boolean;
  tgtinhibit?: boolean;
  seqnum?: number;
  freeze?: boolean; // 2107: a consistency group; the source's writes are then held (long busy)
  tgtpprc?: boolean; // 2107: the target may be a PPRC primary (takes effect with PPRC)
}

export interface Relationship {
  readonly id: string;
  readonly sourceId: string;
  readonly targetId: string;
  readonly slot: number;
  readonly trackCount: number;
  readonly nocopy: boolean;
  readonly persist: boolean;
  readonly record: boolean;
  readonly tgtinhibit: boolean;
  readonly seqnum: number;
  readonly tgtpprc: boolean;
  readonly revertible: boolean; // between setflashrevertible and commitflash / revertflash
  readonly writesHeld: boolean; // mkflash -freeze, until unfreezeflash or the LSS's timeout
  readonly createdAt: Date;
  syncedAt: Date | null;
}

export interface RelationshipStatus extends Relationship {
  readonly pendingTracks: number;
  readonly copiedBytes: number;
  // True while the background copy runs: not for -nocp, not once complete, not while held by a failure.
  readonly activeCopy: boolean;
  // 0 once no track has been copied for STALLED_MS: an ETA then cannot be known.
  readonly bytesPerSecond: number;
  readonly state: FlashState;
  // Why the state is not Valid (null when it is); the failure in full in `fault`.
  readonly reason: string | null;
  readonly fault: CopyFault | null;
}

export interface ProgressEvent {
  id: string;
  tracksLeft: number;
  trackCount: number;
  bytesPerSecond: number;
}

export interface ImageOptions {
  model?: Model;
  serial?: string;
  workers?: number;
  build?: CoreBuild;
  progressIntervalMs?: number;
  freezeTimeoutMs?: number; // how long mkflash -freeze holds writes without unfreezeflash (default 60 s)
  defaultPools?: boolean; // P0 and P1 (default true)
  // Bounds of the core's waits on every thread of the image (assembly/sync.ts); tests shorten them.
  waitTimeouts?: WaitTimeouts;
}

export type DataState = "Normal" | "Unusable";

const PROGRESS_INTERVAL_MS = 50;
const RATE_SMOOTHING = 0.3;
const STALLED_MS = 1000; // no track copied for this long: the rate is 0, not a decaying average
// A freeze that timed out draining I/O is retried from the event loop (drained()), this often, this long.
const DRAIN_RETRY_MS = 20;
const DRAIN_RETRY_TOTAL_MS = 20_000;

export class StorageImage extends EventEmitter {
  readonly id: string;
  readonly model: Model;
  readonly core: CoreThread;
  readonly pool: CopyPool;
  readonly pools: PoolTable;
  private readonly threads = new ThreadIds();
  private readonly volumes = new Map<string, Volume>();
  private readonly relationships = new Map<string, Relationship>();
  private readonly freeVolumeSlots: number[] = [];
  private readonly freeRelSlots: number[] = [];
  private readonly rates = new Map<string, { bytes: number; at: number; rate: number; movedAt: number }>();
  // Relationship IDs by core slot, with the slot's generation at establish (failures name a slot).
  private readonly slotIds = new Map<number, { id: string; generation: number }>();
  private readonly faults: CopyFaults;
  readonly waitTimeouts: Timeouts;
  private readonly progressIntervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly v2: FlashV2;
  // Pairs whose copy completed and which then ended by themselves: a wait for one is already over.
  private readonly copiedIds = new Set<string>();
  private readonly aborts: EngineError[] = [];

  constructor(options: ImageOptions = {}) {
    super();
    this.model = options.model ?? "2105";
    this.id = imageId(this.model, options.serial ?? "75TZ001");
    const module = coreModule(options.build ?? defaultBuild());
    this.waitTimeouts = { ...WAIT_TIMEOUTS_MS, ...options.waitTimeouts };
    this.core = new CoreThread(createImageMemory(), 0, module, true, this.waitTimeouts);
    this.faults = new CopyFaults(this.core, this.waitTimeouts, {
      fault: (id, fault) => this.emit("fault", { id, fault }),
      recovered: (id, fault) => this.emit("recovered", { id, fault }),
    });
    const handlers = { failure: (failure: CopyFailure) => this.onCopyFailure(failure), exit: (exit: WorkerExit) => this.emit("worker-exit", exit) };
    this.pool = new CopyPool(this.core, module, this.threads, options.workers ?? availableParallelism(), handlers, this.waitTimeouts);
    this.progressIntervalMs = options.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
    this.v2 = new FlashV2(this, options.freezeTimeoutMs);
    this.pools = new PoolTable(this.core, this.id);
    if (options.defaultPools ?? true) this.pools.addDefaults();
    if (this.pool.size > 0) this.pool.start();
    for (let slot = VOLUME_SLOT_MAX - 1; slot >= 0; slot--) this.freeVolumeSlots.push(slot);
    for (let slot = REL_SLOT_MAX - 1; slot >= 0; slot--) this.freeRelSlots.push(slot);
  }

  get memory(): WebAssembly.Memory {
    return this.core.memory;
  }

  get threadIds(): ThreadIds {
    return this.threads;
  }

  // ---- volumes -------------------------------------------------------------

  createVolume(spec: VolumeSpec): Volume {
    this.checkOpen();
    const id = parseVolumeId(spec.id);
    if (this.volumes.has(id)) throw new EngineError("VOLUME_EXISTS", `volume ${id} already exists on ${this.id}`);
    const unit = spec.unit ?? "blocks";
    const blocks = capacityBlocks(spec.capacity, unit);
    const os = spec.os === undefined ? DEFAULT_OS : parseOsType(spec.os);
    const pool = spec.pool === undefined ? null : this.poolForLss(spec.pool, lssOf(id));
    const slot = this.freeVolumeSlots.pop();
    if (slot === undefined) throw new EngineError("LIMIT_REACHED", `storage image ${this.id} holds ${VOLUME_SLOT_MAX} volumes already`);
    const sizeBytes = blocks * BLOCK_SIZE;
    const code = this.core.exports.volume_create(slot, BigInt(sizeBytes));
    if (code !== CoreCode.OK) {
      this.freeVolumeSlots.push(slot);
      throw coreError(code, `create volume ${id}`);
    }
    if (pool) this.core.exports.volume_set_pool(slot, pool.index + 1);
    const sam = spec.sam ?? "ese";
    if (sam === "standard") {
      try {
        this.provisionNew(id, slot, sizeBytes);
      } catch (error) {
        this.freeVolumeSlots.push(slot);
        throw error;
      }
    }
    const volume: Volume = {
      id, lss: lssOf(id), slot, blocks, sizeBytes, unit, os, name: spec.name ?? "", pool: pool?.id ?? null, sam, createdAt: new Date(),
    };
    this.volumes.set(id, volume);
    return volume;
  }

  // Allocates every extent of standard volume `id`, just made in `slot`; when
  // they do not fit, the volume is removed again and the error says why.
  provisionNew(id: string, slot: number, sizeBytes: number): void {
    const extents = Math.ceil(sizeBytes / EXTENT_SIZE);
    const code = provisionExtents(this.core, slot, 0, extents);
    if (code === CoreCode.OK) return;
    this.core.exports.volume_destroy(slot);
    throw coreError(code, `allocate the ${extents} extents of standard volume ${id} (-sam standard allocates its whole capacity at creation)`);
  }

  // Faults in the pages of a standard volume's extents, a slice of the event
  // loop at a time (provision.ts), so that its first writes do not pay the
  // kernel's zero-fill faults; nothing for an ese volume.
  async touchVolume(idText: string): Promise<void> {
    const volume = this.volume(idText);
    if (volume.sam !== "standard") return;
    const code = await touchExtents(this.core, volume.slot, 0, Math.ceil(volume.sizeBytes / EXTENT_SIZE));
    if (code !== CoreCode.OK) throw coreError(code, `touch the extents of standard volume ${volume.id}`, this.waitTimeouts);
  }

  // The pool a volume of `lss` may go in: DS8000 puts even LSSs in rank group 0 and odd ones in 1.
  poolForLss(poolText: string, lss: string): ExtentPool {
    const pool = this.pools.get(poolText);
    const rankGroup = rankGroupOfLss(lss);
    if (pool.rankGroup !== rankGroup) {
      throw new EngineError(
        "RANKGROUP_MISMATCH",
        `extent pool ${pool.id} is in rank group ${pool.rankGroup}, and LSS ${lss} takes pools of rank group ${rankGroup} (even LSSs 0, odd LSSs 1)`,
      );
    }
    return pool;
  }

  // A standard volume grows only where its pool has room for the new extents
  // (the image's own memory is checked as they are allocated).
  private checkStandardGrowth(volume: Volume, sizeBytes: number): void {
    if (volume.sam !== "standard" || volume.pool === null) return;
    const pool = this.pools.usage(this.pools.get(volume.pool));
    const needed = Math.ceil(sizeBytes / EXTENT_SIZE) - Math.ceil(volume.sizeBytes / EXTENT_SIZE);
    const room = pool.capacityExtents - pool.allocatedExtents;
    if (needed > room) throw new EngineError("NO_SPACE", `standard volume ${volume.id} needs ${needed} more extents to grow, and extent pool ${pool.id} has ${room} free`);
  }

  // Grows a volume that is in no relationship (DS CLI chfbvol -cap). It never shrinks.
  growVolume(idText: string, capacity: number, unit: CapacityUnit): Volume {
    this.checkOpen();
    const volume = this.idleVolume(idText, "changing the capacity of");
    const blocks = capacityBlocks(capacity, unit);
    if (blocks <= volume.blocks) {
      throw new EngineError("BAD_CAPACITY", `volume ${volume.id} has ${volume.blocks} blocks; a new capacity of ${blocks} blocks does not grow it (volumes never shrink)`);
    }
    const sizeBytes = blocks * BLOCK_SIZE;
    this.checkStandardGrowth(volume, sizeBytes);
    const code = this.core.exports.volume_grow(volume.slot, BigInt(sizeBytes));
    if (code !== CoreCode.OK) throw coreError(code, `grow volume ${volume.id}`);
    if (volume.sam === "standard") {
      const [from, to] = [Math.ceil(volume.sizeBytes / EXTENT_SIZE), Math.ceil(sizeBytes / EXTENT_SIZE)];
      const provisioned = provisionExtents(this.core, volume.slot, from, to);
      if (provisioned !== CoreCode.OK) throw coreError(provisioned, `allocate extents ${from} to ${to - 1} of standard volume ${volume.id}, grown to ${blocks} blocks (those not allocated are allocated on first write)`);
    }
    const grown: Volume = { ...volume, blocks, sizeBytes, unit };
    this.volumes.set(volume.id, grown);
    return grown;
  }

  renameVolume(idText: string, name: string): Volume {
    this.checkOpen();
    const volume = this.volume(idText);
    volume.name = name;
    return volume;
  }

  // Removes an extent pool that holds no volume.
  removePool(poolText: string): ExtentPool {
    this.checkOpen();
    const pool = this.pools.get(poolText);
    const members = this.listVolumes().filter((volume) => volume.pool === pool.id);
    if (members.length > 0) {
      throw new EngineError("POOL_NOT_EMPTY", `extent pool ${pool.id} holds ${members.length} volume(s) (${members[0].id} first); remove them before the pool`);
    }
    return this.pools.remove(pool.id);
  }

  // The volume, if no FlashCopy relationship holds it; removing or
  // reinitialising a volume needs that. Throws VOLUME_IN_RELATIONSHIP otherwise.
  idleVolume(idText: string, action = "removing"): Volume {
    const volume = this.volume(idText);
    const busy = this.relationshipsOf(volume.id);
    if (busy.length > 0) {
      throw new EngineError(
        "VOLUME_IN_RELATIONSHIP",
        `volume ${volume.id} is in FlashCopy relationship ${busy[0].id}; withdraw it (rmflash) before ${action} the volume`,
      );
    }
    return volume;
  }

  removeVolume(idText: string): void {
    this.checkOpen();
    const volume = this.idleVolume(idText);
    const code = this.core.exports.volume_destroy(volume.slot);
    if (code !== CoreCode.OK) throw coreError(code, `remove volume ${volume.id}`, this.waitTimeouts);
    this.volumes.delete(volume.id);
    this.freeVolumeSlots.push(volume.slot);
    this.faults.spaceFreed();
  }

  // Releases a volume's data (it reads as zeros) and makes it usable again.
  reinitVolume(idText: string): void {
    this.checkOpen();
    const volume = this.idleVolume(idText, "reinitialising");
    const code = this.core.exports.volume_reinit(volume.slot);
    if (code !== CoreCode.OK) throw coreError(code, `reinitialise volume ${volume.id}`, this.waitTimeouts);
    // A standard volume keeps its capacity allocated: its extents, just freed, are allocated again.
    const provisioned = volume.sam === "standard" ? provisionExtents(this.core, volume.slot, 0, Math.ceil(volume.sizeBytes / EXTENT_SIZE)) : CoreCode.OK;
    this.faults.spaceFreed();
    if (provisioned !== CoreCode.OK) throw coreError(provisioned, `allocate the extents of standard volume ${volume.id} again after its reinitialisation`);
  }

  volume(idText: string): Volume {
    // The common case, an ID as stored, skips parsing: host I/O looks volumes up on every call.
    const known = this.volumes.get(idText);
    if (known) return known;
    const id = parseVolumeId(idText);
    const volume = this.volumes.get(id);
    if (!volume) throw new EngineError("VOLUME_NOT_FOUND", `volume ${id} does not exist on ${this.id}`);
    return volume;
  }

  hasVolume(idText: string): boolean {
    try {
      return this.volumes.has(parseVolumeId(idText));
    } catch {
      return false;
    }
  }

  // IDs are four upper-case hex digits, so code-unit order is their order;
  // localeCompare would also load ICU's collator on its first call (~25 ms).
  listVolumes(): Volume[] {
    return [...this.volumes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  listLss(): string[] {
    return [...new Set([...this.volumes.values()].map((volume) => volume.lss))].sort();
  }

  dataState(idText: string): DataState {
    const volume = this.volume(idText);
    return this.core.exports.volume_state(volume.slot) === VolumeState.UNUSABLE ? "Unusable" : "Normal";
  }

  allocatedBytes(idText: string): number {
    return Number(this.core.exports.volume_allocated_bytes(this.volume(idText).slot));
  }

  // ---- FlashCopy -------------------------------------------------------------

  establish(sourceText: string, targetText: string, options: FlashOptions = {}): Relationship {
    this.checkOpen();
    const source = this.volume(sourceText);
    const target = this.volume(targetText);
    const id = pairId(source.id, target.id);
    checkEstablish(this.model, this.facts(source), this.facts(target), this.relationships.has(id));
    this.v2.checkEstablishOptions(options);
    const seqnum = options.seqnum ?? 0;
    if (!Number.isInteger(seqnum) || seqnum < 0 || seqnum > 0xffffffff) {
      throw new EngineError("BAD_ARGUMENT", `FlashCopy pair ${id}: sequence number ${seqnum} is not a whole number from 0 to FFFFFFFF`);
    }
    const slot = this.freeRelSlots.pop();
    if (slot === undefined) throw new EngineError("LIMIT_REACHED", `storage image ${this.id} holds ${REL_SLOT_MAX} relationships already`);
    const flags = relationshipFlags({
      nocopy: options.nocopy ?? false, tgtinhibit: options.tgtinhibit ?? false, record: options.record ?? false,
      persist: options.persist ?? false, freeze: options.freeze ?? false,
    });
    const code = this.core.exports.rel_establish(slot, source.slot, target.slot, flags | (options.tgtpprc ? RelFlag.TGTPPRC : 0));
    if (code !== CoreCode.OK) {
      this.freeRelSlots.push(slot);
      throw coreError(code, `establish FlashCopy pair ${id}`, this.waitTimeouts);
    }
    const relationship: Relationship = {
      id, sourceId: source.id, targetId: target.id, slot,
      trackCount: Math.ceil(source.sizeBytes / TRACK_SIZE),
      nocopy: options.nocopy ?? false, persist: options.persist ?? false, record: options.record ?? false,
      tgtinhibit: options.tgtinhibit ?? false, seqnum, tgtpprc: options.tgtpprc ?? false,
      revertible: false, writesHeld: options.freeze ?? false, createdAt: new Date(), syncedAt: null,
    };
    this.relationships.set(id, relationship);
    this.copiedIds.delete(id);
    this.watchRelationship(relationship, 0);
    if (relationship.writesHeld) this.v2.startFreezeTimer(source.lss);
    return relationship;
  }

  // ---- FlashCopy V2 (model 2107; src/engine/flash-v2.ts) ------------------------------

  // A new T0 copying only the tracks changed on either side since the last one (-record -persist).
  resync(idText: string, options: IncrementOptions = {}): Relationship {
    this.checkOpen();
    return this.v2.resync(idText, options);
  }

  // Target becomes source: the old source gets back the old target's image; -fast copies in the background never.
  reverse(idText: string, options: ReverseOptions = {}): Relationship {
    this.checkOpen();
    return this.v2.reverse(idText, options);
  }

  setRevertible(idText: string, options: { seqnum?: number } = {}): Relationship {
    this.checkOpen();
    return this.v2.setRevertible(idText, options);
  }

  commitRevertible(idText: string): Relationship {
    this.checkOpen();
    return this.v2.commit(idText);
  }

  revertRevertible(idText: string): Relationship {
    this.checkOpen();
    return this.v2.revert(idText);
  }

  // When the -freeze hold of `lss` ends at the latest (ms since 1970), or null when nothing holds it.
  freezeDeadline(lss: string): number | null {
    return this.v2.freezeDeadline(lss);
  }

  // Ends the write holds of the relationships whose sources are in the LSS; returns their IDs.
  unfreeze(lss: string): string[] {
    this.checkOpen();
    return this.v2.unfreeze(lss);
  }

  // What a V2 operation (or rmflash) would refuse of a pair, changing nothing; returns the relationship.
  checkFlashV2(operation: V2Operation | "rmflash", idText: string): Relationship {
    return this.v2.check(operation, idText);
  }

  // The LSS unfreezeflash would act on (upper case), or its error.
  checkUnfreeze(lss: string): string {
    return this.v2.checkUnfreeze(lss);
  }

  // Hook for flash-v2.ts: the same core relationship (same slot) under its new
  // host record; the ID changes when it was reversed. A new T0 with background
  // copy is watched again, so a pair that does not persist ends when copied.
  replaceRelationship(previous: Relationship, next: Relationship): void {
    if (previous.slot !== next.slot) throw new EngineError("BAD_ARGUMENT", `FlashCopy pair ${next.id} must keep slot ${previous.slot}`);
    this.relationships.delete(previous.id);
    this.rates.delete(previous.id);
    this.relationships.set(next.id, next);
    if (previous.id !== next.id) this.faults.forget(previous.id);
    if (next.syncedAt === null) this.watchRelationship(next, Number(this.core.exports.rel_copied_bytes(next.slot)));
    else this.slotIds.set(next.slot, { id: next.id, generation: this.core.exports.rel_generation(next.slot) });
  }

  // Follows a new or restored relationship: its slot (failures name one) and its copy's progress.
  private watchRelationship(relationship: Relationship, copiedBytes: number): void {
    this.slotIds.set(relationship.slot, { id: relationship.id, generation: this.core.exports.rel_generation(relationship.slot) });
    if (relationship.nocopy) return;
    const now = performance.now();
    this.rates.set(relationship.id, { bytes: copiedBytes, at: now, rate: 0, movedAt: now });
    this.startProgress();
  }

  // Ends a relationship. Returns true when its copy was complete; when it was
  // not, the target is left unusable (reads refused) until re-established or reinitialised.
  withdraw(idText: string): boolean {
    this.checkOpen();
    const relationship = this.relationship(idText);
    this.v2.check("rmflash", relationship.id);
    const code = this.core.exports.rel_withdraw(relationship.slot);
    if (code < 0) throw coreError(code, `withdraw FlashCopy pair ${relationship.id}`, this.waitTimeouts);
    this.forget(relationship);
    this.faults.spaceFreed();
    return code === 0;
  }

  private forget(relationship: Relationship): void {
    this.relationships.delete(relationship.id);
    this.rates.delete(relationship.id);
    this.slotIds.delete(relationship.slot);
    this.faults.forget(relationship.id);
    this.freeRelSlots.push(relationship.slot);
  }

  // Runs a change that freezes volumes (establish, withdraw, remove,
  // reinitialise): the core drains their in-flight I/O for at most the drain
  // bound (~50 ms, so the event loop never stalls longer) and then gives up
  // with nothing changed. Here such a give-up is retried from the event loop
  // until DRAIN_RETRY_TOTAL_MS have passed, then reported.
  async drained<T>(change: () => T, signal?: AbortSignal): Promise<T> {
    const started = performance.now();
    for (;;) {
      try {
        return change();
      } catch (error) {
        const retryable = error instanceof EngineError && (error.code === "DRAIN_TIMEOUT" || error.code === "FROZEN");
        if (!retryable || signal?.aborted || performance.now() - started > DRAIN_RETRY_TOTAL_MS) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, DRAIN_RETRY_MS));
    }
  }

  private onCopyFailure(failure: CopyFailure): void {
    const known = this.slotIds.get(failure.relSlot);
    const current = failure.relSlot >= 0 && this.core.exports.rel_generation(failure.relSlot) === failure.generation;
    if (known && current && known.generation === failure.generation) {
      this.faults.record({ id: known.id, slot: failure.relSlot }, failure);
      return;
    }
    // A worker lost outside any relationship still fails every wait for a copy of this image.
    if (failure.code === "abort") {
      this.aborts.push(new EngineError("CORE_ABORT", `background copy on ${this.id} failed: the core aborted in copy worker ${failure.threadId}: ${failure.message}`));
      this.emit("abort", failure);
    } else if (failure.code === "exit") {
      this.aborts.push(new EngineError("WORKER_EXITED", `background copy on ${this.id} lost a worker: ${failure.message}`));
      this.emit("abort", failure);
    }
  }

  relationship(idText: string): Relationship {
    // An ID already in its canonical form is a key of the map: no parse
    // needed (a scan of pending tracks asks once per batch, copies on every call).
    const known = this.relationships.get(idText);
    if (known) return known;
    const [sourceText, targetText, extra] = idText.split(":");
    if (targetText === undefined || extra !== undefined) {
      throw new EngineError("BAD_ARGUMENT", `FlashCopy pair ID ${idText} is not of the form SSSS:TTTT`);
    }
    const id = pairId(parseVolumeId(sourceText), parseVolumeId(targetText));
    const relationship = this.relationships.get(id);
    if (!relationship) throw new EngineError("RELATIONSHIP_NOT_FOUND", `FlashCopy pair ${id} does not exist on ${this.id}`);
    return relationship;
  }

  hasRelationship(idText: string): boolean {
    return this.relationships.has(idText.toUpperCase());
  }

  relationshipsOf(volumeId: string): Relationship[] {
    return [...this.relationships.values()].filter((r) => r.sourceId === volumeId || r.targetId === volumeId);
  }

  listRelationships(): Relationship[] {
    return [...this.relationships.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)); // "SSSS:TTTT", hex: code-unit order
  }

  status(idText: string): RelationshipStatus {
    const relationship = this.relationship(idText);
    const pendingTracks = this.core.exports.rel_pending(relationship.slot);
    const fault = this.faults.get(relationship.id);
    return {
      ...relationship,
      pendingTracks,
      copiedBytes: Number(this.core.exports.rel_copied_bytes(relationship.slot)),
      activeCopy: !relationship.nocopy && pendingTracks > 0 && (fault === null || fault.retrying),
      bytesPerSecond: this.rates.get(relationship.id)?.rate ?? 0,
      state: fault?.state ?? "Valid",
      reason: fault ? faultReason(fault) : null,
      fault,
    };
  }

  // Failures of this image's copy workers that no relationship carries (an
  // abort outside any copy); every wait for a copy fails while there is one.
  get workerAborts(): readonly EngineError[] {
    return this.aborts;
  }

  // Tracks changed since establish on the source or the target (-record relationships).
  recordedTracks(idText: string, side: "source" | "target"): number {
    const relationship = this.relationship(idText);
    return this.core.exports.rel_recorded(relationship.slot, side === "source" ? 0 : 1);
  }

  private facts(volume: Volume) {
    let sourceOf = 0;
    let targetOf = 0;
    for (const relationship of this.relationships.values()) {
      if (relationship.sourceId === volume.id) sourceOf++;
      if (relationship.targetId === volume.id) targetOf++;
    }
    return { id: volume.id, blocks: volume.blocks, os: volume.os, sourceOf, targetOf, usable: this.dataState(volume.id) === "Normal" };
  }

  // ---- background copy progress and completion ---------------------------------

  private startProgress(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), this.progressIntervalMs);
    this.timer.unref();
  }

  // Samples progress and ends background copies that have finished. Runs on a
  // timer while copies are active; tests call it to settle deterministically.
  poll(): void {
    const now = performance.now();
    let active = 0;
    for (const relationship of [...this.relationships.values()]) {
      if (relationship.nocopy) continue;
      const tracksLeft = this.core.exports.rel_pending(relationship.slot);
      const rate = this.updateRate(relationship, now);
      this.faults.observe(relationship.id, this.rates.get(relationship.id)?.bytes ?? 0, tracksLeft);
      if (tracksLeft > 0) {
        active++;
        this.emit("progress", { id: relationship.id, tracksLeft, trackCount: relationship.trackCount, bytesPerSecond: rate } satisfies ProgressEvent);
        continue;
      }
      // One that could not end yet keeps the timer running, so that a later poll ends it.
      if (!this.complete(relationship)) active++;
    }
    if (active === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private updateRate(relationship: Relationship, now: number): number {
    const sample = this.rates.get(relationship.id);
    if (!sample) return 0;
    const bytes = Number(this.core.exports.rel_copied_bytes(relationship.slot));
    const seconds = (now - sample.at) / 1000;
    if (seconds > 0) {
      const instant = (bytes - sample.bytes) / seconds;
      sample.rate = sample.rate === 0 ? instant : sample.rate + RATE_SMOOTHING * (instant - sample.rate);
      if (bytes > sample.bytes) sample.movedAt = now;
      // A stalled copy has no rate: an average decaying towards 0 would promise an ETA of ages.
      if (now - sample.movedAt >= STALLED_MS) sample.rate = 0;
      sample.bytes = bytes;
      sample.at = now;
    }
    return sample.rate;
  }

  // Marks a copied relationship synced and ends it unless it persists.
  // False when it must end but could not yet: the withdraw's freeze found I/O
  // that did not drain in time (or another freezer); the next poll tries again.
  private complete(relationship: Relationship): boolean {
    if (relationship.syncedAt === null) relationship.syncedAt = new Date();
    this.emit("progress", { id: relationship.id, tracksLeft: 0, trackCount: relationship.trackCount, bytesPerSecond: 0 } satisfies ProgressEvent);
    if (relationship.persist) return true;
    const code = this.core.exports.rel_withdraw(relationship.slot);
    if (code < 0) return false;
    this.forget(relationship);
    this.copiedIds.add(relationship.id);
    this.emit("copied", relationship);
    return true;
  }

  // Resolves when the background copies of the given pairs (all, by default)
  // have completed; rejects on timeout or abort, and at once when one of them
  // cannot go on (its state is not Valid) or a copy worker of the image aborted.
  // A pair whose copy completed and which then ended by itself is already done.
  waitForCopy(ids?: string[], options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const named = ids ?? this.listRelationships().filter((r) => !r.nocopy).map((r) => r.id);
    const wanted = named.filter((id) => !this.copiedIds.has(id.toUpperCase()) || this.hasRelationship(id)).map((id) => this.relationship(id));
    for (const relationship of wanted) {
      if (relationship.nocopy) {
        return Promise.reject(new EngineError("BAD_ARGUMENT", `FlashCopy pair ${relationship.id} was established with -nocp: it has no background copy to wait for`));
      }
    }
    return new Promise((resolve, reject) => {
      const settled = () => wanted.every((r) => !this.relationships.has(r.id) || this.core.exports.rel_pending(r.slot) === 0);
      const finish = (error?: Error) => {
        clearInterval(timer);
        clearTimeout(deadline);
        options.signal?.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else resolve();
      };
      const check = () => {
        this.poll();
        const failed = this.copyFailure(wanted);
        if (failed) finish(failed);
        else if (settled()) finish();
      };
      const onAbort = () => finish(new EngineError("CANCELLED", `wait for ${wanted.map((r) => r.id).join(" ")} cancelled`));
      const timer = setInterval(check, this.progressIntervalMs);
      const timeoutMs = options.timeoutMs ?? 0;
      const deadline = timeoutMs > 0
        ? setTimeout(() => finish(new EngineError("TIMEOUT", `background copy of ${wanted.map((r) => r.id).join(" ")} did not complete within ${timeoutMs} ms`)), timeoutMs)
        : undefined;
      options.signal?.addEventListener("abort", onAbort, { once: true });
      if (options.signal?.aborted) onAbort();
      else check();
    });
  }

  // Why the background copy of one of `wanted` cannot complete, or null.
  private copyFailure(wanted: readonly Relationship[]): EngineError | null {
    if (this.aborts.length > 0) return this.aborts[0];
    for (const relationship of wanted) {
      if (!this.relationships.has(relationship.id)) continue;
      const fault = this.faults.get(relationship.id);
      // A retry under way is waited for: it either copies again or fails again.
      if (!fault || fault.retrying) continue;
      const left = this.core.exports.rel_pending(relationship.slot);
      return new EngineError(
        fault.code,
        `FlashCopy pair ${relationship.id} is ${fault.state}: its background copy cannot go on (${left} of ${relationship.trackCount} tracks left): ${faultReason(fault)}`,
      );
    }
    return null;
  }

  // Fills `into` with the pair's pending tracks from fromTrack on, ascending,
  // as many as the core finds in one call (rel_find_pending_many, up to
  // into.length); returns how many, 0 when none is left. A batch may end
  // early with more pending beyond it, but only with fewer than
  // FIND_MANY_TRACKS_MIN entries to spare (isLastPendingBatch): then go on
  // from its last track + 1. The caller owns `into`, so a scan allocates once.
  pendingTracks(idText: string, fromTrack: number, into: Uint32Array): number {
    const found = this.findPendingTracks(idText, fromTrack, into.length);
    into.set(this.core.stagingU32(found));
    return found;
  }

  // The same batch as pendingTracks, without the copy: a view of this
  // thread's staging buffer holding the tracks found (empty when none is
  // left). It is valid only until this thread's next call into the image,
  // which may reuse the staging buffer; a scan that hands every track on at
  // once (50% pending is 131,072 tracks per 16 GiB) saves copying them all.
  pendingTracksView(idText: string, fromTrack: number, trackCountMax: number): Uint32Array {
    return this.core.stagingU32(this.findPendingTracks(idText, fromTrack, trackCountMax));
  }

  // The same batch, left where the core put it: returns its count, and the
  // tracks are entries 0 to count - 1 of stagedTracks, a view made once. A
  // scan that reads them there makes no view per batch, and V8 reads a kept
  // view faster than a new one (CoreThread.stagingWords). They are valid
  // until this thread's next call into the image, as pendingTracksView's are.
  findPendingTracks(idText: string, fromTrack: number, trackCountMax: number): number {
    const relationship = this.relationship(idText);
    if (!Number.isInteger(fromTrack) || fromTrack < 0 || fromTrack > relationship.trackCount) {
      throw new EngineError("BAD_ARGUMENT", `FlashCopy pair ${relationship.id}: track ${fromTrack} is not a whole number from 0 to its ${relationship.trackCount} tracks`);
    }
    if (!Number.isInteger(trackCountMax) || trackCountMax < FIND_MANY_TRACKS_MIN || trackCountMax > FIND_MANY_TRACKS_MAX) {
      throw new EngineError("BAD_ARGUMENT", `a batch of pending tracks holds from ${FIND_MANY_TRACKS_MIN} to ${FIND_MANY_TRACKS_MAX} tracks, not ${trackCountMax}`);
    }
    const found = this.core.exports.rel_find_pending_many(relationship.slot, fromTrack, trackCountMax);
    if (found < 0) throw coreError(found, `find the pending tracks of FlashCopy pair ${relationship.id}`, this.waitTimeouts);
    return found;
  }

  // This thread's staging buffer as u32 entries, where findPendingTracks
  // leaves a batch's tracks.
  get stagedTracks(): Uint32Array {
    return this.core.stagingWords;
  }

  // Copies pending tracks from the calling thread (deterministic tests and
  // single-threaded use). Returns the number of tracks copied.
  copyTracks(idText: string, firstTrack: number, trackCount: number): number {
    const relationship = this.relationship(idText);
    const copied = this.core.exports.copy_tracks(relationship.slot, firstTrack, trackCount);
    const full = copied === CoreCode.NO_SPACE ? this.fullPool(this.volume(relationship.targetId), 1) : null;
    if (full !== null) {
      throw new EngineError("NO_SPACE", `cannot copy tracks of FlashCopy pair ${relationship.id}: extent pool ${full} of target ${relationship.targetId} is full; the tracks stay pending`);
    }
    if (copied < 0) throw coreError(copied, `copy tracks of FlashCopy pair ${relationship.id}`, this.waitTimeouts);
    return copied;
  }

  // ---- host I/O ----------------------------------------------------------------

  private checkRange(volume: Volume, offset: number, length: number): void {
    if (!Number.isInteger(offset) || offset < 0) {
      throw new EngineError("OUT_OF_RANGE", `volume ${volume.id}: offset ${offset} is not a whole number of bytes from 0`);
    }
    if (!Number.isInteger(length) || length < 0) {
      throw new EngineError("OUT_OF_RANGE", `volume ${volume.id}: length ${length} is not a whole number of bytes from 0`);
    }
    if (offset + length > volume.sizeBytes) {
      throw new EngineError(
        "OUT_OF_RANGE",
        `volume ${volume.id}: bytes ${offset} to ${offset + length} lie beyond its end (${volume.sizeBytes} bytes)`,
      );
    }
  }

  private ioError(code: number, volume: Volume, action: string, length = 0): EngineError {
    if (code === CoreCode.LONG_BUSY) {
      const held = this.relationshipsOf(volume.id).find((r) => r.sourceId === volume.id && r.writesHeld);
      if (held === undefined && this.core.exports.pprc_held(volume.slot) === 1) {
        return new EngineError(
          "LONG_BUSY",
          `volume ${volume.id} is long busy: freezepprc suspended its PPRC pair over a -consistgrp path and holds its writes (queue full) until unfreezepprc or LSS ${volume.lss}'s long-busy timeout`,
        );
      }
      return new EngineError(
        "LONG_BUSY",
        `volume ${volume.id} is long busy: FlashCopy pair ${held?.id ?? "?"} was made with -freeze and holds its writes (queue full) until unfreezeflash ${volume.lss} or the LSS's timeout`,
      );
    }
    if (code === CoreCode.TGTINHIBIT) {
      const relationship = this.relationshipsOf(volume.id).find((r) => r.targetId === volume.id);
      if (relationship?.revertible) {
        return new EngineError(
          "TARGET_WRITE_INHIBITED",
          `volume ${volume.id} is the target of revertible FlashCopy pair ${relationship.id}: host writes are refused until commitflash or revertflash`,
        );
      }
      return new EngineError(
        "TARGET_WRITE_INHIBITED",
        `volume ${volume.id} is the target of FlashCopy pair ${relationship?.id ?? "?"} established with -tgtinhibit: host writes are refused`,
      );
    }
    if (code === CoreCode.NO_SPACE) return this.spaceError(volume, action, length);
    if (code === CoreCode.UNUSABLE) {
      return new EngineError(
        "VOLUME_UNUSABLE",
        `volume ${volume.id} is not usable: a FlashCopy onto it was withdrawn before its copy completed; make it a FlashCopy target again or reinitialise it`,
      );
    }
    return coreError(code, `${action} volume ${volume.id}`, this.waitTimeouts);
  }

  // A failed write: the core says how much of it it applied before it failed;
  // `before` counts the bytes of earlier calls of a multi-call write.
  private writeError(code: number, volume: Volume, offset: number, length: number, before = 0): EngineError {
    const error = this.ioError(code, volume, "write", length);
    const written = before + this.core.exports.io_written_before_failure();
    if (written === 0) return error;
    return new EngineError(
      error.code,
      `${error.message}; ${written} of the write's ${length} bytes (from offset ${offset}) were written before it failed, the rest not`,
      written,
    );
  }

  // Out of space: the full pool among the volume's and its FlashCopy targets', else the image's memory.
  // A pool is blamed when it lacks the extents a write of `length` bytes may need.
  private spaceError(volume: Volume, action: string, length: number): EngineError {
    const needed = Math.ceil(length / EXTENT_SIZE) + 1;
    const targets = this.relationshipsOf(volume.id).filter((r) => r.sourceId === volume.id).map((r) => this.volume(r.targetId));
    for (const candidate of [volume, ...targets]) {
      const full = this.fullPool(candidate, needed);
      if (full === null) continue;
      const whose = candidate === volume ? `its extent pool ${full}` : `extent pool ${full} of its FlashCopy target ${candidate.id}`;
      return new EngineError("NO_SPACE", `cannot ${action} volume ${volume.id}: ${whose} is full (the write needs up to ${needed} extents)`);
    }
    return coreError(CoreCode.NO_SPACE, `${action} volume ${volume.id}`, this.waitTimeouts);
  }

  // "P3 (2048 of 2048 extents allocated)" when the volume's pool has fewer than `needed` extents free.
  private fullPool(volume: Volume, needed: number): string | null {
    if (volume.pool === null) return null;
    const usage = this.pools.usage(this.pools.get(volume.pool));
    if (usage.capacityExtents - usage.allocatedExtents >= needed) return null;
    return `${usage.id} (${usage.allocatedExtents} of ${usage.capacityExtents} extents allocated)`;
  }

  // The caller's bytes are staged at their own alignment (staging.ts says why).
  write(idText: string, offset: number, data: Uint8Array): void {
    this.checkOpen();
    const volume = this.volume(idText);
    this.checkRange(volume, offset, data.byteLength);
    const exports = this.core.exports;
    if (fitsStaging(data)) {
      const code = exports.io_write(volume.slot, offset, data.byteLength, stage(this.core, data));
      if (code !== CoreCode.OK) throw this.writeError(code, volume, offset, data.byteLength);
      return;
    }
    const entered = exports.io_begin(volume.slot);
    if (entered !== CoreCode.OK) throw this.ioError(entered, volume, "write");
    let failure: EngineError | null = null;
    try {
      for (let done = 0; done < data.byteLength && failure === null; done += STAGING_CHUNK) {
        const chunk = data.subarray(done, done + STAGING_CHUNK);
        const code = exports.io_write_held(volume.slot, offset + done, chunk.byteLength, stage(this.core, chunk));
        if (code !== CoreCode.OK) failure = this.writeError(code, volume, offset, data.byteLength, done);
      }
    } finally {
      exports.io_end(volume.slot);
    }
    if (failure) throw failure;
  }

  read(idText: string, offset: number, length: number): Uint8Array {
    this.checkOpen();
    const volume = this.volume(idText);
    this.checkRange(volume, offset, length);
    const exports = this.core.exports;
    const staging = this.core.staging();
    if (length <= STAGING_SIZE) {
      const code = exports.io_read(volume.slot, offset, length, this.core.stagingPointer);
      if (code !== CoreCode.OK) throw this.ioError(code, volume, "read");
      // A copy in memory of its own (slice makes a plain ArrayBuffer), made only for a read that succeeded.
      return staging.slice(0, length);
    }
    const result = new Uint8Array(length);
    this.held(volume, "read", () => {
      for (let done = 0; done < length; done += STAGING_SIZE) {
        const chunk = Math.min(STAGING_SIZE, length - done);
        const code = exports.io_read_held(volume.slot, offset + done, chunk, this.core.stagingPointer);
        if (code !== CoreCode.OK) return code;
        result.set(staging.subarray(0, chunk), done);
      }
      return CoreCode.OK;
    });
    return result;
  }

  // Runs a multi-call request inside the volume's gate: wholly before or after any establish.
  private held(volume: Volume, action: string, body: () => number): void {
    const entered = this.core.exports.io_begin(volume.slot);
    if (entered !== CoreCode.OK) throw this.ioError(entered, volume, action);
    let code: number;
    try {
      code = body();
    } finally {
      this.core.exports.io_end(volume.slot);
    }
    if (code !== CoreCode.OK) throw this.ioError(code, volume, action, STAGING_SIZE);
  }

  writePattern(idText: string, offset: number, length: number, seed: number): void {
    this.checkOpen();
    const volume = this.volume(idText);
    this.checkRange(volume, offset, length);
    checkSeed(seed);
    const code = this.core.exports.io_write_pattern(volume.slot, offset, length, seed >>> 0);
    if (code !== CoreCode.OK) throw this.writeError(code, volume, offset, length);
  }

  fill(idText: string, offset: number, length: number, value: number): void {
    this.checkOpen();
    const volume = this.volume(idText);
    this.checkRange(volume, offset, length);
    checkFillByte(value);
    const code = this.core.exports.io_fill(volume.slot, offset, length, value);
    if (code !== CoreCode.OK) throw this.writeError(code, volume, offset, length);
  }

  // The range reads as zeros afterwards and its whole 1 MiB extents go back
  // to the pool (a host's TRIM; assembly/trim.ts has the FlashCopy rules).
  // Returns the extents released: 0 where none was whole, or where the
  // volume could not be frozen at once and the range was zeroed instead.
  trim(idText: string, offset: number, length: number): number {
    this.checkOpen();
    const volume = this.volume(idText);
    this.checkRange(volume, offset, length);
    const code = this.core.exports.io_trim(volume.slot, offset, length);
    if (code !== CoreCode.OK) throw this.writeError(code, volume, offset, length);
    return this.core.exports.trim_released_extents();
  }

  // writePattern or fill over a range of any size without holding the thread:
  // in chunks of one host write each, sized to take about FILL_SLICE_MS, with
  // the event loop running between them. The range as a whole is therefore
  // not one point in time (an establish may come between two chunks). An
  // abort of `signal` stops it between chunks with EngineError CANCELLED,
  // saying how many bytes from `offset` were written. Resolves with `length`.
  async fillAsync(idText: string, offset: number, length: number, source: FillSource, options: { signal?: AbortSignal } = {}): Promise<number> {
    this.checkOpen();
    const volume = this.volume(idText);
    this.checkRange(volume, offset, length);
    if (source.kind === "pattern") checkSeed(source.seed);
    else checkFillByte(source.value);
    let chunkBytes = FILL_CHUNK_MIN;
    for (let done = 0; done < length;) {
      if (options.signal?.aborted) {
        const percent = ((100 * done) / length).toFixed(0);
        throw new EngineError("CANCELLED", `filling volume ${volume.id} cancelled after ${done} of ${length} bytes (${percent}%); bytes ${offset} to ${offset + done - 1} were written`);
      }
      const count = Math.min(chunkBytes, length - done);
      const started = performance.now();
      if (source.kind === "pattern") this.writePattern(volume.id, offset + done, count, source.seed);
      else this.fill(volume.id, offset + done, count, source.value);
      done += count;
      chunkBytes = nextChunkBytes(chunkBytes, performance.now() - started);
      await yieldToEventLoop();
    }
    return length;
  }

  // xxHash64 of a range as a host read sees it, as 16 hex digits.
  checksum(idText: string, offset = 0, length?: number): string {
    this.checkOpen();
    const volume = this.volume(idText);
    const bytes = length ?? volume.sizeBytes - offset;
    this.checkRange(volume, offset, bytes);
    const code = this.core.exports.checksum(volume.slot, offset, bytes);
    if (code !== CoreCode.OK) throw this.ioError(code, volume, "read");
    return BigInt.asUintN(64, this.core.exports.checksum_result()).toString(16).padStart(16, "0");
  }

  // ---- restore hooks (src/engine/snapshot.ts) ----------------------------------------

  // Registers a volume that src/engine/snapshot.ts has just created in the core at volume.slot.
  adoptVolume(volume: Volume): void {
    this.checkOpen();
    if (this.volumes.has(volume.id)) throw new EngineError("VOLUME_EXISTS", `volume ${volume.id} already exists on ${this.id}`);
    takeSlot(this.freeVolumeSlots, volume.slot, `volume ${volume.id}`);
    this.volumes.set(volume.id, volume);
  }

  // Registers a relationship that src/engine/snapshot.ts has just restored in
  // the core at relationship.slot; a background copy is then watched as usual.
  // `freezeDeadlineMs`: a relationship whose writes are held (a loaded -freeze) keeps its LSS's deadline.
  adoptRelationship(relationship: Relationship, freezeDeadlineMs?: number): void {
    this.checkOpen();
    if (this.relationships.has(relationship.id)) throw new EngineError("BUSY", `FlashCopy pair ${relationship.id} already exists on ${this.id}`);
    takeSlot(this.freeRelSlots, relationship.slot, `FlashCopy pair ${relationship.id}`);
    this.relationships.set(relationship.id, relationship);
    this.watchRelationship(relationship, Number(this.core.exports.rel_copied_bytes(relationship.slot)));
    if (relationship.writesHeld) this.v2.startFreezeTimer(this.volume(relationship.sourceId).lss, freezeDeadlineMs);
  }

  // ---- lifecycle -----------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new EngineError("CLOSED", `storage image ${this.id} is closed`);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.v2.close();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.faults.dispose();
    await this.pool.stop();
  }
}

// "out of space; retry 3 in 1.6 s": the cause, and what happens next.
export function faultReason(fault: CopyFault): string {
  if (fault.state === "Tgt Failed") return fault.reason;
  const retried = fault.retries > 0 ? `, retried ${fault.retries} time${fault.retries === 1 ? "" : "s"}` : "";
  const next = fault.retrying
    ? "a retry is under way"
    : fault.nextRetryAt
      ? `next retry in ${Math.max(0, (fault.nextRetryAt.getTime() - Date.now()) / 1000).toFixed(1)} s`
      : "not retried";
  return `${fault.reason}${retried}; ${next}, and at once when space is freed (rmfbvol, initfbvol, rmflash)`;
}

function takeSlot(freeSlots: number[], slot: number, what: string): void {
  const index = freeSlots.lastIndexOf(slot);
  if (index < 0) throw new EngineError("BUSY", `cannot restore ${what}: slot ${slot} is in use`);
  freeSlots.splice(index, 1);
}

// What fillAsync writes: a byte value, or the seeded pattern of writePattern.
export type FillSource = { kind: "byte"; value: number } | { kind: "pattern"; seed: number };

const FILL_SLICE_MS = 5; // aim of one chunk of fillAsync: well inside the ~50 ms the event loop may wait
const FILL_CHUNK_MIN = 1 << 20;
// First touches of fresh memory make the same bytes cost ten times more than
// rewrites (0.25 GB/s against GB/s on the VM the figures come from): a chunk
// sized on rewrites must still be short when it lands on fresh memory.
const FILL_CHUNK_MAX = 8 << 20;

// The next chunk size: towards FILL_SLICE_MS in proportion to the last one,
// growing at most twofold.
function nextChunkBytes(chunkBytes: number, elapsedMs: number): number {
  const scaled = chunkBytes * Math.min(2, FILL_SLICE_MS / Math.max(elapsedMs, 0.01));
  return Math.min(FILL_CHUNK_MAX, Math.max(FILL_CHUNK_MIN, Math.floor(scaled)));
}

function checkFillByte(value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new EngineError("BAD_ARGUMENT", `fill value ${value} is not a byte (0 to 255)`);
  }
}

export function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new EngineError("BAD_ARGUMENT", `seed ${seed} is not a whole number from 0 to 4294967295`);
  }
}

// Whether a batch of `found` pending tracks, from a call asked for up to
// trackCountMax, is a scan's last: the core ends a batch early, with more
// pending beyond it, only when fewer than FIND_MANY_TRACKS_MIN entries are
// left free (bitmap_find_many), so a batch with that much room to spare went
// on to the bitmap's end, and the scan need not ask once more to get 0.
export function isLastPendingBatch(found: number, trackCountMax: number): boolean {
  return found + FIND_MANY_TRACKS_MIN <= trackCountMax;
}
