// WebSocket /cs/node: node↔server and server↔backup connections, the wire
// protocol (src/wire) over the node's HTTP port. A connection reaches
// `accept` only once its handshake has proved the site key; one that fails
// it (no key, another key, garbage, silence) is closed and reported to
// `refused`, and nothing of what it sent is delivered.
import type { FastifyPluginAsync } from "fastify";
import type WebSocket from "ws";
import type { Connection, ConnectionOptions } from "../wire/connection.js";
import { WireError } from "../wire/errors.js";
import type { MessageSpecs } from "../wire/messages.js";
import { acceptWebSocket } from "../wire/websocket.js";

export const NODE_ENDPOINT_PATH = "/cs/node";
export const NODE_CONNECTIONS_MAX_DEFAULT = 256;

export interface NodeEndpointOptions<S extends MessageSpecs> {
  connectionOptions: ConnectionOptions<S>;
  accept(connection: Connection<S>): void;
  refused(cause: WireError, description: string): void;
  connectionsMax?: number; // handshakes and open connections together
}

// The endpoint's connections outlive no server: close() tells each peer why,
// and runs before the HTTP server closes (which would cut the sockets).
export class NodeEndpoint<S extends MessageSpecs> {
  readonly connections = new Set<Connection<S>>();
  private readonly connectionsMax: number;

  constructor(private readonly options: NodeEndpointOptions<S>) {
    this.connectionsMax = options.connectionsMax ?? NODE_CONNECTIONS_MAX_DEFAULT;
  }

  readonly plugin: FastifyPluginAsync = async (app) => {
    app.get(NODE_ENDPOINT_PATH, { websocket: true }, (socket, request) => {
      this.take(socket, `${request.socket.remoteAddress}:${request.socket.remotePort}`);
    });
  };

  async close(message = "the node is shutting down"): Promise<void> {
    await Promise.all([...this.connections].map((connection) => connection.close(message)));
  }

  private take(socket: WebSocket, remote: string): void {
    if (this.connections.size >= this.connectionsMax) {
      socket.terminate();
      this.options.refused(new WireError("TOO_MANY_CONNECTIONS", `${this.connections.size} node connections are open or in their handshake, the bound`), `ws from ${remote}`);
      return;
    }
    const connection = acceptWebSocket(socket, remote, this.options.connectionOptions);
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
    // The "open" event, not the promise: the peer's first request may follow
    // its proof in the same chunk, and must find the handlers in place.
    connection.once("open", () => this.options.accept(connection));
    connection.opened.catch((cause: WireError) => this.options.refused(cause, connection.description));
  }
}
