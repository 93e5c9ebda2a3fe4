// A wait with its live view beside it (wait flash, wait pprc, mkpprc -wait).
// Once the wait has succeeded the view is left to take its next sample and end
// by itself on seeing nothing left to copy, so its "complete" line is never lost
// to the race between the two; a failed or cancelled wait ends the view at once.
import type { CommandContext } from "./context.js";
import { CommandFailure } from "./values.js";

// How long a view may take to see what the finished wait saw (a few refreshes at most).
const VIEW_SETTLE_MS = 2_000;

export async function waitWithView(
  context: CommandContext,
  view: (signal: AbortSignal) => Promise<void>,
  wait: () => Promise<void>,
  cancelled: string,
): Promise<void> {
  const done = new AbortController();
  const shown = view(AbortSignal.any([context.signal, done.signal]));
  try {
    await wait();
  } catch (error) {
    done.abort();
    await shown;
    if (context.signal.aborted) throw new CommandFailure("CANCELLED", cancelled);
    throw error;
  }
  const bound = setTimeout(() => done.abort(), VIEW_SETTLE_MS);
  try {
    await shown;
  } finally {
    clearTimeout(bound);
  }
}
