// The fastify plugin of the DS8000 REST API: body parsing, validation, the
// token check, the error envelope, then the routes of each resource under
// /api/v1. Everything here is encapsulated in the plugin: the host server's
// other routes (shells, events, the console) keep fastify's defaults.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Site } from "../../site/site.js";
import { requireClass, type RestAuth, type RestIdentity } from "./auth.js";
import { makeContext, type RestContext, type RestRouteConfig } from "./context.js";
import { authError, RestError, restError } from "./errors.js";
import { API_PATH, failedReply } from "./reply.js";
import { validatorCompiler } from "./schemas.js";
import { loginRoutes } from "./routes/tokens.js";
import { systemRoutes } from "./routes/systems.js";
import { poolRoutes } from "./routes/pools.js";
import { lssRoutes } from "./routes/lss.js";
import { volumeRoutes } from "./routes/volumes.js";
import { ioportRoutes } from "./routes/ioports.js";
import { flashcopyRoutes } from "./routes/flashcopies.js";
import { pprcRoutes } from "./routes/pprcs.js";
import { pprcPathRoutes } from "./routes/pprc-paths.js";
import { hostRoutes } from "./routes/hosts.js";
import { selectorRoutes } from "./routes/selectors.js";

export interface RestApiOptions {
  site: Site;
  auth: RestAuth;
  // The site each caller's changes go through (a Copy Services Server journals who made them); default `site`.
  siteFor?: (identity: RestIdentity) => Site;
  imageId?: string; // the storage image served; default the site's first
  baseUrl?: string; // scheme://host[:port] of links; default from each request's protocol and Host
  bodyLimitBytes?: number; // default BODY_LIMIT_BYTES_DEFAULT
}

// Room for a create of a thousand volumes with a name each.
export const BODY_LIMIT_BYTES_DEFAULT = 256 * 1024;
const TOKEN_HEADER = "x-auth-token";

export type RouteGroup = (app: FastifyInstance, context: RestContext) => void;
const RESOURCE_GROUPS: readonly RouteGroup[] = [systemRoutes, poolRoutes, lssRoutes, volumeRoutes, ioportRoutes, flashcopyRoutes, pprcRoutes, pprcPathRoutes, hostRoutes, selectorRoutes];

export async function restApi(app: FastifyInstance, options: RestApiOptions): Promise<void> {
  const identities = new WeakMap<FastifyRequest, RestIdentity>();
  const context = makeContext(options, identities);
  await app.register(async (api) => {
    api.setValidatorCompiler(validatorCompiler);
    acceptJsonBodies(api, options.bodyLimitBytes ?? BODY_LIMIT_BYTES_DEFAULT);
    api.addHook("onRequest", async (request) => checkToken(options.auth, request, identities));
    api.setErrorHandler((error, _request, reply) => sendFailure(reply, restError(error)));
    api.setNotFoundHandler((request, reply) => sendFailure(reply, new RestError(404, "NOT_FOUND", `there is no ${request.method} ${pathOf(request.url)} in this API`)));
    for (const group of [loginRoutes(options.auth), ...RESOURCE_GROUPS]) group(api, context);
  }, { prefix: API_PATH });
}

// fastify's `frameworkErrors` option (the root instance's alone): a URL that
// cannot be decoded, or a bad Content-Type, is refused before any plugin's
// error handler runs; under /api/v1 it gets this API's envelope too.
export function restFrameworkErrors(error: Error, request: FastifyRequest, reply: FastifyReply): void {
  const failure = restError(error);
  if (request.url.startsWith(API_PATH)) sendFailure(reply, failure);
  else reply.code(failure.statusCode).send({ error: failure.code, message: failure.message });
}

function sendFailure(reply: FastifyReply, error: RestError): FastifyReply {
  return reply.code(error.statusCode).send(failedReply(error));
}

// JSON is the only body this API takes; a body sent without a Content-Type
// (pyds8k resends some so) is JSON too.
function acceptJsonBodies(api: FastifyInstance, bodyLimit: number): void {
  api.removeAllContentTypeParsers();
  const parse = (_request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void) => {
    if (body.trim() === "") return done(new RestError(400, "BAD_JSON", "the request body is empty; this request takes {\"request\":{\"params\":{...}}}"));
    try {
      done(null, JSON.parse(body));
    } catch (error) {
      done(new RestError(400, "BAD_JSON", `the request body is not JSON: ${(error as Error).message}`));
    }
  };
  api.addContentTypeParser("application/json", { parseAs: "string", bodyLimit }, parse);
  api.addContentTypeParser("*", { parseAs: "string", bodyLimit }, parse);
}

// Every request but login carries a live token whose user's groups allow the route's class.
async function checkToken(auth: RestAuth, request: FastifyRequest, identities: WeakMap<FastifyRequest, RestIdentity>): Promise<void> {
  const config = request.routeOptions.config as Partial<RestRouteConfig>;
  if (config.commandClass === null) return;
  const token = request.headers[TOKEN_HEADER];
  if (typeof token !== "string" || token === "") throw new RestError(401, "TOKEN_MISSING", "the request carries no X-Auth-Token header: log in first with POST /api/v1/tokens", "X-Auth-Token");
  let identity: RestIdentity;
  try {
    identity = await auth.check(token);
  } catch (error) {
    throw authError(error, "TOKEN_UNKNOWN", "X-Auth-Token");
  }
  // An unknown route still needs a token (so nothing is learnt without one) but no class.
  if (config.commandClass !== undefined) requireClass(identity, config.commandClass);
  identities.set(request, identity);
}

function pathOf(url: string): string {
  const path = url.split("?")[0];
  return path.length > 128 ? `${path.slice(0, 128)}...` : path;
}
