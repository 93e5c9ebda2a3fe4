// GET /api/v1/systems[/ID]: the storage image this API serves, as a DS8000
// describes itself. Capacities are bytes, summed over the image's pools.
import type { FastifyInstance } from "fastify";
import { EXTENT_SIZE } from "../../../core/codes.js";
import type { ImageInfo, PoolInfo } from "../../../site/types.js";
import type { RestContext } from "../context.js";
import { listReply, type Item, type Links } from "../reply.js";
import { idParams, SYSTEM_ID } from "../schemas.js";
import { findOne, MONITOR, text } from "./common.js";

// A DS8000-style bundle version (four dot-separated numbers, as clients
// parse systems[0].bundle): the code level tzero answers like, not a real one.
export const BUNDLE = "89.30.0.0";
export const RELEASE = "9.3";

export function systemRoutes(app: FastifyInstance, context: RestContext): void {
  const systems = async (links: Links) => {
    const imageId = await context.imageId();
    const image = findOne(await context.site.listImages(), imageId, "storage image", "SYSTEM_NOT_FOUND");
    return [systemItem(links, image, await context.site.listPools(imageId))];
  };
  app.get("/systems", { config: MONITOR }, async (request) => listReply("systems", await systems(context.links(request))));
  app.get<{ Params: { id: string } }>("/systems/:id", { schema: { params: idParams(SYSTEM_ID, "system ID") }, config: MONITOR }, async (request) => {
    const items = await systems(context.links(request));
    return listReply("systems", [findOne(items, request.params.id, "storage system", "SYSTEM_NOT_FOUND")]);
  });
}

// "IBM.2107-75TZ001" → id "2107-75TZ001", MTM "2107-900", sn "75TZ001".
function systemItem(links: Links, image: ImageInfo, pools: readonly PoolInfo[]): Item {
  const id = image.id.replace(/^IBM\./i, "");
  const [model, serial] = id.split("-");
  const capacityBytes = pools.reduce((sum, pool) => sum + pool.capacityExtents * EXTENT_SIZE, 0);
  const allocatedBytes = pools.reduce((sum, pool) => sum + pool.allocatedExtents * EXTENT_SIZE, 0);
  return {
    id, link: links.to("systems", id), name: image.id, state: "online", release: RELEASE, bundle: BUNDLE, MTM: `${model}-900`, sn: serial,
    wwnn: image.wwnn, cap: text(capacityBytes), capalloc: text(allocatedBytes), capavail: text(capacityBytes - allocatedBytes), capraw: text(capacityBytes),
  };
}
