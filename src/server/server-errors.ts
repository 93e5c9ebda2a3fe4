// Errors of the Copy Services Server's own machinery (its state, store and
// replication). Callers act on `code`; the message names what was wrong.
// What a Site call answers stays a SiteError (src/site/errors.ts), so that it
// crosses the wire unchanged.

export type ServerErrorCode =
  | "BAD_RECORD" // a site record that is malformed or does not fit the state
  | "BAD_STATE" // a site state (a snapshot) that is malformed
  | "BAD_ARGUMENT" // a caller's argument: an option out of range, a node id given twice
  | "STALE_TERM" // a peer speaks for a lower term than this server knows
  | "NOT_PRIMARY" // a change asked of a server that is the backup, or that lost its term
  | "REPLICATION" // the backup's stream broke: a gap, a refused record
  | "TASK_NOT_FOUND" // a console task that does not exist
  | "CLOSED"; // the server or its store was closed

export class ServerError extends Error {
  override readonly name = "ServerError";

  constructor(readonly code: ServerErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

export function isServerError(error: unknown): error is ServerError {
  return error instanceof ServerError;
}
