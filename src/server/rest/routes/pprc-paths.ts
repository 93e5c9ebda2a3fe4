// /api/v1/cs/pprcs/paths: the PPRC paths from the served image (GET, with
// source_lss_id_from/source_lss_id_to; GET one), POST make (it replaces the
// LSS pair's path set, as mkpprcpath does), DELETE one; and
// /api/v1/cs/pprcs/physical_links: the port pairs a path to another image
// may use (lsavailpprcport).
//
// A path's ID is the DS8000 REST one, WWNN_LSS:WWNN_LSS with the source
// first ("5005076303FFC001_10:5005076303FFC002_20"); the other image is
// named by its WWNN, as DS8000 clients name it.
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { PathInfo } from "../../../site/types.js";
import type { RestContext } from "../context.js";
import { RestError } from "../errors.js";
import { createdReply, listReply, OK, type Item, type Links } from "../reply.js";
import { LSS_ID, PORT_ID, requestBody, type RequestBody } from "../schemas.js";
import { COPY_SERVICES } from "./common.js";
import { imageByWwnn } from "./systems-of-site.js";

const WWNN = "^[0-9A-Fa-f]{16}$";
const PATH_ID = "^[0-9A-Fa-f]{16}_[0-9A-Fa-f]{2}:[0-9A-Fa-f]{16}_[0-9A-Fa-f]{2}$";
const PORT_PAIRS_MAX = 8; // DS8000: at most eight port pairs a path

// Cinder sends the LSSs of a physical_links query as numbers (00 arrives as "0"): one or two hex digits.
const LssQuery = Type.String({ pattern: "^$|^[0-9A-Fa-f]{1,2}$" });
const PortPair = Type.Object({
  source_port_id: Type.String({ pattern: PORT_ID }),
  target_port_id: Type.String({ pattern: PORT_ID }),
}, { additionalProperties: false });
const CreateParams = Type.Object({
  target_system_wwnn: Type.String({ pattern: WWNN }),
  source_lss_id: Type.String({ pattern: LSS_ID }),
  target_lss_id: Type.String({ pattern: LSS_ID }),
  port_pairs: Type.Array(PortPair, { minItems: 1, maxItems: PORT_PAIRS_MAX }),
  pprc_consistency_group: Type.Optional(Type.Union([Type.Literal("enable"), Type.Literal("disable"), Type.Literal("")])),
}, { additionalProperties: false });
const ListQuery = Type.Object({ source_lss_id_from: Type.Optional(LssQuery), source_lss_id_to: Type.Optional(LssQuery) });
const LinksQuery = Type.Object({ target_system_wwnn: Type.String({ pattern: WWNN }), source_lss_id: Type.Optional(LssQuery), target_lss_id: Type.Optional(LssQuery) });
const PathParams = Type.Object({ id: Type.String({ pattern: PATH_ID, description: "PPRC path ID" }) });

export function pprcPathRoutes(app: FastifyInstance, context: RestContext): void {
  const config = COPY_SERVICES;
  app.get<{ Querystring: Static<typeof ListQuery> }>("/cs/pprcs/paths", { schema: { querystring: ListQuery }, config }, async (request) => {
    const low = lssNumber(request.query.source_lss_id_from, 0);
    const high = lssNumber(request.query.source_lss_id_to, 0xff);
    const paths = (await listPathsFrom(context)).filter((path) => Number.parseInt(path.sourceLss, 16) >= low && Number.parseInt(path.sourceLss, 16) <= high);
    return listReply("paths", await pathItems(context, context.links(request), paths));
  });
  app.get<{ Params: { id: string } }>("/cs/pprcs/paths/:id", { schema: { params: PathParams }, config }, async (request) => {
    const path = await findPath(context, request.params.id);
    return listReply("paths", await pathItems(context, context.links(request), [path]));
  });
  app.post<{ Body: RequestBody<typeof CreateParams> }>("/cs/pprcs/paths", { schema: { body: requestBody(CreateParams) }, config }, async (request, reply) => {
    const params = request.body.request.params;
    const remote = await imageByWwnn(context, params.target_system_wwnn, "request.params.target_system_wwnn");
    const path = await context.siteFor(request).makePath(await context.imageId(), {
      remoteImageId: remote.id, remoteWwnn: remote.wwnn, sourceLss: params.source_lss_id.toUpperCase(), targetLss: params.target_lss_id.toUpperCase(),
      ports: params.port_pairs.map((pair) => `${pair.source_port_id.toUpperCase()}:${pair.target_port_id.toUpperCase()}`),
      consistgrp: params.pprc_consistency_group === "enable",
    });
    return reply.code(201).send(createdReply("paths", await pathItems(context, context.links(request), [path])));
  });
  app.delete<{ Params: { id: string } }>("/cs/pprcs/paths/:id", { schema: { params: PathParams }, config }, async (request) => {
    const path = await findPath(context, request.params.id);
    await context.siteFor(request).removePaths(await context.imageId(), { remoteImageId: path.targetImageId, lssPairs: [`${path.sourceLss}:${path.targetLss}`] });
    return { server: OK };
  });
  app.get<{ Querystring: Static<typeof LinksQuery> }>("/cs/pprcs/physical_links", { schema: { querystring: LinksQuery }, config }, async (request) => {
    const remote = await imageByWwnn(context, request.query.target_system_wwnn, "target_system_wwnn");
    const links = context.links(request);
    const pairs = await context.site.listAvailablePorts(await context.imageId(), remote.id);
    return listReply("physical_links", pairs.map((pair): Item => ({
      id: `${pair.local}:${pair.remote}`, link: links.to("ioports", pair.local), source_port_id: pair.local, target_port_id: pair.remote, type: pair.type,
    })));
  });
}

async function listPathsFrom(context: RestContext): Promise<PathInfo[]> {
  return context.site.listPaths(await context.imageId());
}

async function findPath(context: RestContext, id: string): Promise<PathInfo> {
  const wwnnOf = await wwnns(context);
  const found = (await listPathsFrom(context)).find((path) => pathId(wwnnOf, path).toUpperCase() === id.toUpperCase());
  if (found === undefined) throw new RestError(404, "PATH_NOT_FOUND", `there is no PPRC path ${id} from ${await context.imageId()}`, "id");
  return found;
}

async function wwnns(context: RestContext): Promise<Map<string, string>> {
  return new Map((await context.site.listImages()).map((image) => [image.id, image.wwnn]));
}

function pathId(wwnnOf: Map<string, string>, path: PathInfo): string {
  return `${wwnnOf.get(path.sourceImageId) ?? ""}_${path.sourceLss}:${path.targetWwnn}_${path.targetLss}`;
}

async function pathItems(context: RestContext, links: Links, paths: readonly PathInfo[]): Promise<Item[]> {
  const wwnnOf = await wwnns(context);
  return paths.map((path) => {
    const id = pathId(wwnnOf, path);
    const state = path.state === "Success" ? "success" : "failed";
    return {
      id, link: links.to("cs", "pprcs", "paths", id),
      source_lss_id: path.sourceLss, target_lss_id: path.targetLss, source_system_wwnn: wwnnOf.get(path.sourceImageId) ?? "", target_system_wwnn: path.targetWwnn,
      port_pairs: path.ports.map((port) => ({ source_port_id: port.local, target_port_id: port.remote, state })),
      pprc_consistency_group: path.consistgrp ? "enable" : "disable", state, reason: path.reason ?? "",
    };
  });
}

function lssNumber(text: string | undefined, fallback: number): number {
  return text === undefined || text === "" ? fallback : Number.parseInt(text, 16);
}
