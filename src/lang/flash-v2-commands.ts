// The DS CLI FlashCopy V2 commands (model 2107): resyncflash, reverseflash,
// setflashrevertible, commitflash, revertflash, unfreezeflash. mkflash's V2
// options (-cp, -freeze, -tgtpprc) live with mkflash in ds-commands.ts.
// Each command checks every pair it was given before it changes any.
import { EngineError } from "../engine/errors.js";
import type { Relationship, StorageImage } from "../engine/image.js";
import { checkV2Supported, type V2Operation } from "../engine/rules.js";
import type { CommandContext, CommandResult } from "./context.js";
import { INFO, infoLine } from "./messages.js";
import { atArgument, CommandFailure, formatValue, pairIds, volumeIds } from "./values.js";
import { sequenceNumber } from "./ds-commands.js";
import type { Position } from "./parser.js";

type Handler = (context: CommandContext) => CommandResult;

// The pairs of the command, each checked as `operation` would, none given twice.
function checkedPairs(context: CommandContext, operation: V2Operation): Array<{ id: string; at: Position }> {
  const image = context.image();
  const seen = new Set<string>();
  return context.operandItems(pairIds).map(({ item, at }) => {
    const relationship = atArgument(at, () => image.checkFlashV2(operation, item));
    if (seen.has(relationship.id)) throw new CommandFailure("BAD_ARGUMENT", `FlashCopy pair ${relationship.id} is given twice`, at);
    seen.add(relationship.id);
    return { id: relationship.id, at };
  });
}

// As with mkflash, -record makes the relationship persistent.
function incrementOptions(context: CommandContext) {
  const record = context.flag("record");
  return {
    record, persist: context.flag("persist") || record, tgtinhibit: context.flag("tgtinhibit"),
    tgtpprc: context.flag("tgtpprc"), seqnum: context.convert("seqnum", sequenceNumber),
  };
}

const resyncflash: Handler = (context) => {
  const image = context.image();
  const options = { ...incrementOptions(context), freeze: context.flag("freeze") };
  const ids = checkedPairs(context, "resyncflash").map(({ id, at }) => atArgument(at, () => image.resync(id, options)).id);
  return {
    lines: ids.map((id) => infoLine(INFO.flashResynced, "resyncflash", `FlashCopy volume pair ${id} successfully resynchronized.`)),
    value: ids,
  };
};

// Names the pairs as given (the old direction), as DS CLI does; the value is the reversed IDs.
const reverseflash: Handler = (context) => {
  const image = context.image();
  const options = { ...incrementOptions(context), fast: context.flag("fast") };
  const given = checkedPairs(context, "reverseflash");
  const reversed = given.map(({ id, at }) => atArgument(at, () => image.reverse(id, options)).id);
  return {
    lines: given.map(({ id }) => infoLine(INFO.flashReversed, "reverseflash", `FlashCopy volume pair ${id} successfully reversed.`)),
    value: reversed,
  };
};

const setflashrevertible: Handler = (context) => {
  const image = context.image();
  const seqnum = context.convert("seqnum", sequenceNumber);
  const ids = checkedPairs(context, "setflashrevertible").map(({ id, at }) => atArgument(at, () => image.setRevertible(id, { seqnum })).id);
  return {
    lines: ids.map((id) => infoLine(INFO.flashRevertible, "setflashrevertible", `FlashCopy volume pair ${id} successfully made revertible.`)),
    value: ids,
  };
};

// commitflash and revertflash name source volumes (DS CLI), or pairs; a
// source stands for its revertible relationships (with -seqnum, those of
// that sequence number).
function revertiblePairs(context: CommandContext, operation: "commitflash" | "revertflash"): Array<{ id: string; at: Position }> {
  const image = context.image();
  checkV2Supported(image.model, operation, image.id);
  const seqnum = context.convert("seqnum", sequenceNumber);
  const chosen: Array<{ id: string; at: Position }> = [];
  for (const operand of context.operands) {
    const text = formatValue(operand.value);
    const relationships = text.includes(":")
      ? atArgument(operand.at, () => pairIds(operand.value).map((id) => image.checkFlashV2(operation, id)))
      : atArgument(operand.at, () => volumeIds(operand.value).flatMap((id) => revertibleOf(image, operation, id, seqnum)));
    for (const relationship of relationships) {
      if (chosen.some((entry) => entry.id === relationship.id)) {
        throw new CommandFailure("BAD_ARGUMENT", `FlashCopy pair ${relationship.id} is given twice`, operand.at);
      }
      chosen.push({ id: relationship.id, at: operand.at });
    }
  }
  return chosen;
}

function revertibleOf(image: StorageImage, operation: V2Operation, sourceText: string, seqnum: number | undefined): Relationship[] {
  const source = image.volume(sourceText);
  const found = image.relationshipsOf(source.id)
    .filter((relationship) => relationship.sourceId === source.id && relationship.revertible)
    .filter((relationship) => seqnum === undefined || relationship.seqnum === seqnum);
  if (found.length === 0) {
    const which = seqnum === undefined ? "" : ` with sequence number ${seqnum.toString(16).toUpperCase()}`;
    throw new EngineError("NOT_REVERTIBLE", `source volume ${source.id} has no revertible FlashCopy relationship${which}: ${operation} needs setflashrevertible first`);
  }
  return found.map((relationship) => image.checkFlashV2(operation, relationship.id));
}

const commitflash: Handler = (context) => {
  const image = context.image();
  const ids = revertiblePairs(context, "commitflash").map(({ id, at }) => atArgument(at, () => image.commitRevertible(id)).id);
  return {
    lines: ids.map((id) => infoLine(INFO.flashCommitted, "commitflash", `FlashCopy volume pair ${id} successfully committed.`)),
    value: ids,
  };
};

const revertflash: Handler = (context) => {
  const image = context.image();
  const ids = revertiblePairs(context, "revertflash").map(({ id, at }) => atArgument(at, () => image.revertRevertible(id)).id);
  return {
    lines: ids.map((id) => infoLine(INFO.flashReverted, "revertflash", `FlashCopy volume pair ${id} successfully reverted.`)),
    value: ids,
  };
};

const unfreezeflash: Handler = (context) => {
  const image = context.image();
  const lsses = context.operands.map((operand) => ({ lss: atArgument(operand.at, () => image.checkUnfreeze(formatValue(operand.value))), at: operand.at }));
  const released = lsses.flatMap(({ lss, at }) => atArgument(at, () => image.unfreeze(lss)));
  return {
    lines: lsses.map(({ lss }) => infoLine(INFO.flashUnfrozen, "unfreezeflash", `FlashCopy consistency group for logical subsystem ${lss} successfully reset.`)),
    value: released,
  };
};

export const FLASH_V2_COMMANDS: Readonly<Record<string, Handler>> = {
  resyncflash, reverseflash, setflashrevertible, commitflash, revertflash, unfreezeflash,
};
