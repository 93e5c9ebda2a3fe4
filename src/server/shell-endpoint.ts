// The endpoint of remote shells (`tzero -hmc1`): a fastify plugin serving the
// WebSocket /cs/shell. Each socket carries one wire Connection in login mode:
// shells hold no site key, so the handshake is the hellos alone (the version
// check), and until a shell.login or shell.resume succeeds every other frame
// closes the connection as UNAUTHENTICATED, undelivered. After it, the Site
// RPC (src/site/protocol.ts) runs on the caller's view of the server, and
// every call first checks the session's token (expiry, idle time) and the
// user's groups (users.ts: a monitor may list, not create).
//
//   shell ── hello ──▶ endpoint            (both ways; no proof)
//   shell ── shell.login {user, password} ─▶ shell.session {token, expires_at, password_expired}
//   shell ── site.<method> {call, args, requestId} ─▶ authorize(token, method) ─▶ server.forCaller({ user, requestId })
//
// Failed logins count towards the account's lockout (the backend journals
// them); a connection that fails LOGIN_ATTEMPTS_MAX logins is closed, so no
// one connection can guess names at leisure.
import type { FastifyInstance } from "fastify";
import websocketPlugin from "@fastify/websocket";
import type { WebSocket } from "ws";
import { Connection } from "../wire/connection.js";
import { webSocketTransport } from "../wire/websocket.js";
import { serveSite } from "../site/protocol-server.js";
import { SHELL_ENDPOINT_ROLE, SHELL_PATH, shellMessages } from "../site/shell-messages.js";
import { SiteError } from "../site/errors.js";
import type { Site } from "../site/site.js";
import type { SiteMethod } from "../site/protocol.js";
import type { ShellMode } from "../site/shell-messages.js";
import { isUserError, userSiteError } from "./user-errors.js";
import { authorize, type CommandClass } from "./users.js";
import type { CopyServicesServer } from "./server.js";

export const LOGIN_ATTEMPTS_MAX = 3;
const LOGIN_TYPES = ["shell.login", "shell.resume"];

export interface ShellSession {
  user: string;
  token: string;
  expiresAt: number;
  passwordExpired: boolean;
}

// What the endpoint needs of a Copy Services Server.
export interface ShellBackend {
  // A new session, or a UserError (AUTHENTICATION_FAILED, ACCOUNT_LOCKED...); a failure counts towards lockout.
  login(user: string, password: string): Promise<ShellSession>;
  // The live session of `token` (its idle time restarted), or a UserError TOKEN_*.
  resume(token: string): ShellSession | Promise<ShellSession>;
  // Throws a UserError unless `user` may run commands of `commandClass` (users.ts authorize).
  authorize(user: string, commandClass: CommandClass): void;
  // The site as `user` sees it (user commands check their own authority
  // there); `requestId`, the shell's id of the command, is the same when the
  // shell sends a command again after a failover, so the server answers it
  // as it answered the first time instead of running it twice. `mode`: what
  // the shell said its commands come from (a prompt or a script), for the event log.
  siteFor(user: string, requestId?: string, mode?: ShellMode): Site;
}

// The class of each Site method (users.ts USER_GROUPS). User methods carry
// none ("self"): the server checks them itself, as chuser lets anyone change
// their own password. The build fails until a new Site method is classed here.
export const METHOD_CLASSES: Readonly<Record<SiteMethod, CommandClass | "self">> = {
  listImages: "monitor", listLss: "monitor", listPorts: "monitor", listVolumes: "monitor", volume: "monitor", listPools: "monitor",
  pool: "monitor", listFlash: "monitor", pendingFlash: "monitor", waitForCopy: "monitor", checksum: "monitor", read: "monitor",
  listWorkloads: "monitor", checkVolumesIdle: "monitor", checkPoolsRemovable: "monitor", checkFlash: "monitor",
  createVolumes: "volume", removeVolumes: "volume", reinitVolumes: "volume", changeVolumes: "volume",
  fill: "volume", write: "volume", startWorkload: "volume", stopWorkload: "volume", waitWorkload: "volume", stopWorkloads: "volume",
  addImage: "storage", createPool: "storage", removePools: "storage", save: "storage", load: "storage",
  establishFlash: "copy_services", withdrawFlash: "copy_services", incrementFlash: "copy_services", settleRevertible: "copy_services",
  unfreezeFlash: "copy_services",
  // Volume groups and host connections are volume administration, as op_volume has them on a DS8000.
  listVolumeGroups: "monitor", listHostConnections: "monitor",
  createVolumeGroup: "volume", changeVolumeGroup: "volume", removeVolumeGroups: "volume",
  createHostConnection: "volume", removeHostConnections: "volume",
  listAvailablePorts: "monitor", listPaths: "monitor", listPairs: "monitor", checkRemovePaths: "monitor", checkPairs: "monitor", waitForPairs: "monitor",
  makePath: "copy_services", removePaths: "copy_services", makePairs: "copy_services", changePairs: "copy_services", setLink: "copy_services",
  listUsers: "self", user: "self", createUser: "self", changeUser: "self", removeUser: "self",
};

export interface ShellEndpointOptions {
  backend: ShellBackend;
  nodeId: string; // this server, as shells see it in the hello
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  onConnection?(connection: Connection<any>): void; // for logs and tests
}

function authorizer(backend: ShellBackend, session: ShellSession) {
  return async (method: SiteMethod) => {
    const commandClass = METHOD_CLASSES[method];
    try {
      const live = await backend.resume(session.token);
      if (commandClass !== "self") backend.authorize(live.user, commandClass);
    } catch (error) {
      throw userSiteError(error);
    }
  };
}

// Serves one shell's socket: login first, then the Site RPC.
export function serveShell(socket: WebSocket, description: string, options: ShellEndpointOptions): Connection<any> {
  const { backend } = options;
  const connection = new Connection(webSocketTransport(socket, description), "acceptor", {
    handshake: "hello", admitOnly: LOGIN_TYPES, nodeId: options.nodeId, role: SHELL_ENDPOINT_ROLE, messages: shellMessages,
    heartbeatIntervalMs: options.heartbeatIntervalMs, heartbeatTimeoutMs: options.heartbeatTimeoutMs, handshakeTimeoutMs: options.handshakeTimeoutMs,
  });
  let failures = 0;
  let session: ShellSession | null = null;
  const begin = (given: ShellSession, mode: ShellMode | undefined) => {
    if (session === null) {
      session = given;
      connection.admitAll();
      serveSite(connection, backend.siteFor(given.user, undefined, mode), {
        authorize: authorizer(backend, given),
        siteFor: (call) => backend.siteFor(given.user, call.requestId, mode),
      });
    }
    return { session: { user: given.user, token: given.token, expires_at: given.expiresAt, password_expired: given.passwordExpired } };
  };
  // A refusal is the reply; a connection that failed too often is closed once the reply is on its way.
  const refused = (error: unknown) => {
    if (!isUserError(error)) throw error;
    if (++failures >= LOGIN_ATTEMPTS_MAX) setImmediate(() => void connection.close(`${failures} failed logins on one connection`));
    return { error: { code: error.code, message: error.message.slice(0, 1024) } };
  };
  connection.handle("shell.login", async (body) => {
    if (session !== null) throw new SiteError({ code: "BAD_ARGUMENT", message: "this connection is logged in already" });
    try {
      return begin(await backend.login(body.user, body.password), body.mode);
    } catch (error) {
      return refused(error);
    }
  });
  connection.handle("shell.resume", async (body) => {
    if (session !== null) throw new SiteError({ code: "BAD_ARGUMENT", message: "this connection is logged in already" });
    try {
      return begin(await backend.resume(body.token), body.mode);
    } catch (error) {
      return refused(error);
    }
  });
  options.onConnection?.(connection);
  return connection;
}

// The endpoint's backend over a Copy Services Server: its journaled users and
// its sessions (a shell's token is the server's, with its idle time and
// expiry), and each call through the server's view for its user and request
// id. Given a function, each call asks it for the server in charge now: on a
// node that is not the primary it throws NOT_PRIMARY, the login is refused,
// and the shell goes to -hmc2.
export function serverShellBackend(given: CopyServicesServer | (() => CopyServicesServer)): ShellBackend {
  const current = typeof given === "function" ? given : () => given;
  return {
    async login(user, password) {
      const result = await current().login(user, password);
      return { user: result.user, token: result.token, expiresAt: result.expiresAt, passwordExpired: result.passwordExpired };
    },
    resume(token) {
      const session = current().authenticate(token);
      return { user: session.user, token, expiresAt: session.expiresAt, passwordExpired: session.passwordExpired };
    },
    authorize(user, commandClass) {
      authorize(current().state.users, user, commandClass);
    },
    siteFor(user, requestId, mode) {
      const source = mode ?? "shell";
      return current().forCaller(requestId === undefined ? { user, source } : { user, requestId, source });
    },
  };
}

// The fastify plugin: register it with { backend, nodeId }.
export async function shellEndpoint(app: FastifyInstance, options: ShellEndpointOptions): Promise<void> {
  if (!app.hasDecorator("websocketServer")) await app.register(websocketPlugin);
  app.get(SHELL_PATH, { websocket: true }, (socket, request) => {
    serveShell(socket, `shell ${request.ip}:${request.socket.remotePort} → ${SHELL_PATH}`, options);
  });
}
