// The DS CLI commands that show and shape a storage image's inventory:
// storage images, LSSs, extent pools, I/O ports, the version, and chfbvol.
// Each validates everything it was given before it changes anything.
import type { ImageInfo, PoolInfo, PortInfo } from "../site/types.js";
import { EngineError, EXTENTS_PER_GIB, parseImageId, poolIndex, unqualified, type CapacityUnit } from "../site/shared.js";
import type { CommandContext, CommandResult } from "./context.js";
import { confirmEach, type CommandHandler } from "./ds-commands.js";
import { TZERO_VERSION } from "./format.js";
import { INFO, infoLine } from "./messages.js";
import { atArgument, formatValue, idFilter, numberValue, volumeIds, wholeNumber, type ValueRecord } from "./values.js";
import type { Position } from "./parser.js";

function checkLongShort(context: CommandContext): void {
  if (context.flag("l") && context.flag("s")) throw new EngineError("BAD_ARGUMENT", "-l and -s cannot be used together");
}

function columnsFor(context: CommandContext, short: string[], normal: string[], long: string[]): string[] {
  return context.flag("s") ? short : context.flag("l") ? long : normal;
}

// ---- storage images ----------------------------------------------------------------------

function imageRecord(image: ImageInfo): ValueRecord {
  const { serial } = parseImageId(image.id);
  return {
    Name: "-",
    desc: "-",
    ID: image.id,
    "Storage Unit": `IBM.${image.model}-${serial.slice(0, -1)}0`,
    Model: image.model === "2105" ? "800" : "921",
    WWNN: image.wwnn,
    Signature: "-",
    State: "Online",
    ESSNet: "Enabled",
    "Volume Group": "-",
    os400Serial: serial.slice(-3),
    MTS: `IBM.${image.model}-${serial.slice(0, -1)}0`,
  };
}

async function lssi(context: CommandContext): Promise<CommandResult> {
  checkLongShort(context);
  const all = await context.site.listImages();
  const wanted = context.operands.map((operand) => atArgument(operand.at, () => context.session.findIn(all, formatValue(operand.value)).id));
  const images = wanted.length > 0 ? all.filter((image) => wanted.includes(image.id)) : all;
  const rows = images.map((image) => imageRecord(image));
  const normal = ["Name", "ID", "Storage Unit", "Model", "WWNN", "State", "ESSNet"];
  const columns = columnsFor(context, ["ID"], normal, [...normal, "Volume Group", "desc"]);
  return context.listing({ command: "lssi", columns, rows }, null, infoLine(INFO.nothingFound, "lssi", "No Storage Image found."));
}

async function showsi(context: CommandContext): Promise<CommandResult> {
  const operand = context.operands[0];
  if (operand !== undefined && context.flag("dev")) throw new EngineError("BAD_ARGUMENT", "give the storage image either as -dev or as the operand, not both");
  const images = operand === undefined ? [] : await context.site.listImages();
  const image = operand === undefined ? await context.image() : atArgument(operand.at, () => context.session.findIn(images, formatValue(operand.value)));
  const record = imageRecord(image);
  const columns = ["Name", "desc", "ID", "Storage Unit", "Model", "WWNN", "Signature", "State", "ESSNet", "Volume Group", "os400Serial", "MTS"];
  return { lines: context.listing({ command: "showsi", columns, rows: [record] }, image.id, "", "stanza").lines, value: record };
}

// ---- LSSs ---------------------------------------------------------------------------------

function lssRecord(context: CommandContext, imageId: string, lss: { id: string; volumeCount: number }): ValueRecord {
  return {
    ID: context.fullId(imageId, lss.id),
    Group: parseInt(lss.id, 16) % 2,
    addrgrp: lss.id[0],
    stgtype: "fb",
    confgvols: lss.volumeCount,
    subsys: `0xFF${lss.id}`,
    conbasetype: "-",
    pprcconsistgrp: "Disabled",
    xtndlbztimout: "60 secs",
  };
}

async function lslss(context: CommandContext): Promise<CommandResult> {
  checkLongShort(context);
  const image = await context.image();
  const filters = context.operands.map((operand) => atArgument(operand.at, () => idFilter(operand.value, 2, "LSS ID")));
  const rows = (await context.site.listLss(image.id))
    .filter((lss) => filters.length === 0 || filters.some((wanted) => wanted(lss.id)))
    .map((lss) => lssRecord(context, image.id, lss));
  const normal = ["ID", "Group", "addrgrp", "stgtype", "confgvols"];
  const columns = columnsFor(context, ["ID"], normal, [...normal, "subsys", "conbasetype"]);
  return context.listing({ command: "lslss", columns, rows }, image.id, infoLine(INFO.nothingFound, "lslss", "No LSS found."));
}

async function showlss(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const lsses = await context.site.listLss(image.id);
  const lss = context.operand(0, (value) => {
    const text = unqualified(formatValue(value)).toUpperCase();
    if (!/^[0-9A-F]{2}$/.test(text)) throw new EngineError("BAD_ARGUMENT", `LSS ${text} is not two hex digits 00 to FE`);
    const found = lsses.find((candidate) => candidate.id === text);
    if (!found) throw new EngineError("LSS_NOT_FOUND", `LSS ${text} does not exist on ${image.id} (an LSS exists while it holds volumes)`);
    return found;
  });
  const record = lssRecord(context, image.id, lss);
  const columns = ["ID", "Group", "addrgrp", "stgtype", "confgvols", "subsys", "pprcconsistgrp", "xtndlbztimout"];
  return { lines: context.listing({ command: "showlss", columns, rows: [record] }, image.id, "", "stanza").lines, value: record };
}

// ---- extent pools ---------------------------------------------------------------------------

const POOL_EXCEEDED_PERCENT = 85;

function poolRecord(context: CommandContext, imageId: string, pool: PoolInfo): ValueRecord {
  const free = Math.max(0, pool.capacityExtents - pool.allocatedExtents);
  const percent = pool.capacityExtents === 0 ? 100 : Math.floor((pool.allocatedExtents * 100) / pool.capacityExtents);
  return {
    Name: pool.name,
    ID: context.fullId(imageId, pool.id),
    stgtype: "fb",
    rankgrp: pool.rankGroup,
    status: free === 0 ? "full" : percent >= POOL_EXCEEDED_PERCENT ? "exceeded" : "below",
    "availstor (2^30B)": Math.floor(free / EXTENTS_PER_GIB),
    "%allocated": percent,
    available: free,
    reserved: 0,
    numvols: pool.volumeCount,
    "totlstor (2^30B)": pool.capacityExtents / EXTENTS_PER_GIB,
    "resvdstor (2^30B)": 0,
    "%available": 100 - percent,
    configured: pool.capacityExtents,
    allowed: pool.capacityExtents,
    allocated: pool.allocatedExtents,
    encryptgrp: "-",
  };
}

async function mkextpool(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const rankGroup = context.convert("rankgrp", (value) => Number(formatValue(value)) as 0 | 1)!;
  const capacityGiB = context.convert("cap", (value) => wholeNumber(value, "-cap", 0, 2 ** 20));
  const name = context.operand(0, formatValue);
  const pool = await context.callAt(context.operands[0].at, context.site.createPool(image.id, { name, rankGroup, capacityGiB }));
  return { lines: [infoLine(INFO.poolCreated, "mkextpool", `Extent pool ${pool.id} successfully created.`)], value: pool.id };
}

async function rmextpool(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const items: ReadonlyArray<{ at: Position }> = context.operands;
  const given = context.operands.map((operand) => unqualified(formatValue(operand.value)));
  const pools = await context.call(context.site.checkPoolsRemovable(image.id, given), items);
  const answers = await confirmEach(context, pools.map((pool) => pool.id), (id) => [
    infoLine(INFO.poolRemoveQuestion, "rmextpool", `Are you sure you want to delete extent pool ${id}? [y/n]:`), `extent pool ${id} not deleted`,
  ]);
  const chosen = answers.chosen(pools.map((pool, index) => ({ id: pool.id, at: items[index].at })));
  const removed = await context.call(context.site.removePools(image.id, chosen.map((pool) => pool.id)), chosen);
  const lines = answers.report((id) => infoLine(INFO.poolRemoved, "rmextpool", `Extent pool ${id} successfully deleted.`));
  return { lines, value: removed };
}

async function lsextpool(context: CommandContext): Promise<CommandResult> {
  checkLongShort(context);
  const image = await context.image();
  const wanted = context.operands.map((operand) => atArgument(operand.at, () => poolMatcher(formatValue(operand.value))));
  const rankGroup = context.convert("rankgrp", (value) => Number(formatValue(value)));
  const rows = (await context.site.listPools(image.id))
    .filter((pool) => wanted.length === 0 || wanted.some((matches) => matches(pool)))
    .filter((pool) => rankGroup === undefined || pool.rankGroup === rankGroup)
    .map((pool) => poolRecord(context, image.id, pool));
  const normal = ["Name", "ID", "stgtype", "rankgrp", "status", "availstor (2^30B)", "%allocated", "available", "reserved", "numvols"];
  const columns = columnsFor(context, ["ID"], normal, [...normal, "totlstor (2^30B)", "allocated", "encryptgrp"]);
  return context.listing({ command: "lsextpool", columns, rows }, image.id, infoLine(INFO.nothingFound, "lsextpool", "No Extent Pool found."));
}

// An ID (`P1`, which must be well formed) or a pool name.
function poolMatcher(text: string): (pool: PoolInfo) => boolean {
  const id = unqualified(text);
  if (/^P\d/i.test(id)) {
    const index = poolIndex(id);
    return (pool) => pool.index === index;
  }
  return (pool) => pool.name === id;
}

async function showextpool(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const text = context.operand(0, (value) => unqualified(formatValue(value)));
  const pool = await context.callAt(context.operands[0].at, context.site.pool(image.id, text));
  const record = poolRecord(context, image.id, pool);
  const columns = [
    "Name", "ID", "stgtype", "totlstor (2^30B)", "availstor (2^30B)", "resvdstor (2^30B)", "rankgrp", "numvols", "status",
    "%allocated", "%available", "configured", "allowed", "available", "allocated", "reserved",
  ];
  return { lines: context.listing({ command: "showextpool", columns, rows: [record] }, image.id, "", "stanza").lines, value: record };
}

// ---- I/O ports ------------------------------------------------------------------------------

function portRecord(context: CommandContext, imageId: string, port: PortInfo): ValueRecord {
  return {
    ID: context.fullId(imageId, port.id),
    WWPN: port.wwpn,
    State: "Online",
    Type: "Fibre Channel-SW",
    topo: "SCSI-FCP",
    portgrp: 0,
    Speed: "8 Gb/s",
    Frame: 1,
    "I/O Enclosure": port.enclosure + 1,
    "HA Card": port.slot,
  };
}

// `I0010`, or a range `I0010-I0143`: the ports that exist in it.
function portFilter(text: string): (port: PortInfo) => boolean {
  const match = /^(I[0-9A-F]{4})(?:-(I[0-9A-F]{4}))?$/i.exec(unqualified(text));
  if (!match) throw new EngineError("BAD_ARGUMENT", `I/O port ID ${text} is not Ieesp (I0010), or a range of them (I0000-IFFFF)`);
  const first = parseInt(match[1].slice(1), 16);
  const last = match[2] === undefined ? first : parseInt(match[2].slice(1), 16);
  if (last < first) throw new EngineError("BAD_ARGUMENT", `I/O port range ${text} runs backwards`);
  return (port) => parseInt(port.id.slice(1), 16) >= first && parseInt(port.id.slice(1), 16) <= last;
}

async function lsioport(context: CommandContext): Promise<CommandResult> {
  checkLongShort(context);
  const image = await context.image();
  const filters = context.operands.map((operand) => atArgument(operand.at, () => portFilter(formatValue(operand.value))));
  const ports = await context.site.listPorts(image.id);
  const rows = ports.filter((port) => filters.length === 0 || filters.some((wanted) => wanted(port))).map((port) => portRecord(context, image.id, port));
  const normal = ["ID", "WWPN", "State", "Type", "topo", "portgrp"];
  const columns = columnsFor(context, ["ID"], normal, [...normal, "Speed", "Frame", "I/O Enclosure", "HA Card"]);
  return context.listing({ command: "lsioport", columns, rows }, image.id, infoLine(INFO.nothingFound, "lsioport", "No IO Port found."));
}

// ---- version ----------------------------------------------------------------------------------

async function ver(context: CommandContext): Promise<CommandResult> {
  const chosen = ["l", "s", "cli", "lmc"].filter((name) => context.flag(name));
  if (chosen.length > 1) throw new EngineError("BAD_ARGUMENT", `${chosen.map((name) => `-${name}`).join(" and ")} cannot be used together`);
  const cli = `DSCLI ${TZERO_VERSION} (tzero)`;
  if (!context.flag("l") && !context.flag("lmc")) return { lines: [cli], value: cli };
  const rows = (await context.site.listImages()).map((image) => ({ "Storage Image": image.id, LMC: TZERO_VERSION }));
  const listing = context.listing({ command: "ver", columns: ["Storage Image", "LMC"], rows }, null, "").lines;
  return { lines: context.flag("l") ? [cli, ...listing] : listing, value: rows };
}

// ---- chfbvol ------------------------------------------------------------------------------------

async function chfbvol(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  if (!context.flag("name") && !context.flag("cap")) throw new EngineError("BAD_ARGUMENT", "chfbvol needs -name or -cap: there is nothing to change");
  const unit = context.convert("type", (value) => formatValue(value).toLowerCase() as CapacityUnit);
  const capacity = context.convert("cap", (value) => numberValue(value, "-cap"));
  const nameTemplate = context.convert("name", formatValue);
  const items = context.operandItems(volumeIds);
  const request = { ids: items.map(({ item }) => item), nameTemplate, capacity, unit };
  const ids = await context.call(context.site.changeVolumes(image.id, request, { signal: context.signal }), items);
  return { lines: ids.map((id) => infoLine(INFO.volumeModified, "chfbvol", `FB volume ${id} successfully modified.`)), value: ids };
}

export const INVENTORY_COMMANDS: Readonly<Record<string, CommandHandler>> = {
  lssi, showsi, lslss, showlss, mkextpool, rmextpool, lsextpool, showextpool, lsioport, ver, chfbvol,
};
