// The ways a test can reach a site: every golden script runs once through
// each, and must print the same. Each kind of site is put in front of an
// EmbeddedSite of this process (the engine a test may look beneath), so a
// remote site, through a Copy Services Server in this process, joins as one
// more entry here; its client may connect on its first call.
import type { Site } from "../../src/site/site.js";
import { EmbeddedSite, type EmbeddedSiteOptions } from "../../src/site/embedded.js";
import { SerializedSite } from "../../src/site/serialized.js";
import { siteMessageSpecs } from "../../src/site/protocol.js";
import { serveSite } from "../../src/site/protocol-server.js";
import { ConnectedSite } from "../../src/site/protocol-client.js";
import { randomBytes } from "node:crypto";
import { defineSiteMethods } from "../../src/site/protocol.js";
import type { SiteMethod } from "../../src/site/protocol.js";
import type { SiteListener } from "../../src/site/types.js";
import { CopyServicesServer } from "../../src/server/server.js";
import { ServerStore } from "../../src/server/store.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectInProcess, defineMessages, type ConnectionOptions } from "../../src/wire/index.js";
import { remoteSiteOver } from "./shell-server.js";

export interface SiteFactory {
  name: string;
  over(engine: EmbeddedSite): Site; // closing the site it returns closes `engine` and whatever it started
}

export const SITE_FACTORIES: readonly SiteFactory[] = [
  { name: "embedded", over: (engine) => engine },
  // Every argument, result, error and event through a msgpackr encode and decode, as over a wire.
  { name: "serialized", over: (engine) => new SerializedSite(engine) },
  // Every call as a Site RPC request over an in-process wire connection, served by serveSite.
  { name: "wire", over: (engine) => servedOverWire(engine) },
  // Every call through a Copy Services Server (its store in a temporary directory) with the engine as its one node.
  { name: "server", over: (engine) => new ServerOverEngine(engine) },
  // A Copy Services Server's /cs/shell endpoint on a real fastify in this process, the client logged in as admin.
  { name: "remote", over: remoteSiteOver },
];

// The server starts on the first call: a factory's site is made synchronously.
interface ServerOverEngine extends Pick<Site, SiteMethod> {}

class ServerOverEngine implements Site {
  private starting: Promise<CopyServicesServer> | null = null;
  private directory: string | null = null;

  static {
    defineSiteMethods(ServerOverEngine.prototype, (method) => async function (this: ServerOverEngine, ...args: unknown[]) {
      const server = await this.server();
      return (server[method] as (...given: unknown[]) => Promise<unknown>).apply(server, args);
    });
  }

  constructor(private readonly engine: EmbeddedSite) {}

  private server(): Promise<CopyServicesServer> {
    this.starting ??= (async () => {
      this.directory = mkdtempSync(join(tmpdir(), "tzero-server-site-"));
      const server = new CopyServicesServer({ store: await ServerStore.open(join(this.directory, "server-state")), nodeId: "test-node" });
      await server.registerNode("test-node", "in-process", this.engine);
      return server;
    })();
    return this.starting;
  }

  events(listener: SiteListener): () => void {
    let unsubscribe: (() => void) | null = null;
    let stopped = false;
    void this.server().then((server) => {
      if (!stopped) unsubscribe = server.events(listener);
    });
    return () => {
      stopped = true;
      unsubscribe?.();
    };
  }

  async close(): Promise<void> {
    if (this.starting !== null) await (await this.starting).close();
    await this.engine.close();
    if (this.directory !== null) rmSync(this.directory, { recursive: true, force: true });
  }
}

// The client's close closes the connection and then the engine behind it, as a test's site must.
class ServedSite extends ConnectedSite {
  constructor(connection: ConstructorParameters<typeof ConnectedSite>[0], private readonly engine: EmbeddedSite) {
    super(connection);
  }

  override async close(): Promise<void> {
    await super.close();
    await this.engine.close();
  }
}

// In one process nothing is lost on the way, and a test may block the event
// loop for seconds (a big load, a slow machine): heartbeats must not fail it.
const IN_PROCESS_HEARTBEAT_TIMEOUT_MS = 10 * 60 * 1000;

function servedOverWire(engine: EmbeddedSite): Site {
  const siteKey = new Uint8Array(randomBytes(32));
  const messages = defineMessages(siteMessageSpecs);
  const common = { siteKey, messages, heartbeatTimeoutMs: IN_PROCESS_HEARTBEAT_TIMEOUT_MS, handshakeTimeoutMs: IN_PROCESS_HEARTBEAT_TIMEOUT_MS };
  const client: ConnectionOptions<typeof siteMessageSpecs> = { ...common, nodeId: "test-shell", role: "shell" };
  const [clientEnd, serverEnd] = connectInProcess(client, { ...common, nodeId: "test-site", role: "site" });
  serveSite(serverEnd, engine);
  return new ServedSite(clientEnd, engine);
}

export async function makeSite(factory: SiteFactory, options: EmbeddedSiteOptions): Promise<Site> {
  return factory.over(new EmbeddedSite(options));
}
