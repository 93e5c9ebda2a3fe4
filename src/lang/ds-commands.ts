// The DS CLI commands: volumes, LSSs, storage images, FlashCopy, setenv, help.
// Each validates everything it was given before it changes anything.
import { EngineError } from "../engine/errors.js";
import type { RelationshipStatus, StorageImage, Volume } from "../engine/image.js";
import { checkEstablish, parseOsType } from "../engine/rules.js";
import { capacityBlocks, capacityIn, type CapacityUnit } from "../engine/units.js";
import { lssOf, pairId, unqualified } from "../engine/ids.js";
import { rankGroupOfLss, type ExtentPool } from "../engine/pools.js";
import { EXTENT_SIZE } from "../core/codes.js";
import { commandHelp, findCommand, findSubcommand, helpText } from "./commands.js";
import type { CommandContext, CommandResult } from "./context.js";
import { dsDate, enabled, type OutputFormat } from "./format.js";
import { INFO, infoLine } from "./messages.js";
import {
  CommandFailure, atArgument, formatValue, volumeId, numberValue, pairFilter, idFilter, pairIds, pairs, volumeIds, wholeNumber, type ValueRecord,
} from "./values.js";
import type { Position, Value } from "./parser.js";

export type CommandHandler = (context: CommandContext) => Promise<CommandResult> | CommandResult;

// ---- volumes -------------------------------------------------------------------------

function mkfbvol(context: CommandContext): CommandResult {
  const image = context.image();
  const items = context.operandItems(volumeIds);
  const ids = items.map(({ item }) => item);
  const unit = (context.convert("type", (value) => formatValue(value).toLowerCase()) ?? "ds") as CapacityUnit;
  const capacity = context.convert("cap", (value) => {
    const number = numberValue(value, "-cap");
    capacityBlocks(number, unit);
    return number;
  })!;
  const os = context.convert("os", (value) => parseOsType(formatValue(value)));
  const nameTemplate = context.convert("name", formatValue);
  const poolText = context.convert("extpool", (value) => image.pools.get(unqualified(formatValue(value))).id);
  const seen = new Set<string>();
  for (const { item: id, at } of items) {
    if (seen.has(id)) throw new CommandFailure("VOLUME_EXISTS", `volume ${id} is given twice`, at);
    seen.add(id);
    if (image.hasVolume(id)) throw new CommandFailure("VOLUME_EXISTS", `volume ${id} already exists on ${image.id}`, at);
    atArgument(at, () => volumePool(image, id, poolText));
  }
  const names = new Map(ids.map((id) => [id, nameTemplate === undefined ? undefined : volumeName(nameTemplate, id)]));
  const created: string[] = [];
  try {
    for (const id of ids) {
      image.createVolume({ id, capacity, unit, os, name: names.get(id), pool: volumePool(image, id, poolText).id });
      created.push(id);
    }
  } catch (error) {
    // Only this command's fresh volumes go: nothing else changed.
    for (const id of created) image.removeVolume(id);
    throw error;
  }
  return {
    lines: created.map((id) => infoLine(INFO.volumeCreated, "mkfbvol", `FB volume ${id} successfully created.`)),
    value: created,
  };
}

// The named pool, checked against the volume's LSS, or the first pool of the LSS's rank group.
function volumePool(image: StorageImage, id: string, poolText: string | undefined): ExtentPool {
  const lss = lssOf(id);
  if (poolText !== undefined) return image.poolForLss(poolText, lss);
  const pool = image.pools.defaultFor(rankGroupOfLss(lss));
  if (!pool) throw new EngineError("POOL_NOT_FOUND", `storage image ${image.id} has no extent pool of rank group ${rankGroupOfLss(lss)} for LSS ${lss}; mkextpool makes one`);
  return pool;
}

// DS CLI's names: `#h` becomes the volume ID, `#d` its decimal number; at most 16 characters.
export function volumeName(template: string, id: string): string {
  const name = template.replace(/#h/gi, id).replace(/#d/gi, String(parseInt(id, 16)));
  if (name.length > VOLUME_NAME_LENGTH_MAX) {
    throw new EngineError("BAD_ARGUMENT", `volume name ${name} has ${name.length} characters; DS CLI allows at most ${VOLUME_NAME_LENGTH_MAX}`);
  }
  return name;
}

const VOLUME_NAME_LENGTH_MAX = 16;
const LSFBVOL_COLUMNS = ["Name", "ID", "accstate", "datastate", "configstate", "deviceMTM", "datatype", "extpool", "cap (2^30B)", "cap (10^9B)", "cap (blocks)"];
const LSFBVOL_LONG_COLUMNS = [
  "Name", "ID", "accstate", "datastate", "configstate", "deviceMTM", "datatype", "extpool", "sam", "captype",
  "cap (2^30B)", "cap (10^9B)", "cap (blocks)", "volgrp", "reqcap (blocks)", "eam",
];
const CAPTYPES: Record<CapacityUnit, string> = { ds: "DS", ess: "ESS", blocks: "Blocks" };

function volumeRecord(context: CommandContext, image: StorageImage, volume: Volume): ValueRecord {
  return {
    Name: volume.name || "-",
    ID: context.fullId(image, volume.id),
    accstate: "Online",
    datastate: image.dataState(volume.id),
    configstate: "Normal",
    deviceMTM: `${image.model}-900`,
    datatype: "FB 512",
    extpool: volume.pool === null ? "-" : context.fullId(image, volume.pool),
    sam: "ESE",
    captype: CAPTYPES[volume.unit],
    "cap (2^30B)": volume.unit === "ds" ? capacityIn(volume.blocks, "ds").toFixed(1) : "-",
    "cap (10^9B)": volume.unit === "ess" ? capacityIn(volume.blocks, "ess").toFixed(1) : "-",
    "cap (blocks)": volume.blocks,
    volgrp: "-",
    "reqcap (blocks)": volume.blocks,
    eam: "managed",
  };
}

function lssOption(value: Value): string {
  const text = formatValue(value).toUpperCase();
  if (!/^[0-9A-F]{2}$/.test(text) || text === "FF") throw new EngineError("BAD_ARGUMENT", `LSS ${text} is not two hex digits 00 to FE`);
  return text;
}

function lsfbvol(context: CommandContext): CommandResult {
  const image = context.image();
  if (context.flag("l") && context.flag("s")) throw new EngineError("BAD_ARGUMENT", "-l and -s cannot be used together");
  const filters = context.operands.map((operand) => atArgument(operand.at, () => idFilter(operand.value, 4, "volume ID")));
  const lss = context.convert("lss", lssOption);
  const pool = context.convert("extpool", (value) => image.pools.get(unqualified(formatValue(value))).id);
  const volumes = image.listVolumes().filter((volume) => (filters.length === 0 || filters.some((wanted) => wanted(volume.id)))
    && (!lss || volume.lss === lss) && (!pool || volume.pool === pool));
  const rows = volumes.map((volume) => volumeRecord(context, image, volume));
  const columns = context.flag("s") ? ["ID"] : context.flag("l") ? LSFBVOL_LONG_COLUMNS : LSFBVOL_COLUMNS;
  return context.listing({ command: "lsfbvol", columns, rows }, image, infoLine(INFO.nothingFound, "lsfbvol", "No FB Volume found."));
}

function showfbvol(context: CommandContext): CommandResult {
  const image = context.image();
  const volume = context.operand(0, (value) => image.volume(volumeId(value)));
  const relationships = image.relationshipsOf(volume.id)
    .map((relationship) => `${context.fullId(image, relationship.sourceId)}:${context.fullId(image, relationship.targetId)}`);
  const allocatedExtents = Math.ceil(image.allocatedBytes(volume.id) / EXTENT_SIZE);
  const record: ValueRecord = {
    ...volumeRecord(context, image, volume),
    addrgrp: volume.lss[0],
    exts: Math.ceil(volume.sizeBytes / EXTENT_SIZE),
    realextents: allocatedExtents,
    virtualextents: Math.ceil(volume.sizeBytes / EXTENT_SIZE) - allocatedExtents,
    OS: volume.os,
    FlashCopy: relationships.length > 0 ? relationships.join(" ") : "-",
    DateCreated: dsDate(volume.createdAt),
  };
  const columns = [
    "Name", "ID", "accstate", "datastate", "configstate", "deviceMTM", "datatype", "addrgrp", "extpool", "exts", "captype",
    "cap (2^30B)", "cap (10^9B)", "cap (blocks)", "volgrp", "sam", "eam", "reqcap (blocks)", "realextents", "virtualextents",
    "OS", "FlashCopy", "DateCreated",
  ];
  const lines = context.listing({ command: "showfbvol", columns, rows: [record] }, image, "", "stanza").lines;
  return { lines, value: record };
}

async function rmfbvol(context: CommandContext): Promise<CommandResult> {
  const image = context.image();
  const items = context.operandItems(volumeIds);
  const ids = items.map(({ item }) => item);
  for (const { item: id, at } of items) atArgument(at, () => checkRemovable(context, image, id));
  const lines: string[] = [];
  const removed: string[] = [];
  for (const id of ids) {
    const question = infoLine(INFO.volumeRemoveQuestion, "rmfbvol", `Are you sure you want to delete FB volume ${id}? [y/n]:`);
    const answer = await confirmed(context, question, lines, `FB volume ${id} not deleted`);
    if (!answer) continue;
    await image.drained(() => image.removeVolume(id), context.signal);
    removed.push(id);
    lines.push(infoLine(INFO.volumeRemoved, "rmfbvol", `FB volume ${id} successfully deleted.`));
  }
  return { lines, value: removed };
}

// Releases the volumes' data: the way back for a target left unusable by a withdrawn copy.
async function initfbvol(context: CommandContext): Promise<CommandResult> {
  const image = context.image();
  const items = context.operandItems(volumeIds);
  for (const { item: id, at } of items) atArgument(at, () => checkRemovable(context, image, id, "reinitialising"));
  const lines: string[] = [];
  const initialised: string[] = [];
  for (const { item: id } of items) {
    const question = infoLine(INFO.volumeInitQuestion, "initfbvol", `Are you sure you want to release the data of FB volume ${id}? [y/n]:`);
    if (!(await confirmed(context, question, lines, `FB volume ${id} not initialised`))) continue;
    await image.drained(() => image.reinitVolume(id), context.signal);
    initialised.push(id);
    lines.push(infoLine(INFO.volumeInitialised, "initfbvol", `FB volume ${id} successfully initialised.`));
  }
  return { lines, value: initialised };
}

function checkRemovable(context: CommandContext, image: StorageImage, id: string, action = "removing"): void {
  const volume = image.idleVolume(id, action);
  const running = context.session.workloads.runningOn(image, volume.id);
  if (running.length > 0) throw new EngineError("BUSY", `volume ${volume.id} has workload ${running[0].spec.name} running on it; stop it first`);
}

// Asks unless -quiet. With nobody to answer, the answer is no, and it says so.
export async function confirmed(context: CommandContext, question: string, lines: string[], declined: string): Promise<boolean> {
  if (context.flag("quiet")) return true;
  const confirm = context.session.confirm;
  if (!confirm) {
    lines.push(infoLine(INFO.notConfirmed, context.name, `${declined}: nobody can answer "${question}" here, so the answer is n; use -quiet.`));
    return false;
  }
  const answer = await confirm(question);
  if (!answer) lines.push(infoLine(INFO.notConfirmed, context.name, `${declined}.`));
  return answer;
}

// ---- storage images --------------------------------------------------------------------

function mksi(context: CommandContext): CommandResult {
  const model = context.convert("model", (value) => formatValue(value)) as "2105" | "2107" | undefined;
  const operand = context.operands[0];
  const image = operand === undefined
    ? context.session.addImage(model ?? "2105")
    : context.session.addImage(model, formatValue(operand.value), operand.at);
  return { lines: [infoLine(INFO.imageCreated, "mksi", `Storage image ${image.id} successfully created.`)], value: image.id };
}

// ---- FlashCopy ----------------------------------------------------------------------------

interface Counts {
  sourceOf: number;
  targetOf: number;
}

// Runs the engine's establish rules over every pair first, counting the
// pairs before it in the same command, so a refused pair changes nothing.
function checkPairs(image: StorageImage, list: Array<{ item: [string, string]; at: Position }>): void {
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
  for (const { item: [sourceId, targetId], at } of list) {
    const source = atArgument(at, () => image.volume(sourceId));
    const target = atArgument(at, () => image.volume(targetId));
    const id = pairId(source.id, target.id);
    const facts = (volume: Volume) => ({
      id: volume.id, blocks: volume.blocks, os: volume.os, usable: image.dataState(volume.id) === "Normal", ...countsOf(volume.id),
    });
    atArgument(at, () => checkEstablish(image.model, facts(source), facts(target), image.hasRelationship(id) || planned.has(id)));
    planned.add(id);
    countsOf(source.id).sourceOf++;
    countsOf(target.id).targetOf++;
  }
}

// DS CLI writes sequence numbers in hex (`-seqnum 00FF`); a number from an expression is taken as it is.
export function sequenceNumber(value: Value): number {
  if (typeof value === "number") return wholeNumber(value, "-seqnum", 0, 0xffffffff);
  const text = formatValue(value).replace(/^0x/i, "");
  if (!/^[0-9A-Fa-f]{1,8}$/.test(text)) throw new EngineError("BAD_ARGUMENT", `-seqnum ${formatValue(value)} is not a hex number from 0 to FFFFFFFF`);
  return parseInt(text, 16);
}

async function mkflash(context: CommandContext): Promise<CommandResult> {
  const image = context.image();
  const list = context.operandItems(pairs);
  const seqnum = context.convert("seqnum", sequenceNumber);
  const nocopy = context.flag("nocp");
  if (nocopy && context.flag("cp")) throw new EngineError("BAD_ARGUMENT", "-cp (background copy) and -nocp (none) cannot be used together");
  if (nocopy && context.flag("wait")) {
    throw new EngineError("BAD_ARGUMENT", "-wait waits for the background copy, and -nocp has none");
  }
  checkPairs(image, list);
  // As in DS CLI, -record makes the relationship persistent: its change recording outlives the copy.
  const record = context.flag("record");
  const options = {
    nocopy, persist: context.flag("persist") || record, record, tgtinhibit: context.flag("tgtinhibit"), seqnum,
    freeze: context.flag("freeze"), tgtpprc: context.flag("tgtpprc"),
  };
  const created: string[] = [];
  // drained(): an establish whose drain of in-flight I/O timed out is retried from the event loop.
  for (const { item: [source, target] } of list) created.push((await image.drained(() => image.establish(source, target, options), context.signal)).id);
  const lines = created.map((id) => infoLine(INFO.flashCreated, "mkflash", `FlashCopy pair ${id} successfully created.`));
  if (context.flag("wait")) {
    for (const line of lines) context.session.write(line);
    await context.session.watchCopies(image, created, context.signal);
    if (context.signal.aborted) throw new CommandFailure("CANCELLED", `cancelled; ${created.join(" ")} stay established and keep copying`);
    // The view ends when no track is left; this also ends the pairs that do not persist.
    const remaining = created.filter((id) => image.hasRelationship(id));
    if (remaining.length > 0) await image.waitForCopy(remaining, { signal: context.signal });
    return { lines: created.map((id) => infoLine(INFO.copyComplete, "mkflash", `FlashCopy pair ${id} background copy complete.`)), value: created };
  }
  return { lines, value: created };
}

const LSFLASH_COLUMNS = [
  "ID", "SrcLSS", "SequenceNum", "Timeout", "ActiveCopy", "Recording", "Persistent", "Revertible",
  "SourceWriteEnabled", "TargetWriteEnabled", "BackgroundCopy",
];
// State is DS CLI's (Valid, Validation Required, Tgt Failed: src/engine/copy-faults.ts);
// Reason, last, is tzero's: why the state is not Valid ("-" when it is).
const LSFLASH_LONG_COLUMNS = [...LSFLASH_COLUMNS, "OutOfSyncTracks", "DateCreated", "DateSynced", "State", "Reason"];

// `-state tgt_failed` matches the State column `Tgt Failed`.
const stateKey = (state: string) => state.toLowerCase().replace(/[\s_]+/g, "_");

function lsflash(context: CommandContext): CommandResult {
  const image = context.image();
  if (context.flag("l") && context.flag("s")) throw new EngineError("BAD_ARGUMENT", "-l and -s cannot be used together");
  const filters = context.operands.map((operand) => atArgument(operand.at, () => {
    if (formatValue(operand.value).includes(":")) return pairFilter(operand.value);
    const volumes = idFilter(operand.value, 4, "volume ID");
    return (source: string, target: string) => volumes(source) || volumes(target);
  }));
  const state = context.convert("state", (value) => stateKey(formatValue(value)));
  const seqnum = context.convert("seqnum", sequenceNumber);
  const rows = image.listRelationships()
    .filter((relationship) => filters.length === 0 || filters.some((wanted) => wanted(relationship.sourceId, relationship.targetId)))
    .map((relationship) => flashRecord(context, image, image.status(relationship.id)))
    .filter((row) => state === undefined || stateKey(String(row.State)) === state)
    .filter((row) => !context.flag("record") || row.Recording === "Enabled")
    .filter((row) => !context.flag("persist") || row.Persistent === "Enabled")
    .filter((row) => !context.flag("activecp") || row.ActiveCopy === "Enabled")
    .filter((row) => !context.flag("revertible") || row.Revertible === "Enabled")
    .filter((row) => !context.flag("cp") || row.BackgroundCopy === "Enabled")
    .filter((row) => seqnum === undefined || row.SequenceNum === seqnum.toString(16).toUpperCase());
  const columns = context.flag("s") ? ["ID"] : context.flag("l") ? LSFLASH_LONG_COLUMNS : LSFLASH_COLUMNS;
  const shown = rows.map((row) => Object.fromEntries(columns.map((column) => [column, row[column as keyof typeof row]])));
  return context.listing({ command: "lsflash", columns, rows: shown }, image, infoLine(INFO.nothingFound, "lsflash", "No Flash Copy found."));
}

function flashRecord(context: CommandContext, image: StorageImage, status: RelationshipStatus) {
  return {
    ID: context.fullId(image, status.sourceId) + ":" + context.fullId(image, status.targetId),
    SrcLSS: context.fullId(image, lssOf(status.sourceId)),
    SequenceNum: status.seqnum.toString(16).toUpperCase(),
    Timeout: "-",
    ActiveCopy: enabled(status.activeCopy),
    Recording: enabled(status.record),
    Persistent: enabled(status.persist),
    Revertible: enabled(status.revertible),
    SourceWriteEnabled: enabled(!status.writesHeld),
    TargetWriteEnabled: enabled(!status.tgtinhibit && !status.revertible),
    BackgroundCopy: enabled(!status.nocopy),
    OutOfSyncTracks: status.pendingTracks,
    DateCreated: dsDate(status.createdAt),
    DateSynced: status.syncedAt ? dsDate(status.syncedAt) : dsDate(status.createdAt),
    State: status.state,
    Reason: status.reason ?? "-",
  } satisfies ValueRecord;
}

async function rmflash(context: CommandContext): Promise<CommandResult> {
  const image = context.image();
  const items = context.operandItems(pairIds);
  for (const { item, at } of items) atArgument(at, () => image.checkFlashV2("rmflash", item));
  const ids = items.map(({ item }) => item);
  const lines: string[] = [];
  const removed: string[] = [];
  for (const id of ids) {
    const question = infoLine(INFO.flashRemoveQuestion, "rmflash", `Are you sure you want to remove the FlashCopy pair ${id}? [y/n]:`);
    if (!(await confirmed(context, question, lines, `FlashCopy pair ${id} not removed`))) continue;
    const relationship = image.relationship(id);
    const complete = await image.drained(() => image.withdraw(id), context.signal);
    removed.push(id);
    lines.push(infoLine(INFO.flashRemoved, "rmflash", `FlashCopy pair ${id} successfully removed.`));
    if (!complete) {
      lines.push(infoLine(INFO.notConfirmed, "rmflash", `target ${relationship.targetId} was not completely copied and is now unusable; make it a FlashCopy target again or release its data with initfbvol.`));
    }
  }
  return { lines, value: removed };
}

// ---- session ----------------------------------------------------------------------------

function setenv(context: CommandContext): CommandResult {
  const settings = context.session.settings;
  const onOff = (value: string | undefined) => (value === undefined ? undefined : value.toLowerCase() === "on");
  const text = (name: string) => context.convert(name, formatValue);
  const delim = text("delim");
  if (delim !== undefined && delim.length !== 1) throw new EngineError("BAD_ARGUMENT", `-delim ${delim} is not one character`);
  if (context.flag("dev") && context.flag("devid")) throw new EngineError("BAD_ARGUMENT", "-dev and -devid say the same; give one of them");
  const dev = context.convert("dev", (value) => context.session.findImage(formatValue(value)).id)
    ?? context.convert("devid", (value) => context.session.findImage(formatValue(value)).id);
  settings.banner = onOff(text("banner")) ?? settings.banner;
  settings.header = onOff(text("header")) ?? settings.header;
  settings.format = (text("format")?.toLowerCase() as OutputFormat | undefined) ?? settings.format;
  settings.delim = delim ?? settings.delim;
  settings.fullid = onOff(text("fullid")) ?? settings.fullid;
  if (dev !== undefined) context.session.selectImage(dev);
  return { lines: [], value: null };
}

function help(context: CommandContext): CommandResult {
  const operand = context.operands[0];
  if (operand === undefined) {
    const text = helpText();
    return { lines: text.split("\n"), value: text };
  }
  const [name, sub] = context.operands.map((given) => formatValue(given.value)).join(" ").split(/\s+/);
  let spec = findCommand(name);
  if (spec && sub) spec = findSubcommand(spec, sub);
  if (!spec) throw new EngineError("BAD_ARGUMENT", `there is no command ${[name, sub].filter(Boolean).join(" ")}; type help for the list`);
  const text = commandHelp(spec);
  return { lines: text.split("\n"), value: text };
}

export const DS_COMMANDS: Readonly<Record<string, CommandHandler>> = {
  mkfbvol, lsfbvol, showfbvol, rmfbvol, initfbvol, mksi, mkflash, lsflash, rmflash, setenv, help,
};
