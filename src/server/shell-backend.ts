// The shell endpoint's backend (shell-endpoint.ts) over the node's current
// Copy Services Server: logins and tokens are the server's sessions, groups
// its journaled users, and each shell's calls go through the server's view
// for that user. On a node that is not the primary a login is refused
// NOT_PRIMARY, and a shell goes to -hmc2.
import type { Site } from "../site/site.js";
import type { CurrentServer } from "./current-server.js";
import type { ShellBackend, ShellSession } from "./shell-endpoint.js";
import { authorize, type CommandClass } from "./users.js";

export function serverShellBackend(current: CurrentServer): ShellBackend {
  return {
    async login(user: string, password: string): Promise<ShellSession> {
      const result = await current.get().login(user, password);
      return { user: result.user, token: result.token, expiresAt: result.expiresAt, passwordExpired: result.passwordExpired };
    },
    resume(token: string): ShellSession {
      const session = current.get().authenticate(token);
      return { user: session.user, token, expiresAt: session.expiresAt, passwordExpired: session.passwordExpired };
    },
    authorize(user: string, commandClass: CommandClass): void {
      authorize(current.get().state.users, user, commandClass);
    },
    siteFor(user: string): Site {
      return current.get().forCaller({ user });
    },
  };
}
