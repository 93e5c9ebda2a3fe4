// The Copy Services Server: the site's state and its journaled store
// (site-state.ts, store.ts), the server that routes and records (server.ts),
// the site's users (users.ts, passwords.ts) and login sessions (sessions.ts).
export * from "./users.js";
export * from "./sessions.js";
export { UserError, isUserError, type UserErrorCode } from "./user-errors.js";
export { NAME_RULES, PASSWORD_RULES, SCRYPT_DEFAULTS, type PasswordHash, type ScryptParameters } from "./passwords.js";
export * from "./site-state.js";
export { ServerStore, SNAPSHOT_EVERY_APPENDS_DEFAULT, type ServerStoreOptions, type Committed } from "./store.js";
export { CopyServicesServer, siteWwnn, type CopyServicesServerOptions, type ServerEvent, type ServerListener, type LoginResult } from "./server.js";
export { CONNECTION_LOST, type CallerContext } from "./router.js";
export { ServerError, isServerError, type ServerErrorCode } from "./server-errors.js";
export {
  ReplicatedServer, REPLICATION_MESSAGE_SPECS, replicationMessages, HEARTBEAT_INTERVAL_MS_DEFAULT, HEARTBEAT_TIMEOUT_MS_DEFAULT,
  type ReplicatedServerOptions, type ReplicationRole,
} from "./replication.js";
