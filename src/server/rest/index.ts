// The DS8000 RESTful API of tzero at /api/v1 (design.md §10, issue 12), as a
// fastify plugin over any Site and a minimal auth interface. The Copy
// Services Server mounts it on the node's one HTTP port:
//
//   import Fastify from "fastify";
//   import { restApi } from "./server/rest/index.js";
//   const app = Fastify({ frameworkErrors: restFrameworkErrors });   // undecodable URLs in the envelope too
//   await app.register(restApi, { site: server, auth: serverAuth(server), siteFor: serverSiteFor(server) });
//   await app.listen({ host: "127.0.0.1", port: 8452 });
//
// where `server` is the node's CopyServicesServer; any Site and any
// { login(user, password), check(token) } do (tests use an EmbeddedSite).
// Or, for a server of its own, `await restServer({ site, auth })` returns
// the fastify instance with nothing else on it (not yet listening).
//
// Routes: POST /tokens (login: {"request":{"params":{"username","password"}}},
// reply {"token":{"token","expired_time","max_idle_interval"}}); then, with the
// X-Auth-Token header: GET systems[/ID], pools[/ID[/volumes]],
// lss[/ID[/volumes]], ioports[/ID], volumes[/ID[/flashcopy|/pprc]]; POST volumes,
// PUT and DELETE volumes/ID; GET, POST cs/flashcopies, GET and DELETE
// cs/flashcopies/SSSS:TTTT, POST cs/flashcopies/unfreeze; GET, POST, DELETE
// cs/pprcs[/ID], POST cs/pprcs/pause, resume, delete; GET, POST
// cs/pprcs/paths, GET and DELETE cs/pprcs/paths/ID, GET
// cs/pprcs/physical_links; GET, POST hosts, GET and DELETE hosts/NAME (or
// hosts[id=H3]), GET, POST hosts/NAME/mappings, GET and DELETE
// hosts/NAME/mappings/LUN, GET hosts/NAME/host_ports and volumes; GET, POST
// host_ports, GET and DELETE host_ports/WWPN, POST host_ports/assign.
//
// Replies: {"server":{"status","code","message"},"counts":{...},"data":{KIND:[...]}}
// with absolute link.hrefs (from `baseUrl`, else the request's Host). Failures:
// HTTP 4xx/5xx, server.status "failed" and a stable server.code (the Site's
// error codes, TOKEN_MISSING / TOKEN_UNKNOWN / TOKEN_EXPIRED / TOKEN_IDLE on
// 401, BAD_REQUEST / BAD_JSON / BAD_ID on 400 naming the field).
import Fastify, { type FastifyInstance } from "fastify";
import { restApi, restFrameworkErrors, type RestApiOptions } from "./plugin.js";

export { restApi, restFrameworkErrors, BODY_LIMIT_BYTES_DEFAULT, type RestApiOptions } from "./plugin.js";
export type { RestAuth, RestIdentity, RestLogin } from "./auth.js";
export { RestError, isRestError } from "./errors.js";
export { API_PATH } from "./reply.js";
export { serverAuth, serverSiteFor } from "./server-auth.js";

// A fastify instance serving only the REST API.
export async function restServer(options: RestApiOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, frameworkErrors: restFrameworkErrors });
  await app.register(restApi, options);
  return app;
}
