// `tzero serve`: one node as a service (design.md §7). It hosts its images in
// an EmbeddedSite (their data plane, engine and copy workers; the --state
// file loaded at start, saved while running by node-saver.ts and at stop), opens the node's one HTTP port,
// and is either the site's primary Copy Services Server (its journal in
// --server-state) or a member that registers its images with the primary it
// --joins. The data plane never waits for a server: the images, workloads
// and copies run whether or not a server is reachable.
import { serveSite } from "../site/protocol-server.js";
import { EmbeddedSite } from "../site/embedded.js";
import { isSiteError } from "../site/errors.js";
import type { ModelName } from "../site/types.js";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Connection, ConnectionOptions } from "../wire/connection.js";
import { connectWebSocket } from "../wire/websocket.js";
import { NodeHttpServer, type HttpRoutes, type ListenAddress, type TlsFiles } from "./http.js";
import { CurrentServer, CurrentSite } from "./current-server.js";
import { serverShellBackend, shellEndpoint } from "./shell-endpoint.js";
import { consoleApi } from "./console/routes.js";
import { consoleStatic } from "./console-static.js";
import { httpOrigin } from "./console/site-origins.js";
import { restApi, serverAuth, serverSiteFor, type RestAuth, type RestIdentity } from "./rest/index.js";
import { NodeAgent } from "./node-agent.js";
import { NodeEndpoint, NODE_ENDPOINT_PATH } from "./node-endpoint.js";
import { nodeMessages, type NodeMessages } from "./node-messages.js";
import { NOT_PRIMARY } from "./node-protocol.js";
import { PrimaryServer, websocketBase } from "./primary.js";
import { ReplicatedServer } from "./replication.js";
import type { ServerEvent } from "./server.js";
import { ServerError } from "./server-errors.js";
import { loadSiteKey } from "./site-key.js";
import { selfSignedCertificate } from "./tls-self-signed.js";
import { ServerStore } from "./store.js";
import { LinkReceiver } from "../pprc/link-receiver.js";
import { NodeSaver, SAVE_INTERVAL_S_DEFAULT } from "./node-saver.js";
import type { Site } from "../site/site.js";
import type { LinkIdentity } from "../pprc/remote-image.js";

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
  tlsSelfSignedDir?: string | null; // --tls-self-signed: the folder of the certificate made at the first start
  workers: number | undefined;
  heartbeatTimeoutMs: number;
  linkListen?: ListenAddress; // where other nodes' PPRC links connect (default 127.0.0.1, any free port)
  nbd?: string | null; // --nbd: the default NBD endpoint of the node's images
  // --save-interval: how often the --state file is saved while volumes change, and after each
  // configuration change (node-saver.ts); 0: at stop only. Default SAVE_INTERVAL_S_DEFAULT s.
  saveIntervalMs?: number;
}

type NamedConfig = NodeServiceConfig & { nodeId: string };

export type Log = (line: string) => void;

// Heartbeats five times per timeout: a lost frame or a slow turn does not fail a live peer.
const HEARTBEATS_PER_TIMEOUT = 5;
// The wire role of a connection between the two servers (replication.ts runs on it).
const REPLICATION_ROLE = "replication";
const PEER_FILE = "peer-server";
// How often the server looks at the pairs for what they do by themselves (the event log's pprc.changed).
const PAIR_WATCH_MS = 1000;

export class NodeService {
  private replicated: ReplicatedServer | null = null; // in the primary and in a --backup node
  private primary: PrimaryServer | null = null; // while this node's server is the site's primary
  private agent: NodeAgent | null = null; // while it is not: registers the images with the primary
  private http: NodeHttpServer | null = null;
  private readonly current: CurrentServer; // what the REST API and the shells reach
  private peer: PeerServerFile;
  private stopping: Promise<void> | null = null;
  private readonly served: Site; // the images as the server reaches them: through the saver

  private constructor(
    private readonly config: NamedConfig,
    readonly site: EmbeddedSite,
    private readonly siteKey: Uint8Array,
    private readonly endpoint: NodeEndpoint<NodeMessages>,
    private readonly log: Log,
    private readonly links: LinkReceiver,
    private readonly saver: NodeSaver | null, // --state saved while running
  ) {
    this.peer = new PeerServerFile(join(config.serverStateDir, PEER_FILE));
    this.current = new CurrentServer(config.nodeId);
    this.served = saver?.served() ?? site;
  }

  // `tell` hears the node's ID as soon as it is known, before anything is logged in its name.
  static async start(config: NodeServiceConfig, log: Log, tell: (nodeId: string) => void = () => {}): Promise<NodeService> {
    const { key, created } = await loadSiteKey(config.siteKeyFile, { create: config.join === null });
    // The node's name is known once --state is loaded; its links learn it then.
    const identity: LinkIdentity = { siteKey: key, nodeId: config.nodeId ?? "starting", endpoint: null };
    const site = await openImages(config, log, identity);
    const named: NamedConfig = { ...config, nodeId: config.nodeId ?? (await site.listImages())[0].id };
    identity.nodeId = named.nodeId;
    tell(named.nodeId);
    const intervalMs = config.saveIntervalMs ?? SAVE_INTERVAL_S_DEFAULT * 1000;
    const saver = config.stateFile === null || intervalMs === 0 ? null : new NodeSaver({ site, file: config.stateFile, intervalMs, log });
    const links = await startLinks(named, key, site, log, saver).catch(async (error: Error) => {
      await saver?.stop();
      await site.close();
      throw error;
    });
    identity.endpoint = links.address;
    if (created) log(`site key created in ${config.siteKeyFile}: give a copy to every node that joins`);
    let endpointTarget: NodeService | null = null;
    const endpoint = new NodeEndpoint<NodeMessages>({
      connectionOptions: connectionOptions(named, key, "server"),
      accept: (connection) => endpointTarget?.accept(connection),
      refused: (cause, description) => log(`refused a node connection (${description}): ${cause.code}: ${cause.message}`),
    });
    const service = new NodeService(named, site, key, endpoint, log, links, saver);
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
      { listen: this.config.listen, tls: await this.tlsFiles(), log: this.log },
      { plugins: [{ name: "node", plugin: this.endpoint.plugin }, ...this.sitePlugins()] },
    );
    if (this.config.join === null) await this.openPrimary();
    else if (this.config.backup) await this.openBackup(this.config.join);
    else this.startAgent([websocketBase(this.config.join.origin)]);
  }

  private async tlsFiles(): Promise<TlsFiles | undefined> {
    const dir = this.config.tlsSelfSignedDir ?? null;
    if (dir === null) return this.config.tls ?? undefined;
    const made = await selfSignedCertificate(dir, this.config.listen.host);
    this.log(`${made.created ? "self-signed TLS certificate created" : "self-signed TLS certificate"} in ${made.certFile}`);
    return made;
  }

  // The site's own routes, over whichever server is current: on a node that is not the primary they answer NOT_PRIMARY.
  private sitePlugins(): HttpRoutes["plugins"] {
    const current = this.current;
    const auth: RestAuth = {
      login: (user, password) => serverAuth(current.get()).login(user, password),
      check: (token) => serverAuth(current.get()).check(token),
    };
    // A DS8000's REST API serves its own storage system: here the node's first image.
    const imageId = this.site.engineImages()[0]?.id;
    const siteFor = (identity: RestIdentity) => serverSiteFor(current.get())(identity);
    const shell = { backend: serverShellBackend(() => current.get()), nodeId: this.config.nodeId, heartbeatIntervalMs: heartbeatIntervalMs(this.config), heartbeatTimeoutMs: this.config.heartbeatTimeoutMs };
    const origins = () => this.serverOrigins();
    return [
      { name: "rest", plugin: restApi, options: { site: new CurrentSite(current), auth, siteFor, imageId } },
      { name: "shell", plugin: shellEndpoint, options: shell },
      { name: "console", plugin: consoleApi, options: { current: () => current.get(), origins } },
      { name: "console-static", plugin: consoleStatic, options: { origins } },
    ];
  }

  // The site's servers as a console page reaches them: this node's origin, then the other server's (its backup or its primary).
  private serverOrigins(): string[] {
    if (this.http === null) return [];
    const peer = this.peer.known;
    const own = httpOrigin(this.http.url);
    return peer === null || httpOrigin(peer) === own ? [own] : [own, httpOrigin(peer)];
  }

  // The primary: its journal opened (the same site as at its last stop),
  // admin made at the first start. A former primary first meets the server
  // it knew as its backup: one that took over meanwhile has a higher term,
  // and this one steps down to be its backup instead of serving.
  private async openPrimary(): Promise<void> {
    const replicated = await this.openReplicated("primary");
    const start = await replicated.server!.firstStart({ passwordFile: this.config.adminPasswordFile ?? undefined });
    if (start.created && this.config.adminPasswordFile === null) this.log(`created user admin with password ${start.password} (shown once: change it with chuser -pw)`);
    else if (start.created) this.log(`created user admin with the password of ${this.config.adminPasswordFile}`);
    const peerUrl = await this.peer.read();
    if (peerUrl !== null) {
      const how = await this.dialPeer(peerUrl).then((connection) => replicated.attach(connection), () => null);
      if (how === null) this.log(`former backup ${peerUrl} unreachable: serving as primary`);
    }
    if (replicated.role === "primary") await this.becomePrimary();
  }

  private async openBackup(join: URL): Promise<void> {
    const primaryUrl = websocketBase(join.origin);
    await this.peer.write(primaryUrl);
    const replicated = await this.openReplicated("backup");
    this.startAgent([primaryUrl]);
    this.followPrimary(replicated, primaryUrl);
  }

  // Attaches to the primary, again every heartbeat interval until it has, or this node took over, or it stops.
  // Only the first failure of a streak is logged.
  private followPrimary(replicated: ReplicatedServer, primaryUrl: string): void {
    let failures = 0;
    const attempt = (): void => {
      if (this.stopping !== null || replicated.role !== "backup") return;
      this.dialPeer(primaryUrl).then((connection) => replicated.attach(connection)).then(
        () => this.log(`backup of the primary at ${primaryUrl}`),
        (error: Error) => {
          if (failures++ === 0) this.log(`cannot follow the primary at ${primaryUrl} yet: ${error.message}; retrying`);
          setTimeout(attempt, heartbeatIntervalMs(this.config)).unref();
        },
      );
    };
    attempt();
  }

  private async openReplicated(role: "primary" | "backup"): Promise<ReplicatedServer> {
    const store = await ServerStore.open(this.config.serverStateDir);
    const replicated = await ReplicatedServer.start({
      store, nodeId: this.config.nodeId, role, heartbeatIntervalMs: heartbeatIntervalMs(this.config), heartbeatTimeoutMs: this.config.heartbeatTimeoutMs,
      dial: async () => this.dialPeer((await this.peer.read()) ?? ""), log: this.log,
      server: { pairWatchMs: PAIR_WATCH_MS },
    });
    this.replicated = replicated;
    replicated.events((event) => this.serverEvent(event));
    return replicated;
  }

  private serverEvent(event: ServerEvent): void {
    if (event.type === "takeover") void this.becomePrimary().catch((error: Error) => this.log(`error: after the takeover: ${error.message}`));
    else if (event.type === "demoted") void this.stepDown();
    else if (event.type === "backup-joined") this.primary?.setBackupNode(event.nodeId);
    else if (event.type === "backup-lost") this.primary?.setBackupNode(null);
  }

  // This node's server is the site's primary (at start, or by a takeover): its own images register in process.
  private async becomePrimary(): Promise<void> {
    const server = this.replicated!.server!;
    await this.agent?.stop();
    this.agent = null;
    this.current.server = server;
    server.serverEvents((event) => {
      if (event.type === "event-log-failed") this.log(`error: an event could not be logged: ${event.reason}`);
      if (event.type === "session-journal-failed") this.log(`error: a session's use or end could not be journaled: ${event.reason}`);
    });
    this.primary = new PrimaryServer(server, this.config.nodeId, websocketBase(this.http!.url), this.log, (url) => void this.peer.write(url));
    await server.registerNode(this.config.nodeId, this.http!.url, this.served);
    this.log(`primary Copy Services Server, term ${server.term}, journal in ${this.config.serverStateDir}`);
  }

  // Another server leads with a higher term: this one is its backup, and its images register there.
  private async stepDown(): Promise<void> {
    const primary = this.primary;
    this.primary = null;
    this.current.server = null;
    await primary?.close("this server stepped down: register with the site's primary");
    const peerUrl = await this.peer.read();
    if (peerUrl !== null) this.startAgent([peerUrl]);
  }

  private startAgent(servers: string[]): void {
    this.agent = new NodeAgent({
      servers,
      url: this.http!.url,
      site: this.served,
      connectionOptions: connectionOptions(this.config, this.siteKey, "node"),
      serve: (connection, site) => serveSite(connection, site),
      log: this.log,
    });
    this.agent.start();
  }

  private dialPeer(baseUrl: string): Promise<Connection<NodeMessages>> {
    return connectWebSocket({ ...connectionOptions(this.config, this.siteKey, REPLICATION_ROLE), url: `${baseUrl}${NODE_ENDPOINT_PATH}`, connectTimeoutMs: this.config.heartbeatTimeoutMs });
  }

  // A connection that proved the site key: the other server's replication, or a node.
  private accept(connection: Connection<NodeMessages>): void {
    if (connection.peer?.role === REPLICATION_ROLE) {
      if (this.replicated === null) void connection.close(`${this.config.nodeId} is not a server of the site`);
      else this.replicated.attach(connection).catch((error: Error) => this.log(`replication with ${connection.peer?.nodeId} refused: ${error.message}`));
      return;
    }
    connection.handle("node.status", () => ({
      role: this.primary !== null ? ("primary" as const) : this.replicated !== null ? ("backup" as const) : ("member" as const),
      term: this.replicated?.store.term ?? this.agent?.term ?? 0,
      url: websocketBase(this.http!.url),
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
    await this.primary?.close("the server is shutting down");
    this.current.server = null;
    await this.endpoint.close();
    await this.replicated?.close();
    await this.http?.close();
    await this.site.stopWorkloads();
    await this.links.close();
    await this.saver?.stop();
    if (this.config.stateFile !== null) {
      await this.site.save(this.config.stateFile);
      this.log(`saved ${this.config.stateFile}`);
    }
    await this.site.close();
  }
}

// The other server of the site, kept in the server's state directory: a
// backup's primary, a primary's backup. A primary that restarts meets it first.
class PeerServerFile {
  // The URL last read or written. A read that finds no file leaves it: a
  // backup's state directory is replaced whole when it joins (store.ts), and
  // the file with it, but the other server is still the one it was.
  known: string | null = null;

  constructor(private readonly file: string) {}

  async read(): Promise<string | null> {
    let text: string;
    try {
      text = (await readFile(this.file, "utf8")).trim();
    } catch {
      return null;
    }
    const url = /^wss?:\/\/\S+$/.test(text) ? text : null;
    this.known = url ?? this.known;
    return url;
  }

  // Written whole or not at all (a temporary file renamed over it).
  async write(url: string): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    const temporary = `${this.file}.tmp`;
    await writeFile(temporary, `${url}\n`);
    await rename(temporary, this.file);
    this.known = url;
  }
}

function heartbeatIntervalMs(config: NodeServiceConfig): number {
  return Math.max(1, Math.floor(config.heartbeatTimeoutMs / HEARTBEATS_PER_TIMEOUT));
}

function connectionOptions(config: NamedConfig, siteKey: Uint8Array, role: string): ConnectionOptions<NodeMessages> {
  return {
    siteKey, nodeId: config.nodeId, role, messages: nodeMessages,
    heartbeatIntervalMs: heartbeatIntervalMs(config), heartbeatTimeoutMs: config.heartbeatTimeoutMs,
  };
}

// The node's PPRC link listener: links from primaries on other nodes to the images here, and their control requests.
async function startLinks(config: NamedConfig, siteKey: Uint8Array, site: EmbeddedSite, log: Log, saver: NodeSaver | null): Promise<LinkReceiver> {
  const links = new LinkReceiver({
    siteKey, nodeId: config.nodeId, host: config.linkListen?.host, port: config.linkListen?.port ?? 0, log,
    image: (id) => site.engineImages().find((image) => image.id === id),
    control: () => saver?.control(site.linkControl()) ?? site.linkControl(),
  });
  const address = await links.start();
  // Not "listening on": that line names the node's HTTP URL, which tools read from the log.
  log(`PPRC links are taken at ${address.host}:${address.port}`);
  return links;
}

async function openImages(config: NodeServiceConfig, log: Log, links: LinkIdentity): Promise<EmbeddedSite> {
  const site = new EmbeddedSite({ workers: config.workers, images: config.images, links });
  if (config.stateFile !== null) await loadImages(site, config.stateFile, config, log);
  if (config.nbd) await startDefaultNbd(site, config.nbd, log);
  return site;
}

async function loadImages(site: EmbeddedSite, stateFile: string, config: NodeServiceConfig, log: Log): Promise<void> {
  try {
    const report = await site.load(stateFile);
    log(`loaded ${stateFile}: ${report.images.map((image) => `${image.id} (${image.volumes} volumes, ${image.relationships} relationships)`).join(", ")}`);
  } catch (error) {
    if (!(isSiteError(error) && error.code === "NOT_FOUND")) {
      await site.close();
      throw error;
    }
    log(`${stateFile} does not exist yet: starting with ${config.images.map((image) => image.id).join(", ")}; it is saved after the first change and at stop`);
  }
}

// Host connections made without -nbd, on every image of the node, are reached here.
async function startDefaultNbd(site: EmbeddedSite, address: string, log: Log): Promise<void> {
  try {
    const listening = await site.startDefaultNbd(address);
    log(`NBD endpoint for host connections without -nbd at ${listening} (exports named HOST/VOLUME on ${(await site.listImages())[0].id}, HOST/IMAGE/VOLUME on every image)`);
  } catch (error) {
    await site.close();
    throw error;
  }
}
