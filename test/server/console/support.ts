// Helpers of the console tests: a Copy Services Server over an EmbeddedSite
// node (its journal in a temporary folder), on a real fastify on 127.0.0.1:0
// with the REST API, the shells' endpoint and the console routes, as `tzero
// serve` has them; an event-stream client that queues what it receives.
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import websocketPlugin from "@fastify/websocket";
import WebSocket from "ws";
import { CopyServicesServer } from "../../../src/server/server.js";
import { ServerStore } from "../../../src/server/store.js";
import { restApi, serverAuth, serverSiteFor } from "../../../src/server/rest/index.js";
import { serverShellBackend, shellEndpoint } from "../../../src/server/shell-endpoint.js";
import { consoleApi } from "../../../src/server/console/routes.js";
import { EmbeddedSite } from "../../../src/site/embedded.js";
import { RemoteSite } from "../../../src/site/remote.js";
import { temporaryDirectory } from "../../store/support.js";
import { config } from "../support.js";

export const IMAGE = "IBM.2107-75CONS1";
export const WAIT_MS_MAX = 10_000; // a bound on every wait: never a timing assertion

export interface ConsoleFixture {
  folder: { path: string; remove(): void };
  node: EmbeddedSite;
  server: CopyServicesServer;
  app: FastifyInstance;
  port: number;
  adminPassword: string;
  token: string;
  close(): Promise<void>;
}

// A server whose journal is in `folder` (a fresh one unless given: a restart reuses it).
export async function startConsole(options: { folder?: { path: string; remove(): void }; node?: EmbeddedSite; password?: string } = {}): Promise<ConsoleFixture> {
  const folder = options.folder ?? temporaryDirectory();
  const node = options.node ?? new EmbeddedSite({ workers: 1, images: [{ model: "2107", id: IMAGE }] });
  const server = new CopyServicesServer({ store: await ServerStore.open(join(folder.path, "state")), nodeId: "n1", users: config, pairWatchMs: 100 });
  await server.registerNode("n1", "http://127.0.0.1:8452", node);
  const start = await server.firstStart();
  const adminPassword = start.password ?? options.password!;
  const app = await serveConsole(() => server, server);
  const port = (app.server.address() as AddressInfo).port;
  const token = (await server.login("admin", adminPassword)).token;
  return {
    folder, node, server, app, port, adminPassword, token,
    async close() {
      await app.close();
      await server.close();
    },
  };
}

// The node's port as node-service.ts builds it, over the server `current` gives.
export async function serveConsole(current: () => CopyServicesServer, server: CopyServicesServer): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(websocketPlugin);
  await app.register(restApi, { site: server, auth: serverAuth(server), siteFor: serverSiteFor(server) });
  await app.register(shellEndpoint, { backend: serverShellBackend(current), nodeId: "test-server" });
  await app.register(consoleApi, { current, stream: { progressIntervalMs: 200 } });
  await app.listen({ host: "127.0.0.1", port: 0 });
  return app;
}

export function connectShell(fixture: ConsoleFixture, mode?: "shell" | "script"): Promise<RemoteSite> {
  return RemoteSite.connect({ servers: [{ host: "127.0.0.1", port: fixture.port }], user: "admin", password: fixture.adminPassword, connectTimeoutMs: 5000, mode });
}

export function call(fixture: ConsoleFixture, method: "GET" | "POST" | "PUT" | "DELETE", url: string, body?: unknown, token: string | null = fixture.token) {
  const headers: Record<string, string> = token === null ? {} : { "x-auth-token": token };
  return fixture.app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: body as object }) });
}

export interface StreamMessage {
  type: string;
  [field: string]: unknown;
}

// A client of /cs/events: every message it receives, in order, and how it closed.
export class StreamClient {
  readonly messages: StreamMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.messages.push(JSON.parse(String(data)) as StreamMessage);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => socket.on("close", (code, reason) => {
      resolve({ code, reason: String(reason) });
      for (const wake of this.waiters.splice(0)) wake();
    }));
  }

  static async open(port: number): Promise<StreamClient> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/cs/events`);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return new StreamClient(socket);
  }

  // Opens, authenticates and waits for ready.
  static async ready(port: number, token: string, since?: number): Promise<StreamClient> {
    const client = await StreamClient.open(port);
    client.send({ type: "auth", token, ...(since === undefined ? {} : { since }) });
    await client.next((message) => message.type === "ready");
    return client;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  // The first message (from the start) that `match` accepts, waiting for it at most WAIT_MS_MAX.
  async next(match: (message: StreamMessage) => boolean, what = "a matching message"): Promise<StreamMessage> {
    const deadline = Date.now() + WAIT_MS_MAX;
    for (;;) {
      const found = this.messages.find(match);
      if (found !== undefined) return found;
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error(`the stream closed before ${what} came: ${JSON.stringify(this.messages).slice(0, 400)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${WAIT_MS_MAX} ms: got ${JSON.stringify(this.messages).slice(0, 400)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  events(): StreamMessage[] {
    return this.messages.filter((message) => message.type === "event");
  }

  close(): void {
    this.socket.close();
  }
}
