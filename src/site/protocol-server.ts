// The server side of the Site RPC (src/site/protocol.ts): serves every
// `site.*` request of one wire Connection by calling a Site, any Site (an
// EmbeddedSite, or the server's site that routes calls to nodes).
//
// The connection has validated each request against its schema before a
// handler sees it (a bad one closes the connection, naming the field), so a
// handler has only to authorize, call, and answer. Every call that takes
// CallOptions gets its own AbortSignal, aborted by site.cancel naming the
// call, and by the connection's close: a caller that is gone waits for nothing.
import type { Connection } from "../wire/connection.js";
import { isWireError } from "../wire/errors.js";
import { SiteError } from "./errors.js";
import { callSite, checkEvent, checkResult, errorData, wireResult, SITE_METHOD_NAMES, type SiteMethod } from "./protocol.js";
import type { Site } from "./site.js";
import type { SiteErrorData } from "./errors.js";
import type { SiteEvent } from "./types.js";

// Cancels that arrive before their call has started (both in one chunk: a
// one-way message is handled at once, a request on a later microtask) are
// remembered, up to this many, the oldest forgotten first.
export const EARLY_CANCELS_MAX = 1024;

// One call as it arrived, for the hooks.
export interface SiteCall {
  method: SiteMethod;
  args: readonly unknown[]; // as they crossed: absent ones null
  requestId?: string; // the caller's id of the command, the same on a retry
  connection: Connection<any>;
}

export interface ServeSiteOptions {
  // Runs before each call; its throw (or rejection) is the call's error, and
  // the site is not called. The shell's endpoint checks tokens and groups here.
  authorize?(method: SiteMethod, args: readonly unknown[], call: SiteCall): void | Promise<void>;
  // The Site that answers this call (default: the one given to serveSite): the
  // server's view for the caller and its request id, server.forCaller(...).
  siteFor?(call: SiteCall): Site;
}

type Reply = { value: unknown } | { error: SiteErrorData };

class SiteService {
  private readonly calls = new Map<number, AbortController>();
  private readonly earlyCancels = new Set<number>();
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly connection: Connection<any>, private readonly site: Site, private readonly options: ServeSiteOptions) {}

  start(): void {
    for (const method of SITE_METHOD_NAMES) {
      this.connection.handle(`site.${method}`, (body: { call: number; args: unknown[]; requestId?: string }) => this.serve(method, body));
    }
    this.connection.on("message", (type: string, body: unknown) => this.oneWay(type, body));
    void this.connection.closed.then(() => this.stop());
  }

  private async serve(method: SiteMethod, body: { call: number; args: unknown[]; requestId?: string }): Promise<Reply> {
    const { call, args } = body;
    if (this.calls.has(call)) return { error: { code: "BAD_ARGUMENT", message: `call ${call} is already in flight on this connection` } };
    const controller = new AbortController();
    this.calls.set(call, controller);
    if (this.earlyCancels.delete(call)) controller.abort();
    try {
      const context: SiteCall = { method, args, connection: this.connection };
      if (body.requestId !== undefined) context.requestId = body.requestId;
      await this.options.authorize?.(method, args, context);
      const site = this.options.siteFor?.(context) ?? this.site;
      const value = wireResult(await callSite(site, method, args, controller.signal));
      checkResult(method, value);
      return { value };
    } catch (error) {
      return { error: errorData(error) };
    } finally {
      this.calls.delete(call);
    }
  }

  private oneWay(type: string, body: unknown): void {
    if (type === "site.cancel") this.cancel((body as { call: number }).call);
    else if (type === "site.subscribe") this.subscribe();
    else if (type === "site.unsubscribe") this.stopEvents();
  }

  private cancel(call: number): void {
    const controller = this.calls.get(call);
    if (controller !== undefined) {
      controller.abort();
      return;
    }
    this.earlyCancels.add(call);
    if (this.earlyCancels.size > EARLY_CANCELS_MAX) this.earlyCancels.delete(this.earlyCancels.values().next().value!);
  }

  private subscribe(): void {
    if (this.unsubscribe !== null) return;
    this.unsubscribe = this.site.events((event) => this.push(event));
  }

  // An event the protocol cannot carry is a site's mistake: it is reported
  // where the connection reports its handlers' failures, never dropped silently.
  // A progress event is a sample that the next one (or flash-copied) supersedes,
  // so it is the one event left out while the peer is not reading: the
  // transport's buffer stays bounded by the events that matter.
  private push(event: SiteEvent): void {
    if (event.type === "flash-progress" && !this.connection.isWritable) return;
    try {
      checkEvent(event);
      this.connection.send("site.event", { event });
    } catch (error) {
      if (isWireError(error) && error.code === "NOT_OPEN") return; // closing: the subscription ends with the connection
      this.connection.emit("handlerError", error instanceof SiteError ? error : new SiteError(errorData(error)), "site.event");
    }
  }

  private stopEvents(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private stop(): void {
    this.stopEvents();
    for (const controller of this.calls.values()) controller.abort();
    this.earlyCancels.clear();
  }
}

// Serves `site` on `connection`, whose registry must hold siteMessageSpecs.
export function serveSite(connection: Connection<any>, site: Site, options: ServeSiteOptions = {}): void {
  new SiteService(connection, site, options).start();
}
