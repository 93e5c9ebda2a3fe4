// The site's event log (design.md §10, the console contract): one event per
// change of the site, saying what changed (kind "object.action"), on which
// image, which objects, who made it and from where (shell, script, rest,
// console, server), in one readable line. The server journals each with the
// change it describes (router.ts, server.ts) and publishes it once committed.
//
//   commandEvent(method, imageId, result, caller, atMs)   the event of a mutating Site call that succeeded
//   serverEvent({ kind, image, ids, text }, caller, atMs)  any other change: users, tasks, nodes, takeover
//   nodeEvent(event, atMs)                                what a node did by itself (a copy ended)
//   pairEvent(image, changes, atMs)                       pairs whose state changed by themselves (pair-watcher.ts)
import type { ConsoleEventMessage } from "./console/messages.js";
import type { HostConnectionInfo, ImageInfo, LoadReport, PairInfo, PathInfo, PoolInfo, SiteEvent, VolumeGroupInfo, WithdrawResult } from "../site/types.js";
import { EVENT_IDS_MAX, EVENT_TEXT_LENGTH_MAX, type EventRecord, type EventSource, type LoggedEvent } from "./site-state.js";

export interface EventCaller {
  user?: string;
  source?: EventSource;
}

export interface EventFacts {
  kind: string;
  image: string | null;
  ids: string[];
  text: string;
}

type Describe = (result: unknown, imageId: string) => Omit<EventFacts, "image"> | null;

// "1000, 1001 and 3 more": the first few of a list, and how many are left out.
export function listed(ids: readonly string[], shown = 8): string {
  if (ids.length <= shown) return ids.join(", ");
  return `${ids.slice(0, shown).join(", ")} and ${ids.length - shown} more`;
}

function plural(count: number, one: string, many = `${one}s`): string {
  return count === 1 ? one : many;
}

// The facts of a call whose result is the IDs it changed.
function ids(kind: string, what: string, whats: string, done: string): Describe {
  return (result) => {
    const changed = Array.isArray(result) ? result.filter((id): id is string => typeof id === "string") : [];
    return { kind, ids: changed, text: `${plural(changed.length, what, whats)} ${listed(changed)} ${done}` };
  };
}

const VOLUME = (done: string, kind: string) => ids(kind, "volume", "volumes", done);
const FLASH = (done: string, kind: string) => ids(kind, "FlashCopy relationship", "FlashCopy relationships", done);
const PAIRS = (done: string, kind: string) => ids(kind, "PPRC pair", "PPRC pairs", done);

// Each mutating Site method (routed-site.ts, server.ts) and what its result says changed.
const COMMANDS: Readonly<Record<string, Describe>> = {
  createVolumes: VOLUME("created", "volume.created"),
  removeVolumes: VOLUME("removed", "volume.removed"),
  reinitVolumes: VOLUME("reinitialised", "volume.reinitialised"),
  changeVolumes: VOLUME("changed", "volume.changed"),
  createPool: (result) => {
    const pool = result as PoolInfo;
    return { kind: "pool.created", ids: [pool.id], text: `extent pool ${pool.id} (${pool.name}) created` };
  },
  removePools: ids("pool.removed", "extent pool", "extent pools", "removed"),
  establishFlash: FLASH("established", "flash.established"),
  withdrawFlash: (result) => {
    const withdrawn = result as WithdrawResult[];
    const unusable = withdrawn.filter((each) => !each.complete).map((each) => each.targetId);
    const tail = unusable.length === 0 ? "" : `; the copy was incomplete, so ${plural(unusable.length, "target")} ${listed(unusable)} ${unusable.length === 1 ? "is" : "are"} now unusable`;
    const changed = withdrawn.map((each) => each.id);
    return { kind: "flash.withdrawn", ids: changed, text: `${plural(changed.length, "FlashCopy relationship", "FlashCopy relationships")} ${listed(changed)} withdrawn${tail}` };
  },
  resyncflash: FLASH("resynchronised (a new T0 of the changed tracks)", "flash.resynced"),
  reverseflash: FLASH("reversed", "flash.reversed"),
  setflashrevertible: FLASH("made revertible", "flash.revertible"),
  commitflash: FLASH("committed", "flash.committed"),
  revertflash: FLASH("reverted", "flash.reverted"),
  unfreezeFlash: (result) => {
    const { lsses, released } = result as { lsses: string[]; released: string[] };
    return { kind: "flash.unfrozen", ids: released, text: `LSS ${listed(lsses)} unfrozen: writes released to ${released.length === 0 ? "no volume" : listed(released)}` };
  },
  makePath: (result) => {
    const path = result as PathInfo;
    const id = `${path.sourceLss}:${path.targetLss}`;
    const ports = path.ports.map((port) => `${port.local}:${port.remote}`);
    return { kind: "path.made", ids: [id], text: `PPRC path ${id} to ${path.targetImageId} made over ${listed(ports)} (${path.state})` };
  },
  removePaths: ids("path.removed", "PPRC path", "PPRC paths", "removed"),
  makePairs: PAIRS("made", "pprc.made"),
  pausepprc: PAIRS("suspended (paused)", "pprc.paused"),
  resumepprc: PAIRS("resumed", "pprc.resumed"),
  rmpprc: PAIRS("removed", "pprc.removed"),
  failoverpprc: PAIRS("failed over", "pprc.failedover"),
  failbackpprc: PAIRS("failed back", "pprc.failedback"),
  createVolumeGroup: (result) => {
    const group = result as VolumeGroupInfo;
    return { kind: "host.volgrp.created", ids: [group.id], text: `volume group ${group.id} (${group.name}) created with ${group.volumes.length} ${plural(group.volumes.length, "volume")}` };
  },
  changeVolumeGroup: (result) => {
    const group = result as VolumeGroupInfo;
    return { kind: "host.volgrp.changed", ids: [group.id], text: `volume group ${group.id} (${group.name}) changed: ${group.volumes.length} ${plural(group.volumes.length, "volume")}` };
  },
  removeVolumeGroups: ids("host.volgrp.removed", "volume group", "volume groups", "removed"),
  createHostConnection: (result) => {
    const host = result as HostConnectionInfo;
    return { kind: "host.created", ids: [host.id], text: `host connection ${host.id} (${host.name}) created${host.nbd === null ? "" : `, NBD on ${host.nbd}`}` };
  },
  removeHostConnections: ids("host.removed", "host connection", "host connections", "removed"),
  addImage: (result) => {
    const image = result as ImageInfo;
    return { kind: "image.added", ids: [image.id], text: `storage image ${image.id} (model ${image.model}) added` };
  },
  load: (result) => {
    const images = (result as LoadReport).images;
    return { kind: "image.loaded", ids: images.map((image) => image.id), text: `state loaded: ${listed(images.map((image) => `${image.id} (${image.volumes} volumes, ${image.relationships} relationships)`), 4)}` };
  },
};

// setLink is a test's fault injection: not a change an administrator made.
const NOT_LOGGED = new Set(["setLink"]);

function bounded(facts: EventFacts): Omit<EventRecord, "type" | "atMs" | "user" | "source"> {
  const text = facts.text.length > EVENT_TEXT_LENGTH_MAX ? `${facts.text.slice(0, EVENT_TEXT_LENGTH_MAX - 1)}…` : facts.text;
  return { kind: facts.kind, image: facts.image, ids: facts.ids.slice(0, EVENT_IDS_MAX).map((id) => id.slice(0, 256)), text };
}

export function serverEvent(facts: EventFacts, caller: EventCaller, atMs: number): EventRecord {
  return { type: "event.logged", atMs, user: caller.user ?? null, source: caller.source ?? (caller.user === undefined ? "server" : "shell"), ...bounded(facts) };
}

// The event of a mutating call that succeeded; a method not in the table is still logged, by its name.
// `pairs`: what the image lists after a PPRC command, whose states the event then says.
export function commandEvent(method: string, imageId: string | null, result: unknown, caller: EventCaller, atMs: number, pairs: readonly PairInfo[] | null = null): EventRecord | null {
  if (NOT_LOGGED.has(method)) return null;
  const describe = COMMANDS[method];
  let facts: Omit<EventFacts, "image"> | null;
  try {
    facts = describe === undefined ? null : describe(result, imageId ?? "");
  } catch {
    facts = null; // a result of an unexpected shape: logged by the method's name below
  }
  facts ??= { kind: "site.changed", ids: [], text: `${method} done` };
  const states = pairs === null ? "" : pairStates(facts.ids, pairs);
  if (states !== "") facts = { ...facts, text: `${facts.text}; now ${states}` };
  return serverEvent({ ...facts, image: imageId }, caller, atMs);
}

// What a node reports it did by itself, as an event of the server; null for
// what is not a change (progress) or is a command's doing (pprc-changed: the
// command's own event says it, and pair-watcher.ts what pairs do by themselves).
export function nodeEvent(event: SiteEvent, atMs: number): EventRecord | null {
  const server = { source: "server" as const };
  switch (event.type) {
    case "flash-copied":
      return serverEvent({ kind: "flash.copied", image: event.imageId, ids: [event.id], text: `FlashCopy ${event.id}: background copy complete (${event.trackCount} tracks)` }, server, atMs);
    case "flash-fault":
      return serverEvent({ kind: "flash.failed", image: event.imageId, ids: [event.id], text: `FlashCopy ${event.id}: ${event.state}: ${event.reason}${event.retrying ? " (retrying)" : ""}` }, server, atMs);
    case "flash-recovered":
      return serverEvent({ kind: "flash.recovered", image: event.imageId, ids: [event.id], text: `FlashCopy ${event.id}: background copy goes on` }, server, atMs);
    case "flash-unfrozen":
      return serverEvent({ kind: "flash.unfrozen", image: event.imageId, ids: event.released, text: `LSS ${event.lss} unfrozen (${event.reason}): writes released to ${event.released.length === 0 ? "no volume" : listed(event.released)}` }, server, atMs);
    default:
      return null;
  }
}

export interface PairChange {
  pair: PairInfo;
  was: string; // its state before, as pairState gives it
}

// Pairs of `image` whose state changed by themselves: Copy Pending to Full Duplex, suspended by a failure.
export function pairEvent(image: string, changes: readonly PairChange[], atMs: number): EventRecord {
  const ids = changes.map((change) => change.pair.id);
  const texts = changes.map((change) => `${change.pair.id} ${pairState(change.pair)} (was ${change.was})`);
  return serverEvent({ kind: "pprc.changed", image, ids, text: `PPRC ${plural(ids.length, "pair")} ${listed(texts, 4)}` }, { source: "server" }, atMs);
}

export interface PathChange {
  path: PathInfo;
  was: string; // its state before, as pathState gives it
}

// Paths of `image` whose state changed by themselves (their links failed, or came back).
export function pathEvent(image: string, changes: readonly PathChange[], atMs: number): EventRecord {
  const ids = changes.map((change) => `${change.path.sourceLss}:${change.path.targetLss}`);
  const texts = changes.map((change, index) => `${ids[index]} to ${change.path.targetImageId} ${pathState(change.path)} (was ${change.was})`);
  return serverEvent({ kind: "path.changed", image, ids, text: `PPRC ${plural(ids.length, "path")} ${listed(texts, 4)}` }, { source: "server" }, atMs);
}

// "Success", "Failed: Down".
export function pathState(path: PathInfo): string {
  return path.reason === null ? path.state : `${path.state}: ${path.reason}`;
}

// "Full Duplex", "Suspended: Host Source".
export function pairState(pair: PairInfo): string {
  return pair.reason === null ? pair.state : `${pair.state}: ${pair.reason}`;
}

// The states of those of `ids` the image still lists ("" for none).
function pairStates(ids: readonly string[], pairs: readonly PairInfo[]): string {
  const listedPairs = ids.map((id) => pairs.find((each) => each.id === id)).filter((pair): pair is PairInfo => pair !== undefined);
  return listed(listedPairs.map((pair) => `${pair.id} ${pairState(pair)}`), 4);
}

// The event as the console's stream and log carry it.
export function eventMessage(event: LoggedEvent): ConsoleEventMessage {
  return { type: "event", seq: event.seq, time: new Date(event.atMs).toISOString(), kind: event.kind, image: event.image, ids: event.ids, user: event.user, source: event.source, text: event.text };
}
