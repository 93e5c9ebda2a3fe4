// The browser console's page and assets (design.md §10, issue 14): GET / is
// the page, GET /console/* its scripts, styles and the libraries it imports,
// all from tzero's own package (dist/console, laid out by scripts/build.mjs),
// so nothing is fetched from elsewhere at run time. They are served without a
// token: until it has one the page is the login page, and every request it
// makes for data carries X-Auth-Token to routes that check it.
//
// The files are read once, when the plugin registers, into a table keyed by
// their URL path; a request is answered from that table or not at all, so no
// URL (encoded dots, backslashes, symlinks) can reach a file outside it.
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import { websocketOrigin, type SiteOrigins } from "./console/site-origins.js";

export const CONSOLE_PATH = "/console/";
// dist/src/server/console-static.js → dist/console.
export const CONSOLE_ROOT_DEFAULT = fileURLToPath(new URL("../../console/", import.meta.url));
// The page's assets are small; a file above this is not the console's and is not served.
const FILE_BYTES_MAX = 4 * 1024 * 1024;
const FILES_MAX = 512;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

export interface ConsoleStaticOptions {
  root?: string; // the folder holding index.html (default dist/console)
  origins?: SiteOrigins; // the site's servers, which the page may reach after a takeover (default: none but this one)
}

interface StaticFile {
  bytes: Buffer;
  type: string;
}

export class ConsoleStaticError extends Error {
  override readonly name = "ConsoleStaticError";
  constructor(readonly code: "NO_CONSOLE" | "TOO_MANY_FILES", message: string) {
    super(message);
  }
}

// Every servable file under `root`, keyed by its path below /console/.
export function loadConsoleFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const visit = (folder: string): void => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      // lstat: a symbolic link is not followed, so none can lead out of the folder.
      const stat = lstatSync(path);
      if (stat.isDirectory()) visit(path);
      else if (stat.isFile() && stat.size <= FILE_BYTES_MAX && Object.hasOwn(CONTENT_TYPES, extname(name))) {
        if (files.size >= FILES_MAX) throw new ConsoleStaticError("TOO_MANY_FILES", `${root} holds more than ${FILES_MAX} console files`);
        files.set(relative(root, path).split(sep).join("/"), { bytes: readFileSync(path), type: CONTENT_TYPES[extname(name)] });
      }
    }
  };
  try {
    visit(root);
  } catch (error) {
    if (error instanceof ConsoleStaticError) throw error;
    throw new ConsoleStaticError("NO_CONSOLE", `cannot read the console's files in ${root}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} (run npm run build)`);
  }
  if (!files.has("index.html")) throw new ConsoleStaticError("NO_CONSOLE", `${root} has no index.html (run npm run build)`);
  return files;
}

// The page's Content-Security-Policy: scripts only from this server, plus the
// one inline script the page has (its import map), allowed by its hash; no
// frames, no plugins; requests to this server and the site's other servers
// (`servers`, http(s) origins: the page follows a takeover), no other origins.
// A name that slipped into HTML could still not run anything.
export function contentSecurityPolicy(page: string, servers: readonly string[] = []): string {
  const hashes = [...page.matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)]
    .map((match) => `'sha256-${createHash("sha256").update(match[1], "utf8").digest("base64")}'`);
  return [
    "default-src 'none'", `script-src 'self' ${hashes.join(" ")}`.trim(), "style-src 'self'", "img-src 'self' data:",
    ["connect-src 'self'", ...servers.flatMap((origin) => [origin, websocketOrigin(origin)])].join(" "), "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join("; ");
}

function send(reply: FastifyReply, file: StaticFile, extraHeaders: Record<string, string> = {}): FastifyReply {
  // no-cache: the browser revalidates, so a rebuilt console is picked up at once.
  return reply.type(file.type).headers({ "cache-control": "no-cache", "x-content-type-options": "nosniff", ...extraHeaders }).send(file.bytes);
}

function notFound(reply: FastifyReply, url: string): FastifyReply {
  const path = url.split("?")[0].slice(0, 200);
  return reply.code(404).send({ server: { status: "failed", code: "NOT_FOUND", message: `the console has no file ${JSON.stringify(path)}` } });
}

export async function consoleStatic(app: FastifyInstance, options: ConsoleStaticOptions): Promise<void> {
  const files = loadConsoleFiles(options.root ?? CONSOLE_ROOT_DEFAULT);
  const page = files.get("index.html")!;
  const pageText = page.bytes.toString("utf8");
  const origins = options.origins ?? (() => []);
  // The site's servers change (a backup joins): the policy is made at each request of the page.
  const pageHeaders = () => ({ "content-security-policy": contentSecurityPolicy(pageText, origins()), "referrer-policy": "no-referrer", "x-frame-options": "DENY" });
  app.get("/", async (_request, reply) => send(reply, page, pageHeaders()));
  app.get<{ Params: { "*": string } }>(`${CONSOLE_PATH}*`, async (request, reply) => {
    const file = files.get(request.params["*"]);
    if (file === undefined) return notFound(reply, request.url);
    return send(reply, file, file === page ? pageHeaders() : {});
  });
}
