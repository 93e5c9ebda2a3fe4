// The DS CLI PPRC commands (design.md §4): lsavailpprcport, mkpprcpath,
// lspprcpath, rmpprcpath, mkpprc, lspprc, pausepprc, resumepprc, rmpprc,
// failoverpprc, failbackpprc, freezepprc, unfreezepprc; and tzero's own `wait pprc`, `cutlink` and
// `restorelink` for scenarios. Each command is one site call, checked whole.
import type { ImageInfo, PairInfo, PairOperation, PathInfo, PprcType } from "../site/types.js";
import { EngineError } from "../site/shared.js";
import type { CommandContext, CommandResult } from "./context.js";
import { waitWithView } from "./wait-view.js";
import { INFO, infoLine } from "./messages.js";
import { atArgument, CommandFailure, durationMs, formatValue, pairFilter, pprcPairIds, pprcPairs } from "./values.js";
import { confirmEach } from "./ds-commands.js";
import { dsDate, enabled } from "./format.js";

type Handler = (context: CommandContext) => Promise<CommandResult>;

const WAIT_TIMEOUT_MS = 10 * 60 * 1000;

// -remotedev: the image of the pairs' other volumes.
async function remoteImage(context: CommandContext): Promise<ImageInfo> {
  const option = context.options.get("remotedev");
  if (option === undefined || option.value === true) {
    throw new CommandFailure("BAD_ARGUMENT", `${context.name} needs -remotedev IMAGE: the storage image at the other end`);
  }
  const images = await context.site.listImages();
  return atArgument(option.at, () => context.session.findIn(images, String(option.value)));
}

async function optionalRemote(context: CommandContext): Promise<ImageInfo | undefined> {
  return context.options.has("remotedev") ? remoteImage(context) : undefined;
}

// "10:20" → the LSS pair, as text the site checks.
function lssPairs(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => lssPairs(item));
  const text = formatValue(value as never);
  if (!/^[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}$/.test(text)) throw new EngineError("BAD_ARGUMENT", `${text} is not an LSS pair SOURCE_LSS:TARGET_LSS such as 10:20`);
  return [text.toUpperCase()];
}

function textOption(context: CommandContext, name: string): string {
  const value = context.convert(name, formatValue);
  if (value === undefined) throw new CommandFailure("BAD_ARGUMENT", `${context.name} needs -${name}`);
  return value;
}

// ---- ports and paths ------------------------------------------------------------------

const lsavailpprcport: Handler = async (context) => {
  const image = await context.image();
  const remote = await remoteImage(context);
  const ports = await context.call(context.site.listAvailablePorts(image.id, remote.id));
  const rows = ports.map((pair) => ({ "Local Port": pair.local, "Attached Port": pair.remote, Type: pair.type }));
  const columns = ["Local Port", "Attached Port", "Type"];
  return context.listing({ command: "lsavailpprcport", columns, rows }, image.id, infoLine(INFO.nothingFound, "lsavailpprcport", "No Port found."));
};

const mkpprcpath: Handler = async (context) => {
  const image = await context.image();
  const remote = await remoteImage(context);
  const ports = context.operands.map((operand) => formatValue(operand.value));
  const request = {
    remoteImageId: remote.id, remoteWwnn: textOption(context, "remotewwnn"), sourceLss: textOption(context, "srclss"),
    targetLss: textOption(context, "tgtlss"), ports, consistgrp: context.flag("consistgrp"),
  };
  const path = await context.call(context.site.makePath(image.id, request), context.operands);
  const id = `${path.sourceLss}:${path.targetLss}`;
  return { lines: [infoLine(INFO.pprcPathCreated, "mkpprcpath", `Remote Mirror and Copy path ${id} successfully established.`)], value: id };
};

function pathRows(context: CommandContext, imageId: string, path: PathInfo) {
  return path.ports.map((pair) => ({
    Src: context.fullId(imageId, path.sourceLss),
    Tgt: context.fullId(path.targetImageId, path.targetLss),
    State: path.state,
    SS: `FF${path.targetLss}`,
    Port: pair.local,
    "Attached Port": pair.remote,
    "Tgt WWNN": path.targetWwnn,
    "Failed Reason": path.reason ?? "-",
    PPRC_CG: enabled(path.consistgrp),
  }));
}

const lspprcpath: Handler = async (context) => {
  const image = await context.image();
  const lsses = context.operands.map((operand) => formatValue(operand.value));
  const paths = await context.call(context.site.listPaths(image.id, lsses.length > 0 ? lsses : undefined), context.operands);
  const rows = paths.flatMap((path) => pathRows(context, image.id, path));
  const columns = context.flag("l") ? ["Src", "Tgt", "State", "SS", "Port", "Attached Port", "Tgt WWNN", "Failed Reason", "PPRC_CG"]
    : ["Src", "Tgt", "State", "SS", "Port", "Attached Port", "Tgt WWNN"];
  const shown = rows.map((row) => Object.fromEntries(columns.map((column) => [column, row[column as keyof typeof row]])));
  const listed = context.listing({ command: "lspprcpath", columns, rows: shown }, image.id, infoLine(INFO.nothingFound, "lspprcpath", "No Remote Mirror and Copy Path found."));
  return withLastKnown(listed, "lspprcpath", paths);
};

// A listing the Copy Services Server answered from its catalog (the image's node is not connected) says so after its rows.
function withLastKnown(listed: CommandResult, command: string, items: ReadonlyArray<{ lastKnown?: string }>): CommandResult {
  const lastKnown = items.find((item) => item.lastKnown !== undefined)?.lastKnown;
  return lastKnown === undefined ? listed : { ...listed, lines: [...listed.lines, infoLine(INFO.pprcLastKnown, command, lastKnown)] };
}

const rmpprcpath: Handler = async (context) => {
  const image = await context.image();
  const remote = await remoteImage(context);
  const items = context.operandItems(lssPairs);
  const request = { remoteImageId: remote.id, lssPairs: items.map(({ item }) => item), force: context.flag("force") };
  const ids = await context.call(context.site.checkRemovePaths(image.id, request), items);
  const answers = await confirmEach(context, ids, (id) => [
    infoLine(INFO.pprcPathRemoveQuestion, "rmpprcpath", `Are you sure you want to remove the Remote Mirror and Copy path ${id}? [y/n]:`), `Remote Mirror and Copy path ${id} not removed`,
  ]);
  const chosen = answers.chosen(items);
  const removed = await context.call(context.site.removePaths(image.id, { ...request, lssPairs: chosen.map(({ item }) => item) }), chosen);
  const lines = answers.report((id) => infoLine(INFO.pprcPathRemoved, "rmpprcpath", `Remote Mirror and Copy path ${id} successfully removed.`));
  return { lines, value: removed };
};

// ---- pairs --------------------------------------------------------------------------------

function pprcType(context: CommandContext): PprcType | undefined {
  return context.convert("type", (value) => formatValue(value).toLowerCase() as PprcType);
}

const mkpprc: Handler = async (context) => {
  const image = await context.image();
  const remote = await remoteImage(context);
  const list = context.operandItems(pprcPairs);
  const type = pprcType(context);
  if (type === undefined) throw new CommandFailure("BAD_ARGUMENT", "mkpprc needs -type mmir (Metro Mirror) or -type gcp (Global Copy)");
  const mode = context.convert("mode", (value) => formatValue(value).toLowerCase() as "full" | "nocp");
  const request = { remoteImageId: remote.id, pairs: list.map(({ item }) => item), type, mode, tgtread: context.flag("tgtread"), critmode: context.flag("critmode") };
  const made = await context.call(context.site.makePairs(image.id, request, { signal: context.signal }), list);
  const lines = made.map((id) => infoLine(INFO.pprcCreated, "mkpprc", `Remote Mirror and Copy volume pair relationship ${id} successfully created.`));
  if (!context.flag("wait")) return { lines, value: made };
  for (const line of lines) context.session.write(line);
  await waitForPairs(context, image.id, made, WAIT_TIMEOUT_MS);
  return { lines: made.map((id) => infoLine(INFO.pprcSynchronised, "mkpprc", `Remote Mirror and Copy volume pair ${id} copy complete.`)), value: made };
};

// Waits, with the live view of their Copy Pending, until the pairs are in sync.
async function waitForPairs(context: CommandContext, imageId: string, ids: string[], timeoutMs: number): Promise<void> {
  await waitWithView(
    context,
    (signal) => context.session.watchMirrors(imageId, ids, signal),
    () => context.call(context.site.waitForPairs(imageId, ids, { timeoutMs, signal: context.signal })),
    `cancelled; ${ids.join(" ")} stay and keep copying`,
  );
}

const LSPPRC_COLUMNS = ["ID", "State", "Reason", "Type", "SourceLSS", "Timeout (secs)", "Critical Mode", "First Pass Status"];
const LSPPRC_LONG_COLUMNS = [
  "ID", "State", "Reason", "Type", "Out Of Sync Tracks", "Tgt Read", "Src Cascade", "Tgt Cascade", "Date Suspended",
  "SourceLSS", "Timeout (secs)", "Critical Mode", "First Pass Status",
];

// `-state full_duplex` matches "Full Duplex"; `-state suspended` matches "Suspended".
const stateKey = (state: string) => state.toLowerCase().replace(/[\s_-]+/g, "_");

function pairRecord(context: CommandContext, pair: PairInfo) {
  const [primaryId, secondaryId] = pair.id.split(":");
  return {
    ID: `${context.fullId(pair.primaryImageId, primaryId)}:${context.fullId(pair.secondaryImageId, secondaryId)}`,
    State: pair.state,
    Reason: pair.reason ?? "-",
    Type: pair.type === "mmir" ? "Metro Mirror" : "Global Copy",
    "Out Of Sync Tracks": pair.outOfSyncTracks,
    "Tgt Read": enabled(pair.tgtread),
    "Src Cascade": "Disabled",
    "Tgt Cascade": "Invalid",
    "Date Suspended": pair.suspendedAtMs === null ? "-" : dsDate(new Date(pair.suspendedAtMs)),
    SourceLSS: context.fullId(pair.primaryImageId, pair.sourceLss),
    "Timeout (secs)": "60",
    "Critical Mode": enabled(pair.critmode),
    "First Pass Status": pair.type === "gcp" ? (pair.firstPassDone ? "True" : "False") : "Invalid",
  };
}

const lspprc: Handler = async (context) => {
  const image = await context.image();
  if (context.flag("l") && context.flag("s")) throw new EngineError("BAD_ARGUMENT", "-l and -s cannot be used together");
  const filters = context.operands.map((operand) => atArgument(operand.at, () => pairFilter(operand.value, "PPRC")));
  const states = context.convert("state", (value) => formatValue(value).split(",").map(stateKey));
  const pairs = await context.call(context.site.listPairs(image.id));
  const rows = pairs
    .filter((pair) => filters.length === 0 || filters.some((wanted) => wanted(...(pair.id.split(":") as [string, string]))))
    .filter((pair) => states === undefined || states.includes(stateKey(pair.state)))
    .map((pair) => pairRecord(context, pair));
  const columns = context.flag("s") ? ["ID"] : context.flag("l") ? LSPPRC_LONG_COLUMNS : LSPPRC_COLUMNS;
  const shown = rows.map((row) => Object.fromEntries(columns.map((column) => [column, row[column as keyof typeof row]])));
  return withLastKnown(context.listing({ command: "lspprc", columns, rows: shown }, image.id, infoLine(INFO.nothingFound, "lspprc", "No Remote Mirror and Copy found.")), "lspprc", pairs);
};

// One site call over every pair of the command.
async function changePairs(context: CommandContext, operation: PairOperation, remote: ImageInfo | undefined, type?: PprcType) {
  const image = await context.image();
  const items = context.operandItems(pprcPairIds);
  const request = { remoteImageId: remote?.id, ids: items.map(({ item }) => item), type };
  return { image, items, ids: await context.call(context.site.changePairs(image.id, operation, request, { signal: context.signal }), items) };
}

const pausepprc: Handler = async (context) => {
  const { ids } = await changePairs(context, "pausepprc", await optionalRemote(context));
  return { lines: ids.map((id) => infoLine(INFO.pprcPaused, "pausepprc", `Remote Mirror and Copy volume pair ${id} relationship successfully paused.`)), value: ids };
};

const resumepprc: Handler = async (context) => {
  const { ids } = await changePairs(context, "resumepprc", await optionalRemote(context), pprcType(context));
  return {
    lines: ids.map((id) => infoLine(INFO.pprcResumed, "resumepprc", `Remote Mirror and Copy volume pair ${id} relationship successfully resumed. This message is being returned before the copy completes.`)),
    value: ids,
  };
};

const rmpprc: Handler = async (context) => {
  const image = await context.image();
  const remote = await optionalRemote(context);
  const items = context.operandItems(pprcPairIds);
  const ids = items.map(({ item }) => item);
  await context.call(context.site.checkPairs(image.id, "rmpprc", { remoteImageId: remote?.id, ids }), items);
  const answers = await confirmEach(context, ids, (id) => [
    infoLine(INFO.pprcRemoveQuestion, "rmpprc", `Are you sure you want to delete the Remote Mirror and Copy volume pair relationship ${id}? [y/n]:`),
    `Remote Mirror and Copy volume pair ${id} not deleted`,
  ]);
  const chosen = answers.chosen(items);
  const removed = await context.call(context.site.changePairs(image.id, "rmpprc", { remoteImageId: remote?.id, ids: chosen.map(({ item }) => item) }), chosen);
  const lines = answers.report((id) => infoLine(INFO.pprcRemoved, "rmpprc", `Remote Mirror and Copy volume pair ${id} relationship successfully withdrawn.`));
  return { lines, value: removed };
};

function checkFailType(context: CommandContext): void {
  const type = pprcType(context);
  if (type === undefined) throw new CommandFailure("BAD_ARGUMENT", `${context.name} needs -type mmir or -type gcp`);
}

const failoverpprc: Handler = async (context) => {
  checkFailType(context);
  const { ids } = await changePairs(context, "failoverpprc", await remoteImage(context));
  return { lines: ids.map((id) => infoLine(INFO.pprcFailedOver, "failoverpprc", `Remote Mirror and Copy pair ${id} successfully reversed.`)), value: ids };
};

const failbackpprc: Handler = async (context) => {
  checkFailType(context);
  const { ids } = await changePairs(context, "failbackpprc", await remoteImage(context));
  return { lines: ids.map((id) => infoLine(INFO.pprcFailedBack, "failbackpprc", `Remote Mirror and Copy pair ${id} successfully failed back.`)), value: ids };
};

// Freeze and unfreeze also take DS CLI's fully qualified LSS pairs, IMAGE/10:REMOTE_IMAGE/20,
// whose primaries may be on other images than -dev: the site checks those (src/site/freeze-across.ts).
function qualifiedLssPairs(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => qualifiedLssPairs(item));
  const text = formatValue(value as never);
  return text.includes("/") ? [text.toUpperCase()] : lssPairs(text);
}

// Freeze and unfreeze take LSS pairs; the site checks each (a path to freeze, an LSS to thaw).
async function lssPairCommand(context: CommandContext, operation: "freezepprc" | "unfreezepprc"): Promise<string[]> {
  const image = await context.image();
  const remote = await remoteImage(context);
  const items = context.operandItems(qualifiedLssPairs);
  if (items.length === 0) throw new CommandFailure("BAD_ARGUMENT", `${operation} needs SOURCE_LSS:TARGET_LSS, such as 10:20`);
  const request = { remoteImageId: remote.id, ids: items.map(({ item }) => item) };
  return context.call(context.site.changePairs(image.id, operation, request, { signal: context.signal }), items);
}

const freezepprc: Handler = async (context) => {
  const ids = await lssPairCommand(context, "freezepprc");
  return { lines: ids.map((id) => infoLine(INFO.pprcFrozen, "freezepprc", `Remote Mirror and Copy consistency group ${id} successfully created.`)), value: ids };
};

const unfreezepprc: Handler = async (context) => {
  const ids = await lssPairCommand(context, "unfreezepprc");
  return { lines: ids.map((id) => infoLine(INFO.pprcThawed, "unfreezepprc", `Remote Mirror and Copy pair ${id} successfully thawed.`)), value: ids };
};

// ---- tzero's scenario commands ---------------------------------------------------------------

const waitPprc: Handler = async (context) => {
  const image = await context.image();
  const items = context.operandItems(pprcPairIds);
  const timeoutMs = context.convert("timeout", (value) => durationMs(value, "-timeout")) ?? WAIT_TIMEOUT_MS;
  const ids = items.length > 0 ? items.map(({ item }) => item)
    : (await context.site.listPairs(image.id)).filter((pair) => pair.role === "primary").map((pair) => pair.id);
  await waitForPairs(context, image.id, ids, timeoutMs);
  return { lines: ids.map((id) => infoLine(INFO.pprcSynchronised, "wait", `Remote Mirror and Copy volume pair ${id} copy complete.`)), value: ids };
};

async function setLink(context: CommandContext, up: boolean): Promise<CommandResult> {
  const image = await context.image();
  const remote = await remoteImage(context);
  await context.call(context.site.setLink(image.id, remote.id, up));
  const what = up ? "restored" : "cut";
  return { lines: [infoLine(up ? INFO.linkRestored : INFO.linkCut, context.name, `link from ${image.id} to ${remote.id} ${what}.`)], value: remote.id };
}

export const PPRC_COMMANDS: Readonly<Record<string, Handler>> = {
  lsavailpprcport, mkpprcpath, lspprcpath, rmpprcpath, mkpprc, lspprc, pausepprc, resumepprc, rmpprc, failoverpprc, failbackpprc,
  freezepprc, unfreezepprc, "wait pprc": waitPprc, cutlink: (context) => setLink(context, false), restorelink: (context) => setLink(context, true),
};
