// A Copy Services Server for the shell tests, in this process: users and
// sessions (src/server/users.ts, sessions.ts) over an EmbeddedSite, served on
// the /cs/shell endpoint of a real fastify on 127.0.0.1:0. Its users live in
// memory; the journaled server is tested on its own.
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import type { Site } from "../../src/site/site.js";
import type { ChangeUserRequest, CreateUserRequest, UserInfo } from "../../src/site/types.js";
import { shellEndpoint, type ShellBackend, type ShellSession } from "../../src/server/shell-endpoint.js";
import { userSiteError } from "../../src/server/user-errors.js";
import { Sessions, type SessionOptions } from "../../src/server/sessions.js";
import {
  applyUserRecord, authenticate, authorize, chuser, emptyUsers, findUser, firstStart, mkuser, rmuser, type CommandClass, type UserRecord, type UsersState,
} from "../../src/server/users.js";
import { UserError } from "../../src/server/user-errors.js";
import { RemoteSite } from "../../src/site/remote.js";
import { CHEAP_SCRYPT } from "../server/support.js";

const config = { scrypt: CHEAP_SCRYPT };

export class TestUserServer implements ShellBackend {
  users: UsersState = emptyUsers();
  readonly sessions: Sessions;
  adminPassword = "";
  logins = 0; // that succeeded

  constructor(readonly engine: Site, sessionOptions: SessionOptions = {}) {
    this.sessions = new Sessions(sessionOptions);
  }

  async start(): Promise<this> {
    const start = await firstStart(this.users, config);
    this.users = applyUserRecord(this.users, start!.record);
    this.adminPassword = start!.password!;
    return this;
  }

  // Adds a user whose password has not expired, as if they had changed it.
  async addUser(name: string, password: string, groups: string): Promise<void> {
    const record = await mkuser(this.users, "admin", { name, password, groups }, config);
    this.users = applyUserRecord(this.users, { ...(record as Extract<UserRecord, { type: "user.create" }>), expired: false });
  }

  async login(user: string, password: string): Promise<ShellSession> {
    const outcome = await authenticate(this.users, user, password, config);
    if (outcome.record !== null) this.users = applyUserRecord(this.users, outcome.record);
    if (!outcome.ok) throw outcome.error;
    const issued = this.sessions.issue(user, outcome.passwordExpired);
    this.logins++;
    return { user, token: issued.token, expiresAt: issued.expiresAt, passwordExpired: outcome.passwordExpired };
  }

  resume(token: string): ShellSession {
    const session = this.sessions.check(token);
    return { user: session.user, token, expiresAt: session.expiresAt, passwordExpired: session.passwordExpired };
  }

  authorize(user: string, commandClass: CommandClass): void {
    authorize(this.users, user, commandClass);
  }

  private info(name: string): UserInfo {
    const user = findUser(this.users, name);
    if (user === undefined) throw new UserError("NO_SUCH_USER", `there is no user named ${JSON.stringify(name)}`, "name");
    return { name: user.name, groups: [...user.groups], state: user.locked ? "locked" : "active", failedLogins: user.failedLogins, passwordExpired: user.passwordExpired };
  }

  private apply(records: UserRecord[]): void {
    this.users = records.reduce(applyUserRecord, this.users);
  }

  private async userCall<T>(body: () => Promise<T> | T): Promise<T> {
    try {
      return await body();
    } catch (error) {
      throw userSiteError(error);
    }
  }

  // The user methods as `actor` calls them; the rest of the Site is the engine's.
  siteFor(actor: string): Site {
    const users = {
      listUsers: () => this.userCall(() => {
        authorize(this.users, actor, "security");
        return this.users.users.map((user) => this.info(user.name));
      }),
      user: (name: string) => this.userCall(() => {
        if (name !== actor) authorize(this.users, actor, "security");
        return this.info(name);
      }),
      createUser: (request: CreateUserRequest) => this.userCall(async () => {
        this.apply([await mkuser(this.users, actor, request, config)]);
        return this.info(request.name);
      }),
      changeUser: (request: ChangeUserRequest) => this.userCall(async () => {
        this.apply(await chuser(this.users, actor, request, config));
        if (request.lock) this.sessions.endSessionsOf(request.name);
        if (request.password !== undefined && request.name === actor) this.sessions.passwordChanged(actor);
        return this.info(request.name);
      }),
      removeUser: (name: string) => this.userCall(() => {
        this.apply([rmuser(this.users, actor, name)]);
        this.sessions.endSessionsOf(name);
      }),
    };
    const engine = this.engine;
    return new Proxy(engine, {
      get(target, property, receiver) {
        if (typeof property === "string" && property in users) return users[property as keyof typeof users];
        const value = Reflect.get(target, property, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }
}

export interface ShellServerHandle {
  app: FastifyInstance;
  backend: TestUserServer;
  port: number;
  close(): Promise<void>;
}

// Serves `backend` on /cs/shell of a fastify on 127.0.0.1, any free port.
export async function serveShellEndpoint(backend: TestUserServer, options: { heartbeatIntervalMs?: number; heartbeatTimeoutMs?: number } = {}): Promise<ShellServerHandle> {
  const app = Fastify();
  await app.register(shellEndpoint, { backend, nodeId: "test-server", ...options });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return { app, backend, port, close: () => app.close() };
}

// A Site whose calls wait for `started` and then go to its site; what a
// factory returns synchronously while the server starts.
export function deferredSite(started: Promise<Site>, closeAll: () => Promise<void>): Site {
  started.catch(() => undefined); // the failure reaches every call instead
  const unsubscribes = new Set<() => void>();
  const deferred = {
    events(listener: Parameters<Site["events"]>[0]) {
      let off: (() => void) | null = null;
      let gone = false;
      void started.then((site) => { if (!gone) off = site.events(listener); }, () => undefined);
      const unsubscribe = () => { gone = true; off?.(); unsubscribes.delete(unsubscribe); };
      unsubscribes.add(unsubscribe);
      return unsubscribe;
    },
    async close() {
      for (const unsubscribe of [...unsubscribes]) unsubscribe();
      await closeAll();
    },
  };
  return new Proxy(deferred as unknown as Site, {
    get(target, property) {
      if (property in deferred) return (deferred as Record<string | symbol, unknown>)[property];
      // Not a thenable: `await site` must not take it for a promise.
      if (property === "then" || typeof property === "symbol") return undefined;
      return async (...args: unknown[]) => {
        const site = (await started) as unknown as Record<string | symbol, (...given: unknown[]) => Promise<unknown>>;
        return site[property](...args);
      };
    },
  });
}

// The "remote" site of the golden tests: a server over `engine`, and a
// RemoteSite logged in on it as admin.
export function remoteSiteOver(engine: Site): Site {
  let handle: ShellServerHandle | null = null;
  let remote: RemoteSite | null = null;
  const started = (async () => {
    handle = await serveShellEndpoint(await new TestUserServer(engine).start());
    remote = await RemoteSite.connect({ servers: [{ host: "127.0.0.1", port: handle.port }], user: "admin", password: handle.backend.adminPassword });
    return remote as Site;
  })();
  return deferredSite(started, async () => {
    await started.catch(() => undefined);
    await remote?.close();
    await handle?.close();
    await engine.close();
  });
}
