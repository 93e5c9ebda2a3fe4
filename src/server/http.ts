// A node's one HTTP(S) port (design.md §7, the lead's server plan): fastify
// carrying the REST API (/api/v1), the remote shells' WebSocket (/cs/shell),
// the node connections' WebSocket (/cs/node), the event stream and the
// browser console (/). Each is a fastify plugin given at creation; this file
// owns the listener, TLS, the bounds on requests and the WebSocket server they
// share.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from "fastify";
import websocket from "@fastify/websocket";
import { WEBSOCKET_MESSAGE_BYTES_MAX } from "../wire/websocket.js";
import { restFrameworkErrors } from "./rest/plugin.js";

export const DEFAULT_LISTEN_HOST = "127.0.0.1";
export const DEFAULT_LISTEN_PORT = 8452;
// A REST request body: a command with a few thousand volume IDs fits many times over.
export const BODY_BYTES_MAX_DEFAULT = 1024 * 1024;

export interface ListenAddress {
  host: string;
  port: number;
}

export class ServeArgumentError extends Error {
  override readonly name = "ServeArgumentError";
  constructor(readonly flag: string, message: string) {
    super(`${flag}: ${message}`);
  }
}

// `--listen HOST:PORT`, `[IPV6]:PORT`, or `PORT` alone (then on 127.0.0.1):
// a node binds elsewhere than loopback only when a host is given explicitly.
export function parseListen(text: string, flag = "--listen"): ListenAddress {
  const match = /^(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):)?(\d{1,5})$/.exec(text);
  if (match === null) throw new ServeArgumentError(flag, `"${text}" is not HOST:PORT (127.0.0.1:8452) or a port`);
  const port = Number(match[2]);
  if (port > 0xffff) throw new ServeArgumentError(flag, `port ${port} is above 65535`);
  const host = match[1] === undefined ? DEFAULT_LISTEN_HOST : match[1].replace(/^\[(.*)\]$/, "$1");
  return { host, port };
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface HttpRoutes {
  // Registered in this order, each in its own encapsulated context.
  plugins: Array<{ name: string; plugin: FastifyPluginAsync<any>; options?: Record<string, unknown> }>;
}

export interface HttpServerOptions {
  listen: ListenAddress;
  tls?: TlsFiles;
  bodyBytesMax?: number;
  log: (line: string) => void;
}

function readTls(tls: TlsFiles): { cert: Buffer; key: Buffer } {
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new ServeArgumentError(flag, `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  return { cert: read("--tls-cert", tls.certFile), key: read("--tls-key", tls.keyFile) };
}

// The SHA-256 fingerprint of the certificate a client will see (the file's first), as clients pin it.
export function certificateFingerprint(cert: Buffer): string {
  try {
    return new X509Certificate(cert).fingerprint256;
  } catch (error) {
    throw new ServeArgumentError("--tls-cert", `does not hold a PEM certificate: ${(error as Error).message}`);
  }
}

// The node's HTTP server, listening. Its plugins are registered before the
// port opens, so no request can reach a half-built server.
export class NodeHttpServer {
  private constructor(readonly app: FastifyInstance, readonly url: string, readonly address: ListenAddress) {}

  static async start(options: HttpServerOptions, routes: HttpRoutes): Promise<NodeHttpServer> {
    const https = options.tls === undefined ? null : readTls(options.tls);
    // The https instance has another server type parameter; routes see only requests and replies.
    const fingerprint = https === null ? null : certificateFingerprint(https.cert);
    // frameworkErrors: a URL fastify cannot decode is answered in the REST API's envelope under /api/v1.
    const app = Fastify({
      https, bodyLimit: options.bodyBytesMax ?? BODY_BYTES_MAX_DEFAULT, logger: false, forceCloseConnections: true, frameworkErrors: restFrameworkErrors,
    }) as unknown as FastifyInstance;
    await app.register(websocket, { options: { maxPayload: WEBSOCKET_MESSAGE_BYTES_MAX, perMessageDeflate: false } });
    for (const { plugin, options: pluginOptions } of routes.plugins) await app.register(plugin, pluginOptions ?? {});
    try {
      await app.listen({ host: options.listen.host, port: options.listen.port });
    } catch (error) {
      await app.close();
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new ServeArgumentError("--listen", `cannot listen on ${options.listen.host}:${options.listen.port}: ${code}`);
    }
    const bound = app.server.address();
    const port = typeof bound === "object" && bound !== null ? bound.port : options.listen.port;
    const hostInUrl = options.listen.host.includes(":") ? `[${options.listen.host}]` : options.listen.host;
    const url = `${https === null ? "http" : "https"}://${hostInUrl}:${port}`;
    options.log(`listening on ${url}`);
    if (fingerprint !== null) options.log(`TLS certificate SHA-256 fingerprint ${fingerprint}`);
    return new NodeHttpServer(app, url, { host: options.listen.host, port });
  }

  // The ws:// (or wss://) URL of a WebSocket endpoint of this server.
  websocketUrl(path: string): string {
    return `${this.url.replace(/^http/, "ws")}${path}`;
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}
