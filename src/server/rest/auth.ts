// What the REST API needs of the server's users and sessions, and no more:
// a login that hands out a token, and a check of a token that says whose it
// is. The Copy Services Server provides the real one (users.ts + sessions.ts);
// tests build one from the same modules. A refusal is thrown; when it carries
// a string `code` (UserError does: AUTHENTICATION_FAILED, TOKEN_EXPIRED,
// TOKEN_IDLE...) that code is the reply's `server.code`.
import { classesOf, type CommandClass, type UserGroup, USER_GROUPS } from "../users.js";
import { RestError } from "./errors.js";

export interface RestLogin {
  token: string;
  expiresAtMs: number;
  idleMs?: number; // how long the token may go unused, when the sessions say
}

export interface RestIdentity {
  user: string;
  groups: readonly string[];
}

export interface RestAuth {
  login(user: string, password: string): RestLogin | Promise<RestLogin>;
  check(token: string): RestIdentity | Promise<RestIdentity>;
}

// Refuses `identity` unless one of its groups allows `commandClass` (design.md §7: DS8000's user groups).
export function requireClass(identity: RestIdentity, commandClass: CommandClass): void {
  const groups = identity.groups.filter((group): group is UserGroup => Object.hasOwn(USER_GROUPS, group));
  if (classesOf(groups).has(commandClass)) return;
  throw new RestError(403, "NOT_AUTHORIZED", `user ${identity.user} (groups ${identity.groups.join(", ") || "none"}) may not run ${commandClass} requests`);
}
