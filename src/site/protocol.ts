// The Site RPC: the Site interface (src/site/site.ts) over a wire Connection
// (src/wire), for every client of a site that is not in its process: a remote
// shell, a node's agent, the server's routing site.
//
//   client (ConnectedSite)                          server (serveSite over any Site)
//   site.<method> { call, args, requestId? } ─request─▶  authorize(method, args), then site.<method>(...args, { signal })
//   site.<method>.ok { value }          ◀──reply────  the result
//   site.<method>.ok { error }          ◀──reply────  a SiteError's data (any other error: INTERNAL, its message kept)
//   site.cancel { call }                ──one-way──▶  aborts the signal of call `call`
//   site.subscribe {} / site.unsubscribe {} ──one-way──▶  starts / stops the events
//   site.event { event }                ◀──one-way──  each SiteEvent while subscribed
//
// `call` is the client's number for a call (the wire's request id is not the
// caller's to know), so that site.cancel can name it. `requestId`, when the
// caller gives one, names the command across connections: a shell that fails
// over to another server retries with the same id, and the server answers the
// retry as it answered the first (serveSite's siteFor hands it to the server). A failed call replies
// with its SiteError in the reply body rather than the wire's REMOTE_ERROR,
// because that carries only a code and a message: `item`, `option` and
// `bytesWritten` must arrive too, for the caller to rebuild the same SiteError.
//
// How to add a method: one entry in SITE_METHODS (src/site/protocol-methods.ts).
// Its schemas are in src/site/protocol-schemas.ts, with the bounds explained.
import { Type, type TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import type { Connection } from "../wire/connection.js";
import { WireError } from "../wire/errors.js";
import { SiteError, type SiteErrorData } from "./errors.js";
import { SITE_METHODS, SITE_METHOD_NAMES, type SiteMethod, type SiteMethodSpec } from "./protocol-methods.js";
import * as S from "./protocol-schemas.js";
import type { CallOptions, Site } from "./site.js";
import type { SiteEvent, SiteListener } from "./types.js";

export { SITE_METHODS, SITE_METHOD_NAMES, LONG_CALL_TIMEOUT_MS, REPLY_SLACK_MS, type SiteMethod, type SiteMethodSpec } from "./protocol-methods.js";

const closed = { additionalProperties: false } as const;
const CallId = Type.Integer({ minimum: 1, maximum: S.CALL_ID_MAX });
const RequestId = Type.String({ minLength: 1, maxLength: S.REQUEST_ID_LENGTH_MAX });

// ---- messages ------------------------------------------------------------------------------------

type RequestSpecs = { [M in SiteMethod as `site.${M}`]: { body: TSchema; reply: `site.${M}.ok` } };
type ReplySpecs = { [M in SiteMethod as `site.${M}.ok`]: { body: TSchema } };
type OneWaySpecs = { [T in "site.cancel" | "site.subscribe" | "site.unsubscribe" | "site.event"]: { body: TSchema } };
export type SiteMessageSpecs = RequestSpecs & ReplySpecs & OneWaySpecs;

function argumentsSchema(spec: SiteMethodSpec): TSchema {
  return Type.Tuple([...spec.args]);
}

function replySchema(spec: SiteMethodSpec): TSchema {
  return Type.Union([Type.Object({ value: spec.result }, closed), Type.Object({ error: S.SiteErrorData }, closed)]);
}

function buildMessageSpecs(): SiteMessageSpecs {
  const specs: Record<string, { body: TSchema; reply?: string }> = {};
  for (const method of SITE_METHOD_NAMES) {
    const spec = SITE_METHODS[method];
    specs[`site.${method}`] = { body: Type.Object({ call: CallId, args: argumentsSchema(spec), requestId: Type.Optional(RequestId) }, closed), reply: `site.${method}.ok` };
    specs[`site.${method}.ok`] = { body: replySchema(spec) };
  }
  specs["site.cancel"] = { body: Type.Object({ call: CallId }, closed) };
  specs["site.subscribe"] = { body: Type.Object({}, closed) };
  specs["site.unsubscribe"] = { body: Type.Object({}, closed) };
  specs["site.event"] = { body: Type.Object({ event: S.SiteEvent }, closed) };
  return specs as SiteMessageSpecs;
}

// Every message of the Site RPC, for defineMessages({ ...siteMessageSpecs, ...others }).
export const siteMessageSpecs: SiteMessageSpecs = buildMessageSpecs();

// ---- checks ---------------------------------------------------------------------------------------

// Compiled once; a TypeCheck holds no state between calls.
const argumentChecks = new Map<SiteMethod, TypeCheck<TSchema>>(SITE_METHOD_NAMES.map((method) => [method, TypeCompiler.Compile(argumentsSchema(SITE_METHODS[method]))]));
const resultChecks = new Map<SiteMethod, TypeCheck<TSchema>>(SITE_METHOD_NAMES.map((method) => [method, TypeCompiler.Compile(SITE_METHODS[method].result)]));
const eventCheck = TypeCompiler.Compile(S.SiteEvent);

function firstError(check: TypeCheck<TSchema>, value: unknown, what: string): string | null {
  if (check.Check(value)) return null;
  const first = check.Errors(value).First();
  return `${what}${first?.path ?? ""}: ${first?.message ?? "invalid"}`;
}

// Throws BAD_ARGUMENT naming the field, when `args` (as they cross: absent ones null) fail `method`'s schema.
export function checkArguments(method: SiteMethod, args: readonly unknown[]): void {
  const wrong = firstError(argumentChecks.get(method)!, args, `${method}: arguments /args`);
  if (wrong !== null) throw new SiteError({ code: "BAD_ARGUMENT", message: wrong });
}

// Throws INTERNAL naming the field, when a site's result (as it crosses) fails `method`'s schema: a site's mistake.
export function checkResult(method: SiteMethod, value: unknown): void {
  const wrong = firstError(resultChecks.get(method)!, value, `${method}: the site's result /value`);
  if (wrong !== null) throw new SiteError({ code: "INTERNAL", message: wrong });
}

export function checkEvent(event: unknown): void {
  const wrong = firstError(eventCheck, event, "site event /event");
  if (wrong !== null) throw new SiteError({ code: "INTERNAL", message: wrong });
}

// ---- crossing ---------------------------------------------------------------------------------------

export interface WireCall {
  args: unknown[]; // as they cross: one per schema, absent ones null
  options: CallOptions & { timeoutMs?: number }; // what stays with the caller
}

// Splits a caller's arguments into what crosses the wire and the CallOptions that stay.
export function wireCall(method: SiteMethod, callerArgs: readonly unknown[]): WireCall {
  const spec: SiteMethodSpec = SITE_METHODS[method];
  const count = spec.args.length;
  const args = callerArgs.slice(0, count);
  while (args.length < count) args.push(undefined);
  let options: CallOptions = {};
  if (spec.optionsCarryData) {
    const { signal, ...data } = (args[count - 1] ?? {}) as CallOptions;
    args[count - 1] = data;
    options = { signal };
  } else if (spec.signal) {
    options = (callerArgs[count] ?? {}) as CallOptions;
  }
  return { args: args.map((arg) => (arg === undefined ? null : arg)), options };
}

// Calls `method` on `site` with arguments as they crossed, and `signal` where the method takes one.
export function callSite(site: Site, method: SiteMethod, wireArgs: readonly unknown[], signal: AbortSignal | undefined): Promise<unknown> {
  const spec: SiteMethodSpec = SITE_METHODS[method];
  const args = wireArgs.map((arg) => (arg === null ? undefined : arg));
  if (spec.optionsCarryData) args[args.length - 1] = { ...(args[args.length - 1] as object), signal };
  else if (spec.signal) args.push({ signal });
  return (site[method] as (...given: unknown[]) => Promise<unknown>)(...args);
}

// The result as it crosses: undefined (a Promise<void>) as null.
export function wireResult(value: unknown): unknown {
  return value === undefined ? null : value;
}

export function callerResult(method: SiteMethod, value: unknown): unknown {
  return SITE_METHODS[method].result === S.Void ? undefined : value;
}

// A failure as it crosses: a SiteError's data, anything else INTERNAL with its message; bounded as the schema bounds it.
export function errorData(error: unknown): SiteErrorData {
  const data: SiteErrorData = error instanceof SiteError
    ? error.toData()
    : { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) };
  if (data.code.length === 0 || data.code.length > S.CODE_LENGTH_MAX) data.code = "INTERNAL";
  if (data.message.length > S.ERROR_MESSAGE_LENGTH_MAX) data.message = `${data.message.slice(0, S.ERROR_MESSAGE_LENGTH_MAX - 1)}…`;
  if (data.option !== undefined && data.option.length > S.ID_LENGTH_MAX) delete data.option;
  return data;
}

// Defines on `prototype` every method of SITE_METHODS as `implement(method)`:
// how ConnectedSite and SerializedSite have every method of the table, and a
// method added there, without a line of their own.
export function defineSiteMethods(prototype: object, implement: (method: SiteMethod) => (...args: unknown[]) => Promise<unknown>): void {
  for (const method of SITE_METHOD_NAMES) Object.defineProperty(prototype, method, { value: implement(method), writable: true, configurable: true });
}
