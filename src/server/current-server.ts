// What the node's HTTP routes (the REST API, the shells) reach: the site's
// Copy Services Server while this node is its primary. The server changes
// under them (a takeover makes one, a step-down retires it), so they hold
// this, never a server: a call while there is none is refused NOT_PRIMARY,
// naming the node, and a client goes to the site's other server.
import { defineSiteMethods, type SiteMethod } from "../site/protocol.js";
import { SiteError } from "../site/errors.js";
import type { Site } from "../site/site.js";
import type { SiteListener } from "../site/types.js";
import type { CopyServicesServer } from "./server.js";

export class CurrentServer {
  server: CopyServicesServer | null = null;

  constructor(private readonly nodeId: string) {}

  get(): CopyServicesServer {
    if (this.server !== null) return this.server;
    throw new SiteError({ code: "NOT_PRIMARY", message: `node ${this.nodeId} is not the site's primary Copy Services Server now: use the other server` });
  }
}

export interface CurrentSite extends Pick<Site, SiteMethod> {}

// The Site of whichever server is current, call by call. Events follow the
// server that is current when subscribed; closing it closes nothing.
export class CurrentSite implements Site {
  static {
    defineSiteMethods(CurrentSite.prototype, (method: SiteMethod) => function (this: CurrentSite, ...args: unknown[]) {
      return Promise.resolve().then(() => (this.current.get() as unknown as Record<SiteMethod, (...given: unknown[]) => Promise<unknown>>)[method](...args));
    });
  }

  constructor(private readonly current: CurrentServer) {}

  events(listener: SiteListener): () => void {
    return this.current.server?.events(listener) ?? (() => {});
  }

  async close(): Promise<void> {}
}
