// Errors of the REST API: an HTTP status, a stable `code` that goes out as
// `server.code` (clients act on it, never on the message), a message that
// names what was wrong, and the request field it was about, when one was.
// Site and auth failures are turned into these in one place (restError), so
// every route answers a failure the same way.
import { isSiteError } from "../../site/errors.js";

export class RestError extends Error {
  override readonly name = "RestError";

  constructor(readonly statusCode: number, readonly code: string, message: string, readonly field?: string) {
    super(message);
  }
}

export function isRestError(error: unknown): error is RestError {
  return error instanceof RestError;
}

// A missing or stale token, and a refused login: clients log in again on 401.
export const UNAUTHORIZED = 401;

// The HTTP status of each Site error code that is not a plain bad request (400).
const SITE_STATUS: Record<string, number> = {
  VOLUME_NOT_FOUND: 404, RELATIONSHIP_NOT_FOUND: 404, IMAGE_NOT_FOUND: 404, POOL_NOT_FOUND: 404, LSS_NOT_FOUND: 404,
  VOLUME_EXISTS: 409, POOL_EXISTS: 409, IMAGE_EXISTS: 409, VOLUME_IN_RELATIONSHIP: 409, BUSY: 409, POOL_NOT_EMPTY: 409,
  PAIR_NOT_FOUND: 404, HOST_NOT_FOUND: 404, VOLGRP_NOT_FOUND: 404,
  PATH_NOT_FOUND: 409, VOLUME_IN_PAIR: 409, PAIR_STATE: 409, PATH_IN_USE: 409, HOST_EXISTS: 409, VOLGRP_EXISTS: 409, VOLGRP_IN_USE: 409, VOLUME_MAPPED: 409,
  FROZEN: 409, LONG_BUSY: 409, TARGET_WRITE_INHIBITED: 409, VOLUME_UNUSABLE: 409,
  NO_SPACE: 507,
  TIMEOUT: 503, LOCK_TIMEOUT: 503, DRAIN_TIMEOUT: 503, ALLOC_LOCK_TIMEOUT: 503, GATE_TIMEOUT: 503, CLOSED: 503, CANCELLED: 503,
  CORE_ABORT: 500, WORKER_EXITED: 500,
};

// Codes of fastify's own refusals, renamed to this API's stable codes.
const FASTIFY_CODES: Record<string, { statusCode: number; code: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { statusCode: 413, code: "BODY_TOO_LARGE" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { statusCode: 415, code: "BAD_MEDIA_TYPE" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { statusCode: 400, code: "BAD_CONTENT_LENGTH" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { statusCode: 400, code: "BAD_JSON" },
  FST_ERR_CTP_INVALID_JSON_BODY: { statusCode: 400, code: "BAD_JSON" },
  FST_ERR_BAD_URL: { statusCode: 400, code: "BAD_URL" },
};

// Any failure of a request, as the RestError it is answered with.
export function restError(error: unknown): RestError {
  if (isRestError(error)) return error;
  if (isSiteError(error)) {
    const field = error.option ?? (error.item === undefined ? undefined : `item ${error.item}`);
    return new RestError(SITE_STATUS[error.code] ?? 400, error.code, error.message, field);
  }
  const coded = error as { code?: unknown; statusCode?: unknown; message?: unknown };
  const message = typeof coded.message === "string" ? coded.message : String(error);
  if (typeof coded.code === "string" && FASTIFY_CODES[coded.code] !== undefined) {
    const known = FASTIFY_CODES[coded.code];
    return new RestError(known.statusCode, known.code, message);
  }
  if (typeof coded.statusCode === "number" && coded.statusCode >= 400 && coded.statusCode < 500) {
    return new RestError(coded.statusCode, typeof coded.code === "string" ? coded.code : "BAD_REQUEST", message);
  }
  return new RestError(500, "INTERNAL_ERROR", `the server failed: ${message}`);
}

// What a thrown auth failure says: its own code when it carries one (UserError does).
export function authError(error: unknown, fallbackCode: string, field: string): RestError {
  if (isRestError(error)) return error;
  const coded = error as { code?: unknown; message?: unknown };
  const code = typeof coded.code === "string" ? coded.code : fallbackCode;
  const message = typeof coded.message === "string" ? coded.message : String(error);
  return new RestError(code === "SESSIONS_FULL" ? 503 : UNAUTHORIZED, code, message, field);
}
