// A Site that passes every call's arguments, and every result, error and
// event, through the Site RPC's schemas (src/site/protocol-schemas.ts) and a
// msgpackr encode and decode on the way to another Site: what a remote site
// does over the wire, minus the wire. Tests run the golden scripts through it
// to prove the interface carries plain data only (a class instance, a closure
// or a Date would not come back as it went) and that the schemas fit what
// the scenario language sends and the site answers: a drift between them
// fails here, naming the field.
//
// An AbortSignal is not data: it stays on this side, as a remote site's
// client would keep it and send a cancel request when it fires.
import { Packr } from "msgpackr";
import { SiteError } from "./errors.js";
import { callerResult, callSite, checkArguments, checkEvent, checkResult, defineSiteMethods, errorData, wireCall, wireResult, type SiteMethod } from "./protocol.js";
import type { Site } from "./site.js";
import type { SiteListener } from "./types.js";

const packr = new Packr({ useRecords: false });
const DEPTH_MAX = 32; // records nest a few levels; deeper is a cycle or a mistake

// Throws a TypeError naming where `value` holds something that is not plain
// data. msgpackr would carry a Date or a Map across without complaint, so the
// check is made here, before encoding, to keep the interface honest.
export function checkPlain(value: unknown, path = "value", depth = 0): void {
  if (value === null || value === undefined) return;
  const type = typeof value;
  if (type === "string" || type === "boolean" || type === "bigint") return;
  if (type === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`${path} is ${String(value)}, not a finite number`);
    return;
  }
  if (type !== "object") throw new TypeError(`${path} is a ${type}, not plain data`);
  if (depth >= DEPTH_MAX) throw new TypeError(`${path} nests deeper than ${DEPTH_MAX} levels`);
  if (value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    value.forEach((item, index) => checkPlain(item, `${path}[${index}]`, depth + 1));
    return;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new TypeError(`${path} is a ${(value as object).constructor?.name ?? "class instance"}, not plain data`);
  }
  for (const [key, item] of Object.entries(value)) checkPlain(item, `${path}.${key}`, depth + 1);
}

// Checked, encoded and decoded: the value as the other side of a wire would see it.
function across<T>(value: T, what: string): T {
  checkPlain(value, what);
  return packr.unpack(packr.pack(value)) as T;
}

// An error crosses as its plain data; one that is not a SiteError arrives as INTERNAL, its message kept.
function errorAcross(error: unknown): SiteError {
  return new SiteError(across(errorData(error), "error"));
}

export interface SerializedSite extends Pick<Site, SiteMethod> {}

export class SerializedSite implements Site {
  static {
    defineSiteMethods(SerializedSite.prototype, (method) => function (this: SerializedSite, ...args: unknown[]) {
      return this.relay(method, args);
    });
  }

  constructor(private readonly inner: Site) {}

  // Runs `method` on the inner site with the arguments as they arrive after
  // the wire, and gives back its result as it would arrive.
  private async relay(method: SiteMethod, callerArgs: unknown[]): Promise<unknown> {
    const { args, options } = wireCall(method, callerArgs);
    checkArguments(method, args);
    const decoded = across(args, "arguments");
    let result: unknown;
    try {
      result = wireResult(await callSite(this.inner, method, decoded, options.signal));
    } catch (error) {
      throw errorAcross(error);
    }
    checkResult(method, result);
    return callerResult(method, across(result, "result"));
  }

  // An event the schemas refuse is not delivered, and its error is thrown on
  // its own (uncaught), so the drift fails the run rather than the engine that emitted it.
  events(listener: SiteListener): () => void {
    return this.inner.events((event) => {
      try {
        checkEvent(event);
      } catch (error) {
        queueMicrotask(() => { throw error; });
        return;
      }
      listener(across(event, "event"));
    });
  }

  async close(): Promise<void> {
    try {
      await this.inner.close();
    } catch (error) {
      throw errorAcross(error);
    }
  }
}
