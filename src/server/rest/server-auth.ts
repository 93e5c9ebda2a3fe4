// The REST API's auth and per-caller site over a Copy Services Server: its
// journaled users and its sessions, so REST tokens are the server's tokens
// (the same idle and expiry), and each change made through REST is journaled
// with the user who made it.
import type { Site } from "../../site/site.js";
import type { CopyServicesServer } from "../server.js";
import { findUser } from "../users.js";
import { UserError } from "../user-errors.js";
import type { RestAuth, RestIdentity } from "./auth.js";
import { RestError } from "./errors.js";

export function serverAuth(server: CopyServicesServer): RestAuth {
  return {
    async login(user, password) {
      const result = await server.login(user, password);
      return { token: result.token, expiresAtMs: result.expiresAt, idleMs: result.idleMs };
    },
    check(token) {
      const { user, passwordExpired } = server.authenticate(token);
      // DS8000: a temporary password allows nothing but changing it, which is done with DS CLI's chuser -pw.
      if (passwordExpired) throw new RestError(403, "PASSWORD_EXPIRED", `the password of ${user} is temporary: set a new one with chuser -pw before using the REST API`, "X-Auth-Token");
      const account = findUser(server.state.users, user);
      if (account === undefined) throw new UserError("TOKEN_UNKNOWN", `user ${user} no longer exists`, "token");
      return { user, groups: account.groups };
    },
  };
}

export function serverSiteFor(server: CopyServicesServer): (identity: RestIdentity) => Site {
  return (identity) => server.forCaller({ user: identity.user, source: "rest" });
}
