// The site of a remote shell (`tzero -hmc1 A -hmc2 B -user U -passwd P`): a
// Site whose every call goes to a Copy Services Server's /cs/shell endpoint.
//
// It logs in on the first server that answers, in the order given (hmc1,
// then hmc2). A call that fails because the connection did (the server
// died, or the network) is sent again, once, after logging in afresh on the
// next server that answers, the other one first: a backup that took over
// knows no session of the old primary. A call refused because the session
// expired or idled out logs in again on the same server and is sent again,
// once. Every call carries a request id (this shell's random id and the
// call's number), the same when it is sent again, so a server that ran it
// before the connection failed answers as it did then instead of running it
// twice (the server keeps recent request ids in its journal, and so does its
// backup). Every other failure is the call's own, as the server gave it.
//
// The password is kept only to log in again; it is never printed or logged.
import { randomBytes } from "node:crypto";
import { Connection } from "../wire/connection.js";
import { WireError } from "../wire/errors.js";
import { dialWebSocket } from "../wire/websocket.js";
import { FRAME_PAYLOAD_BYTES_MAX_DEFAULT } from "../wire/codec.js";
import { SiteError } from "./errors.js";
import { ConnectedSite } from "./protocol-client.js";
import { defineSiteMethods, type SiteMethod } from "./protocol.js";
import { SHELL_PATH, SHELL_PORT_DEFAULT, SHELL_ROLE, shellMessages, type ShellMode } from "./shell-messages.js";
import type { Site } from "./site.js";
import type { SiteListener } from "./types.js";

export interface ServerAddress {
  host: string;
  port: number;
}

export interface RemoteSiteOptions {
  servers: ServerAddress[]; // hmc1, then hmc2
  user: string;
  password: string;
  connectTimeoutMs?: number; // per server; default 5000
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  mode?: ShellMode; // what the commands come from, for the server's event log (default: shell)
}

// Codes of a failed login: DS CLI's exit code 5.
export const AUTHENTICATION_CODES: ReadonlySet<string> = new Set(["AUTHENTICATION_FAILED", "ACCOUNT_LOCKED", "UNAUTHENTICATED", "SESSIONS_FULL"]);
// Codes of an unreachable server or a lost connection (ConnectedSite gives
// the wire's codes): DS CLI's exit code 3, and a call sent again elsewhere.
export const CONNECTION_CODES: ReadonlySet<string> = new Set(["CONNECTION_FAILED", "CONNECTION_LOST", "PEER_CLOSED", "HEARTBEAT_TIMEOUT", "NOT_OPEN", "CLOSED"]);
const SESSION_CODES = new Set(["TOKEN_EXPIRED", "TOKEN_IDLE", "TOKEN_UNKNOWN", "TOKEN_MISSING"]);
const CONNECT_TIMEOUT_MS_DEFAULT = 5000;
const HOST_PATTERN = /^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$/;

// `HOST[:PORT]` as -hmc1 takes it (an IPv6 address in brackets); the port defaults to 8452.
export function parseServerAddress(text: string, what: string): ServerAddress {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(text);
  const host = match?.[1] ?? "";
  if (match === null || !HOST_PATTERN.test(host)) throw new SiteError({ code: "BAD_ARGUMENT", message: `${what} ${JSON.stringify(text)} is not HOST or HOST:PORT` });
  const port = match[2] === undefined ? SHELL_PORT_DEFAULT : Number(match[2]);
  if (port < 1 || port > 65535) throw new SiteError({ code: "BAD_ARGUMENT", message: `${what} ${text}: port ${port} is not from 1 to 65535` });
  return { host, port };
}

function addressText(server: ServerAddress): string {
  return `${server.host}:${server.port}`;
}

interface Live {
  server: ServerAddress;
  connection: Connection<any>;
  site: ConnectedSite;
  unsubscribe: (() => void) | null;
}

export interface RemoteSite extends Pick<Site, SiteMethod> {}

export class RemoteSite implements Site {
  // Each call's request id: this shell's random id and the call's number.
  private readonly clientId = randomBytes(12).toString("base64url");
  private nextRequest = 1;
  private live: Live | null = null;
  private connecting: Promise<Live> | null = null; // one login at a time, whoever needs it
  private readonly listeners = new Set<SiteListener>();
  private closed = false;

  static {
    defineSiteMethods(RemoteSite.prototype, (method) => function (this: RemoteSite, ...args: unknown[]) {
      return this.invoke(method, args);
    });
  }

  private constructor(private readonly options: RemoteSiteOptions) {
    if (options.servers.length === 0) throw new SiteError({ code: "BAD_ARGUMENT", message: "a remote site needs at least one server (-hmc1)" });
  }

  // Logs in on the first server that answers. Rejects with CONNECTION_FAILED
  // when none does, or with the login's refusal (AUTHENTICATION_FAILED...).
  static async connect(options: RemoteSiteOptions): Promise<RemoteSite> {
    const site = new RemoteSite(options);
    await site.liveAfter(null, 0);
    return site;
  }

  // The server the shell is logged in on.
  get server(): ServerAddress | null {
    return this.live?.server ?? null;
  }

  // Tries each server once, starting at index `first`; the first whose login succeeds becomes the live one.
  private async reconnect(first: number): Promise<Live> {
    const { servers } = this.options;
    const failures: string[] = [];
    for (let step = 0; step < servers.length; step++) {
      const server = servers[(first + step) % servers.length];
      let connection: Connection<any>;
      try {
        connection = await this.dial(server);
        await this.login(connection, server);
      } catch (error) {
        // A refused login is the user's answer; a server that is not there, or not in charge, is the next one's turn.
        if (error instanceof SiteError && !CONNECTION_CODES.has(error.code)) throw error;
        failures.push(`${addressText(server)}: ${(error as Error).message}`);
        continue;
      }
      return this.adopt(server, connection);
    }
    throw new SiteError({ code: "CONNECTION_FAILED", message: `no Copy Services Server answered: ${failures.join("; ")}` });
  }

  private async dial(server: ServerAddress): Promise<Connection<any>> {
    const timeoutMs = this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT;
    const url = `ws://${addressText(server)}${SHELL_PATH}`;
    const transport = await dialWebSocket(url, { timeoutMs, maxPayload: FRAME_PAYLOAD_BYTES_MAX_DEFAULT + 4, description: `shell → ${url}` });
    const connection = new Connection(transport, "dialer", {
      handshake: "hello", nodeId: `shell-${process.pid}`, role: SHELL_ROLE, messages: shellMessages, handshakeTimeoutMs: timeoutMs,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs, heartbeatTimeoutMs: this.options.heartbeatTimeoutMs,
    });
    await connection.opened;
    return connection;
  }

  // A refused login closes the connection and rejects with the server's code (exit code 5).
  private async login(connection: Connection<any>, server: ServerAddress): Promise<void> {
    let reply: { session?: unknown; error?: { code: string; message: string } };
    try {
      reply = await connection.request("shell.login", { user: this.options.user, password: this.options.password, ...(this.options.mode === undefined ? {} : { mode: this.options.mode }) });
    } catch (error) {
      // No answer, or the server could not log anyone in (NOT_PRIMARY: it is a backup now).
      void connection.close("login failed");
      throw new SiteError({ code: "CONNECTION_FAILED", message: `the login failed: ${(error as Error).message}` });
    }
    if (reply.error === undefined) return;
    void connection.close("login refused");
    throw new SiteError({ code: reply.error.code, message: `${addressText(server)}: ${reply.error.message}` });
  }

  private adopt(server: ServerAddress, connection: Connection<any>): Live {
    const site = new ConnectedSite(connection);
    const live: Live = { server, connection, site, unsubscribe: null };
    if (this.listeners.size > 0) live.unsubscribe = site.events((event) => this.emit(event));
    this.live = live;
    return live;
  }

  // The live server, or the one a login in progress (or a new one, from
  // index `first`) gives: calls that fail together reconnect once.
  private liveAfter(dead: Live | null, first: number): Promise<Live> {
    if (this.live !== null && this.live !== dead) return Promise.resolve(this.live);
    this.connecting ??= this.reconnect(first).finally(() => { this.connecting = null; });
    return this.connecting;
  }

  private emit(event: Parameters<SiteListener>[0]): void {
    for (const listener of this.listeners) listener(event);
  }

  private dropLive(live: Live): void {
    if (this.live !== live) return;
    live.unsubscribe?.();
    void live.connection.close("the shell moves to another server");
    this.live = null;
  }

  // Runs a call on the live server; sends it again once as the header says,
  // with the same request id, so that a server that had run it answers as it
  // did the first time instead of running it twice.
  private async invoke(method: SiteMethod, args: unknown[]): Promise<unknown> {
    if (this.closed) throw new SiteError({ code: "CLOSED", message: "the remote site is closed" });
    const context = { requestId: `${this.clientId}-${this.nextRequest++}` };
    const call = (site: ConnectedSite) => site.call(method, args, context);
    const live = await this.liveAfter(null, 0);
    try {
      return await call(live.site);
    } catch (error) {
      if (this.closed) throw error;
      const code = (error as { code?: unknown }).code;
      if ((typeof code === "string" && CONNECTION_CODES.has(code)) || (error instanceof WireError && !error.connectionOpen)) {
        this.dropLive(live);
        return call((await this.liveAfter(live, this.options.servers.indexOf(live.server) + 1)).site);
      }
      if (typeof code === "string" && SESSION_CODES.has(code)) {
        this.dropLive(live);
        return call((await this.liveAfter(live, this.options.servers.indexOf(live.server))).site);
      }
      throw error;
    }
  }

  events(listener: SiteListener): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1 && this.live !== null) this.live.unsubscribe = this.live.site.events((event) => this.emit(event));
    return () => {
      if (!this.listeners.delete(listener) || this.listeners.size > 0 || this.live === null) return;
      this.live.unsubscribe?.();
      this.live.unsubscribe = null;
    };
  }

  // Logs out by closing the connection; the server's site goes on.
  async close(): Promise<void> {
    this.closed = true;
    const live = this.live;
    this.live = null;
    if (live !== null) await live.connection.close("the shell ended");
  }
}
