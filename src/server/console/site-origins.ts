// The origins of the site's Copy Services Servers (the primary and its
// backup), for a console page that follows a takeover to the other one. The
// page stays where it was loaded from and sends its requests and its event
// stream to whichever server leads, so the other server's routes must let a
// page of the site's own origins in, and nobody else's:
//
//   - CORS (Fetch standard, §3.2 "CORS protocol") on /cs/console: a request
//     whose Origin is one of the site's servers gets
//     Access-Control-Allow-Origin naming it (never `*`), a preflight is
//     answered with the methods and the X-Auth-Token header the console
//     uses; a request from any other origin is refused with 403.
//   - the WebSocket of /cs/events (RFC 6455 §10.2, "Origin Considerations"):
//     the handshake of a page from another origin is refused with 403.
//
// A request without Origin (DS CLI, curl, the REST clients) or from the
// server's own origin is the server's own business and passes.
import type { FastifyReply, FastifyRequest } from "fastify";
import { failedReply } from "../rest/reply.js";
import { RestError } from "../rest/errors.js";

// The http(s) origins of the site's servers, this one first; asked at each request, as a backup joins or changes.
export type SiteOrigins = () => readonly string[];

export const CORS_METHODS = "GET, POST, PUT, DELETE";
export const CORS_HEADERS = "X-Auth-Token, Content-Type";
const CORS_MAX_AGE_S = 600;
const ORIGIN_SHOWN_MAX = 128;

// The http(s) origin of a server's URL, also of its ws(s) form (the peer file's).
export function httpOrigin(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === "ws:") parsed.protocol = "http:";
  if (parsed.protocol === "wss:") parsed.protocol = "https:";
  return parsed.origin;
}

// The WebSocket origin of an http(s) origin, for connect-src.
export function websocketOrigin(origin: string): string {
  return origin.replace(/^http/, "ws");
}

function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.headers.host ?? ""}`;
}

// The request's Origin when it comes from another server of the site; null
// when it has none or is this server's; a RestError 403 for any other.
export function siteOrigin(request: FastifyRequest, origins: SiteOrigins): string | null {
  const origin = request.headers.origin;
  if (origin === undefined || origin === ownOrigin(request)) return null;
  if (origins().includes(origin)) return origin;
  throw new RestError(403, "ORIGIN_REFUSED", `a page from ${origin.slice(0, ORIGIN_SHOWN_MAX)} is not one of this site's servers (${origins().join(", ")})`, "Origin");
}

// The request's site origin (null: none needed), or undefined once the refusal of a foreign one is sent.
async function allowedOrigin(request: FastifyRequest, reply: FastifyReply, origins: SiteOrigins): Promise<string | null | undefined> {
  try {
    return siteOrigin(request, origins);
  } catch (error) {
    const refusal = error as RestError;
    await reply.code(refusal.statusCode).send(failedReply(refusal));
    return undefined;
  }
}

// The onRequest hook of /cs/console: CORS for the site's servers, a preflight answered here.
export function corsHook(origins: SiteOrigins) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> => {
    const origin = await allowedOrigin(request, reply, origins);
    if (origin === undefined) return reply;
    if (origin === null) return;
    reply.headers({ "access-control-allow-origin": origin, vary: "Origin" });
    if (request.method !== "OPTIONS") return;
    return reply.code(204).headers({
      "access-control-allow-methods": CORS_METHODS, "access-control-allow-headers": CORS_HEADERS, "access-control-max-age": String(CORS_MAX_AGE_S),
    }).send();
  };
}

// The preValidation hook of the event stream's WebSocket route: a foreign page's handshake is refused before the upgrade.
export function websocketOriginHook(origins: SiteOrigins) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> => {
    if (await allowedOrigin(request, reply, origins) === undefined) return reply;
  };
}
