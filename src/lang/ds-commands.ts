// The DS CLI commands: volumes, LSSs, storage images, FlashCopy, setenv, help.
// Each parses everything it was given and then makes one site call, which
// checks every item before it changes anything.
import type { FlashInfo, ImageInfo, VolumeInfo } from "../site/types.js";
import { EngineError, EXTENT_SIZE, capacityBlocks, capacityIn, lssOf, parseOsType, unqualified, type CapacityUnit } from "../site/shared.js";
import { commandHelp, findCommand, findSubcommand, helpText } from "./commands.js";
import type { CommandContext, CommandResult } from "./context.js";
import { dsDate, enabled, type OutputFormat } from "./format.js";
import { INFO, infoLine } from "./messages.js";
import {
  CommandFailure, atArgument, formatValue, volumeId, numberValue, pairFilter, idFilter, pairIds, pairs, volumeIds, wholeNumber, type ValueRecord,
} from "./values.js";
import type { Value } from "./parser.js";

export type CommandHandler = (context: CommandContext) => Promise<CommandResult> | CommandResult;

// ---- volumes -------------------------------------------------------------------------

async function mkfbvol(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
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
  const pool = context.convert("extpool", (value) => unqualified(formatValue(value)));
  const sam = context.convert("sam", (value) => (formatValue(value).toLowerCase() === "standard" ? "standard" : "ese"));
  const created = await context.call(context.site.createVolumes(image.id, { ids, capacity, unit, os, nameTemplate, pool, sam }), items);
  return {
    lines: created.map((id) => infoLine(INFO.volumeCreated, "mkfbvol", `FB volume ${id} successfully created.`)),
    value: created,
  };
}

const LSFBVOL_COLUMNS = ["Name", "ID", "accstate", "datastate", "configstate", "deviceMTM", "datatype", "extpool", "cap (2^30B)", "cap (10^9B)", "cap (blocks)"];
const LSFBVOL_LONG_COLUMNS = [
  "Name", "ID", "accstate", "datastate", "configstate", "deviceMTM", "datatype", "extpool", "sam", "captype",
  "cap (2^30B)", "cap (10^9B)", "cap (blocks)", "volgrp", "reqcap (blocks)", "eam",
];
const CAPTYPES: Record<CapacityUnit, string> = { ds: "DS", ess: "ESS", blocks: "Blocks" };

function volumeRecord(context: CommandContext, image: ImageInfo, volume: VolumeInfo): ValueRecord {
  return {
    Name: volume.name || "-",
    ID: context.fullId(image.id, volume.id),
    accstate: "Online",
    datastate: volume.dataState,
    configstate: "Normal",
    deviceMTM: `${image.model}-900`,
    datatype: "FB 512",
    extpool: volume.pool === null ? "-" : context.fullId(image.id, volume.pool),
    sam: volume.sam === "standard" ? "Standard" : "ESE",
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

// -extpool's pool ID, looked up on the site and blamed on the option's value when unknown.
export async function poolOption(context: CommandContext, image: ImageInfo): Promise<string | undefined> {
  const text = context.convert("extpool", (value) => unqualified(formatValue(value)));
  if (text === undefined) return undefined;
  return (await context.callAt(context.options.get("extpool")!.at, context.site.pool(image.id, text))).id;
}

async function lsfbvol(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  if (context.flag("l") && context.flag("s")) throw new EngineError("BAD_ARGUMENT", "-l and -s cannot be used together");
  const filters = context.operands.map((operand) => atArgument(operand.at, () => idFilter(operand.value, 4, "volume ID")));
  const lss = context.convert("lss", lssOption);
  const pool = await poolOption(context, image);
  const volumes = (await context.site.listVolumes(image.id)).filter((volume) => (filters.length === 0 || filters.some((wanted) => wanted(volume.id)))
    && (!lss || volume.lss === lss) && (!pool || volume.pool === pool));
  const rows = volumes.map((volume) => volumeRecord(context, image, volume));
  const columns = context.flag("s") ? ["ID"] : context.flag("l") ? LSFBVOL_LONG_COLUMNS : LSFBVOL_COLUMNS;
  return context.listing({ command: "lsfbvol", columns, rows }, image.id, infoLine(INFO.nothingFound, "lsfbvol", "No FB Volume found."));
}

async function showfbvol(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const id = context.operand(0, volumeId);
  const volume = await context.callAt(context.operands[0].at, context.site.volume(image.id, id));
  const relationships = volume.flashCopies.map((pair) => pair.split(":").map((half) => context.fullId(image.id, half)).join(":"));
  const allocatedExtents = Math.ceil(volume.allocatedBytes / EXTENT_SIZE);
  const record: ValueRecord = {
    ...volumeRecord(context, image, volume),
    addrgrp: volume.lss[0],
    exts: Math.ceil(volume.sizeBytes / EXTENT_SIZE),
    realextents: allocatedExtents,
    virtualextents: Math.ceil(volume.sizeBytes / EXTENT_SIZE) - allocatedExtents,
    OS: volume.os,
    FlashCopy: relationships.length > 0 ? relationships.join(" ") : "-",
    DateCreated: dsDate(new Date(volume.createdAtMs)),
  };
  const columns = [
    "Name", "ID", "accstate", "datastate", "configstate", "deviceMTM", "datatype", "addrgrp", "extpool", "exts", "captype",
    "cap (2^30B)", "cap (10^9B)", "cap (blocks)", "volgrp", "sam", "eam", "reqcap (blocks)", "realextents", "virtualextents",
    "OS", "FlashCopy", "DateCreated",
  ];
  const lines = context.listing({ command: "showfbvol", columns, rows: [record] }, image.id, "", "stanza").lines;
  return { lines, value: record };
}

interface IdleVolumesChange {
  action: "removing" | "reinitialising";
  ask: (id: string) => [string, string]; // [question, what a "no" means]
  change: (imageId: string, ids: string[], signal?: AbortSignal) => Promise<string[]>;
  done: (id: string) => string;
}

// Every volume is checked first; then each is asked about, and the confirmed ones go in one call.
async function changeIdleVolumes(context: CommandContext, how: IdleVolumesChange): Promise<CommandResult> {
  const image = await context.image();
  const items = context.operandItems(volumeIds);
  const ids = items.map(({ item }) => item);
  await context.call(context.site.checkVolumesIdle(image.id, ids, how.action), items);
  const answers = await confirmEach(context, ids, how.ask);
  const chosen = answers.chosen(items);
  const changed = await context.call(how.change(image.id, chosen.map(({ item }) => item), context.signal), chosen);
  return { lines: answers.report(how.done), value: changed };
}

const rmfbvol = (context: CommandContext): Promise<CommandResult> => changeIdleVolumes(context, {
  action: "removing",
  ask: (id) => [infoLine(INFO.volumeRemoveQuestion, "rmfbvol", `Are you sure you want to delete FB volume ${id}? [y/n]:`), `FB volume ${id} not deleted`],
  change: (imageId, ids, signal) => context.site.removeVolumes(imageId, ids, { signal }),
  done: (id) => infoLine(INFO.volumeRemoved, "rmfbvol", `FB volume ${id} successfully deleted.`),
});

// Releases the volumes' data: the way back for a target left unusable by a withdrawn copy.
const initfbvol = (context: CommandContext): Promise<CommandResult> => changeIdleVolumes(context, {
  action: "reinitialising",
  ask: (id) => [
    infoLine(INFO.volumeInitQuestion, "initfbvol", `Are you sure you want to release the data of FB volume ${id}? [y/n]:`), `FB volume ${id} not initialised`,
  ],
  change: (imageId, ids, signal) => context.site.reinitVolumes(imageId, ids, { signal }),
  done: (id) => infoLine(INFO.volumeInitialised, "initfbvol", `FB volume ${id} successfully initialised.`),
});

export interface Answers {
  chosen<T>(items: readonly T[]): T[]; // the items (one per id asked about) whose answer was yes
  // The lines in order: done's for each yes (given its place among the chosen), what each no printed.
  report(done: (id: string, chosenIndex: number) => string | string[]): string[];
}

// Asks about each id in turn ([question, what a "no" means]); keeps the lines a "no" prints.
export async function confirmEach(context: CommandContext, ids: readonly string[], ask: (id: string) => [string, string]): Promise<Answers> {
  const answers: Array<{ yes: boolean; lines: string[] }> = [];
  for (const id of ids) {
    const lines: string[] = [];
    const [question, declined] = ask(id);
    answers.push({ yes: await confirmed(context, question, lines, declined), lines });
  }
  return {
    chosen: (items) => items.filter((_, index) => answers[index].yes),
    report: (done) => {
      let chosenIndex = 0;
      return answers.flatMap((answer, index) => (answer.yes ? done(ids[index], chosenIndex++) : answer.lines));
    },
  };
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

async function mksi(context: CommandContext): Promise<CommandResult> {
  const model = context.convert("model", (value) => formatValue(value)) as "2105" | "2107" | undefined;
  const operand = context.operands[0];
  const image = await context.call(operand === undefined
    ? context.session.addImage(model ?? "2105")
    : context.session.addImage(model, formatValue(operand.value), operand.at));
  return { lines: [infoLine(INFO.imageCreated, "mksi", `Storage image ${image.id} successfully created.`)], value: image.id };
}

// ---- FlashCopy ----------------------------------------------------------------------------

// DS CLI writes sequence numbers in hex (`-seqnum 00FF`); a number from an expression is taken as it is.
export function sequenceNumber(value: Value): number {
  if (typeof value === "number") return wholeNumber(value, "-seqnum", 0, 0xffffffff);
  const text = formatValue(value).replace(/^0x/i, "");
  if (!/^[0-9A-Fa-f]{1,8}$/.test(text)) throw new EngineError("BAD_ARGUMENT", `-seqnum ${formatValue(value)} is not a hex number from 0 to FFFFFFFF`);
  return parseInt(text, 16);
}

async function mkflash(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const list = context.operandItems(pairs);
  const seqnum = context.convert("seqnum", sequenceNumber);
  const nocopy = context.flag("nocp");
  if (nocopy && context.flag("cp")) throw new EngineError("BAD_ARGUMENT", "-cp (background copy) and -nocp (none) cannot be used together");
  if (nocopy && context.flag("wait")) {
    throw new EngineError("BAD_ARGUMENT", "-wait waits for the background copy, and -nocp has none");
  }
  // As in DS CLI, -record makes the relationship persistent: its change recording outlives the copy.
  const record = context.flag("record");
  const options = {
    nocopy, persist: context.flag("persist") || record, record, tgtinhibit: context.flag("tgtinhibit"), seqnum,
    freeze: context.flag("freeze"), tgtpprc: context.flag("tgtpprc"),
  };
  const request = { pairs: list.map(({ item }) => item), options };
  const created = await context.call(context.site.establishFlash(image.id, request, { signal: context.signal }), list);
  const lines = created.map((id) => infoLine(INFO.flashCreated, "mkflash", `FlashCopy pair ${id} successfully created.`));
  if (context.flag("wait")) {
    for (const line of lines) context.session.write(line);
    await context.session.watchCopies(image.id, created, context.signal);
    if (context.signal.aborted) throw new CommandFailure("CANCELLED", `cancelled; ${created.join(" ")} stay established and keep copying`);
    // The view ends when no track is left; this also ends the pairs that do not persist.
    const established = new Set((await context.site.listFlash(image.id)).map((relationship) => relationship.id));
    const remaining = created.filter((id) => established.has(id));
    if (remaining.length > 0) await context.call(context.site.waitForCopy(image.id, remaining, { signal: context.signal }));
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

async function lsflash(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  if (context.flag("l") && context.flag("s")) throw new EngineError("BAD_ARGUMENT", "-l and -s cannot be used together");
  const filters = context.operands.map((operand) => atArgument(operand.at, () => {
    if (formatValue(operand.value).includes(":")) return pairFilter(operand.value);
    const volumes = idFilter(operand.value, 4, "volume ID");
    return (source: string, target: string) => volumes(source) || volumes(target);
  }));
  const state = context.convert("state", (value) => stateKey(formatValue(value)));
  const seqnum = context.convert("seqnum", sequenceNumber);
  const rows = (await context.site.listFlash(image.id))
    .filter((relationship) => filters.length === 0 || filters.some((wanted) => wanted(relationship.sourceId, relationship.targetId)))
    .map((relationship) => flashRecord(context, image.id, relationship))
    .filter((row) => state === undefined || stateKey(String(row.State)) === state)
    .filter((row) => !context.flag("record") || row.Recording === "Enabled")
    .filter((row) => !context.flag("persist") || row.Persistent === "Enabled")
    .filter((row) => !context.flag("activecp") || row.ActiveCopy === "Enabled")
    .filter((row) => !context.flag("revertible") || row.Revertible === "Enabled")
    .filter((row) => !context.flag("cp") || row.BackgroundCopy === "Enabled")
    .filter((row) => seqnum === undefined || row.SequenceNum === seqnum.toString(16).toUpperCase());
  const columns = context.flag("s") ? ["ID"] : context.flag("l") ? LSFLASH_LONG_COLUMNS : LSFLASH_COLUMNS;
  const shown = rows.map((row) => Object.fromEntries(columns.map((column) => [column, row[column as keyof typeof row]])));
  return context.listing({ command: "lsflash", columns, rows: shown }, image.id, infoLine(INFO.nothingFound, "lsflash", "No Flash Copy found."));
}

function flashRecord(context: CommandContext, imageId: string, status: FlashInfo) {
  return {
    ID: context.fullId(imageId, status.sourceId) + ":" + context.fullId(imageId, status.targetId),
    SrcLSS: context.fullId(imageId, lssOf(status.sourceId)),
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
    DateCreated: dsDate(new Date(status.createdAtMs)),
    DateSynced: status.syncedAtMs !== null ? dsDate(new Date(status.syncedAtMs)) : dsDate(new Date(status.createdAtMs)),
    State: status.state,
    Reason: status.reason ?? "-",
  } satisfies ValueRecord;
}

async function rmflash(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const items = context.operandItems(pairIds);
  const ids = items.map(({ item }) => item);
  await context.call(context.site.checkFlash(image.id, "rmflash", ids), items);
  const answers = await confirmEach(context, ids, (id) => [
    infoLine(INFO.flashRemoveQuestion, "rmflash", `Are you sure you want to remove the FlashCopy pair ${id}? [y/n]:`), `FlashCopy pair ${id} not removed`,
  ]);
  const chosen = answers.chosen(items);
  const results = await context.call(context.site.withdrawFlash(image.id, chosen.map(({ item }) => item), { signal: context.signal }), chosen);
  const lines = answers.report((id, chosenIndex) => {
    const result = results[chosenIndex];
    const removed = infoLine(INFO.flashRemoved, "rmflash", `FlashCopy pair ${id} successfully removed.`);
    if (result.complete) return removed;
    return [removed, infoLine(INFO.notConfirmed, "rmflash", `target ${result.targetId} was not completely copied and is now unusable; make it a FlashCopy target again or release its data with initfbvol.`)];
  });
  return { lines, value: results.map((result) => result.id) };
}

// ---- session ----------------------------------------------------------------------------

async function setenv(context: CommandContext): Promise<CommandResult> {
  const settings = context.session.settings;
  const onOff = (value: string | undefined) => (value === undefined ? undefined : value.toLowerCase() === "on");
  const text = (name: string) => context.convert(name, formatValue);
  const delim = text("delim");
  if (delim !== undefined && delim.length !== 1) throw new EngineError("BAD_ARGUMENT", `-delim ${delim} is not one character`);
  if (context.flag("dev") && context.flag("devid")) throw new EngineError("BAD_ARGUMENT", "-dev and -devid say the same; give one of them");
  const images = await context.site.listImages();
  const dev = context.convert("dev", (value) => context.session.findIn(images, formatValue(value)).id)
    ?? context.convert("devid", (value) => context.session.findIn(images, formatValue(value)).id);
  settings.banner = onOff(text("banner")) ?? settings.banner;
  settings.header = onOff(text("header")) ?? settings.header;
  settings.format = (text("format")?.toLowerCase() as OutputFormat | undefined) ?? settings.format;
  settings.delim = delim ?? settings.delim;
  settings.fullid = onOff(text("fullid")) ?? settings.fullid;
  if (dev !== undefined) await context.session.selectImage(dev);
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
