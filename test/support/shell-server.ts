// A Copy Services Server for the shell tests, in this process: a
// CopyServicesServer (its journal in a temporary folder) over an EmbeddedSite
// node, served on the /cs/shell endpoint of a real fastify on 127.0.0.1:0.
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import websocketPlugin from "@fastify/websocket";
import type { Site } from "../../src/site/site.js";
import type { EmbeddedSite } from "../../src/site/embedded.js";
import { serverShellBackend, shellEndpoint, type ShellBackend } from "../../src/server/shell-endpoint.js";
import { CopyServicesServer } from "../../src/server/server.js";
import { ServerStore } from "../../src/server/store.js";
import type { SessionOptions } from "../../src/server/sessions.js";
import { RemoteSite } from "../../src/site/remote.js";
import { CHEAP_SCRYPT } from "../server/support.js";

export interface TestServer {
  server: CopyServicesServer;
  backend: ShellBackend;
  adminPassword: string;
  logins: number; // that succeeded, through the endpoint
  // Adds a user whose password is their own (not a temporary one to change first).
  addUser(name: string, password: string, groups: string): Promise<void>;
  close(): Promise<void>; // the server and its folder; the node is the caller's
}

// A server whose one node is `node`, with admin made at its first start.
export async function startServer(node: EmbeddedSite, sessions: SessionOptions = {}): Promise<TestServer> {
  const folder = mkdtempSync(join(tmpdir(), "tzero-css-"));
  const server = new CopyServicesServer({ store: await ServerStore.open(join(folder, "state")), nodeId: "n1", users: { scrypt: CHEAP_SCRYPT }, sessions });
  await server.registerNode("n1", "http://127.0.0.1:8452", node);
  const { password } = await server.firstStart();
  const backend = serverShellBackend(server);
  const handle: TestServer = {
    server,
    adminPassword: password!,
    logins: 0,
    backend: {
      ...backend,
      login: async (user, given) => {
        const session = await backend.login(user, given);
        handle.logins++;
        return session;
      },
    },
    async addUser(name, userPassword, groups) {
      await server.createUserAs("admin", { name, password: `T3mp${userPassword}`, groups });
      await server.changeUserAs(name, { name, password: userPassword });
    },
    async close() {
      await server.close();
      rmSync(folder, { recursive: true, force: true });
    },
  };
  return handle;
}

export interface ShellServerHandle {
  app: FastifyInstance;
  port: number;
  close(): Promise<void>; // the endpoint only
}

// Serves `backend` on /cs/shell of a fastify on 127.0.0.1, any free port.
export async function serveShellEndpoint(backend: ShellBackend, options: { heartbeatIntervalMs?: number; heartbeatTimeoutMs?: number } = {}): Promise<ShellServerHandle> {
  const app = Fastify();
  await app.register(websocketPlugin); // at the root, as a node's port has it: the tests reach its clients
  await app.register(shellEndpoint, { backend, nodeId: "test-server", ...options });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return { app, port, close: () => app.close() };
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

// The "remote" site of the golden tests: a Copy Services Server over
// `engine`, on a real endpoint, and a RemoteSite logged in on it as admin.
export function remoteSiteOver(engine: EmbeddedSite): Site {
  let server: TestServer | null = null;
  let endpoint: ShellServerHandle | null = null;
  let remote: RemoteSite | null = null;
  const started = (async () => {
    server = await startServer(engine);
    endpoint = await serveShellEndpoint(server.backend);
    remote = await RemoteSite.connect({ servers: [{ host: "127.0.0.1", port: endpoint.port }], user: "admin", password: server.adminPassword });
    return remote as Site;
  })();
  return deferredSite(started, async () => {
    await started.catch(() => undefined);
    await remote?.close();
    await endpoint?.close();
    await server?.close();
    await engine.close();
  });
}
