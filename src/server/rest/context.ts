// What every route group of the REST API is given: the site, the storage
// image the API serves, and the links of a request.
import type { FastifyRequest } from "fastify";
import type { Site } from "../../site/site.js";
import type { CommandClass } from "../users.js";
import type { RestIdentity } from "./auth.js";
import { RestError } from "./errors.js";
import { linksFor, type Links } from "./reply.js";
import { VolumeTextCache } from "./routes/volumes.js";

export interface RestContext {
  site: Site; // for what only reads
  // The site that changes are made through: the caller's own view when the options give one.
  siteFor(request: FastifyRequest): Site;
  // The image this API serves: the one named in the options, else the site's first.
  imageId(): Promise<string>;
  links(request: FastifyRequest): Links;
  volumeTexts: VolumeTextCache;
}

// Each route says which command class its caller needs; `null`: no token (login only).
export interface RestRouteConfig {
  commandClass: CommandClass | null;
}

export interface ContextOptions {
  site: Site;
  siteFor?: (identity: RestIdentity) => Site;
  imageId?: string;
  baseUrl?: string;
}

// `identities` holds the identity each request's token was checked to be (plugin.ts puts it there).
export function makeContext(options: ContextOptions, identities: WeakMap<FastifyRequest, RestIdentity>): RestContext {
  const { site, siteFor, imageId, baseUrl } = options;
  return {
    site,
    siteFor(request) {
      const identity = identities.get(request);
      if (siteFor === undefined) return site;
      if (identity === undefined) throw new RestError(401, "TOKEN_MISSING", "the request carries no checked token", "X-Auth-Token");
      return siteFor(identity);
    },
    async imageId() {
      if (imageId !== undefined) return imageId;
      const images = await site.listImages();
      if (images.length === 0) throw new RestError(503, "NO_STORAGE_IMAGE", "the site has no storage image to serve");
      return images[0].id;
    },
    links: (request) => linksFor(request, baseUrl),
    volumeTexts: new VolumeTextCache(),
  };
}
