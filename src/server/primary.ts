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

export class PrimaryServer {
  private readonly nodes = new Map<string, Connection<NodeMessages>>(); // by node id: the connection it registered on
  private backup = "";

  constructor(readonly server: CopyServicesServer, private readonly ownUrl: string, private readonly log: (line: string) => void) {}

  get backupUrl(): string {
    return this.backup;
  }

  servers(): ServersBody {
    return { term: this.server.term, primary_url: this.ownUrl, backup_url: this.backup };
  }

  // The site's backup is (now) at `url` ("" when it has gone): every node is told.
  setBackup(url: string): void {
    if (url === this.backup) return;
    this.backup = url;
    for (const connection of this.nodes.values()) if (connection.isOpen) connection.send("node.servers", this.servers());
  }

  // node.register on `connection`: the node's images join the site.
  async register(connection: Connection<NodeMessages>, body: { node_id: string; url: string; term_seen: number }): Promise<ServersBody> {
    if (body.node_id !== connection.peer?.nodeId) {
      throw new ServerError("BAD_ARGUMENT", `node ${connection.peer?.nodeId} cannot register as ${body.node_id}`);
    }
    if (body.term_seen > this.server.term) {
      throw new ServerError("STALE_TERM", `node ${body.node_id} has seen term ${body.term_seen}; this server is at term ${this.server.term}`);
    }
    const site = new ConnectedSite(connection);
    await this.server.registerNode(body.node_id, body.url, site);
    const previous = this.nodes.get(body.node_id);
    this.nodes.set(body.node_id, connection);
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

  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((connection) => connection.close("the server is shutting down")));
    this.nodes.clear();
    await this.server.close();
  }
}
