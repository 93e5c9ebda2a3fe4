// The Copy Services Server's parts built so far: the site's users (users.ts,
// passwords.ts) and login sessions (sessions.ts). The state they keep is
// journaled by src/store/journal.ts.
export * from "./users.js";
export * from "./sessions.js";
export { UserError, isUserError, type UserErrorCode } from "./user-errors.js";
export { NAME_RULES, PASSWORD_RULES, SCRYPT_DEFAULTS, type PasswordHash, type ScryptParameters } from "./passwords.js";
