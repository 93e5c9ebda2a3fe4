// The arguments of `tzero serve`: a node as a service (design.md §7).
//   tzero serve [--image ID[:MODEL]]... [--listen HOST:PORT] [--join URL] [--backup]
//               [--state FILE] [--server-state DIR] [--admin-password-file FILE]
//               [--site-key-file FILE] [--tls-cert F --tls-key F | --tls-self-signed [--tls-dir DIR]]
//               [--node-id NAME] [--save-interval SECONDS]
//               [--workers N] [--heartbeat-timeout-ms N] [--link-listen HOST:PORT] [--nbd HOST:PORT]
// Every error names its flag; main() turns it into exit code 2.
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { imageId, parseImageId } from "../engine/ids.js";
import { parseListen, ServeArgumentError, type ListenAddress, type TlsFiles } from "../server/http.js";
import type { NodeServiceConfig } from "../server/node-service.js";
import { SAVE_INTERVAL_S_DEFAULT } from "../server/node-saver.js";
import type { ModelName } from "../site/types.js";
import { parseEndpoint } from "../hosts/nbd-endpoint.js";

export const SERVE_USAGE = `usage: tzero serve [--image ID[:MODEL]]... [--listen HOST:PORT] [--join URL] [--backup]
                   [--state FILE] [--server-state DIR] [--admin-password-file FILE]
                   [--site-key-file FILE] [--tls-cert FILE --tls-key FILE | --tls-self-signed [--tls-dir DIR]]
                   [--node-id NAME] [--save-interval SECONDS]
  --image ID[:MODEL]       a storage image this node hosts (repeatable; default one 2107 image)
  --listen HOST:PORT       the node's HTTP port (default 127.0.0.1:8452; PORT alone binds to 127.0.0.1)
  --join URL               register with the site's server at URL instead of being the primary server
  --backup                 with --join: also be the backup server, taking over when the primary goes silent
  --state FILE             the node's images: loaded at start when FILE exists, saved while running
                           (after each configuration change, every --save-interval while volumes change)
                           and on SIGTERM
  --save-interval SECONDS  how often --state is saved while volumes change (default 30; 0: only on SIGTERM)
  --server-state DIR       the server's journal (default FILE.server next to --state, or $XDG_STATE_HOME/tzero/server)
  --admin-password-file F  the first start's admin password (default: a random one, printed once)
  --site-key-file FILE     the site key (default DIR/site.key; made at the primary's first start)
  --tls-cert/--tls-key F   serve HTTPS and WSS with this certificate and key
  --tls-self-signed        serve HTTPS and WSS with a self-signed certificate made at the first start and
                           reused after (its SHA-256 fingerprint is printed at every start)
  --tls-dir DIR            where that certificate is kept (default DIR/tls of --server-state)
  --node-id NAME           this node's name in the site (default: its first image's ID)
  --heartbeat-timeout-ms N silence after which a server or node is taken as gone (default 5000)
  --link-listen HOST:PORT  where other nodes' PPRC links connect (default 127.0.0.1, any free port)
  --nbd HOST:PORT          the NBD endpoint of host connections made without -nbd, on every image
                           (exports HOST/VOLUME on the first image, HOST/IMAGE/VOLUME on each; a unix socket path works too)`;

export const HEARTBEAT_TIMEOUT_MS_DEFAULT = 5000;
const HEARTBEAT_TIMEOUT_MS_MIN = 200;
const HEARTBEAT_TIMEOUT_MS_MAX = 600_000;
const SAVE_INTERVAL_S_MAX = 86_400;
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

// The parsed flags are exactly what the node service starts from.
export type ServeConfig = NodeServiceConfig;
export type ImageSpec = NodeServiceConfig["images"][number];

export const DEFAULT_IMAGE: ImageSpec = { id: "IBM.2107-75TZ001", model: "2107" };

// `IBM.2107-75SITEA`, or with its model said again: `IBM.2107-75SITEA:2107`.
export function parseImage(text: string): ImageSpec {
  const [idText, modelText, ...rest] = text.split(":");
  let parts;
  try {
    parts = parseImageId(idText);
  } catch (error) {
    throw new ServeArgumentError("--image", (error as Error).message);
  }
  if (rest.length > 0) throw new ServeArgumentError("--image", `"${text}" is not ID[:MODEL]`);
  if (modelText !== undefined && modelText !== parts.model) {
    throw new ServeArgumentError("--image", `model ${modelText} does not match the ID ${idText}, which is a ${parts.model}`);
  }
  return { id: imageId(parts.model, parts.serial), model: parts.model as ModelName };
}

// ws:// or wss:// of the server's /cs/node, from the URL --join gives (http(s):// or ws(s)://, any path).
export function parseJoin(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ServeArgumentError("--join", `"${text}" is not a URL (http://127.0.0.1:8452)`);
  }
  if (!["http:", "https:", "ws:", "wss:"].includes(url.protocol)) throw new ServeArgumentError("--join", `"${text}" is not an http(s):// or ws(s):// URL`);
  if (url.port === "") url.port = "8452";
  return new URL(`${url.protocol.replace(/^http/, "ws")}//${url.host}`);
}

function wholeNumber(flag: string, text: string | undefined, low: number, high: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < low || value > high) throw new ServeArgumentError(flag, `${text} is not a whole number from ${low} to ${high}`);
  return value;
}

function checkNbd(text: string): string {
  try {
    parseEndpoint(text);
  } catch (error) {
    throw new ServeArgumentError("--nbd", (error as Error).message);
  }
  return text;
}

function defaultServerState(stateFile: string | null, environment: NodeJS.ProcessEnv): string {
  if (stateFile !== null) return join(dirname(stateFile), `${basename(stateFile)}.server`);
  const stateHome = environment.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(stateHome, "tzero", "server");
}

const OPTIONS = {
  image: { type: "string", multiple: true },
  listen: { type: "string" },
  join: { type: "string" },
  backup: { type: "boolean" },
  state: { type: "string" },
  "server-state": { type: "string" },
  "admin-password-file": { type: "string" },
  "site-key-file": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-self-signed": { type: "boolean" },
  "tls-dir": { type: "string" },
  "tls-key": { type: "string" },
  "node-id": { type: "string" },
  workers: { type: "string" },
  "heartbeat-timeout-ms": { type: "string" },
  "link-listen": { type: "string" },
  nbd: { type: "string" },
  "save-interval": { type: "string" },
} as const;

export function parseServeArgs(argv: string[], cwd = process.cwd(), environment: NodeJS.ProcessEnv = process.env): ServeConfig {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    const flag = /'(-[^ ']+)/.exec((error as Error).message)?.[1] ?? "serve";
    throw new ServeArgumentError(flag, (error as Error).message.replace(/\. To specify a positional.*$/s, ""));
  }
  const images = (values.image ?? []).map(parseImage);
  const seen = new Set<string>();
  for (const image of images) {
    if (seen.has(image.id)) throw new ServeArgumentError("--image", `${image.id} is given twice`);
    seen.add(image.id);
  }
  if (values.backup && values.join === undefined) throw new ServeArgumentError("--backup", "a backup server needs --join URL of the primary");
  if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)) {
    throw new ServeArgumentError(values["tls-cert"] === undefined ? "--tls-key" : "--tls-cert", "TLS needs both --tls-cert and --tls-key");
  }
  if (values["tls-self-signed"] && values["tls-cert"] !== undefined) {
    throw new ServeArgumentError("--tls-self-signed", "give either --tls-cert and --tls-key or --tls-self-signed, not both");
  }
  if (values["tls-dir"] !== undefined && !values["tls-self-signed"]) throw new ServeArgumentError("--tls-dir", "holds the certificate of --tls-self-signed, which is not given");
  if (values["save-interval"] !== undefined && values.state === undefined) throw new ServeArgumentError("--save-interval", "says how often --state is saved, which is not given");
  if (values["node-id"] !== undefined && !NODE_ID.test(values["node-id"])) {
    throw new ServeArgumentError("--node-id", `"${values["node-id"]}" is not 1 to 64 letters, digits, dots, dashes or underscores`);
  }
  const stateFile = values.state === undefined ? null : resolve(cwd, values.state);
  const serverStateDir = values["server-state"] === undefined ? defaultServerState(stateFile, environment) : resolve(cwd, values["server-state"]);
  const chosen = images.length > 0 ? images : [DEFAULT_IMAGE];
  return {
    images: chosen,
    listen: values.listen === undefined ? parseListen("8452") : parseListen(values.listen),
    join: values.join === undefined ? null : parseJoin(values.join),
    backup: values.backup ?? false,
    stateFile,
    serverStateDir,
    adminPasswordFile: values["admin-password-file"] === undefined ? null : resolve(cwd, values["admin-password-file"]),
    siteKeyFile: values["site-key-file"] === undefined ? join(serverStateDir, "site.key") : resolve(cwd, values["site-key-file"]),
    tls: values["tls-cert"] === undefined ? null : { certFile: resolve(cwd, values["tls-cert"]), keyFile: resolve(cwd, values["tls-key"]!) },
    tlsSelfSignedDir: values["tls-self-signed"] ? (values["tls-dir"] === undefined ? join(serverStateDir, "tls") : resolve(cwd, values["tls-dir"])) : null,
    nodeId: values["node-id"] ?? null,
    workers: wholeNumber("--workers", values.workers, 0, 32),
    heartbeatTimeoutMs: wholeNumber("--heartbeat-timeout-ms", values["heartbeat-timeout-ms"], HEARTBEAT_TIMEOUT_MS_MIN, HEARTBEAT_TIMEOUT_MS_MAX) ?? HEARTBEAT_TIMEOUT_MS_DEFAULT,
    linkListen: values["link-listen"] === undefined ? { host: "127.0.0.1", port: 0 } : parseListen(values["link-listen"], "--link-listen"),
    nbd: values.nbd === undefined ? null : checkNbd(values.nbd),
    saveIntervalMs: (wholeNumber("--save-interval", values["save-interval"], 0, SAVE_INTERVAL_S_MAX) ?? SAVE_INTERVAL_S_DEFAULT) * 1000,
  };
}
