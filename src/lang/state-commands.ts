// `save [FILE]` and `load FILE`: the session's storage images to and from a
// state file (src/store). Store errors keep their codes (TRUNCATED,
// CHECKSUM_MISMATCH, ...) so that `expect error CODE` can name them.
import { isSiteError } from "../site/errors.js";
import type { SaveReport } from "../site/types.js";
import type { CommandContext, CommandResult } from "./context.js";
import type { CommandHandler } from "./ds-commands.js";
import { INFO, infoLine } from "./messages.js";
import { CommandFailure } from "./values.js";

function operandText(context: CommandContext): string | undefined {
  return context.operands.length === 0 ? undefined : context.operand(0, (value) => String(value));
}

async function storeCall<T>(context: CommandContext, body: () => T | Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (!isSiteError(error)) throw error;
    const at = context.operands[0]?.at;
    throw new CommandFailure(error.code, error.message, at);
  }
}

async function save(context: CommandContext): Promise<CommandResult> {
  const file = operandText(context);
  const report = await storeCall(context, () => context.session.save(file, context.signal));
  return { lines: [savedLine(report)], value: report.file };
}

const count = (number: number, noun: string) => `${number} ${noun}${number === 1 ? "" : "s"}`;

export function savedLine(report: SaveReport): string {
  const megabytes = (report.bytesWritten / 2 ** 20).toFixed(1);
  const what = `${count(report.volumes, "volume")} and ${count(report.relationships, "FlashCopy relationship")} of ${count(report.images, "storage image")}`;
  return infoLine(INFO.stateSaved, "save", `${what} saved to ${report.file} (${megabytes} MiB, I/O held ${report.frozenMs.toFixed(0)} ms).`);
}

async function load(context: CommandContext): Promise<CommandResult> {
  const file = operandText(context)!;
  const { images } = await storeCall(context, () => context.session.load(file, context.signal));
  const volumes = images.reduce((count, image) => count + image.volumes, 0);
  const relationships = images.reduce((count, image) => count + image.relationships, 0);
  const summary = `${count(images.length, "storage image")} with ${count(volumes, "volume")} and ${count(relationships, "FlashCopy relationship")} loaded from ${file}.`;
  return { lines: [infoLine(INFO.stateLoaded, "load", summary)], value: images.map((image) => image.id) };
}

export const STATE_COMMANDS: Readonly<Record<string, CommandHandler>> = { save, load };
