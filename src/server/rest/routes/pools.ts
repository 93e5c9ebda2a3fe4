// GET /api/v1/pools[/ID[/volumes]]: the image's extent pools. Capacities are
// bytes; `node` is the rank group (even pools on node 0, odd on node 1).
import type { FastifyInstance } from "fastify";
import { EXTENT_SIZE } from "../../../core/codes.js";
import type { PoolInfo } from "../../../site/types.js";
import type { RestContext } from "../context.js";
import { listReply, type Item, type Links } from "../reply.js";
import { idParams, POOL_ID } from "../schemas.js";
import { findOne, MONITOR, text } from "./common.js";
import { sendVolumes } from "./volumes.js";

const PoolParams = idParams(POOL_ID, "extent pool ID");

export function poolRoutes(app: FastifyInstance, context: RestContext): void {
  const pool = async (id: string) => findOne(await context.site.listPools(await context.imageId()), id, "extent pool", "POOL_NOT_FOUND");
  app.get("/pools", { config: MONITOR }, async (request) => {
    const links = context.links(request);
    const pools = await context.site.listPools(await context.imageId());
    return listReply("pools", pools.map((item) => poolItem(links, item)));
  });
  app.get<{ Params: { id: string } }>("/pools/:id", { schema: { params: PoolParams }, config: MONITOR }, async (request) => {
    return listReply("pools", [poolItem(context.links(request), await pool(request.params.id))]);
  });
  app.get<{ Params: { id: string } }>("/pools/:id/volumes", { schema: { params: PoolParams }, config: MONITOR }, async (request, reply) => {
    const links = context.links(request);
    const { id } = await pool(request.params.id);
    const volumes = await context.site.listVolumes(await context.imageId());
    return sendVolumes(reply, context, links, volumes.filter((volume) => volume.pool === id));
  });
}

export function poolItem(links: Links, pool: PoolInfo): Item {
  const capacityBytes = pool.capacityExtents * EXTENT_SIZE;
  const allocatedBytes = pool.allocatedExtents * EXTENT_SIZE;
  return {
    id: pool.id, link: links.to("pools", pool.id), name: pool.name, node: text(pool.rankGroup), stgtype: "fb",
    cap: text(capacityBytes), capalloc: text(allocatedBytes), capavail: text(capacityBytes - allocatedBytes), overprovisioned: "",
    real_capacity_allocated_on_ese: text(allocatedBytes), virtual_capacity_allocated_on_ese: text(allocatedBytes),
    easytier: "none", tieralloc: [], threshold: "15", eserep: "", tserep: "", volumes: { link: links.to("pools", pool.id, "volumes") },
  };
}
