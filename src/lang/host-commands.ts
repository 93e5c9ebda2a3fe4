// The DS CLI commands of the host side: volume groups (mkvolgrp, chvolgrp,
// lsvolgrp, showvolgrp, rmvolgrp) and host connections (mkhostconnect,
// lshostconnect, rmhostconnect), whose -nbd endpoint lets real NBD clients
// (qemu, nbdcopy, fio) reach the volumes of the host's volume group.
import type { HostConnectionInfo, VolumeGroupInfo } from "../site/types.js";
import { EngineError, unqualified } from "../site/shared.js";
import type { CommandContext, CommandResult } from "./context.js";
import { confirmEach, type CommandHandler } from "./ds-commands.js";
import { INFO, infoLine } from "./messages.js";
import { atArgument, formatValue, volumeIds, type Value, type ValueRecord } from "./values.js";
import type { Position } from "./parser.js";

// -volume 1000-1003, DS CLI's comma list quoted ("1000-1003,1005": the language's comma ends a word), or a list value.
function volumeList(value: Value): string[] {
  if (typeof value === "string" && value.includes(",")) return value.split(",").flatMap((part) => volumeIds(part));
  return volumeIds(value);
}

function groupRecord(context: CommandContext, imageId: string, group: VolumeGroupInfo): ValueRecord {
  return { Name: group.name, ID: context.fullId(imageId, group.id), Type: group.type, Vols: group.volumes.join(" ") || "-" };
}

async function mkvolgrp(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const type = context.convert("type", (value) => formatValue(value));
  const volumes = context.convert("volume", volumeList) ?? [];
  const name = context.operand(0, formatValue);
  const group = await context.call(context.site.createVolumeGroup(image.id, { name, type, volumes }), []);
  return { lines: [infoLine(INFO.volumeGroupCreated, "mkvolgrp", `Volume group ${group.id} successfully created.`)], value: group.id };
}

async function chvolgrp(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const action = context.convert("action", (value) => formatValue(value).toLowerCase() as "add" | "remove" | "replace");
  const volumes = context.convert("volume", volumeList);
  const name = context.convert("name", formatValue);
  if ((action === undefined) !== (volumes === undefined)) throw new EngineError("BAD_ARGUMENT", "-action and -volume go together");
  if (action === undefined && name === undefined) throw new EngineError("BAD_ARGUMENT", "chvolgrp needs -action with -volume, or -name");
  const id = context.operand(0, (value) => unqualified(formatValue(value)));
  const group = await context.callAt(context.operands[0].at, context.site.changeVolumeGroup(image.id, { id, action, volumes, name }));
  return { lines: [infoLine(INFO.volumeGroupModified, "chvolgrp", `Volume group ${group.id} successfully modified.`)], value: group.id };
}

async function lsvolgrp(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const wanted = context.operands.map((operand) => unqualified(formatValue(operand.value)).toUpperCase());
  const rows = (await context.site.listVolumeGroups(image.id))
    .filter((group) => wanted.length === 0 || wanted.includes(group.id) || wanted.includes(group.name.toUpperCase()))
    .map((group) => groupRecord(context, image.id, group));
  const columns = context.flag("s") ? ["ID"] : context.flag("l") ? ["Name", "ID", "Type", "Vols"] : ["Name", "ID", "Type"];
  return context.listing({ command: "lsvolgrp", columns, rows }, image.id, infoLine(INFO.nothingFound, "lsvolgrp", "No Volume Group found."));
}

async function showvolgrp(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const text = context.operand(0, (value) => unqualified(formatValue(value)));
  const group = (await context.site.listVolumeGroups(image.id)).find((candidate) => candidate.id === text.toUpperCase() || candidate.name === text);
  if (group === undefined) {
    throw atArgument(context.operands[0].at, () => new EngineError("VOLGRP_NOT_FOUND", `volume group ${text} does not exist on ${image.id} (lsvolgrp lists them)`));
  }
  const record = groupRecord(context, image.id, group);
  return { lines: context.listing({ command: "showvolgrp", columns: ["Name", "ID", "Type", "Vols"], rows: [record] }, image.id, "", "stanza").lines, value: record };
}

async function rmvolgrp(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const items: ReadonlyArray<{ at: Position }> = context.operands;
  const given = context.operands.map((operand) => unqualified(formatValue(operand.value)).toUpperCase());
  const known = await context.site.listVolumeGroups(image.id);
  given.forEach((id, index) => {
    if (!known.some((group) => group.id === id)) {
      throw atArgument(items[index].at, () => new EngineError("VOLGRP_NOT_FOUND", `volume group ${id} does not exist on ${image.id} (lsvolgrp lists them)`));
    }
  });
  const answers = await confirmEach(context, given, (id) => [
    infoLine(INFO.volumeGroupRemoveQuestion, "rmvolgrp", `Are you sure you want to delete volume group ${id}? [y/n]:`), `volume group ${id} not deleted`,
  ]);
  const chosen = answers.chosen(given.map((id, index) => ({ id, at: items[index].at })));
  const removed = await context.call(context.site.removeVolumeGroups(image.id, chosen.map((group) => group.id)), chosen);
  const lines = answers.report((id) => infoLine(INFO.volumeGroupRemoved, "rmvolgrp", `Volume group ${id} successfully deleted.`));
  return { lines, value: removed };
}

function hostRecord(context: CommandContext, imageId: string, host: HostConnectionInfo): ValueRecord {
  return {
    Name: host.name, ID: context.fullId(imageId, host.id), WWPN: host.wwpn ?? "-", HostType: host.hostType, Profile: host.profile,
    portgrp: 0, volgrpID: host.volumeGroup === null ? "-" : context.fullId(imageId, host.volumeGroup), ESSIOport: "all",
    NBD: host.nbd ?? "-", Clients: host.clients, IOs: host.ios, "MB moved": Math.round(host.bytes / 1e4) / 100,
  };
}

async function mkhostconnect(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const hostType = context.convert("hosttype", formatValue)!;
  const wwpn = context.convert("wwname", formatValue);
  const volumeGroup = context.convert("volgrp", (value) => unqualified(formatValue(value)));
  const nbd = context.convert("nbd", formatValue);
  const name = context.operand(0, formatValue);
  const host = await context.call(context.site.createHostConnection(image.id, { name, hostType, wwpn, volumeGroup, nbd }), []);
  const where = host.nbd === null ? "" : ` NBD endpoint ${host.nbd}.`;
  return { lines: [infoLine(INFO.hostConnectionCreated, "mkhostconnect", `Host connection ${host.id} successfully created.${where}`)], value: host.id };
}

async function lshostconnect(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const wanted = context.operands.map((operand) => unqualified(formatValue(operand.value)).toUpperCase());
  const group = context.convert("volgrp", (value) => unqualified(formatValue(value)).toUpperCase());
  const rows = (await context.site.listHostConnections(image.id))
    .filter((host) => wanted.length === 0 || wanted.includes(host.id) || wanted.includes(host.name.toUpperCase()))
    .filter((host) => group === undefined || host.volumeGroup === group)
    .map((host) => hostRecord(context, image.id, host));
  const normal = ["Name", "ID", "WWPN", "HostType", "Profile", "portgrp", "volgrpID", "ESSIOport", "NBD", "Clients"];
  const columns = context.flag("s") ? ["ID"] : context.flag("l") ? [...normal, "IOs", "MB moved"] : normal;
  return context.listing({ command: "lshostconnect", columns, rows }, image.id, infoLine(INFO.nothingFound, "lshostconnect", "No Host Connection found."));
}

async function rmhostconnect(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const items: ReadonlyArray<{ at: Position }> = context.operands;
  const known = await context.site.listHostConnections(image.id);
  const given = context.operands.map((operand, index) => {
    const text = unqualified(formatValue(operand.value)).toUpperCase();
    const host = known.find((candidate) => candidate.id === text);
    if (host === undefined) throw atArgument(items[index].at, () => new EngineError("HOST_NOT_FOUND", `host connection ${text} does not exist on ${image.id} (lshostconnect lists them)`));
    return host.id;
  });
  const answers = await confirmEach(context, given, (id) => [
    infoLine(INFO.hostConnectionRemoveQuestion, "rmhostconnect", `Are you sure you want to delete Host Connection ${id}? [y/n]:`), `host connection ${id} not deleted`,
  ]);
  const chosen = answers.chosen(given.map((id, index) => ({ id, at: items[index].at })));
  const removed = await context.call(context.site.removeHostConnections(image.id, chosen.map((host) => host.id)), chosen);
  const lines = answers.report((id) => infoLine(INFO.hostConnectionRemoved, "rmhostconnect", `Host connection ${id} successfully deleted.`));
  return { lines, value: removed };
}

export const HOST_COMMANDS: Readonly<Record<string, CommandHandler>> = {
  mkvolgrp, chvolgrp, lsvolgrp, showvolgrp, rmvolgrp, mkhostconnect, lshostconnect, rmhostconnect,
};
