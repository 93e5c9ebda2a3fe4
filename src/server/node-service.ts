// `tzero serve`: one node as a service (design.md §7). It hosts its images in
// an EmbeddedSite (their data plane, engine and copy workers; the --state
// file loaded at start and saved at stop), opens the node's one HTTP port,
// and is either the site's primary Copy Services Server (its journal in
// --server-state) or a member that registers its images with the primary it
// --joins. The data plane never waits for a server: the images, workloads
// and copies run whether or not a server is reachable.
import { serveSite } from "../site/protocol-server.js";
import { EmbeddedSite } from "../site/embedded.js";
import { isSiteError } from "../site/errors.js";
import type { ModelName } from "../site/types.js";
import type { Connection, ConnectionOptions } from "../wire/connection.js";
import { NodeHttpServer, type ListenAddress, type TlsFiles } from "./http.js";
import { NodeAgent } from "./node-agent.js";
import { NodeEndpoint } from "./node-endpoint.js";
import { nodeMessages, type NodeMessages } from "./node-messages.js";
import { NOT_PRIMARY } from "./node-protocol.js";
import { PrimaryServer } from "./primary.js";
import { CopyServicesServer } from "./server.js";
import { ServerError } from "./server-errors.js";
import { loadSiteKey } from "./site-key.js";
import { ServerStore } from "./store.js";

export interface NodeServiceConfig {
  nodeId: string | null; // null: the ID of the node's first image (after --state is loaded), stable across restarts
  images: Array<{ id: string; model: ModelName }>;
  listen: ListenAddress;
  join: URL | null; // ws:// or wss:// base URL of the primary
  backup: boolean;
  stateFile: string | null;
  serverStateDir: string;
  adminPasswordFile: string | null;
  siteKeyFile: string;
  tls: TlsFiles | null;
  workers: number | undefined;
  heartbeatTimeoutMs: number;
}

type NamedConfig = NodeServiceConfig & { nodeId: string };

export type Log = (line: string) => void;

// Heartbeats five times per timeout: a lost frame or a slow turn does not fail a live peer.
const HEARTBEATS_PER_TIMEOUT = 5;

export class NodeService {
  private primary: PrimaryServer | null = null;
  private agent: NodeAgent | null = null;
  private http: NodeHttpServer | null = null;
  private stopping: Promise<void> | null = null;

  private constructor(
    private readonly config: NamedConfig,
    readonly site: EmbeddedSite,
    private readonly siteKey: Uint8Array,
    private readonly endpoint: NodeEndpoint<NodeMessages>,
    private readonly log: Log,
  ) {}

  // `tell` hears the node's ID as soon as it is known, before anything is logged in its name.
  static async start(config: NodeServiceConfig, log: Log, tell: (nodeId: string) => void = () => {}): Promise<NodeService> {
    const { key, created } = await loadSiteKey(config.siteKeyFile, { create: config.join === null });
    const site = await openImages(config, log);
    const named: NamedConfig = { ...config, nodeId: config.nodeId ?? (await site.listImages())[0].id };
    tell(named.nodeId);
    if (created) log(`site key created in ${config.siteKeyFile}: give a copy to every node that joins`);
    let endpointTarget: NodeService | null = null;
    const endpoint = new NodeEndpoint<NodeMessages>({
      connectionOptions: connectionOptions(named, key, "server"),
      accept: (connection) => endpointTarget?.accept(connection),
      refused: (cause, description) => log(`refused a node connection (${description}): ${cause.code}: ${cause.message}`),
    });
    const service = new NodeService(named, site, key, endpoint, log);
    endpointTarget = service;
    try {
      await service.open();
    } catch (error) {
      await service.stop().catch(() => undefined);
      throw error;
    }
    return service;
  }

  get nodeId(): string {
    return this.config.nodeId;
  }

  get url(): string {
    return this.http!.url;
  }

  private async open(): Promise<void> {
    this.http = await NodeHttpServer.start(
      { listen: this.config.listen, tls: this.config.tls ?? undefined, log: this.log },
      { plugins: [{ name: "node", plugin: this.endpoint.plugin }] },
    );
    if (this.config.join === null) await this.becomePrimary();
    else this.joinSite(this.config.join);
  }

  // The primary: its journal opened (the same site as at its last stop), admin made at the first start.
  private async becomePrimary(): Promise<void> {
    const store = await ServerStore.open(this.config.serverStateDir);
    const server = new CopyServicesServer({ store, nodeId: this.config.nodeId });
    const start = await server.firstStart({ passwordFile: this.config.adminPasswordFile ?? undefined });
    if (start.created && start.password !== null && this.config.adminPasswordFile === null) {
      this.log(`created user admin with password ${start.password} (shown once: change it with chuser -pw)`);
    } else if (start.created) this.log(`created user admin with the password of ${this.config.adminPasswordFile}`);
    this.primary = new PrimaryServer(server, this.http!.websocketUrl(""), this.log);
    await server.registerNode(this.config.nodeId, this.http!.url, this.site);
    this.log(`primary Copy Services Server, term ${server.term}, journal in ${this.config.serverStateDir}`);
  }

  private joinSite(join: URL): void {
    const servers = [join.origin.replace(/^http/, "ws")];
    this.agent = new NodeAgent({
      servers,
      url: this.http!.url,
      site: this.site,
      connectionOptions: connectionOptions(this.config, this.siteKey, "node"),
      serve: (connection, site) => serveSite(connection, site),
      log: this.log,
    });
    this.agent.start();
  }

  // A connection that proved the site key: it may ask what this server is, and register a node.
  private accept(connection: Connection<NodeMessages>): void {
    connection.handle("node.status", () => ({
      role: this.primary !== null ? ("primary" as const) : this.config.backup ? ("backup" as const) : ("member" as const),
      term: this.primary?.server.term ?? this.agent?.term ?? 0,
      url: this.http!.websocketUrl(""),
    }));
    connection.handle("node.register", (body) => {
      if (this.primary === null) throw new ServerError(NOT_PRIMARY, `${this.config.nodeId} is not the site's primary server`);
      return this.primary.register(connection, body);
    });
  }

  // Stops cleanly: the agent and the server first (so no command runs on
  // images being saved), then the workloads, the --state save and the images.
  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    await this.agent?.stop();
    await this.endpoint.close();
    await this.primary?.close();
    await this.http?.close();
    await this.site.stopWorkloads();
    if (this.config.stateFile !== null) {
      await this.site.save(this.config.stateFile);
      this.log(`saved ${this.config.stateFile}`);
    }
    await this.site.close();
  }
}

function connectionOptions(config: NamedConfig, siteKey: Uint8Array, role: string): ConnectionOptions<NodeMessages> {
  return {
    siteKey, nodeId: config.nodeId, role, messages: nodeMessages,
    heartbeatIntervalMs: Math.max(1, Math.floor(config.heartbeatTimeoutMs / HEARTBEATS_PER_TIMEOUT)), heartbeatTimeoutMs: config.heartbeatTimeoutMs,
  };
}

// The node's images: those of --state when the file exists, else the --image ones.
async function openImages(config: NodeServiceConfig, log: Log): Promise<EmbeddedSite> {
  const site = new EmbeddedSite({ workers: config.workers, images: config.images });
  if (config.stateFile === null) return site;
  try {
    const report = await site.load(config.stateFile);
    log(`loaded ${config.stateFile}: ${report.images.map((image) => `${image.id} (${image.volumes} volumes, ${image.relationships} relationships)`).join(", ")}`);
  } catch (error) {
    if (!(isSiteError(error) && error.code === "NOT_FOUND")) {
      await site.close();
      throw error;
    }
    log(`${config.stateFile} does not exist yet: starting with ${config.images.map((image) => image.id).join(", ")}; it is saved at stop`);
  }
  return site;
}
