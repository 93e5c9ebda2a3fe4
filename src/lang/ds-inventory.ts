// The DS CLI commands that show and shape a storage image's inventory:
// storage images, LSSs, extent pools, I/O ports, the version, and chfbvol.
// Each validates everything it was given before it changes anything.
import { EngineError } from "../engine/errors.js";
import type { StorageImage, Volume } from "../engine/image.js";
import { parseImageId, unqualified } from "../engine/ids.js";
import { EXTENTS_PER_GIB, poolIndex, type ExtentPool, type RankGroup } from "../engine/pools.js";
import { IO_PORTS, portWwpn, type IoPort } from "../engine/ports.js";
import { capacityBlocks, type CapacityUnit } from "../engine/units.js";
import type { CommandContext, CommandResult } from "./context.js";
import { confirmed, volumeName, type CommandHandler } from "./ds-commands.js";
import { TZERO_VERSION } from "./format.js";
import { INFO, infoLine } from "./messages.js";
import { atArgument, formatValue, idFilter, numberValue, volumeIds, wholeNumber, type ValueRecord } from "./values.js";

function checkLongShort(context: CommandContext): void {
  if (context.flag("l") && context.flag("s")) throw new EngineError("BAD_ARGUMENT", "-l and -s cannot be used together");
}

function columnsFor(context: CommandContext, short: string[], normal: string[], long: string[]): string[] {
  return context.flag("s") ? short : context.flag("l") ? long : normal;
}

// ---- storage images ----------------------------------------------------------------------

function imageRecord(context: CommandContext, image: StorageImage): ValueRecord {
  const { serial } = parseImageId(image.id);
  return {
    Name: "-",
    desc: "-",
    ID: image.id,
    "Storage Unit": `IBM.${image.model}-${serial.slice(0, -1)}0`,
    Model: image.model === "2105" ? "800" : "921",
    WWNN: imageWwnn(context, image),
    Signature: "-",
    State: "Online",
    ESSNet: "Enabled",
    "Volume Group": "-",
    os400Serial: serial.slice(-3),
    MTS: `IBM.${image.model}-${serial.slice(0, -1)}0`,
  };
}

// One WWNN per image, by its place in the session: 5005076303FFC001, …
function imageWwnn(context: CommandContext, image: StorageImage): string {
  const index = context.session.images.indexOf(image);
  return `5005076303FFC${(index + 1).toString(16).toUpperCase().padStart(3, "0")}`;
}

function lssi(context: CommandContext): CommandResult {
  checkLongShort(context);
  const wanted = context.operands.map((operand) => atArgument(operand.at, () => context.session.findImage(formatValue(operand.value))));
  const images = wanted.length > 0 ? context.session.images.filter((image) => wanted.includes(image)) : context.session.images;
  const rows = images.map((image) => imageRecord(context, image));
  const normal = ["Name", "ID", "Storage Unit", "Model", "WWNN", "State", "ESSNet"];
  const columns = columnsFor(context, ["ID"], normal, [...normal, "Volume Group", "desc"]);
  return context.listing({ command: "lssi", columns, rows }, null, infoLine(INFO.nothingFound, "lssi", "No Storage Image found."));
}

function showsi(context: CommandContext): CommandResult {
  const operand = context.operands[0];
  if (operand !== undefined && context.flag("dev")) throw new EngineError("BAD_ARGUMENT", "give the storage image either as -dev or as the operand, not both");
  const image = operand === undefined ? context.image() : atArgument(operand.at, () => context.session.findImage(formatValue(operand.value)));
  const record = imageRecord(context, image);
  const columns = ["Name", "desc", "ID", "Storage Unit", "Model", "WWNN", "Signature", "State", "ESSNet", "Volume Group", "os400Serial", "MTS"];
  return { lines: context.listing({ command: "showsi", columns, rows: [record] }, image, "", "stanza").lines, value: record };
}

// ---- LSSs ---------------------------------------------------------------------------------

function lssRecord(context: CommandContext, image: StorageImage, lss: string): ValueRecord {
  return {
    ID: context.fullId(image, lss),
    Group: parseInt(lss, 16) % 2,
    addrgrp: lss[0],
    stgtype: "fb",
    confgvols: image.listVolumes().filter((volume) => volume.lss === lss).length,
    subsys: `0xFF${lss}`,
    conbasetype: "-",
    pprcconsistgrp: "Disabled",
    xtndlbztimout: "60 secs",
  };
}

function lslss(context: CommandContext): CommandResult {
  checkLongShort(context);
  const image = context.image();
  const filters = context.operands.map((operand) => atArgument(operand.at, () => idFilter(operand.value, 2, "LSS ID")));
  const rows = image.listLss()
    .filter((lss) => filters.length === 0 || filters.some((wanted) => wanted(lss)))
    .map((lss) => lssRecord(context, image, lss));
  const normal = ["ID", "Group", "addrgrp", "stgtype", "confgvols"];
  const columns = columnsFor(context, ["ID"], normal, [...normal, "subsys", "conbasetype"]);
  return context.listing({ command: "lslss", columns, rows }, image, infoLine(INFO.nothingFound, "lslss", "No LSS found."));
}

function showlss(context: CommandContext): CommandResult {
  const image = context.image();
  const lss = context.operand(0, (value) => {
    const text = unqualified(formatValue(value)).toUpperCase();
    if (!/^[0-9A-F]{2}$/.test(text)) throw new EngineError("BAD_ARGUMENT", `LSS ${text} is not two hex digits 00 to FE`);
    if (!image.listLss().includes(text)) throw new EngineError("LSS_NOT_FOUND", `LSS ${text} does not exist on ${image.id} (an LSS exists while it holds volumes)`);
    return text;
  });
  const record = lssRecord(context, image, lss);
  const columns = ["ID", "Group", "addrgrp", "stgtype", "confgvols", "subsys", "pprcconsistgrp", "xtndlbztimout"];
  return { lines: context.listing({ command: "showlss", columns, rows: [record] }, image, "", "stanza").lines, value: record };
}

// ---- extent pools ---------------------------------------------------------------------------

const POOL_EXCEEDED_PERCENT = 85;

function poolRecord(context: CommandContext, image: StorageImage, pool: ExtentPool): ValueRecord {
  const usage = image.pools.usage(pool);
  const free = Math.max(0, usage.capacityExtents - usage.allocatedExtents);
  const percent = usage.capacityExtents === 0 ? 100 : Math.floor((usage.allocatedExtents * 100) / usage.capacityExtents);
  return {
    Name: pool.name,
    ID: context.fullId(image, pool.id),
    stgtype: "fb",
    rankgrp: pool.rankGroup,
    status: free === 0 ? "full" : percent >= POOL_EXCEEDED_PERCENT ? "exceeded" : "below",
    "availstor (2^30B)": Math.floor(free / EXTENTS_PER_GIB),
    "%allocated": percent,
    available: free,
    reserved: 0,
    numvols: image.listVolumes().filter((volume) => volume.pool === pool.id).length,
    "totlstor (2^30B)": usage.capacityExtents / EXTENTS_PER_GIB,
    "resvdstor (2^30B)": 0,
    "%available": 100 - percent,
    configured: usage.capacityExtents,
    allowed: usage.capacityExtents,
    allocated: usage.allocatedExtents,
    encryptgrp: "-",
  };
}

function mkextpool(context: CommandContext): CommandResult {
  const image = context.image();
  const rankGroup = context.convert("rankgrp", (value) => Number(formatValue(value)) as RankGroup)!;
  const capacityGiB = context.convert("cap", (value) => wholeNumber(value, "-cap", 0, 2 ** 20));
  const name = context.operand(0, formatValue);
  const pool = atArgument(context.operands[0].at, () => image.pools.create({ name, rankGroup, capacityGiB }));
  return { lines: [infoLine(INFO.poolCreated, "mkextpool", `Extent pool ${pool.id} successfully created.`)], value: pool.id };
}

async function rmextpool(context: CommandContext): Promise<CommandResult> {
  const image = context.image();
  const items = context.operands.map((operand) => ({ at: operand.at, pool: atArgument(operand.at, () => image.pools.get(unqualified(formatValue(operand.value)))) }));
  for (const { at, pool } of items) {
    atArgument(at, () => {
      const members = image.listVolumes().filter((volume) => volume.pool === pool.id);
      if (members.length > 0) throw new EngineError("POOL_NOT_EMPTY", `extent pool ${pool.id} holds ${members.length} volume(s) (${members[0].id} first); remove them before the pool`);
    });
  }
  const lines: string[] = [];
  const removed: string[] = [];
  for (const { pool } of items) {
    const question = infoLine(INFO.poolRemoveQuestion, "rmextpool", `Are you sure you want to delete extent pool ${pool.id}? [y/n]:`);
    if (!(await confirmed(context, question, lines, `extent pool ${pool.id} not deleted`))) continue;
    image.removePool(pool.id);
    removed.push(pool.id);
    lines.push(infoLine(INFO.poolRemoved, "rmextpool", `Extent pool ${pool.id} successfully deleted.`));
  }
  return { lines, value: removed };
}

function lsextpool(context: CommandContext): CommandResult {
  checkLongShort(context);
  const image = context.image();
  const wanted = context.operands.map((operand) => atArgument(operand.at, () => poolMatcher(formatValue(operand.value))));
  const rankGroup = context.convert("rankgrp", (value) => Number(formatValue(value)));
  const rows = image.pools.list()
    .filter((pool) => wanted.length === 0 || wanted.some((matches) => matches(pool)))
    .filter((pool) => rankGroup === undefined || pool.rankGroup === rankGroup)
    .map((pool) => poolRecord(context, image, pool));
  const normal = ["Name", "ID", "stgtype", "rankgrp", "status", "availstor (2^30B)", "%allocated", "available", "reserved", "numvols"];
  const columns = columnsFor(context, ["ID"], normal, [...normal, "totlstor (2^30B)", "allocated", "encryptgrp"]);
  return context.listing({ command: "lsextpool", columns, rows }, image, infoLine(INFO.nothingFound, "lsextpool", "No Extent Pool found."));
}

// An ID (`P1`, which must be well formed) or a pool name.
function poolMatcher(text: string): (pool: ExtentPool) => boolean {
  const id = unqualified(text);
  if (/^P\d/i.test(id)) {
    const index = poolIndex(id);
    return (pool) => pool.index === index;
  }
  return (pool) => pool.name === id;
}

function showextpool(context: CommandContext): CommandResult {
  const image = context.image();
  const pool = context.operand(0, (value) => image.pools.get(unqualified(formatValue(value))));
  const record = poolRecord(context, image, pool);
  const columns = [
    "Name", "ID", "stgtype", "totlstor (2^30B)", "availstor (2^30B)", "resvdstor (2^30B)", "rankgrp", "numvols", "status",
    "%allocated", "%available", "configured", "allowed", "available", "allocated", "reserved",
  ];
  return { lines: context.listing({ command: "showextpool", columns, rows: [record] }, image, "", "stanza").lines, value: record };
}

// ---- I/O ports ------------------------------------------------------------------------------

function portRecord(context: CommandContext, image: StorageImage, port: IoPort): ValueRecord {
  return {
    ID: context.fullId(image, port.id),
    WWPN: portWwpn(imageWwnn(context, image), port),
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
function portFilter(text: string): (port: IoPort) => boolean {
  const match = /^(I[0-9A-F]{4})(?:-(I[0-9A-F]{4}))?$/i.exec(unqualified(text));
  if (!match) throw new EngineError("BAD_ARGUMENT", `I/O port ID ${text} is not Ieesp (I0010), or a range of them (I0000-IFFFF)`);
  const first = parseInt(match[1].slice(1), 16);
  const last = match[2] === undefined ? first : parseInt(match[2].slice(1), 16);
  if (last < first) throw new EngineError("BAD_ARGUMENT", `I/O port range ${text} runs backwards`);
  return (port) => parseInt(port.id.slice(1), 16) >= first && parseInt(port.id.slice(1), 16) <= last;
}

function lsioport(context: CommandContext): CommandResult {
  checkLongShort(context);
  const image = context.image();
  const filters = context.operands.map((operand) => atArgument(operand.at, () => portFilter(formatValue(operand.value))));
  const rows = IO_PORTS.filter((port) => filters.length === 0 || filters.some((wanted) => wanted(port))).map((port) => portRecord(context, image, port));
  const normal = ["ID", "WWPN", "State", "Type", "topo", "portgrp"];
  const columns = columnsFor(context, ["ID"], normal, [...normal, "Speed", "Frame", "I/O Enclosure", "HA Card"]);
  return context.listing({ command: "lsioport", columns, rows }, image, infoLine(INFO.nothingFound, "lsioport", "No IO Port found."));
}

// ---- version ----------------------------------------------------------------------------------

function ver(context: CommandContext): CommandResult {
  const chosen = ["l", "s", "cli", "lmc"].filter((name) => context.flag(name));
  if (chosen.length > 1) throw new EngineError("BAD_ARGUMENT", `${chosen.map((name) => `-${name}`).join(" and ")} cannot be used together`);
  const cli = `DSCLI ${TZERO_VERSION} (tzero)`;
  if (!context.flag("l") && !context.flag("lmc")) return { lines: [cli], value: cli };
  const rows = context.session.images.map((image) => ({ "Storage Image": image.id, LMC: TZERO_VERSION }));
  const listing = context.listing({ command: "ver", columns: ["Storage Image", "LMC"], rows }, null, "").lines;
  return { lines: context.flag("l") ? [cli, ...listing] : listing, value: rows };
}

// ---- chfbvol ------------------------------------------------------------------------------------

interface VolumeChange {
  volume: Volume;
  name?: string;
  blocks?: number;
}

async function chfbvol(context: CommandContext): Promise<CommandResult> {
  const image = context.image();
  if (!context.flag("name") && !context.flag("cap")) throw new EngineError("BAD_ARGUMENT", "chfbvol needs -name or -cap: there is nothing to change");
  const unit = context.convert("type", (value) => formatValue(value).toLowerCase() as CapacityUnit);
  const capacity = context.convert("cap", (value) => numberValue(value, "-cap"));
  const template = context.convert("name", formatValue);
  const changes: Array<VolumeChange & { unit: CapacityUnit; capacity?: number }> = [];
  for (const { item: id, at } of context.operandItems(volumeIds)) {
    changes.push(atArgument(at, () => {
      const volume = image.volume(id);
      const name = template === undefined ? undefined : volumeName(template, volume.id);
      const volumeUnit = unit ?? volume.unit;
      if (capacity === undefined) return { volume, name, unit: volumeUnit };
      image.idleVolume(volume.id, "changing the capacity of");
      const blocks = capacityBlocks(capacity, volumeUnit);
      if (blocks <= volume.blocks) {
        throw new EngineError("BAD_CAPACITY", `volume ${volume.id} has ${volume.blocks} blocks; -cap ${capacity} (${blocks} blocks) does not grow it, and volumes never shrink`);
      }
      return { volume, name, unit: volumeUnit, capacity, blocks };
    }));
  }
  for (const change of changes) {
    // Growing freezes the volume; a freeze that could not drain its I/O in time is retried.
    if (change.capacity !== undefined) await image.drained(() => image.growVolume(change.volume.id, change.capacity!, change.unit), context.signal);
    if (change.name !== undefined) image.renameVolume(change.volume.id, change.name);
  }
  const ids = changes.map((change) => change.volume.id);
  return { lines: ids.map((id) => infoLine(INFO.volumeModified, "chfbvol", `FB volume ${id} successfully modified.`)), value: ids };
}

export const INVENTORY_COMMANDS: Readonly<Record<string, CommandHandler>> = {
  lssi, showsi, lslss, showlss, mkextpool, rmextpool, lsextpool, showextpool, lsioport, ver, chfbvol,
};
