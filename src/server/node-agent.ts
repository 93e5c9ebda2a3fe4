// A node's Copy Services client: it dials the site's primary server on
// /cs/node, serves its images' Site over that connection (the server routes
// commands to it), registers, and when the connection is lost re-dials, the
// servers it knows in turn (the primary, then the backup the server told it
// of), with a bounded backoff, until stopped. The data plane never waits for
// any of this: the images, their workloads and copies run on in the node.
import type { Connection, ConnectionOptions } from "../wire/connection.js";
import { isWireError, WireError } from "../wire/errors.js";
import { connectWebSocket } from "../wire/websocket.js";
import type { Site } from "../site/site.js";
import { NODE_ENDPOINT_PATH } from "./node-endpoint.js";
import { NOT_PRIMARY, type ServersBody } from "./node-protocol.js";
import type { NodeMessages } from "./node-messages.js";

export const REDIAL_DELAY_MS_MIN = 100;
export const REDIAL_DELAY_MS_MAX = 2000;

export interface NodeAgentOptions {
  servers: string[]; // base URLs of the servers to try (ws:// or wss://, no path), the primary first
  url: string; // this node's own base URL, which the server records
  site: Site; // this node's images
  connectionOptions: ConnectionOptions<NodeMessages>; // its registry must hold node.* and the Site RPC
  serve(connection: Connection<NodeMessages>, site: Site): void; // the Site RPC's server side (serveSite)
  log(line: string): void;
  onServers?(servers: ServersBody): void; // told each time the site's servers change
  ca?: string | Buffer;
}

export class NodeAgent {
  private servers: string[];
  private termSeen = 0;
  private stopped = false;
  private current: Connection<NodeMessages> | null = null;
  private wake: (() => void) | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly options: NodeAgentOptions) {
    this.servers = [...options.servers];
  }

  get term(): number {
    return this.termSeen;
  }

  get connected(): boolean {
    return this.current?.isOpen === true;
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.current?.close("the node is shutting down");
    await this.running;
  }

  // Tries the known servers in turn, forever until stopped: every wait in it is bounded.
  private async run(): Promise<void> {
    let delayMs = REDIAL_DELAY_MS_MIN;
    let failures = 0;
    for (let attempt = 0; !this.stopped; attempt++) {
      const server = this.servers[attempt % this.servers.length];
      const registered = await this.session(server, failures === 0);
      if (this.stopped) break;
      if (registered) {
        delayMs = REDIAL_DELAY_MS_MIN;
        failures = 0;
        attempt = -1; // start again from the primary the server last named
        continue;
      }
      failures++;
      if (failures % this.servers.length === 0) {
        await this.sleep(delayMs);
        delayMs = Math.min(REDIAL_DELAY_MS_MAX, delayMs * 2);
      }
    }
  }

  // One connection: dial, serve, register, then wait for its end. True when it registered.
  private async session(server: string, report: boolean): Promise<boolean> {
    let connection: Connection<NodeMessages>;
    try {
      connection = await connectWebSocket({ ...this.options.connectionOptions, url: `${server}${NODE_ENDPOINT_PATH}`, ca: this.options.ca });
    } catch (error) {
      if (report) this.options.log(`server ${server} unreachable: ${(error as Error).message}; retrying`);
      return false;
    }
    this.current = connection;
    try {
      this.options.serve(connection, this.options.site);
      connection.on("message", (type: string, body: unknown) => {
        if (type === "node.servers") this.learn(body as ServersBody);
      });
      const reply = await connection.request("node.register", { node_id: this.options.connectionOptions.nodeId, url: this.options.url, term_seen: this.termSeen });
      if (reply.term < this.termSeen) {
        this.options.log(`server ${server} is at term ${reply.term}, below the site's term ${this.termSeen}: not registering with it`);
        await connection.close(`term ${reply.term} is below ${this.termSeen}`);
        return false;
      }
      this.learn(reply);
      this.options.log(`registered with ${server} (term ${reply.term})`);
    } catch (error) {
      const notPrimary = isWireError(error) && error.remoteCode === NOT_PRIMARY;
      if (report || !notPrimary) this.options.log(`server ${server} did not register this node: ${(error as Error).message}`);
      await connection.close(notPrimary ? "not the primary" : "registration failed");
      return false;
    } finally {
      if (this.stopped) await connection.close("the node is shutting down");
    }
    const cause = await connection.closed;
    this.current = null;
    if (!this.stopped) this.options.log(`lost server ${server}: ${(cause as WireError).message}`);
    return true;
  }

  private learn(servers: ServersBody): void {
    if (servers.term < this.termSeen) return;
    this.termSeen = servers.term;
    this.servers = [servers.primary_url, servers.backup_url].filter((url) => url !== "");
    this.options.onServers?.(servers);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }
}
