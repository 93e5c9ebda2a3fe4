// DS8000's selector segments, `hosts[id=H3]`, which Cinder's DS8K driver
// writes percent-encoded (`hosts%5Bid=H3%5D/mappings`). The router decodes
// the segment into one parameter; a segment that is no selector is answered
// as any unknown path is, 404 NOT_FOUND.
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { RestContext } from "../context.js";
import { RestError } from "../errors.js";
import { listReply, OK } from "../reply.js";
import { MONITOR, VOLUME } from "./common.js";
import { deleteHost, findHost, hostItem, hostPartRoutes, type Host } from "./hosts.js";

const HOST_SELECTOR = /^hosts\[id=([^\]]{1,32})\]$/;
const SelectorParams = Type.Object({ selector: Type.String({ maxLength: 64, description: "a selector such as hosts[id=H3]" }) });

export function selectorRoutes(app: FastifyInstance, context: RestContext): void {
  const find = async (params: unknown, method: string, url: string): Promise<Host> => {
    const match = HOST_SELECTOR.exec((params as { selector: string }).selector);
    if (match === null) throw new RestError(404, "NOT_FOUND", `there is no ${method} ${url.split("?")[0].slice(0, 128)} in this API`);
    return findHost(context, match[1], true);
  };
  app.get("/:selector", { schema: { params: SelectorParams }, config: MONITOR }, async (request) => {
    const host = await find(request.params, request.method, request.url);
    return listReply("hosts", [hostItem(context.links(request), host)]);
  });
  app.delete("/:selector", { schema: { params: SelectorParams }, config: VOLUME }, async (request) => {
    await deleteHost(context, request, await find(request.params, request.method, request.url));
    return { server: OK };
  });
  hostPartRoutes(app, context, "/:selector", (params, request) => find(params, request.method, request.url), SelectorParams);
}
