// The DS CLI FlashCopy V2 commands (model 2107): resyncflash, reverseflash,
// setflashrevertible, commitflash, revertflash, unfreezeflash. mkflash's V2
// options (-cp, -freeze, -tgtpprc) live with mkflash in ds-commands.ts.
// Each command checks every pair it was given before it changes any.
import type { IncrementOperation, IncrementOptions, RevertibleItem, RevertibleOperation } from "../site/types.js";
import type { CommandContext, CommandResult } from "./context.js";
import { INFO, infoLine } from "./messages.js";
import { formatValue, pairIds, volumeIds } from "./values.js";
import { sequenceNumber } from "./ds-commands.js";
import type { Position } from "./parser.js";

type Handler = (context: CommandContext) => Promise<CommandResult>;

// As with mkflash, -record makes the relationship persistent.
function incrementOptions(context: CommandContext): IncrementOptions {
  const record = context.flag("record");
  return {
    record, persist: context.flag("persist") || record, tgtinhibit: context.flag("tgtinhibit"),
    tgtpprc: context.flag("tgtpprc"), seqnum: context.convert("seqnum", sequenceNumber),
  };
}

// One site call over every pair of the command: each checked as `operation` would, none given twice.
async function increment(context: CommandContext, operation: IncrementOperation, options: IncrementOptions) {
  const image = await context.image();
  const items = context.operandItems(pairIds);
  const ids = await context.call(context.site.incrementFlash(image.id, operation, items.map(({ item }) => item), options), items);
  return { given: items.map(({ item }) => item), ids };
}

const resyncflash: Handler = async (context) => {
  const { ids } = await increment(context, "resyncflash", { ...incrementOptions(context), freeze: context.flag("freeze") });
  return {
    lines: ids.map((id) => infoLine(INFO.flashResynced, "resyncflash", `FlashCopy volume pair ${id} successfully resynchronized.`)),
    value: ids,
  };
};

// Names the pairs as given (the old direction), as DS CLI does; the value is the reversed IDs.
const reverseflash: Handler = async (context) => {
  const { given, ids } = await increment(context, "reverseflash", { ...incrementOptions(context), fast: context.flag("fast") });
  return {
    lines: given.map((id) => infoLine(INFO.flashReversed, "reverseflash", `FlashCopy volume pair ${id} successfully reversed.`)),
    value: ids,
  };
};

const setflashrevertible: Handler = async (context) => {
  const { ids } = await increment(context, "setflashrevertible", { seqnum: context.convert("seqnum", sequenceNumber) });
  return {
    lines: ids.map((id) => infoLine(INFO.flashRevertible, "setflashrevertible", `FlashCopy volume pair ${id} successfully made revertible.`)),
    value: ids,
  };
};

// commitflash and revertflash name source volumes (DS CLI), or pairs; a
// source stands for its revertible relationships (with -seqnum, those of
// that sequence number). The site resolves and checks them all in one call.
async function settle(context: CommandContext, operation: RevertibleOperation): Promise<string[]> {
  const image = await context.image();
  const seqnum = context.convert("seqnum", sequenceNumber);
  const items: Array<RevertibleItem & { at: Position }> = context.operands.map((operand) => (formatValue(operand.value).includes(":")
    ? { pairs: context.operand(context.operands.indexOf(operand), pairIds), at: operand.at }
    : { sources: context.operand(context.operands.indexOf(operand), volumeIds), at: operand.at }));
  const request = items.map(({ pairs, sources }) => (pairs !== undefined ? { pairs } : { sources }));
  return context.call(context.site.settleRevertible(image.id, operation, request, seqnum), items);
}

const commitflash: Handler = async (context) => {
  const ids = await settle(context, "commitflash");
  return {
    lines: ids.map((id) => infoLine(INFO.flashCommitted, "commitflash", `FlashCopy volume pair ${id} successfully committed.`)),
    value: ids,
  };
};

const revertflash: Handler = async (context) => {
  const ids = await settle(context, "revertflash");
  return {
    lines: ids.map((id) => infoLine(INFO.flashReverted, "revertflash", `FlashCopy volume pair ${id} successfully reverted.`)),
    value: ids,
  };
};

const unfreezeflash: Handler = async (context) => {
  const image = await context.image();
  const given = context.operands.map((operand) => formatValue(operand.value));
  const { lsses, released } = await context.call(context.site.unfreezeFlash(image.id, given), context.operands);
  return {
    lines: lsses.map((lss) => infoLine(INFO.flashUnfrozen, "unfreezeflash", `FlashCopy consistency group for logical subsystem ${lss} successfully reset.`)),
    value: released,
  };
};

export const FLASH_V2_COMMANDS: Readonly<Record<string, Handler>> = {
  resyncflash, reverseflash, setflashrevertible, commitflash, revertflash, unfreezeflash,
};
