// The client side of the Site RPC (src/site/protocol.ts): a Site whose every
// method is one request on a wire Connection, served by serveSite at the other
// end. Its methods come from SITE_METHODS, so a method added there is here too.
//
// An abort of a call's signal sends site.cancel and then waits, at most
// cancelWaitMs, for the site's own answer: the CANCELLED error it gives (with
// what it had done, as an EmbeddedSite gives it), or the result of a call that
// finished first. A wire failure (the connection lost or closed, a reply timed
// out) arrives as a SiteError whose code is the wire's (CONNECTION_LOST,
// PEER_CLOSED, REQUEST_TIMEOUT...), its message the wire's.
import type { Connection } from "../wire/connection.js";
import { isWireError } from "../wire/errors.js";
import { SiteError, type SiteErrorData } from "./errors.js";
import { callerResult, defineSiteMethods, wireCall, SITE_METHODS, type SiteMethod, type SiteMethodSpec } from "./protocol.js";
import type { Site } from "./site.js";
import type { SiteEvent, SiteListener } from "./types.js";

export const CALL_TIMEOUT_MS_DEFAULT = 60_000;
export const CANCEL_WAIT_MS_DEFAULT = 10_000;

export interface ConnectedSiteOptions {
  // The reply timeout of a call that is not long (SiteMethodSpec.timeoutMs):
  // above the wire's 10 s, since a command may wait out an engine's drain.
  callTimeoutMs?: number;
  cancelWaitMs?: number; // after an abort, how long the site's own answer is awaited
}

type Reply = { value: unknown } | { error: SiteErrorData };

// A wire failure, or a site's error, as the caller sees it: a SiteError.
export function siteErrorOf(error: unknown): unknown {
  if (!isWireError(error)) return error;
  const code = error.code === "REMOTE_ERROR" ? (error.remoteCode ?? error.code) : error.code;
  return new SiteError({ code, message: error.message });
}

export interface ConnectedSite extends Pick<Site, SiteMethod> {}

export class ConnectedSite implements Site {
  private nextCall = 1;
  private readonly listeners = new Set<SiteListener>();
  private subscribed = false; // what the server was last told
  private readonly callTimeoutMs: number;
  private readonly cancelWaitMs: number;

  static {
    defineSiteMethods(ConnectedSite.prototype, (method) => function (this: ConnectedSite, ...args: unknown[]) {
      return this.call(method, args);
    });
  }

  constructor(readonly connection: Connection<any>, options: ConnectedSiteOptions = {}) {
    this.callTimeoutMs = options.callTimeoutMs ?? CALL_TIMEOUT_MS_DEFAULT;
    this.cancelWaitMs = options.cancelWaitMs ?? CANCEL_WAIT_MS_DEFAULT;
    connection.on("message", (type: string, body: { event: SiteEvent }) => {
      if (type === "site.event") this.deliver(body.event);
    });
    connection.opened.then(() => this.syncSubscription(), () => {});
  }

  // One call, one request: the reply's value, or its error rebuilt. Every
  // method is this; a caller that retries a command elsewhere (failover to
  // another server) calls it directly with the command's `requestId`.
  async call(method: SiteMethod, callerArgs: readonly unknown[], context: { requestId?: string } = {}): Promise<unknown> {
    const { args, options } = wireCall(method, callerArgs);
    try {
      await this.connection.opened;
    } catch (error) {
      throw siteErrorOf(error);
    }
    const cause = this.connection.closeCause; // closed since it opened: the caller learns why, not just that
    if (cause !== null) throw siteErrorOf(cause);
    const call = this.nextCall++;
    const spec: SiteMethodSpec = SITE_METHODS[method];
    const timeoutMs = spec.timeoutMs?.(args) ?? this.callTimeoutMs;
    const body = context.requestId === undefined ? { call, args } : { call, args, requestId: context.requestId };
    const reply = this.connection.request(`site.${method}`, body, { timeoutMs }) as Promise<Reply>;
    const answer = await this.answer(reply, call, options.signal);
    if ("error" in answer) throw new SiteError(answer.error);
    return callerResult(method, answer.value);
  }

  // The reply, with an abort of `signal` turned into site.cancel.
  private answer(reply: Promise<Reply>, call: number, signal: AbortSignal | undefined): Promise<Reply> {
    const failed = (error: unknown) => {
      if (isWireError(error) && error.code === "REQUEST_TIMEOUT") this.sendCancel(call); // the site need not go on for nobody
      throw siteErrorOf(error);
    };
    if (signal === undefined) return reply.catch(failed);
    return new Promise<Reply>((resolve, reject) => {
      let giveUp: NodeJS.Timeout | undefined;
      const onAbort = () => {
        this.sendCancel(call);
        giveUp = setTimeout(() => reject(new SiteError({ code: "CANCELLED", message: "cancelled" })), this.cancelWaitMs);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      reply.catch(failed).then(resolve, reject).finally(() => {
        signal.removeEventListener("abort", onAbort);
        clearTimeout(giveUp);
      });
    });
  }

  private sendCancel(call: number): void {
    if (this.connection.isOpen) this.connection.send("site.cancel", { call });
  }

  events(listener: SiteListener): () => void {
    this.listeners.add(listener);
    this.syncSubscription();
    return () => {
      if (!this.listeners.delete(listener)) return;
      this.syncSubscription();
    };
  }

  // Tells the server to start or stop the events, when the listeners' count
  // crossed zero and the connection is open (else when it opens).
  private syncSubscription(): void {
    const wanted = this.listeners.size > 0;
    if (wanted === this.subscribed || !this.connection.isOpen) return;
    this.connection.send(wanted ? "site.subscribe" : "site.unsubscribe", {});
    this.subscribed = wanted;
  }

  // A listener's throw is not the connection's fault: it is rethrown on its
  // own, as an uncaught error, and the other listeners still hear the event.
  private deliver(event: SiteEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        queueMicrotask(() => { throw error; });
      }
    }
  }

  // Closes the connection; the site at the other end goes on.
  async close(): Promise<void> {
    await this.connection.close("the site's client closed");
  }
}
