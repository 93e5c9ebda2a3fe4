// GET /api/v1/ioports[/ID]: the image's I/O ports (the endpoints of PPRC
// paths), as Fibre Channel ports.
import type { FastifyInstance } from "fastify";
import type { PortInfo } from "../../../site/types.js";
import type { RestContext } from "../context.js";
import { listReply, type Item, type Links } from "../reply.js";
import { idParams, PORT_ID } from "../schemas.js";
import { findOne, MONITOR } from "./common.js";

export function ioportRoutes(app: FastifyInstance, context: RestContext): void {
  const ports = async () => context.site.listPorts(await context.imageId());
  app.get("/ioports", { config: MONITOR }, async (request) => {
    const links = context.links(request);
    return listReply("ioports", (await ports()).map((port) => portItem(links, port)));
  });
  app.get<{ Params: { id: string } }>("/ioports/:id", { schema: { params: idParams(PORT_ID, "I/O port ID") }, config: MONITOR }, async (request) => {
    return listReply("ioports", [portItem(context.links(request), findOne(await ports(), request.params.id, "I/O port", "IOPORT_NOT_FOUND"))]);
  });
}

function portItem(links: Links, port: PortInfo): Item {
  return {
    id: port.id, link: links.to("ioports", port.id), state: "online", protocol: "SCSI-FCP", wwpn: port.wwpn,
    type: "Fibre Channel-SW", speed: "16 Gb/s", loc: `enclosure ${port.enclosure} slot ${port.slot} port ${port.port}`,
  };
}
