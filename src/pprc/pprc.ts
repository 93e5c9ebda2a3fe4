// PPRC of the storage images of one process (design.md §4): paths, links,
// Metro Mirror and Global Copy pairs and their state machine.
//
// The data plane holds what every write needs (assembly/mirror.ts: a
// primary's mode, its out-of-sync bitmap, its link ring); this layer holds
// the rest (types, options, reasons, times) and derives each pair's state
// from the core, so a link failure that a writer met shows at once:
//   core mode SUSPENDED              Suspended (the reason the host gave, or the writer's cause)
//   SYNC, tracks out of sync         Copy Pending
//   SYNC, none out of sync           Full Duplex
//   ASYNC                            Copy Pending (Global Copy), first pass done once none was left
// Every command checks all its items before it changes anything.
import { CoreCode, MirrorMode, PprcFlag, SuspendCause, ACK_TIMEOUT_MS, TRACK_SIZE } from "../core/codes.js";
import { EngineError } from "../engine/errors.js";
import { coreError } from "../engine/core-errors.js";
import { lssOf, pairId, parseVolumeId } from "../engine/ids.js";
import type { StorageImage, Volume } from "../engine/image.js";
import { Link } from "./link.js";
import type { LinkFaults } from "./link-faults.js";
import { PathTable, checkPortPairs, parseLss, type Path, type PortPair } from "./paths.js";
import { TcpLink } from "./tcp-link.js";
import { RemoteImage, type LinkIdentity, type RemotePrimary } from "./remote-image.js";
import { parseEndpoint, type ControlBody, type LinkEndpoint } from "./link-protocol.js";
import type { LinkControl } from "./link-receiver.js";
import type { LoadedPprc } from "../store/load.js";
import type { PprcPairRecord, PprcPathRecord } from "../store/format.js";
import {
  MODE_NAMES, MODES, endpointText, markRuns, oosRecords, outOfSyncRuns, pathRecord, restoreToken, stateError, type PprcStateRecord,
} from "./pprc-state.js";

// The other side of a path or pair: an image of this process, or one of another node.
export type Peer = StorageImage | RemoteImage;
type MirrorLink = Link | TcpLink;

function isRemote(peer: Peer): peer is RemoteImage {
  return peer instanceof RemoteImage;
}

// A secondary of this node whose primary is on another node: it refuses host
// writes and takes the link's; its state is the primary's (lspprc asks it).
interface HeldSecondary {
  readonly pairId: string;
  readonly image: StorageImage;
  readonly volumeId: string;
  readonly primaryImageId: string;
  readonly primaryId: string;
  readonly primarySlot: number;
  readonly primaryEndpoint: LinkEndpoint | null;
  readonly tgtread: boolean;
  readonly type: PairType;
  readonly critmode: boolean;
  // Set when it came back from a state file (pprc-state.ts): its primary then copies it whole once.
  readonly restore: string | null;
}

// How long the secondary's lspprc waits for the primary's node to say the pair's state.
const PAIR_STATUS_TIMEOUT_MS = 2_000;

export type PairType = "mmir" | "gcp";
export type PairState = "Copy Pending" | "Full Duplex" | "Suspended" | "Target Copy Pending" | "Target Full Duplex" | "Target Suspended";

export const REASON_HOST_SOURCE = "Host Source";
export const REASON_INTERNAL_TARGET = "Internal Conditions Target";
export const REASON_FREEZE = "Freeze";

export interface PairOptions {
  type: PairType;
  mode?: "full" | "nocp";
  tgtread?: boolean;
  critmode?: boolean;
}

interface Pair {
  readonly id: string; // "1000:2000", primary first
  readonly primary: StorageImage;
  readonly secondary: Peer;
  secondarySlot: number; // the secondary volume's slot in its image (the links name it)
  readonly primaryId: string;
  readonly secondaryId: string;
  type: PairType;
  readonly tgtread: boolean;
  readonly critmode: boolean;
  link: MirrorLink | null; // null for a failed-over primary with no path back
  reason: string | null; // why the host suspended it; null: not suspended by the host
  detail: string | null; // what failed, when the link or the secondary did
  suspendedAt: Date | null;
  firstPassDone: boolean;
  secondaryHeld: boolean; // false once the secondary was failed over (it is no longer this pair's)
  secondaryRestore: string | null; // the restore of a remote secondary after which it was last copied whole
}

export interface PairStatus {
  id: string;
  imageId: string; // the image it is listed on
  primaryImageId: string;
  secondaryImageId: string;
  role: "primary" | "secondary";
  state: PairState;
  reason: string | null;
  type: PairType;
  outOfSyncTracks: number;
  tgtread: boolean;
  critmode: boolean;
  suspendedAt: Date | null;
  sourceLss: string;
  firstPassDone: boolean;
  sentTracks: number; // tracks copied to the secondary by Copy Pending and resyncs
  detail: string | null;
}

export interface PathStatus extends Path {
  state: "Success" | "Failed";
  reason: string | null;
}

export interface PprcOptions {
  wwnnOf(image: StorageImage): string;
  ackTimeoutMs?: number;
  // On a node of a site: who this node is to others, for links to images of other nodes.
  identity?: LinkIdentity;
  // The images of this process, by ID (the control requests of other nodes name them).
  localImage?(id: string): StorageImage | undefined;
  freezeTimeoutMs?: number; // how long freezepprc holds writes without unfreezepprc (the LSS's long-busy timeout)
  linkFaults?: LinkFaults; // seeded faults of the in-process links (tests: link-faults.ts)
}

// An FB LSS's extended long-busy timeout (lslss xtndlbztimout).
export const FREEZE_TIMEOUT_MS_DEFAULT = 60_000;

function pairError(code: Parameters<typeof coreError>[0], image: StorageImage, action: string): EngineError {
  return coreError(code, `${action} on ${image.id}`, image.waitTimeouts);
}

export class Pprc {
  private readonly paths = new PathTable();
  private readonly links = new Map<string, MirrorLink>();
  private readonly pairs: Pair[] = [];
  private readonly held: HeldSecondary[] = [];
  private readonly remotes = new Map<string, RemoteImage>();
  // Failures of links' sender threads (aborts of the debug core): tests read them.
  readonly linkFailures: string[] = [];
  // The long-busy timers of LSSs whose primaries freezepprc holds, by "IMAGE/LSS".
  private readonly freezeTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: PprcOptions) {
    const timeoutMs = options.freezeTimeoutMs ?? FREEZE_TIMEOUT_MS_DEFAULT;
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new EngineError("BAD_ARGUMENT", `freeze timeout ${timeoutMs} ms is not a whole number of milliseconds above 0`);
    }
  }

  // ---- ports and paths ---------------------------------------------------------------

  // The image `id` of another node, known from a path to it or a pair with it; null when none is.
  remoteImage(id: string): RemoteImage | null {
    return this.remotes.get(id) ?? null;
  }

  // Learns where image `id` of another node takes links (the server gives it
  // with mkpprcpath, and again when that node registers from a new address):
  // the links to it and its control connection go there from now on.
  addRemote(id: string, endpointText: string): RemoteImage {
    const identity = this.options.identity;
    if (identity === undefined) throw new EngineError("NOT_SUPPORTED", `storage image ${id} is on another node, and this process takes part in no site (tzero serve)`);
    const endpoint = parseEndpoint(endpointText);
    if (endpoint === null) throw new EngineError("BAD_ARGUMENT", `link endpoint ${endpointText} of ${id} is not HOST:PORT`);
    const known = this.remotes.get(id);
    if (known !== undefined) {
      known.retarget(endpoint);
      for (const link of this.links.values()) if (link instanceof TcpLink && link.secondaryImageId === id) link.setEndpoint(endpoint);
      return known;
    }
    const remote = new RemoteImage(id, endpoint, identity);
    this.remotes.set(id, remote);
    return remote;
  }

  private checkImages(local: StorageImage, remote: Peer): void {
    if (local === remote) throw new EngineError("BAD_ARGUMENT", `-remotedev ${remote.id} is the local storage image itself; PPRC runs between two images`);
  }

  private checkWwnn(remote: Peer, wwnn: string): void {
    // The server checked a remote image's WWNN against the site's, which only it knows.
    if (isRemote(remote)) return;
    const expected = this.options.wwnnOf(remote);
    if (wwnn.toUpperCase() !== expected) {
      throw new EngineError("BAD_ARGUMENT", `-remotewwnn ${wwnn} is not the WWNN of ${remote.id} (${expected}; lssi -l shows it)`);
    }
  }

  makePath(local: StorageImage, remote: Peer, request: { wwnn: string; sourceLss: string; targetLss: string; ports: PortPair[]; consistgrp: boolean }): Path {
    this.checkImages(local, remote);
    this.checkWwnn(remote, request.wwnn);
    const sourceLss = parseLss(request.sourceLss, "-srclss");
    const targetLss = parseLss(request.targetLss, "-tgtlss");
    checkPortPairs(request.ports);
    const path: Path = {
      sourceImageId: local.id, targetImageId: remote.id, sourceLss, targetLss, targetWwnn: isRemote(remote) ? request.wwnn.toUpperCase() : this.options.wwnnOf(remote),
      ports: [...request.ports], consistgrp: request.consistgrp,
    };
    this.linkOf(local, remote);
    this.paths.set(path);
    return path;
  }

  private linkOf(primary: StorageImage, secondary: Peer): MirrorLink {
    const key = `${primary.id}>${secondary.id}`;
    let link = this.links.get(key);
    if (!link) {
      const handlers = {
        copyFailed: (slot: number, code: number) => this.onCopyFailed(primary, slot, code),
        failed: (reason: string) => this.onLinkFailed(key, reason),
        cut: (reason: string) => this.onLinkCut(key, reason),
      };
      const ackTimeoutMs = this.options.ackTimeoutMs ?? ACK_TIMEOUT_MS;
      link = isRemote(secondary)
        ? new TcpLink(primary, { endpoint: secondary.endpoint, siteKey: this.options.identity!.siteKey, nodeId: this.options.identity!.nodeId, secondaryImageId: secondary.id, ackTimeoutMs }, handlers)
        : new Link(primary, secondary, handlers, ackTimeoutMs, this.options.linkFaults ?? null);
      this.links.set(key, link);
    }
    return link;
  }

  // Resolves once the link of a new path to another node has tried to connect (its state is then known).
  async linkSettled(primary: StorageImage, secondary: Peer): Promise<void> {
    const link = this.existingLink(primary, secondary);
    if (link instanceof TcpLink) await link.connectedOnce();
  }

  private existingLink(primary: StorageImage, secondary: Peer): MirrorLink | undefined {
    return this.links.get(`${primary.id}>${secondary.id}`);
  }

  listPaths(local: StorageImage, lsses?: string[]): PathStatus[] {
    const wanted = lsses?.map((lss) => parseLss(lss, "LSS"));
    return this.paths.from(local.id)
      .filter((path) => wanted === undefined || wanted.includes(path.sourceLss))
      .map((path) => this.pathStatus(path));
  }

  private pathStatus(path: Path): PathStatus {
    const link = this.links.get(`${path.sourceImageId}>${path.targetImageId}`);
    const up = link?.isUp ?? false;
    return { ...path, state: up ? "Success" : "Failed", reason: up ? null : link?.failure ?? "Down" };
  }

  // The pairs from the path's source LSS on its image to its target LSS on the other.
  private pairsOnPath(path: Path): Pair[] {
    return this.pairs.filter((pair) => pair.primary.id === path.sourceImageId && pair.secondary.id === path.targetImageId
      && lssOf(pair.primaryId) === path.sourceLss && lssOf(pair.secondaryId) === path.targetLss && pair.secondaryHeld);
  }

  checkRemovePaths(local: StorageImage, remote: Peer, lssPairs: Array<[string, string]>, force: boolean): Path[] {
    return lssPairs.map(([source, target]) => {
      const sourceLss = parseLss(source, "source LSS");
      const targetLss = parseLss(target, "target LSS");
      const path = this.paths.get(local.id, sourceLss, remote.id, targetLss);
      if (!path) throw new EngineError("PATH_NOT_FOUND", `there is no PPRC path ${sourceLss}:${targetLss} from ${local.id} to ${remote.id} (lspprcpath lists them)`);
      const using = this.pairsOnPath(path);
      if (using.length > 0 && !force) {
        throw new EngineError("PATH_IN_USE", `PPRC path ${sourceLss}:${targetLss} carries ${using.length} pair(s) (${using[0].id} first); rmpprc them first, or use -force`);
      }
      return path;
    });
  }

  // -force: the pairs the path carried are suspended first (their writes then go on locally).
  async removePaths(paths: Path[]): Promise<void> {
    for (const path of paths) {
      for (const pair of this.pairsOnPath(path)) await this.suspend(pair, REASON_INTERNAL_TARGET, `path ${path.sourceLss}:${path.targetLss} was removed`);
      this.paths.delete(path);
    }
  }

  private hasSuccessPath(primary: StorageImage, primaryLss: string, secondary: Peer, secondaryLss: string): Path | null {
    const path = this.paths.get(primary.id, primaryLss, secondary.id, secondaryLss);
    if (!path) return null;
    return this.pathStatus(path).state === "Success" ? path : null;
  }

  // ---- pairs ----------------------------------------------------------------------------

  private pairOfVolume(image: Peer, volumeId: string): Pair | undefined {
    return this.pairs.find((pair) => (pair.primary === image && pair.primaryId === volumeId)
      || (pair.secondary === image && pair.secondaryId === volumeId && pair.secondaryHeld));
  }

  private heldOf(image: StorageImage, volumeId: string): HeldSecondary | undefined {
    return this.held.find((held) => held.image === image && held.volumeId === volumeId);
  }

  // The pair a volume is in, if any (rmfbvol, chfbvol and mkflash ask).
  volumeInPair(image: Peer, volumeId: string): string | null {
    if (isRemote(image)) return image.volume(volumeId).pair;
    return this.pairOfVolume(image, volumeId)?.id ?? this.heldOf(image, volumeId)?.pairId ?? null;
  }

  private isFlashTarget(image: Peer, volumeId: string): boolean {
    if (isRemote(image)) return image.volume(volumeId).flashTarget;
    return image.relationshipsOf(volumeId).some((relationship) => relationship.targetId === volumeId);
  }

  // A volume's part in a PPRC pair (mkflash asks: only a primary may be its target, with -tgtpprc).
  volumeRole(image: StorageImage, volumeId: string): { pairId: string; role: "primary" | "secondary" } | null {
    const pair = this.pairOfVolume(image, volumeId);
    if (!pair) return null;
    return { pairId: pair.id, role: pair.primary === image && pair.primaryId === volumeId ? "primary" : "secondary" };
  }

  // Checks every pair of an mkpprc before any is made.
  checkMake(primary: StorageImage, secondary: Peer, ids: Array<[string, string]>, options: PairOptions): void {
    this.checkImages(primary, secondary);
    const planned = new Set<string>();
    ids.forEach(([primaryText, secondaryText]) => {
      const source = primary.volume(primaryText);
      const target = secondary.volume(secondaryText);
      const id = pairId(source.id, target.id);
      for (const [image, volume, key] of [[primary, source, `${primary.id}/${source.id}`], [secondary, target, `${secondary.id}/${target.id}`]] as const) {
        const inPair = this.volumeInPair(image, volume.id);
        if (inPair !== null || planned.has(key)) {
          throw new EngineError("VOLUME_IN_PAIR", `pair ${id}: volume ${volume.id} of ${image.id} is already in PPRC pair ${inPair ?? "given earlier in this command"}`);
        }
        if (this.isFlashTarget(image, volume.id)) {
          throw new EngineError("VOLUME_IN_RELATIONSHIP", `pair ${id}: volume ${volume.id} of ${image.id} is a FlashCopy target; make the pair first, then the FlashCopy onto its primary with mkflash -tgtpprc`);
        }
      }
      if (target.sizeBytes < source.sizeBytes) {
        throw new EngineError("TARGET_TOO_SMALL", `pair ${id}: secondary ${target.id} (${target.blocks} blocks) is smaller than primary ${source.id} (${source.blocks} blocks)`);
      }
      if (!this.hasSuccessPath(primary, source.lss, secondary, target.lss)) {
        throw new EngineError("PATH_NOT_FOUND", `pair ${id}: there is no Success PPRC path ${source.lss}:${target.lss} from ${primary.id} to ${secondary.id}; mkpprcpath makes one`);
      }
      if (options.type === "gcp" && options.critmode) throw new EngineError("BAD_ARGUMENT", `pair ${id}: -critmode applies to Metro Mirror (-type mmir) only`);
      planned.add(`${primary.id}/${source.id}`);
      planned.add(`${secondary.id}/${target.id}`);
    });
  }

  async make(primary: StorageImage, secondary: Peer, ids: Array<[string, string]>, options: PairOptions): Promise<string[]> {
    this.checkMake(primary, secondary, ids, options);
    const made: string[] = [];
    for (const [primaryText, secondaryText] of ids) {
      const source = primary.volume(primaryText);
      const target = secondary.volume(secondaryText);
      const link = this.linkOf(primary, secondary);
      const targetSlot = await this.makeSecondary(secondary, target.id, pairId(source.id, target.id), {
        imageId: primary.id, slot: source.slot, tgtread: options.tgtread ?? false, type: options.type, critmode: options.critmode ?? false,
      });
      const mode = options.type === "mmir" ? MirrorMode.SYNC : MirrorMode.ASYNC;
      const flags = options.critmode ? PprcFlag.CRITMODE : 0;
      const full = (options.mode ?? "full") === "full" ? 1 : 0;
      try {
        await this.core(primary, "make the PPRC primary", () => primary.core.exports.pprc_make_primary(source.slot, link.ring, targetSlot, mode, flags, full));
      } catch (error) {
        await this.clearSecondary(secondary, target.id, targetSlot, pairId(source.id, target.id));
        throw error;
      }
      this.pairs.push({
        id: pairId(source.id, target.id), primary, secondary, secondarySlot: targetSlot, primaryId: source.id, secondaryId: target.id, type: options.type,
        tgtread: options.tgtread ?? false, critmode: options.critmode ?? false, link, reason: null, detail: null, suspendedAt: null,
        firstPassDone: full === 0, secondaryHeld: true, secondaryRestore: null,
      });
      made.push(pairId(source.id, target.id));
    }
    this.refreshLinks();
    return made;
  }

  // Makes `volumeId` of `secondary` a PPRC secondary (on its node, when remote); its slot.
  private async makeSecondary(secondary: Peer, volumeId: string, id: string, primary: RemotePrimary): Promise<number> {
    if (isRemote(secondary)) return secondary.makeSecondary(volumeId, id, primary);
    const slot = secondary.volume(volumeId).slot;
    await this.core(secondary, "make the PPRC secondary", () => secondary.core.exports.pprc_make_secondary(slot, primary.tgtread ? PprcFlag.TGTREAD : 0));
    return slot;
  }

  // Ends a secondary's part in pair `id`. A remote one whose node cannot be
  // reached is left to it: its own rmpprc (or a new pair) clears it there.
  private async clearSecondary(secondary: Peer, volumeId: string, slot: number, id: string): Promise<void> {
    if (!isRemote(secondary)) {
      await this.core(secondary, `remove PPRC pair ${id}`, () => secondary.core.exports.pprc_clear(slot));
      return;
    }
    await secondary.clearSecondary(volumeId, id).catch((error: EngineError) => {
      if (error.code !== "LINK_DOWN") throw error;
    });
  }

  // A core call that freezes a volume, retried while in-flight I/O drains (StorageImage.drained).
  private async core(image: StorageImage, action: string, call: () => number): Promise<void> {
    await image.drained(() => {
      const code = call();
      if (code !== CoreCode.OK) throw pairError(code, image, action);
    });
  }

  // Tells each link's sender the pairs whose tracks it copies.
  private refreshLinks(): void {
    for (const link of this.links.values()) {
      link.setPairs(this.pairs.filter((pair) => pair.link === link && pair.secondaryHeld).map((pair) => ({
        primarySlot: pair.primary.volume(pair.primaryId).slot, secondarySlot: pair.secondarySlot,
      })));
    }
  }

  // The pair `idText` ("1000:2000") whose primary is on `image`.
  pair(image: StorageImage, idText: string): Pair {
    const [primaryText, secondaryText] = splitPair(idText);
    const found = this.pairs.find((pair) => pair.primary === image && pair.primaryId === primaryText && pair.secondaryId === secondaryText);
    if (!found) throw new EngineError("PAIR_NOT_FOUND", `there is no PPRC pair ${primaryText}:${secondaryText} with its primary on ${image.id} (lspprc lists them)`);
    return found;
  }

  private pairOn(primary: StorageImage, secondary: Peer | null, idText: string): Pair {
    const pair = this.pair(primary, idText);
    if (secondary !== null && pair.secondary !== secondary) {
      throw new EngineError("PAIR_NOT_FOUND", `PPRC pair ${pair.id} has its secondary on ${pair.secondary.id}, not on -remotedev ${secondary.id}`);
    }
    return pair;
  }

  status(pair: Pair, on: StorageImage): PairStatus {
    const exports = pair.primary.core.exports;
    const slot = pair.primary.volume(pair.primaryId).slot;
    const mode = exports.pprc_mode(slot);
    // The backlog: a Metro Mirror write in flight holds its track's bit, but it is no backlog (the core counts such writes apart).
    const outOfSync = exports.pprc_backlog(slot);
    if (pair.type === "gcp" && mode === MirrorMode.ASYNC && outOfSync === 0) pair.firstPassDone = true;
    let state: PairState = mode === MirrorMode.SUSPENDED ? "Suspended" : mode === MirrorMode.SYNC && outOfSync === 0 ? "Full Duplex" : "Copy Pending";
    let reason: string | null = null;
    if (state === "Suspended") {
      reason = pair.reason ?? (exports.pprc_cause(slot) === SuspendCause.NONE ? REASON_HOST_SOURCE : REASON_INTERNAL_TARGET);
      if (pair.suspendedAt === null) pair.suspendedAt = new Date();
    }
    const role = on === pair.primary ? "primary" : "secondary";
    if (role === "secondary") state = `Target ${state}` as PairState;
    return {
      id: pair.id, imageId: on.id, primaryImageId: pair.primary.id, secondaryImageId: pair.secondary.id, role, state, reason, type: pair.type,
      outOfSyncTracks: outOfSync, tgtread: pair.tgtread, critmode: pair.critmode, suspendedAt: state.endsWith("Suspended") ? pair.suspendedAt : null,
      sourceLss: lssOf(pair.primaryId), firstPassDone: pair.firstPassDone, sentTracks: exports.pprc_sent_tracks(slot),
      detail: state.endsWith("Suspended") ? pair.detail ?? this.causeDetail(pair, exports.pprc_cause(slot)) : null,
    };
  }

  private causeDetail(pair: Pair, cause: number): string | null {
    if (cause === SuspendCause.LINK) return `a write found the link to ${pair.secondary.id} down`;
    if (cause === SuspendCause.TIMEOUT) return `a write to the secondary was not acknowledged in time`;
    return null;
  }

  // Every pair with a volume on `image`, by ID: its primaries, and the secondaries it holds.
  list(image: StorageImage): PairStatus[] {
    return this.pairs
      .filter((pair) => pair.primary === image || (pair.secondary === image && pair.secondaryHeld))
      .map((pair) => this.status(pair, image))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  // ---- pause, resume, remove -------------------------------------------------------------

  private async suspend(pair: Pair, reason: string, detail: string | null): Promise<void> {
    const slot = pair.primary.volume(pair.primaryId).slot;
    if (pair.primary.core.exports.pprc_mode(slot) === MirrorMode.SUSPENDED) return;
    await this.core(pair.primary, `suspend PPRC pair ${pair.id}`, () => pair.primary.core.exports.pprc_set_mode(slot, MirrorMode.SUSPENDED));
    pair.reason = reason;
    pair.detail = detail;
    pair.suspendedAt = new Date();
  }

  checkPairs(primary: StorageImage, secondary: Peer | null, ids: string[]): Pair[] {
    const seen = new Set<Pair>();
    return ids.map((id) => {
      const pair = this.pairOn(primary, secondary, id);
      if (seen.has(pair)) throw new EngineError("BAD_ARGUMENT", `PPRC pair ${pair.id} is given twice`);
      seen.add(pair);
      return pair;
    });
  }

  async pause(primary: StorageImage, secondary: Peer | null, ids: string[]): Promise<string[]> {
    const pairs = this.checkPairs(primary, secondary, ids);
    for (const pair of pairs) await this.suspend(pair, REASON_HOST_SOURCE, null);
    return pairs.map((pair) => pair.id);
  }

  checkResume(primary: StorageImage, secondary: Peer | null, ids: string[], type?: PairType): Pair[] {
    const pairs = this.checkPairs(primary, secondary, ids);
    for (const pair of pairs) {
      const status = this.status(pair, primary);
      if (status.state !== "Suspended" && (type === undefined || type === pair.type)) {
        throw new EngineError("PAIR_STATE", `PPRC pair ${pair.id} is ${status.state}, not suspended: there is nothing to resume`);
      }
      if (!pair.secondaryHeld || pair.link === null) {
        throw new EngineError("PAIR_STATE", `PPRC pair ${pair.id} has no secondary to resume to (it was failed over); failbackpprc resynchronises it`);
      }
      if (isRemote(pair.secondary) && pair.secondary.volume(pair.secondaryId).pair !== pair.id) {
        throw new EngineError("PAIR_STATE", `PPRC pair ${pair.id}: volume ${pair.secondaryId} of ${pair.secondary.id} is no longer its secondary (its node lost it, as a node restarted without it does): rmpprc, then mkpprc copies it whole again`);
      }
      if (!this.hasSuccessPath(pair.primary, lssOf(pair.primaryId), pair.secondary, lssOf(pair.secondaryId))) {
        throw new EngineError("PATH_NOT_FOUND", `PPRC pair ${pair.id}: no Success path ${lssOf(pair.primaryId)}:${lssOf(pair.secondaryId)} to ${pair.secondary.id}`);
      }
      if (type === "gcp" && pair.critmode) throw new EngineError("BAD_ARGUMENT", `PPRC pair ${pair.id} has -critmode, which Global Copy does not take`);
    }
    return pairs;
  }

  // Reads again from their nodes what resumepprc checks of the pairs' remote secondaries.
  async refreshSecondary(primary: StorageImage, id: string): Promise<void> {
    const pair = this.pair(primary, id);
    if (isRemote(pair.secondary) && pair.secondaryHeld) await pair.secondary.fetchVolumes([pair.secondaryId]);
  }

  // Copy Pending again: the sender copies exactly the out-of-sync tracks. `type` converts (gcp to mmir, mmir to gcp).
  async resume(primary: StorageImage, secondary: Peer | null, ids: string[], type?: PairType): Promise<string[]> {
    const pairs = this.checkResume(primary, secondary, ids, type);
    for (const pair of pairs) {
      await this.copyWholeAfterRestore(pair);
      const next = type ?? pair.type;
      const slot = pair.primary.volume(pair.primaryId).slot;
      await this.core(pair.primary, `resume PPRC pair ${pair.id}`, () => pair.primary.core.exports.pprc_set_mode(slot, next === "mmir" ? MirrorMode.SYNC : MirrorMode.ASYNC));
      // A resumed Global Copy pair makes a new first pass over the tracks that went out of sync.
      pair.firstPassDone = false;
      pair.type = next;
      pair.reason = null;
      pair.detail = null;
      pair.suspendedAt = null;
    }
    // Wakes the senders: the out-of-sync tracks are theirs to copy now.
    this.refreshLinks();
    return pairs.map((pair) => pair.id);
  }

  // A remote secondary its node restored from a state file may lack writes it
  // acknowledged after that save: once per restore, every track is copied.
  private async copyWholeAfterRestore(pair: Pair): Promise<void> {
    if (!isRemote(pair.secondary)) return;
    const volume = pair.secondary.volume(pair.secondaryId);
    if (volume.restore === null || volume.restore === pair.secondaryRestore) return;
    const slot = pair.primary.volume(pair.primaryId).slot;
    const trackCount = Math.ceil(pair.primary.volume(pair.primaryId).sizeBytes / TRACK_SIZE);
    for (let track = 0; track < trackCount; track++) {
      const code = pair.primary.core.exports.pprc_mark_out_of_sync(slot, track);
      if (code !== CoreCode.OK) throw pairError(code, pair.primary, `mark PPRC pair ${pair.id} out of sync for its restored secondary`);
    }
    pair.secondaryRestore = volume.restore;
  }

  async remove(primary: StorageImage, secondary: Peer | null, ids: string[]): Promise<string[]> {
    const pairs = this.checkPairs(primary, secondary, ids);
    for (const pair of pairs) await this.forget(pair);
    this.refreshLinks();
    return pairs.map((pair) => pair.id);
  }

  private async forget(pair: Pair): Promise<void> {
    const primarySlot = pair.primary.volume(pair.primaryId).slot;
    await this.core(pair.primary, `remove PPRC pair ${pair.id}`, () => pair.primary.core.exports.pprc_clear(primarySlot));
    if (pair.secondaryHeld) await this.clearSecondary(pair.secondary, pair.secondaryId, pair.secondarySlot, pair.id);
    this.pairs.splice(this.pairs.indexOf(pair), 1);
  }

  // ---- freeze and unfreeze (consistency groups) ------------------------------------------------

  // freezepprc A→B 10:20 …: each LSS pair needs a path; returns the paths and the pairs they carry.
  checkFreeze(local: StorageImage, remote: Peer, lssPairs: Array<[string, string]>): Array<{ path: Path; pairs: Pair[] }> {
    this.checkImages(local, remote);
    const seen = new Set<string>();
    return lssPairs.map(([source, target]) => {
      const sourceLss = parseLss(source, "source LSS");
      const targetLss = parseLss(target, "target LSS");
      const id = `${sourceLss}:${targetLss}`;
      if (seen.has(id)) throw new EngineError("BAD_ARGUMENT", `LSS pair ${id} is given twice`);
      seen.add(id);
      const path = this.paths.get(local.id, sourceLss, remote.id, targetLss);
      if (!path) throw new EngineError("PATH_NOT_FOUND", `there is no PPRC path ${id} from ${local.id} to ${remote.id} to freeze (lspprcpath lists them; a freeze removes them)`);
      return { path, pairs: this.pairsOnPath(path) };
    });
  }

  // Suspends every pair of the LSS pairs at one point in time (all their
  // primaries frozen together, assembly/mirror.ts), removes the paths, and
  // holds the primaries' writes where the path was made with -consistgrp.
  // `holdAll` holds them whatever the path: the first phase of a freeze across
  // nodes (src/site/freeze-across.ts), which releases the others once every node froze.
  async freeze(local: StorageImage, remote: Peer, lssPairs: Array<[string, string]>, holdAll = false): Promise<string[]> {
    const groups = this.checkFreeze(local, remote, lssPairs);
    const members = groups.flatMap(({ path, pairs }) => pairs.map((pair) => ({ pair, hold: holdAll || path.consistgrp })));
    await local.drained(() => this.freezeTogether(local, members));
    const at = new Date();
    for (const { pair } of members) Object.assign(pair, { reason: REASON_FREEZE, detail: null, suspendedAt: at });
    for (const { path } of groups) {
      this.paths.delete(path);
      if (holdAll || path.consistgrp) this.startFreezeTimer(local, path.sourceLss);
    }
    return groups.map(({ path }) => `${path.sourceLss}:${path.targetLss}`);
  }

  private freezeTogether(local: StorageImage, members: Array<{ pair: Pair; hold: boolean }>): void {
    const slots = members.map(({ pair }) => local.volume(pair.primaryId).slot);
    const frozen: number[] = [];
    for (const slot of slots) {
      const code = local.core.exports.pprc_freeze_begin(slot);
      if (code !== CoreCode.OK) {
        for (const done of frozen) local.core.exports.pprc_freeze_abort(done);
        throw pairError(code, local, "freeze the PPRC pairs");
      }
      frozen.push(slot);
    }
    // Every primary is frozen: none has a write in flight, so the suspension is one instant for all.
    members.forEach(({ hold }, index) => {
      const code = local.core.exports.pprc_freeze_commit(slots[index], hold ? 1 : 0);
      if (code !== CoreCode.OK) throw pairError(code, local, "freeze the PPRC pairs");
    });
  }

  // unfreezepprc A→B 10:20 …: the primaries in each source LSS take writes again (the pairs stay suspended).
  checkUnfreeze(local: StorageImage, remote: Peer, lssPairs: Array<[string, string]>): string[] {
    this.checkImages(local, remote);
    return lssPairs.map(([source, target]) => {
      const sourceLss = parseLss(source, "source LSS");
      const targetLss = parseLss(target, "target LSS");
      if (!local.listLss().includes(sourceLss)) throw new EngineError("LSS_NOT_FOUND", `LSS ${sourceLss} does not exist on ${local.id}`);
      return `${sourceLss}:${targetLss}`;
    });
  }

  async unfreeze(local: StorageImage, remote: Peer, lssPairs: Array<[string, string]>): Promise<string[]> {
    const ids = this.checkUnfreeze(local, remote, lssPairs);
    for (const id of ids) this.releaseHolds(local, id.slice(0, 2));
    return ids;
  }

  // Every held primary of the LSS on `image` takes writes again; returns their pairs.
  private releaseHolds(image: StorageImage, lss: string): string[] {
    const key = `${image.id}/${lss}`;
    clearTimeout(this.freezeTimers.get(key));
    this.freezeTimers.delete(key);
    const released: string[] = [];
    for (const pair of this.pairs.filter((candidate) => candidate.primary === image && lssOf(candidate.primaryId) === lss)) {
      const slot = image.volume(pair.primaryId).slot;
      if (image.core.exports.pprc_held(slot) !== 1) continue;
      const code = image.core.exports.pprc_release_hold(slot);
      if (code !== CoreCode.OK) throw pairError(code, image, `unfreeze PPRC pair ${pair.id}`);
      released.push(pair.id);
    }
    return released;
  }

  // The LSS's timer starts at its first freeze and is not restarted by later
  // ones: the hold is bounded from the moment writes first stopped.
  private startFreezeTimer(image: StorageImage, lss: string): void {
    const key = `${image.id}/${lss}`;
    if (this.freezeTimers.has(key)) return;
    const timer = setTimeout(() => {
      this.freezeTimers.delete(key);
      if (!image.isClosed) this.releaseHolds(image, lss);
    }, this.options.freezeTimeoutMs ?? FREEZE_TIMEOUT_MS_DEFAULT);
    timer.unref();
    this.freezeTimers.set(key, timer);
  }

  // Whether freezepprc holds the writes of a pair's primary (lspprc and state files show it).
  writesHeld(pair: Pair): boolean {
    return pair.primary.core.exports.pprc_held(pair.primary.volume(pair.primaryId).slot) === 1;
  }

  // ---- failover and failback ---------------------------------------------------------------

  // failoverpprc B:A, issued to B's image (the secondary's): B becomes a
  // suspended primary (Host Source) recording its writes; A is left as it is.
  checkFailover(local: StorageImage, remote: Peer, ids: string[]): Array<Pair | HeldSecondary> {
    return ids.map((idText) => {
      const [localText, remoteText] = splitPair(idText);
      const pair = this.pairs.find((candidate) => candidate.secondary === local && candidate.secondaryId === localText
        && candidate.primary === remote && candidate.primaryId === remoteText && candidate.secondaryHeld);
      const held = this.held.find((candidate) => candidate.image === local && candidate.volumeId === localText
        && candidate.primaryImageId === remote.id && candidate.primaryId === remoteText);
      if (!pair && !held) {
        throw new EngineError("PAIR_NOT_FOUND", `there is no PPRC pair ${remoteText}:${localText} with its secondary ${localText} on ${local.id} and its primary on ${remote.id}: failoverpprc ${localText}:${remoteText} needs one`);
      }
      return pair ?? held!;
    });
  }

  async failover(local: StorageImage, remote: Peer, ids: string[]): Promise<string[]> {
    const found = this.checkFailover(local, remote, ids);
    const made: string[] = [];
    for (const old of found) {
      const pair = "pairId" in old ? this.failoverHeld(local, remote, old) : this.failoverLocal(local, remote as StorageImage, old);
      made.push((await pair).id);
    }
    this.refreshLinks();
    return made;
  }

  private async failoverLocal(local: StorageImage, remote: StorageImage, old: Pair): Promise<Pair> {
    const volume = local.volume(old.secondaryId);
    await this.core(local, `fail over PPRC pair ${old.id}`, () => local.core.exports.pprc_clear(volume.slot));
    old.secondaryHeld = false;
    // A Global Copy primary's drain would find its secondary gone at once; a Metro Mirror one finds it at its next write.
    if (old.type === "gcp") await this.suspend(old, REASON_INTERNAL_TARGET, `its secondary ${old.secondaryId} on ${local.id} was failed over`);
    return this.becomePrimary(local, remote, { volumeId: old.secondaryId, remoteId: old.primaryId, remoteSlot: remote.volume(old.primaryId).slot, type: old.type, tgtread: old.tgtread, critmode: old.critmode });
  }

  // The primary is on another node, which is not told: it may be down (that is what failover is for).
  private async failoverHeld(local: StorageImage, remote: Peer, held: HeldSecondary): Promise<Pair> {
    const volume = local.volume(held.volumeId);
    await this.core(local, `fail over PPRC pair ${held.pairId}`, () => local.core.exports.pprc_clear(volume.slot));
    this.held.splice(this.held.indexOf(held), 1);
    return this.becomePrimary(local, remote, { volumeId: held.volumeId, remoteId: held.primaryId, remoteSlot: held.primarySlot, type: held.type, tgtread: held.tgtread, critmode: held.critmode });
  }

  // `volumeId` of `local`, no longer a secondary, becomes a suspended primary (Host Source) towards the old primary.
  private async becomePrimary(local: StorageImage, remote: Peer, side: { volumeId: string; remoteId: string; remoteSlot: number; type: PairType; tgtread: boolean; critmode: boolean }): Promise<Pair> {
    const volume = local.volume(side.volumeId);
    const link = this.existingLink(local, remote) ?? null;
    const flags = side.critmode ? PprcFlag.CRITMODE : 0;
    await this.core(local, `fail over PPRC pair ${pairId(side.remoteId, side.volumeId)}`, () => local.core.exports.pprc_make_primary(volume.slot, link?.ring ?? 0, side.remoteSlot, MirrorMode.SUSPENDED, flags, 0));
    const pair: Pair = {
      id: pairId(side.volumeId, side.remoteId), primary: local, secondary: remote, secondarySlot: side.remoteSlot, primaryId: side.volumeId, secondaryId: side.remoteId,
      type: side.type, tgtread: side.tgtread, critmode: side.critmode, link, reason: REASON_HOST_SOURCE, detail: "failed over", suspendedAt: new Date(),
      firstPassDone: false, secondaryHeld: false, secondaryRestore: null,
    };
    this.pairs.push(pair);
    return pair;
  }

  // failbackpprc B:A, issued to B's image after failoverpprc B:A: needs a path
  // B→A; copies to A the tracks changed on either side since the failover.
  checkFailback(local: StorageImage, remote: Peer, ids: string[]): Pair[] {
    return ids.map((idText) => {
      const pair = this.pairOn(local, remote, idText);
      if (pair.secondaryHeld) throw new EngineError("PAIR_STATE", `PPRC pair ${pair.id} is not failed over (failoverpprc first); resumepprc resynchronises a suspended pair`);
      if (!isRemote(remote)) {
        const remoteVolume = remote.volume(pair.secondaryId);
        const remotePair = this.pairOfVolume(remote, remoteVolume.id);
        if (remotePair && remotePair.primary !== remote) throw new EngineError("VOLUME_IN_PAIR", `volume ${remoteVolume.id} of ${remote.id} is the secondary of another pair`);
      }
      if (!this.hasSuccessPath(local, lssOf(pair.primaryId), remote, lssOf(pair.secondaryId))) {
        throw new EngineError("PATH_NOT_FOUND", `failback of ${pair.id} needs a Success PPRC path ${lssOf(pair.primaryId)}:${lssOf(pair.secondaryId)} from ${local.id} to ${remote.id}; mkpprcpath makes one`);
      }
      return pair;
    });
  }

  async failback(local: StorageImage, remote: Peer, ids: string[]): Promise<string[]> {
    const pairs = this.checkFailback(local, remote, ids);
    for (const pair of pairs) {
      const localSlot = local.volume(pair.primaryId).slot;
      const link = this.linkOf(local, remote);
      pair.secondarySlot = isRemote(remote) ? await this.failbackRemote(local, remote, pair, localSlot) : await this.failbackLocal(local, remote, pair, localSlot);
      await this.core(local, `fail back PPRC pair ${pair.id}`, () => local.core.exports.pprc_retarget(localSlot, link.ring, pair.secondarySlot));
      await this.core(local, `fail back PPRC pair ${pair.id}`, () => local.core.exports.pprc_set_mode(localSlot, pair.type === "mmir" ? MirrorMode.SYNC : MirrorMode.ASYNC));
      Object.assign(pair, { link, reason: null, detail: null, suspendedAt: null, secondaryHeld: true, firstPassDone: false });
    }
    this.refreshLinks();
    return pairs.map((pair) => pair.id);
  }

  // The old primary on this process becomes the secondary; its out-of-sync tracks join the new primary's. Its slot.
  private async failbackLocal(local: StorageImage, remote: StorageImage, pair: Pair, localSlot: number): Promise<number> {
    const remoteVolume = remote.volume(pair.secondaryId);
    const old = this.pairs.find((candidate) => candidate.primary === remote && candidate.primaryId === remoteVolume.id);
    if (old) {
      this.mergeOutOfSync(remote, remoteVolume.slot, local, localSlot);
      await this.forget(old);
    }
    await this.core(remote, `fail back PPRC pair ${pair.id}`, () => remote.core.exports.pprc_make_secondary(remoteVolume.slot, pair.tgtread ? PprcFlag.TGTREAD : 0));
    return remoteVolume.slot;
  }

  // The same on the old primary's node, which answers with its out-of-sync tracks.
  private async failbackRemote(local: StorageImage, remote: RemoteImage, pair: Pair, localSlot: number): Promise<number> {
    const reply = await remote.failbackTarget(pair.secondaryId, pairId(pair.secondaryId, pair.primaryId), pair.id, {
      imageId: local.id, slot: localSlot, tgtread: pair.tgtread, type: pair.type, critmode: pair.critmode,
    });
    for (const [first, count] of reply.out_of_sync_runs) {
      for (let track = first; track < first + count; track++) {
        const code = local.core.exports.pprc_mark_out_of_sync(localSlot, track);
        if (code !== CoreCode.OK) throw pairError(code, local, "merge the out-of-sync tracks of the old primary");
      }
    }
    return reply.slot;
  }

  // Marks out of sync on `into` every track out of sync on `from` (the union failback copies).
  private mergeOutOfSync(from: StorageImage, fromSlot: number, into: StorageImage, intoSlot: number): void {
    const tracks = Math.ceil(into.volume(into.listVolumes().find((volume) => volume.slot === intoSlot)!.id).sizeBytes / TRACK_SIZE);
    for (let track = from.core.exports.pprc_next_out_of_sync(fromSlot, 0); track >= 0 && track < tracks; track = from.core.exports.pprc_next_out_of_sync(fromSlot, track + 1)) {
      const code = into.core.exports.pprc_mark_out_of_sync(intoSlot, track);
      if (code !== CoreCode.OK) throw pairError(code, into, "merge the out-of-sync tracks");
    }
  }

  // ---- links: faults and failures -------------------------------------------------------

  // Cuts or restores the link from `primary` to `secondary` (fault injection):
  // while it is cut its paths are Failed and its Full Duplex pairs suspend.
  async setLink(primary: StorageImage, secondary: Peer, up: boolean): Promise<void> {
    const link = this.existingLink(primary, secondary);
    if (!link) throw new EngineError("PATH_NOT_FOUND", `there is no link from ${primary.id} to ${secondary.id} (mkpprcpath makes one)`);
    link.setUp(up);
    if (up) return;
    for (const pair of this.pairs.filter((candidate) => candidate.link === link && candidate.secondaryHeld)) {
      await this.suspend(pair, REASON_INTERNAL_TARGET, `the link to ${secondary.id} is down`);
    }
  }

  private onCopyFailed(primary: StorageImage, slot: number, code: number): void {
    const pair = this.pairs.find((candidate) => candidate.primary === primary && candidate.primary.listVolumes().some((volume) => volume.slot === slot && volume.id === candidate.primaryId));
    if (!pair) return;
    const error = isRemote(pair.secondary)
      ? new EngineError("MIRROR_FAILED", `${pair.secondary.id} refused a track of PPRC pair ${pair.id} (core code ${code})`)
      : pairError(code, pair.secondary, `copy a track of PPRC pair ${pair.id} to its secondary`);
    void this.suspend(pair, REASON_INTERNAL_TARGET, error.message).catch(() => undefined);
  }

  // Host writes on `primaryImageId` that found their track held by the copy of
  // its in-process link to `secondaryImageId`, or null when there is no such
  // link: a test of writes racing Copy Pending checks that they met.
  writesMetCopy(primaryImageId: string, secondaryImageId: string): number | null {
    const link = this.links.get(`${primaryImageId}>${secondaryImageId}`);
    return link instanceof Link ? link.writesMetCopy : null;
  }

  // The seeded faults the in-process links injected, each named by its link (tests print them to replay a failure).
  injectedFaults(): string[] {
    return [...this.links.entries()].flatMap(([key, link]) => (link instanceof Link ? link.faultsInjected.map((fault) => `${key}: ${fault}`) : []));
  }

  // The in-process receiver cut the link: its pairs suspend as for cutlink, their writes going on locally.
  private onLinkCut(key: string, reason: string): void {
    for (const pair of this.pairs.filter((candidate) => candidate.link === this.links.get(key) && candidate.secondaryHeld)) {
      void this.suspend(pair, REASON_INTERNAL_TARGET, reason).catch(() => undefined);
    }
  }

  private onLinkFailed(key: string, reason: string): void {
    this.linkFailures.push(`${key}: ${reason}`);
    for (const pair of this.pairs.filter((candidate) => candidate.link === this.links.get(key))) {
      void this.suspend(pair, REASON_INTERNAL_TARGET, reason).catch(() => undefined);
    }
  }

  // Resolves once every pair of `ids` (primaries on `image`) is Full Duplex (Metro Mirror) or has finished
  // its first pass (Global Copy); refuses with the pair's state when one is suspended meanwhile.
  async waitForSync(image: StorageImage, ids: string[], options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const pairs = this.checkPairs(image, null, ids);
    const deadline = performance.now() + (options.timeoutMs ?? 600_000);
    for (;;) {
      const left = pairs.map((pair) => this.status(pair, image)).filter((status) => !(status.state === "Full Duplex" || (status.type === "gcp" && status.firstPassDone)));
      if (left.length === 0) return;
      const suspended = left.find((status) => status.state === "Suspended");
      if (suspended) throw new EngineError("PAIR_STATE", `PPRC pair ${suspended.id} is suspended (${suspended.reason}${suspended.detail ? `: ${suspended.detail}` : ""})`);
      if (options.signal?.aborted) throw new EngineError("CANCELLED", "cancelled");
      if (performance.now() > deadline) throw new EngineError("TIMEOUT", `PPRC pair ${left[0].id} is still ${left[0].state} (${left[0].outOfSyncTracks} tracks out of sync)`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  // ---- pairs across nodes: the secondary's side ------------------------------------------

  // The image `id`: of this process, or of another node known from a path or a pair.
  peerOf(id: string): Peer {
    const local = this.options.localImage?.(id);
    if (local !== undefined) return local;
    const remote = this.remotes.get(id);
    if (remote !== undefined) return remote;
    const held = this.held.find((candidate) => candidate.primaryImageId === id && candidate.primaryEndpoint !== null);
    if (held !== undefined) return this.addRemote(id, `${held.primaryEndpoint!.host}:${held.primaryEndpoint!.port}`);
    throw new EngineError("IMAGE_NOT_FOUND", `storage image ${id} does not exist here, and no PPRC path leads to it (mkpprcpath makes one)`);
  }

  // The secondaries `image` holds for primaries on other nodes, in the state their primaries give
  // (Target Suspended, when a primary's node does not answer).
  async listHeld(image: StorageImage): Promise<PairStatus[]> {
    return Promise.all(this.held.filter((held) => held.image === image).map(async (held): Promise<PairStatus> => {
      const base = {
        id: held.pairId, imageId: image.id, primaryImageId: held.primaryImageId, secondaryImageId: image.id, role: "secondary" as const,
        type: held.type, tgtread: held.tgtread, critmode: held.critmode, sourceLss: lssOf(held.primaryId), firstPassDone: false, sentTracks: 0,
      };
      try {
        const status = await (this.peerOf(held.primaryImageId) as RemoteImage).pairStatus(held.pairId, PAIR_STATUS_TIMEOUT_MS);
        const state = `Target ${status.state}` as PairState;
        return { ...base, state, reason: status.reason === "" ? null : status.reason, outOfSyncTracks: status.out_of_sync, suspendedAt: state.endsWith("Suspended") ? new Date() : null, detail: null };
      } catch (error) {
        return { ...base, state: "Target Suspended", reason: REASON_INTERNAL_TARGET, outOfSyncTracks: 0, suspendedAt: new Date(), detail: `the primary's node does not answer: ${(error as Error).message}` };
      }
    }));
  }

  // The answers to the control requests of other nodes' PPRC (link-receiver.ts).
  control(): LinkControl {
    const image = (id: string): StorageImage => {
      const found = this.options.localImage?.(id);
      if (found === undefined) throw new EngineError("IMAGE_NOT_FOUND", `storage image ${id} is not hosted on this node`);
      return found;
    };
    return {
      "link.volumes": async (body) => {
        const local = image(body.image_id);
        return {
          volumes: body.ids.map((id) => {
            const volume = local.volume(id);
            return { id: volume.id, slot: volume.slot, size_bytes: volume.sizeBytes, blocks: volume.blocks, pair: this.volumeInPair(local, volume.id) ?? "", flash_target: this.isFlashTarget(local, volume.id),
              restore: this.heldOf(local, volume.id)?.restore ?? "" };
          }),
        };
      },
      "link.make-secondary": async (body) => ({ slot: await this.holdSecondary(image(body.image_id), body.volume_id, body.pair_id, body) }),
      "link.clear-secondary": async (body) => {
        const local = image(body.image_id);
        const held = this.held.find((candidate) => candidate.image === local && candidate.volumeId === body.volume_id && candidate.pairId === body.pair_id);
        if (held === undefined) throw new EngineError("PAIR_NOT_FOUND", `volume ${body.volume_id} of ${local.id} is not the secondary of PPRC pair ${body.pair_id}`);
        await this.core(local, `remove PPRC pair ${held.pairId}`, () => local.core.exports.pprc_clear(local.volume(held.volumeId).slot));
        this.held.splice(this.held.indexOf(held), 1);
        return {};
      },
      "link.pair-status": async (body) => {
        const pair = this.pairs.find((candidate) => candidate.primary.id === body.image_id && candidate.id === body.pair_id);
        if (pair === undefined) throw new EngineError("PAIR_NOT_FOUND", `there is no PPRC pair ${body.pair_id} with its primary on ${body.image_id}`);
        const status = this.status(pair, pair.primary);
        return { state: status.state, reason: status.reason ?? "", out_of_sync: status.outOfSyncTracks, type: status.type, critmode: status.critmode };
      },
      "link.failback-target": (body) => this.becomeFailbackTarget(image(body.image_id), body),
    };
  }

  private async holdSecondary(local: StorageImage, volumeId: string, id: string, primary: ControlBody<"link.make-secondary">): Promise<number> {
    const volume = local.volume(volumeId);
    const inPair = this.volumeInPair(local, volume.id);
    if (inPair !== null) throw new EngineError("VOLUME_IN_PAIR", `pair ${id}: volume ${volume.id} of ${local.id} is already in PPRC pair ${inPair}`);
    if (this.isFlashTarget(local, volume.id)) throw new EngineError("VOLUME_IN_RELATIONSHIP", `pair ${id}: volume ${volume.id} of ${local.id} is a FlashCopy target`);
    await this.core(local, "make the PPRC secondary", () => local.core.exports.pprc_make_secondary(volume.slot, primary.tgtread ? PprcFlag.TGTREAD : 0));
    this.held.push({
      pairId: id, image: local, volumeId: volume.id, primaryImageId: primary.primary_image_id, primaryId: id.split(":")[0], primarySlot: primary.primary_slot,
      primaryEndpoint: parseEndpoint(primary.primary_endpoint), tgtread: primary.tgtread, type: primary.type, critmode: primary.critmode, restore: null,
    });
    return volume.slot;
  }

  // failbackpprc on the other node: this old primary hands over its out-of-sync tracks and becomes the secondary.
  private async becomeFailbackTarget(local: StorageImage, body: ControlBody<"link.failback-target">): Promise<ControlBody<"link.failback-target.ok">> {
    const volume = local.volume(body.volume_id);
    const old = this.pairs.find((candidate) => candidate.primary === local && candidate.primaryId === volume.id);
    const runs: Array<[number, number]> = [];
    if (old !== undefined) {
      const exports = local.core.exports;
      for (let track = exports.pprc_next_out_of_sync(volume.slot, 0); track >= 0; track = exports.pprc_next_out_of_sync(volume.slot, track + 1)) {
        const last = runs[runs.length - 1];
        if (last !== undefined && last[0] + last[1] === track) last[1]++;
        else runs.push([track, 1]);
      }
      // Its secondary was failed over on the other node: there is nothing to clear there.
      old.secondaryHeld = false;
      await this.forget(old);
      this.refreshLinks();
    }
    const slot = await this.holdSecondary(local, volume.id, body.pair_id, { ...body, image_id: body.image_id });
    return { slot, out_of_sync_runs: runs };
  }

  // ---- state files (pprc-state.ts) ----------------------------------------------------------

  // The paths and pair ends of `images`, by their index there; the save calls it with them quiesced.
  snapshot(images: readonly StorageImage[]): PprcStateRecord[] {
    const records: PprcStateRecord[] = [];
    images.forEach((image, at) => {
      for (const path of this.paths.from(image.id)) records.push(pathRecord(path, at, endpointText(this.remotes.get(path.targetImageId)?.endpoint)));
    });
    for (const pair of this.pairs) {
      const at = images.indexOf(pair.primary);
      if (at >= 0) records.push(...this.primaryRecords(pair, at));
      const secondaryAt = isRemote(pair.secondary) ? -1 : images.indexOf(pair.secondary);
      if (!pair.secondaryHeld || secondaryAt < 0) continue;
      records.push({
        type: "pprc-pair", image: secondaryAt, volume: pair.secondaryId, role: "secondary", pair: pair.id, otherImage: pair.primary.id, otherVolume: pair.primaryId,
        otherSlot: pair.primary.volume(pair.primaryId).slot, pprcType: pair.type, tgtread: pair.tgtread, critmode: pair.critmode, primary: null, primaryEndpoint: null,
      });
    }
    for (const held of this.held) {
      const at = images.indexOf(held.image);
      if (at < 0) continue;
      records.push({
        type: "pprc-pair", image: at, volume: held.volumeId, role: "secondary", pair: held.pairId, otherImage: held.primaryImageId, otherVolume: held.primaryId,
        otherSlot: held.primarySlot, pprcType: held.type, tgtread: held.tgtread, critmode: held.critmode, primary: null, primaryEndpoint: endpointText(held.primaryEndpoint),
      });
    }
    return records;
  }

  private primaryRecords(pair: Pair, at: number): PprcStateRecord[] {
    const volume = pair.primary.volume(pair.primaryId);
    const status = this.status(pair, pair.primary);
    const runs = outOfSyncRuns(pair.primary, volume.slot);
    const oos = oosRecords(at, volume.id, runs);
    // Every bit the runs hold (a write in flight's too: it may not reach the secondary before the save is loaded).
    let outOfSyncTracks = 0;
    for (let index = 1; index < runs.length; index += 2) outOfSyncTracks += runs[index];
    const record: PprcPairRecord = {
      type: "pprc-pair", image: at, volume: volume.id, role: "primary", pair: pair.id, otherImage: pair.secondary.id, otherVolume: pair.secondaryId,
      otherSlot: pair.secondarySlot, pprcType: pair.type, tgtread: pair.tgtread, critmode: pair.critmode, primaryEndpoint: null,
      primary: {
        mode: MODE_NAMES[pair.primary.core.exports.pprc_mode(volume.slot)], reason: status.reason, detail: status.detail,
        suspendedAt: status.suspendedAt?.getTime() ?? null, firstPassDone: status.firstPassDone, secondaryHeld: pair.secondaryHeld, linked: pair.link !== null,
        secondaryRestore: pair.secondaryRestore, trackCount: Math.ceil(volume.sizeBytes / TRACK_SIZE), outOfSyncTracks, oosRecords: oos.length,
      },
    };
    return [record, ...oos];
  }

  // Rebuilds the paths and pairs a state file held, on this fresh Pprc and the
  // images just loaded from it (`images`, in file order). A failure leaves
  // both to be closed by the caller: nothing it ran on is changed.
  async restore(images: readonly StorageImage[], loaded: LoadedPprc): Promise<void> {
    if (this.pairs.length > 0 || this.held.length > 0) throw new EngineError("BAD_ARGUMENT", "PPRC is restored from a state file only before it has pairs");
    for (const record of loaded.paths) this.restorePath(images, record);
    const ends = new Set<string>();
    for (const { record } of loaded.pairs) {
      const key = `${images[record.image].id}/${record.volume}`;
      if (ends.has(key)) throw stateError(`volume ${record.volume} of ${images[record.image].id} is an end of two pairs (${record.pair} is the second)`);
      ends.add(key);
    }
    for (const { record } of loaded.pairs) {
      if (record.role === "secondary") await this.restoreSecondary(images, record, loaded);
    }
    for (const { record, runs } of loaded.pairs) {
      if (record.role === "primary") await this.restorePrimary(images, record, runs, loaded);
    }
    this.refreshLinks();
  }

  private restorePath(images: readonly StorageImage[], record: PprcPathRecord): void {
    const local = images[record.image];
    const target = images.find((image) => image.id === record.targetImage) ?? this.addRemote(record.targetImage, record.endpoint as string);
    this.checkImages(local, target);
    if (this.paths.get(local.id, record.sourceLss, target.id, record.targetLss) !== undefined) {
      throw stateError(`path ${record.sourceLss}:${record.targetLss} from ${local.id} to ${target.id} appears twice`);
    }
    this.paths.set({
      sourceImageId: local.id, targetImageId: target.id, sourceLss: record.sourceLss, targetLss: record.targetLss, targetWwnn: record.targetWwnn,
      ports: record.ports, consistgrp: record.consistgrp,
    });
    this.linkOf(local, target);
  }

  // The other end of `record` in the file, if its image is in the file; an error when it should be and is not.
  private otherEnd(images: readonly StorageImage[], record: PprcPairRecord, loaded: LoadedPprc): PprcPairRecord | null {
    const other = images.find((image) => image.id === record.otherImage);
    if (other === undefined) return null;
    const volume = other.volume(record.otherVolume);
    const role = record.role === "primary" ? "secondary" : "primary";
    const end = loaded.pairs.find(({ record: candidate }) => candidate.role === role && candidate.pair === record.pair && images[candidate.image] === other);
    if (end === undefined) throw stateError(`pair ${record.pair}: its ${role} ${volume.id} of ${other.id} is in the file but has no ${role} record`);
    if (record.otherSlot !== volume.slot) throw stateError(`pair ${record.pair}: the ${role} ${volume.id} of ${other.id} is in slot ${volume.slot}, not ${record.otherSlot}`);
    return end.record;
  }

  private async restoreSecondary(images: readonly StorageImage[], record: PprcPairRecord, loaded: LoadedPprc): Promise<void> {
    const image = images[record.image];
    const volume = image.volume(record.volume);
    const primary = this.otherEnd(images, record, loaded);
    if (primary !== null && !primary.primary!.secondaryHeld) throw stateError(`pair ${record.pair}: its primary says its secondary ${volume.id} was failed over`);
    await this.core(image, `restore the secondary of PPRC pair ${record.pair}`, () => image.core.exports.pprc_make_secondary(volume.slot, record.tgtread ? PprcFlag.TGTREAD : 0));
    if (primary !== null) return;
    this.held.push({
      pairId: record.pair, image, volumeId: volume.id, primaryImageId: record.otherImage, primaryId: record.otherVolume, primarySlot: record.otherSlot,
      primaryEndpoint: record.primaryEndpoint === null ? null : parseEndpoint(record.primaryEndpoint), tgtread: record.tgtread, type: record.pprcType,
      critmode: record.critmode, restore: restoreToken(),
    });
  }

  private async restorePrimary(images: readonly StorageImage[], record: PprcPairRecord, runs: readonly number[], loaded: LoadedPprc): Promise<void> {
    const image = images[record.image];
    const volume = image.volume(record.volume);
    const state = record.primary!;
    if (state.secondaryHeld) this.otherEnd(images, record, loaded);
    const secondary: Peer | undefined = images.find((other) => other.id === record.otherImage) ?? this.remotes.get(record.otherImage);
    if (secondary === undefined) throw stateError(`pair ${record.pair}: its secondary's image ${record.otherImage} is neither in the file nor the target of one of its paths`);
    const link = state.linked ? this.linkOf(image, secondary) : null;
    // A secondary on another node went on without this one: writes after the
    // save (a resume's too) may have reached it and been lost here, so any track may differ.
    const ranOn = isRemote(secondary) && state.secondaryHeld;
    const mode = ranOn ? MirrorMode.SUSPENDED : MODES[state.mode];
    const all = ranOn || state.outOfSyncTracks === state.trackCount;
    const flags = record.critmode ? PprcFlag.CRITMODE : 0;
    await this.core(image, `restore the primary of PPRC pair ${record.pair}`, () => image.core.exports.pprc_make_primary(volume.slot, link?.ring ?? 0, record.otherSlot, mode, flags, all ? 1 : 0));
    if (!all) markRuns(image, volume.slot, runs);
    const lost = ranOn;
    this.pairs.push({
      id: record.pair, primary: image, secondary, secondarySlot: record.otherSlot, primaryId: volume.id, secondaryId: record.otherVolume, type: record.pprcType,
      tgtread: record.tgtread, critmode: record.critmode, link,
      reason: lost ? REASON_INTERNAL_TARGET : state.reason,
      detail: lost ? `${image.id} restarted from its state file: the writes after that save may have reached ${secondary.id}, so every track is out of sync` : state.detail,
      suspendedAt: lost ? new Date() : state.suspendedAt === null ? null : new Date(state.suspendedAt),
      firstPassDone: state.firstPassDone, secondaryHeld: state.secondaryHeld, secondaryRestore: state.secondaryRestore,
    });
  }

  // Forgets every pair and path of `image` (rmsi, load): links go first.
  async close(): Promise<void> {
    for (const timer of this.freezeTimers.values()) clearTimeout(timer);
    this.freezeTimers.clear();
    await Promise.all([...this.links.values()].map((link) => link.close()));
    this.links.clear();
    await Promise.all([...this.remotes.values()].map((remote) => remote.close()));
  }
}

function splitPair(idText: string): [string, string] {
  const parts = idText.split(":");
  if (parts.length !== 2) throw new EngineError("BAD_ARGUMENT", `PPRC pair ${idText} is not PRIMARY:SECONDARY such as 1000:2000`);
  return [parseVolumeId(parts[0]), parseVolumeId(parts[1])];
}

export type { Volume };
