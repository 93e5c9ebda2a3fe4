// GET /api/v1/lss[/ID[/volumes]]: the image's logical subsystems (made by
// their first volume), FB only. `group` is the rank group, `addrgrp` the
// address group (the LSS's first hex digit).
import type { FastifyInstance } from "fastify";
import type { LssInfo } from "../../../site/types.js";
import type { RestContext } from "../context.js";
import { listReply, type Item, type Links } from "../reply.js";
import { idParams, LSS_ID } from "../schemas.js";
import { findOne, MONITOR, text } from "./common.js";
import { sendVolumes } from "./volumes.js";

const LssParams = idParams(LSS_ID, "LSS ID");

export function lssRoutes(app: FastifyInstance, context: RestContext): void {
  const listLss = async () => context.site.listLss(await context.imageId());
  app.get<{ Querystring: { type?: string } }>("/lss", { config: MONITOR }, async (request) => {
    const links = context.links(request);
    // Every LSS of tzero is FB: a client asking for CKD ones gets none.
    const lsses = request.query.type === "ckd" ? [] : await listLss();
    return listReply("lss", lsses.map((lss) => lssItem(links, lss)));
  });
  app.get<{ Params: { id: string } }>("/lss/:id", { schema: { params: LssParams }, config: MONITOR }, async (request) => {
    return listReply("lss", [lssItem(context.links(request), findOne(await listLss(), request.params.id, "LSS", "LSS_NOT_FOUND"))]);
  });
  app.get<{ Params: { id: string } }>("/lss/:id/volumes", { schema: { params: LssParams }, config: MONITOR }, async (request, reply) => {
    const links = context.links(request);
    const { id } = findOne(await listLss(), request.params.id, "LSS", "LSS_NOT_FOUND");
    const volumes = await context.site.listVolumes(await context.imageId());
    return sendVolumes(reply, context, links, volumes.filter((volume) => volume.lss === id));
  });
}

function lssItem(links: Links, lss: LssInfo): Item {
  return {
    id: lss.id, link: links.to("lss", lss.id), group: text(parseInt(lss.id, 16) % 2), addrgrp: lss.id[0], type: "fb",
    configvols: text(lss.volumeCount), volumes: { link: links.to("lss", lss.id, "volumes") },
  };
}
