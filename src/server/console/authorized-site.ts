// The site as a console user reaches it: the Copy Services Server's view for
// that user and source, with every call first checked as the shell endpoint
// checks its calls (the session still live, the user's groups allowing the
// method's command class: a monitor may list, not create).
import { defineSiteMethods, type SiteMethod } from "../../site/protocol.js";
import type { Site } from "../../site/site.js";
import type { SiteListener } from "../../site/types.js";
import { METHOD_CLASSES } from "../shell-endpoint.js";
import type { CopyServicesServer } from "../server.js";
import type { EventSource } from "../site-state.js";
import { userSiteError } from "../user-errors.js";
import { authorize } from "../users.js";

export interface AuthorizedSite extends Pick<Site, SiteMethod> {}

export class AuthorizedSite implements Site {
  static {
    defineSiteMethods(AuthorizedSite.prototype, (method: SiteMethod) => async function (this: AuthorizedSite, ...args: unknown[]) {
      this.check(method);
      return (this.site as unknown as Record<SiteMethod, (...given: unknown[]) => Promise<unknown>>)[method](...args);
    });
  }

  private readonly site: Site;

  constructor(private readonly server: CopyServicesServer, private readonly token: string, private readonly userName: string, source: EventSource) {
    this.site = server.forCaller({ user: userName, source });
  }

  private check(method: SiteMethod): void {
    const commandClass = METHOD_CLASSES[method];
    try {
      this.server.authenticate(this.token);
      if (commandClass !== "self") authorize(this.server.state.users, this.userName, commandClass);
    } catch (error) {
      throw userSiteError(error);
    }
  }

  events(listener: SiteListener): () => void {
    return this.site.events(listener);
  }

  // The server's view holds nothing of its own.
  async close(): Promise<void> {}
}
