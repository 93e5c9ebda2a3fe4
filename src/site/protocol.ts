// The Site RPC over a wire Connection: serveSite on the side that holds the
// site, ConnectedSite on the caller's side. Each call is one request
// `site.call` naming the method, its arguments msgpack-encoded (checked plain
// by checkPlain first); the reply carries the result or the SiteError's data,
// so code, item, option and message arrive intact. Events flow one-way as
// `site.event` while the caller is subscribed.
import { Type } from "@sinclair/typebox";
import { Packr } from "msgpackr";
import type { Connection } from "../wire/connection.js";
import { WireError } from "../wire/errors.js";
import { SiteError, type SiteErrorData } from "./errors.js";
import { checkPlain } from "./serialized.js";
import type { CallOptions, Site } from "./site.js";
import type { SiteEvent, SiteListener } from "./types.js";

export const SITE_PAYLOAD_BYTES_MAX = 16 * 1024 * 1024 + 64 * 1024;
const METHOD_LENGTH_MAX = 64;
const CALL_TIMEOUT_MS_MAX = 2 ** 31 - 1; // the calls that wait (waitForCopy, fill, save) bound themselves

const Payload = Type.Uint8Array({ maxByteLength: SITE_PAYLOAD_BYTES_MAX });
export const siteMessageSpecs = {
  "site.call": {
    body: Type.Object({ call: Type.Integer({ minimum: 1 }), method: Type.String({ minLength: 1, maxLength: METHOD_LENGTH_MAX }), args: Payload }, { additionalProperties: false }),
    reply: "site.call.ok",
  },
  "site.call.ok": { body: Type.Object({ value: Type.Optional(Payload), error: Type.Optional(Payload) }, { additionalProperties: false }) },
  "site.cancel": { body: Type.Object({ call: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }) },
  "site.subscribe": { body: Type.Object({ on: Type.Boolean() }, { additionalProperties: false }) },
  "site.event": { body: Type.Object({ event: Payload }, { additionalProperties: false }) },
} as const;

// The methods a caller may name: every one of the Site interface but events and close.
const SITE_METHODS = new Set([
  "listImages", "addImage", "listLss", "listPorts", "listVolumes", "volume", "createVolumes", "checkVolumesIdle", "removeVolumes",
  "reinitVolumes", "changeVolumes", "listPools", "pool", "createPool", "checkPoolsRemovable", "removePools", "listFlash", "establishFlash",
  "checkFlash", "withdrawFlash", "incrementFlash", "settleRevertible", "unfreezeFlash", "pendingFlash", "waitForCopy", "fill", "write",
  "read", "checksum", "startWorkload", "stopWorkload", "waitWorkload", "listWorkloads", "stopWorkloads", "save", "load", "listUsers",
  "user", "createUser", "changeUser", "removeUser",
]);
// Where a method takes CallOptions (its AbortSignal), by argument index.
const OPTIONS_AT: Record<string, number> = {
  createVolumes: 2, removeVolumes: 2, reinitVolumes: 2, changeVolumes: 2, establishFlash: 2, withdrawFlash: 2, waitForCopy: 2, fill: 4,
  waitWorkload: 2, save: 1, load: 1,
};

type SiteSpecs = typeof siteMessageSpecs;
export interface ServeSiteOptions {
  // Runs before each call; its throw is the call's error.
  authorize?(method: string, args: unknown[]): void | Promise<void>;
}

function packer(): Packr {
  return new Packr({ useRecords: false, moreTypes: false, structuredClone: false });
}

function errorData(error: unknown): SiteErrorData {
  if (error instanceof SiteError) return error.toData();
  const code = typeof (error as { code?: unknown })?.code === "string" ? (error as { code: string }).code : "INTERNAL";
  return { code, message: error instanceof Error ? error.message : String(error) };
}

export function serveSite(connection: Connection<any>, site: Site, options: ServeSiteOptions = {}): void {
  const packr = packer();
  const calls = new Map<number, AbortController>();
  let unsubscribe: (() => void) | null = null;
  connection.handle("site.call", async (body: { call: number; method: string; args: Uint8Array }) => {
    if (!SITE_METHODS.has(body.method)) return { error: packr.pack({ code: "BAD_ARGUMENT", message: `there is no Site method ${body.method}` }) };
    const args = packr.unpack(body.args) as unknown[];
    if (!Array.isArray(args)) return { error: packr.pack({ code: "BAD_ARGUMENT", message: `the arguments of ${body.method} are not a list` }) };
    const controller = new AbortController();
    calls.set(body.call, controller);
    try {
      await options.authorize?.(body.method, args);
      const at = OPTIONS_AT[body.method];
      if (at !== undefined) args[at] = { ...(args[at] as object ?? {}), signal: controller.signal };
      const value = await (site as unknown as Record<string, (...given: unknown[]) => Promise<unknown>>)[body.method](...args);
      return { value: packr.pack(value) };
    } catch (error) {
      return { error: packr.pack(errorData(error)) };
    } finally {
      calls.delete(body.call);
    }
  });
  connection.on("message", (type: string, body: { call?: number; on?: boolean }) => {
    if (type === "site.cancel") calls.get(body.call!)?.abort();
    if (type !== "site.subscribe") return;
    unsubscribe?.();
    unsubscribe = body.on ? site.events((event) => { if (connection.isOpen) connection.send("site.event", { event: packr.pack(event) }); }) : null;
  });
  void connection.closed.then(() => {
    unsubscribe?.();
    for (const controller of calls.values()) controller.abort();
  });
}

// A connection failure as a SiteError: CONNECTION_FAILED, the wire's code kept in the message.
export function connectionError(error: WireError): SiteError {
  return new SiteError({ code: "CONNECTION_FAILED", message: `the connection to the Copy Services Server failed: ${error.message}` });
}

export class ConnectedSite implements Site {
  private readonly packr = packer();
  private nextCall = 1;
  private readonly listeners = new Set<SiteListener>();

  constructor(readonly connection: Connection<any>) {
    connection.on("message", (type: string, body: { event: Uint8Array }) => {
      if (type !== "site.event") return;
      const event = this.packr.unpack(body.event) as SiteEvent;
      for (const listener of this.listeners) listener(event);
    });
  }

  private async invoke<T>(method: string, args: unknown[], options: CallOptions = {}): Promise<T> {
    checkPlain(args, "arguments");
    const call = this.nextCall++;
    if (options.signal?.aborted) throw new SiteError({ code: "CANCELLED", message: `${method} cancelled` });
    const onAbort = () => { if (this.connection.isOpen) this.connection.send("site.cancel", { call }); };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let reply: { value?: Uint8Array; error?: Uint8Array };
    try {
      reply = await this.connection.request("site.call", { call, method, args: this.packr.pack(args) }, { timeoutMs: CALL_TIMEOUT_MS_MAX });
    } catch (error) {
      throw error instanceof WireError ? connectionError(error) : error;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
    if (reply.error !== undefined) throw new SiteError(this.packr.unpack(reply.error) as SiteErrorData);
    return (reply.value === undefined ? undefined : this.packr.unpack(reply.value)) as T;
  }

  listImages: Site["listImages"] = () => this.invoke("listImages", []);
  addImage: Site["addImage"] = (request) => this.invoke("addImage", [request]);
  listLss: Site["listLss"] = (imageId) => this.invoke("listLss", [imageId]);
  listPorts: Site["listPorts"] = (imageId) => this.invoke("listPorts", [imageId]);
  listVolumes: Site["listVolumes"] = (imageId) => this.invoke("listVolumes", [imageId]);
  volume: Site["volume"] = (imageId, volumeId) => this.invoke("volume", [imageId, volumeId]);
  createVolumes: Site["createVolumes"] = (imageId, request, options) => this.invoke("createVolumes", [imageId, request], options);
  checkVolumesIdle: Site["checkVolumesIdle"] = (imageId, ids, action) => this.invoke("checkVolumesIdle", [imageId, ids, action]);
  removeVolumes: Site["removeVolumes"] = (imageId, ids, options) => this.invoke("removeVolumes", [imageId, ids], options);
  reinitVolumes: Site["reinitVolumes"] = (imageId, ids, options) => this.invoke("reinitVolumes", [imageId, ids], options);
  changeVolumes: Site["changeVolumes"] = (imageId, request, options) => this.invoke("changeVolumes", [imageId, request], options);
  listPools: Site["listPools"] = (imageId) => this.invoke("listPools", [imageId]);
  pool: Site["pool"] = (imageId, idOrName) => this.invoke("pool", [imageId, idOrName]);
  createPool: Site["createPool"] = (imageId, request) => this.invoke("createPool", [imageId, request]);
  checkPoolsRemovable: Site["checkPoolsRemovable"] = (imageId, ids) => this.invoke("checkPoolsRemovable", [imageId, ids]);
  removePools: Site["removePools"] = (imageId, ids) => this.invoke("removePools", [imageId, ids]);
  listFlash: Site["listFlash"] = (imageId) => this.invoke("listFlash", [imageId]);
  establishFlash: Site["establishFlash"] = (imageId, request, options) => this.invoke("establishFlash", [imageId, request], options);
  checkFlash: Site["checkFlash"] = (imageId, operation, ids) => this.invoke("checkFlash", [imageId, operation, ids]);
  withdrawFlash: Site["withdrawFlash"] = (imageId, ids, options) => this.invoke("withdrawFlash", [imageId, ids], options);
  incrementFlash: Site["incrementFlash"] = (imageId, operation, ids, options) => this.invoke("incrementFlash", [imageId, operation, ids, options]);
  settleRevertible: Site["settleRevertible"] = (imageId, operation, items, seqnum) => this.invoke("settleRevertible", [imageId, operation, items, seqnum]);
  unfreezeFlash: Site["unfreezeFlash"] = (imageId, lsses) => this.invoke("unfreezeFlash", [imageId, lsses]);
  pendingFlash: Site["pendingFlash"] = (imageId, ids) => this.invoke("pendingFlash", [imageId, ids]);
  waitForCopy: Site["waitForCopy"] = (imageId, ids, options = {}) => {
    const { signal, ...data } = options;
    return this.invoke("waitForCopy", [imageId, ids, data], { signal });
  };
  fill: Site["fill"] = (imageId, volumeId, range, source, options) => this.invoke("fill", [imageId, volumeId, range, source], options);
  write: Site["write"] = (imageId, volumeId, offset, data) => this.invoke("write", [imageId, volumeId, offset, data]);
  read: Site["read"] = (imageId, volumeId, offset, length) => this.invoke("read", [imageId, volumeId, offset, length]);
  checksum: Site["checksum"] = (imageId, volumeId, offset, length) => this.invoke("checksum", [imageId, volumeId, offset, length]);
  startWorkload: Site["startWorkload"] = (imageId, spec) => this.invoke("startWorkload", [imageId, spec]);
  stopWorkload: Site["stopWorkload"] = (name) => this.invoke("stopWorkload", [name]);
  waitWorkload: Site["waitWorkload"] = (name, timeoutMs, options) => this.invoke("waitWorkload", [name, timeoutMs], options);
  listWorkloads: Site["listWorkloads"] = () => this.invoke("listWorkloads", []);
  stopWorkloads: Site["stopWorkloads"] = () => this.invoke("stopWorkloads", []);
  save: Site["save"] = (file, options) => this.invoke("save", [file], options);
  load: Site["load"] = (file, options) => this.invoke("load", [file], options);
  listUsers: Site["listUsers"] = () => this.invoke("listUsers", []);
  user: Site["user"] = (name) => this.invoke("user", [name]);
  createUser: Site["createUser"] = (request) => this.invoke("createUser", [request]);
  changeUser: Site["changeUser"] = (request) => this.invoke("changeUser", [request]);
  removeUser: Site["removeUser"] = (name) => this.invoke("removeUser", [name]);

  events(listener: SiteListener): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1 && this.connection.isOpen) this.connection.send("site.subscribe", { on: true });
    return () => {
      if (!this.listeners.delete(listener) || this.listeners.size > 0) return;
      if (this.connection.isOpen) this.connection.send("site.subscribe", { on: false });
    };
  }

  async close(): Promise<void> {
    await this.connection.close("the shell closed its site");
  }
}

export type { SiteSpecs };
