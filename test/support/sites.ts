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
import { connectInProcess, defineMessages, type ConnectionOptions } from "../../src/wire/index.js";

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
];

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
