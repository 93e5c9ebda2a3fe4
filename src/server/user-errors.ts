import { SiteError } from "../site/errors.js";

// Errors of the site's users: callers act on `code` (stable) and `field`;
// the message names what was wrong, for people.

export type UserErrorCode =
  | "BAD_NAME" // a user name that breaks the name rules
  | "BAD_PASSWORD" // a password that breaks the password rules (`rule` says which)
  | "PASSWORD_REUSED" // one of the user's last four passwords
  | "BAD_GROUP" // an unknown group, a repeated one, or no_access with others
  | "BAD_ARGUMENT" // a command given nothing to do, or two options that exclude each other
  | "USER_EXISTS"
  | "NO_SUCH_USER"
  | "LAST_ADMIN" // the change would leave no unlocked user in the admin group
  | "NOT_AUTHORIZED" // the user's groups do not allow the command class
  | "PASSWORD_EXPIRED" // the user must first set a new password with chuser -pw
  | "AUTHENTICATION_FAILED" // wrong name or password (which one is not said)
  | "ACCOUNT_LOCKED" // locked by an administrator or after too many failed logins
  | "TOKEN_MISSING" | "TOKEN_UNKNOWN" | "TOKEN_EXPIRED" | "TOKEN_IDLE" // a request's token
  | "SESSIONS_FULL" // more live sessions than the server keeps
  | "BAD_PASSWORD_FILE" // the admin password file is missing, unreadable or empty
  | "BAD_RECORD"; // a users record that is malformed or does not fit the state

export class UserError extends Error {
  override readonly name = "UserError";

  constructor(readonly code: UserErrorCode, message: string, readonly field?: string, readonly rule?: string) {
    super(message);
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}

// A user's refusal as the SiteError a shell prints, -pw and -group named as
// the options that were wrong; anything else passes as it is.
export function userSiteError(error: unknown): unknown {
  if (!isUserError(error)) return error;
  const option = error.field === "password" ? "pw" : error.field === "group" ? "group" : undefined;
  return new SiteError({ code: error.code, message: error.message, option });
}
