// The wire protocol over TCP (node:net): a listener whose application sees
// only connections that completed the handshake, and a dialer. Both bind or
// connect to 127.0.0.1 unless told otherwise.
import { EventEmitter } from "node:events";
import { createServer, connect, type Server, type Socket, type AddressInfo } from "node:net";
import { Connection, type ConnectionOptions } from "./connection.js";
import { WireError } from "./errors.js";
import type { MessageSpecs } from "./messages.js";
import { socketTransport } from "./transport.js";

export const DEFAULT_HOST = "127.0.0.1";

export interface ListenOptions<S extends MessageSpecs> extends ConnectionOptions<S> {
  host?: string;
  port?: number; // 0 or absent: any free port
  connectionsMax?: number; // handshakes and open connections together; default 256
}

// Events: "connection" (an open Connection), "refused" (the cause, the
// description of the transport) for a connection closed before it opened.
export class WireServer<S extends MessageSpecs = MessageSpecs> extends EventEmitter {
  readonly connections = new Set<Connection<S>>();

  constructor(private readonly server: Server, private readonly options: ListenOptions<S>) {
    super();
    server.on("connection", (socket) => this.accept(socket));
  }

  override on(event: "connection", listener: (connection: Connection<S>) => void): this;
  override on(event: "refused", listener: (cause: WireError, description: string) => void): this;
  override on(event: string, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  address(): { host: string; port: number } {
    const address = this.server.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  private accept(socket: Socket): void {
    if (this.connections.size >= (this.options.connectionsMax ?? 256)) {
      socket.destroy();
      this.emit("refused", new WireError("TOO_MANY_CONNECTIONS", `${this.connections.size} connections are open or in their handshake, the bound`), `tcp from ${socket.remoteAddress}:${socket.remotePort}`);
      return;
    }
    const connection = new Connection<S>(socketTransport(socket), "acceptor", this.options);
    this.connections.add(connection);
    // The "open" event, not the promise: the peer's first request may follow
    // its proof in the same chunk, and must find the application's handlers in place.
    connection.once("open", () => this.emit("connection", connection));
    connection.opened.catch((cause: WireError) => this.emit("refused", cause, connection.description));
    void connection.closed.then(() => this.connections.delete(connection));
  }

  // Stops listening and closes every connection, telling each peer why.
  async close(message = "the server is shutting down"): Promise<void> {
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.connections].map((connection) => connection.close(message)));
    await closing;
  }
}

export async function listenTcp<S extends MessageSpecs>(options: ListenOptions<S>): Promise<WireServer<S>> {
  const server = createServer();
  const wire = new WireServer(server, options);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? DEFAULT_HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return wire;
}

export interface DialOptions<S extends MessageSpecs> extends ConnectionOptions<S> {
  host?: string;
  port: number;
}

// Connects and completes the handshake: resolves with the open connection,
// or rejects with the cause (a refused connection is CONNECTION_LOST).
export async function connectTcp<S extends MessageSpecs>(options: DialOptions<S>): Promise<Connection<S>> {
  const host = options.host ?? DEFAULT_HOST;
  const socket = connect({ host, port: options.port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => { socket.off("error", reject); resolve(); });
    socket.once("error", reject);
  }).catch((error: NodeJS.ErrnoException) => {
    throw new WireError("CONNECTION_LOST", `could not connect to ${host}:${options.port}: ${error.code ?? error.message}`, { cause: error });
  });
  const connection = new Connection<S>(socketTransport(socket), "dialer", options);
  await connection.opened;
  return connection;
}
