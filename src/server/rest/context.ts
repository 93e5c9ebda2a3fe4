// What every route group of the REST API is given: the site, the storage
// image the API serves, and the links of a request.
import type { FastifyRequest } from "fastify";
import type { Site } from "../../site/site.js";
import type { CommandClass } from "../users.js";
import { RestError } from "./errors.js";
import { linksFor, type Links } from "./reply.js";

export interface RestContext {
  site: Site;
  // The image this API serves: the one named in the options, else the site's first.
  imageId(): Promise<string>;
  links(request: FastifyRequest): Links;
}

// Each route says which command class its caller needs; `null`: no token (login only).
export interface RestRouteConfig {
  commandClass: CommandClass | null;
}

export function makeContext(site: Site, imageId: string | undefined, baseUrl: string | undefined): RestContext {
  return {
    site,
    async imageId() {
      if (imageId !== undefined) return imageId;
      const images = await site.listImages();
      if (images.length === 0) throw new RestError(503, "NO_STORAGE_IMAGE", "the site has no storage image to serve");
      return images[0].id;
    },
    links: (request) => linksFor(request, baseUrl),
  };
}
