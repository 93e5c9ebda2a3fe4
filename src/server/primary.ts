// The primary server's side of /cs/node: nodes register their images here
// (a ConnectedSite over each node's connection is the server's way to reach
// that node's Site), are told the site's servers and term, and when a node's
// connection ends its images answer CONNECTION_LOST until it comes back.
import { ConnectedSite } from "../site/protocol-client.js";
import type { Connection } from "../wire/connection.js";
import type { WireError } from "../wire/errors.js";
import type { CopyServicesServer } from "./server.js";
import { ServerError } from "./server-errors.js";
import type { NodeMessages } from "./node-messages.js";
import type { ServersBody } from "./node-protocol.js";

// Where a node's HTTP URL becomes the base of its WebSocket endpoints.
export function websocketBase(url: string): string {
  return url.replace(/^http/, "ws");
}

export class PrimaryServer {
  private readonly nodes = new Map<string, Connection<NodeMessages>>(); // by node id: the connection it registered on
  private readonly nodeUrls = new Map<string, string>(); // by node id: the URL it registered with
  private backup = "";
  private backupNode: string | null = null;

  constructor(
    readonly server: CopyServicesServer,
    private readonly ownNodeId: string,
    private readonly ownUrl: string,
    private readonly log: (line: string) => void,
    private readonly backupFound: (url: string) => void = () => {},
  ) {}

  get backupUrl(): string {
    return this.backup;
  }

  servers(): ServersBody {
    return { term: this.server.term, primary_url: this.ownUrl, backup_url: this.backup };
  }

  // The backup server is (now) node `nodeId` (null: none): once its URL is
  // known (from its node registration, which may come first or later), every node is told.
  setBackupNode(nodeId: string | null): void {
    this.backupNode = nodeId;
    this.tellServers(nodeId === null ? "" : websocketBase(this.nodeUrls.get(nodeId) ?? ""));
  }

  private tellServers(url: string): void {
    if (url === this.backup) return;
    this.backup = url;
    if (url !== "") this.backupFound(url);
    for (const connection of this.nodes.values()) if (connection.isOpen) connection.send("node.servers", this.servers());
  }

  // node.register on `connection`: the node's images join the site.
  async register(connection: Connection<NodeMessages>, body: { node_id: string; url: string; term_seen: number }): Promise<ServersBody> {
    if (body.node_id !== connection.peer?.nodeId) {
      throw new ServerError("BAD_ARGUMENT", `node ${connection.peer?.nodeId} cannot register as ${body.node_id}`);
    }
    if (body.node_id === this.ownNodeId) throw new ServerError("BAD_ARGUMENT", `node ${body.node_id} is this server's own node, registered in process`);
    if (body.term_seen > this.server.term) {
      throw new ServerError("STALE_TERM", `node ${body.node_id} has seen term ${body.term_seen}; this server is at term ${this.server.term}`);
    }
    const site = new ConnectedSite(connection);
    await this.server.registerNode(body.node_id, body.url, site);
    const previous = this.nodes.get(body.node_id);
    this.nodes.set(body.node_id, connection);
    this.nodeUrls.set(body.node_id, body.url);
    if (body.node_id === this.backupNode) this.tellServers(websocketBase(body.url));
    if (previous !== undefined && previous !== connection) void previous.close("the node registered again on another connection");
    this.log(`node ${body.node_id} joined from ${body.url}`);
    void connection.closed.then((cause) => this.lost(body.node_id, connection, cause));
    return this.servers();
  }

  private async lost(nodeId: string, connection: Connection<NodeMessages>, cause: WireError): Promise<void> {
    if (this.nodes.get(nodeId) !== connection) return; // replaced by a newer registration
    this.nodes.delete(nodeId);
    this.log(`node ${nodeId} lost: ${cause.message}`);
    try {
      await this.server.nodeLost(nodeId, cause.message);
    } catch (error) {
      this.log(`error: recording that node ${nodeId} was lost: ${(error as Error).message}`);
    }
  }

  // Lets the nodes go (they re-dial the site's primary); the server is the replication's to close.
  async close(message: string): Promise<void> {
    const connections = [...this.nodes.values()];
    this.nodes.clear();
    await Promise.all(connections.map((connection) => connection.close(message)));
  }
}
