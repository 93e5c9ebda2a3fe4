// /api/v1/cs/pprcs: the PPRC pairs with a volume on the served image (GET,
// with volume_id_from/volume_id_to; GET one), POST make (or, with the
// option `failover`, fail over), POST pause, POST resume (or, with
// `failback`, fail back), DELETE one or `?ids=`, POST delete by volume; and
// GET volumes/ID/pprc, the pairs of one volume in the pre-R8 shape.
//
// A pair's ID is the DS8000 REST one, SYSTEM_VOLUME:SYSTEM_VOLUME with the
// primary first ("2107-75TZ001_1000:2107-75TZ002_2000"); a plain
// "1000:2000" names a pair whose primary is on the served image. As the Copy
// Services Server manages the whole site, a request may name any of its
// images (`source_system_id`, the systems in a pair ID), and each request
// is one Site call, all or nothing: its pairs share one primary and one
// secondary image.
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { MakePairsRequest, PairInfo, PairOperation, PprcType } from "../../../site/types.js";
import type { RestContext } from "../context.js";
import { RestError } from "../errors.js";
import { createdReply, listReply, OK, type Item, type Links } from "../reply.js";
import { idParams, requestBody, VOLUME_ID, type RequestBody } from "../schemas.js";
import { COPY_SERVICES, text } from "./common.js";
import { imageBySystemId, otherImage, systemIdOf } from "./systems-of-site.js";

export const PPRC_PAIRS_PER_REQUEST_MAX = 1024;
const SYSTEM_ID_TEXT = "[A-Za-z0-9.-]{1,40}";
export const PPRC_ID = `^(?:${SYSTEM_ID_TEXT}_)?[0-9A-Fa-f]{4}:(?:${SYSTEM_ID_TEXT}_)?[0-9A-Fa-f]{4}$`;

const TYPES: Record<string, PprcType> = { metro_mirror: "mmir", global_copy: "gcp" };
const TYPE_NAMES: Record<PprcType, string> = { mmir: "metro_mirror", gcp: "global_copy" };
const PprcTypeName = Type.Union([Type.Literal("metro_mirror"), Type.Literal("global_copy"), Type.Literal("")]);
const Options = Type.Array(Type.String({ maxLength: 64 }), { maxItems: 16 });
const SystemId = Type.String({ maxLength: 40 });

// What each request's options may say; anything else is refused by name.
const CREATE_OPTIONS = ["initial_copy_full", "no_copy", "permit_space_efficient_target", "failover"] as const;
const RESUME_OPTIONS = ["initial_copy_out_of_sync", "permit_space_efficient_target", "failback"] as const;
const DELETE_OPTIONS = ["unconditional", "issue_source", "issue_target"] as const;

const VolumePair = Type.Object({
  source_volume: Type.String({ pattern: VOLUME_ID }),
  target_volume: Type.String({ pattern: VOLUME_ID }),
  source_system_id: Type.Optional(SystemId),
  target_system_id: Type.Optional(SystemId),
}, { additionalProperties: false });
const CreateParams = Type.Object({
  volume_pairs: Type.Array(VolumePair, { minItems: 1, maxItems: PPRC_PAIRS_PER_REQUEST_MAX }),
  type: Type.Optional(PprcTypeName),
  options: Type.Optional(Options),
}, { additionalProperties: false });
type CreateParams = Static<typeof CreateParams>;
const PprcIds = Type.Array(Type.String({ pattern: PPRC_ID }), { minItems: 1, maxItems: PPRC_PAIRS_PER_REQUEST_MAX });
const PauseParams = Type.Object({ pprc_ids: PprcIds }, { additionalProperties: false });
const ResumeParams = Type.Object({ pprc_ids: PprcIds, type: Type.Optional(PprcTypeName), options: Type.Optional(Options) }, { additionalProperties: false });
type ResumeParams = Static<typeof ResumeParams>;
const DeleteParams = Type.Object({
  volume_full_ids: Type.Optional(Type.Array(Type.Object({
    volume_id: Type.String({ pattern: VOLUME_ID }),
    system_id: Type.Optional(SystemId),
  }, { additionalProperties: false }), { minItems: 1, maxItems: PPRC_PAIRS_PER_REQUEST_MAX })),
  pprc_ids: Type.Optional(PprcIds),
  options: Type.Optional(Options),
}, { additionalProperties: false });
type DeleteParams = Static<typeof DeleteParams>;
// Other query parameters (data_fields, fields) are ignored, as a DS8000 may.
const ListQuery = Type.Object({
  volume_id_from: Type.Optional(Type.String({ pattern: `^$|${VOLUME_ID}` })),
  volume_id_to: Type.Optional(Type.String({ pattern: `^$|${VOLUME_ID}` })),
});
const DeleteQuery = Type.Object({ ids: Type.String({ minLength: 1, maxLength: 64 * PPRC_PAIRS_PER_REQUEST_MAX }) });
const PairParams = Type.Object({ id: Type.String({ pattern: PPRC_ID, description: "PPRC pair ID" }) });

// Pairs named by ID: one primary image, one secondary image (null: as the primary's pairs have it).
interface PairSet {
  primaryImageId: string;
  secondaryImageId: string | null;
  ids: string[]; // "1000:2000"
}

export function pprcRoutes(app: FastifyInstance, context: RestContext): void {
  const config = COPY_SERVICES;
  app.get<{ Querystring: Static<typeof ListQuery> }>("/cs/pprcs", { schema: { querystring: ListQuery }, config }, async (request) => {
    const imageId = await context.imageId();
    const range = volumeRange(request.query.volume_id_from, request.query.volume_id_to);
    const pairs = (await context.site.listPairs(imageId)).filter((pair) => inRange(localVolume(pair), range));
    const links = context.links(request);
    return listReply("pprcs", pairs.map((pair) => pprcItem(links, imageId, pair)));
  });
  app.get<{ Params: { id: string } }>("/cs/pprcs/:id", { schema: { params: PairParams }, config }, async (request) => {
    const imageId = await context.imageId();
    const pair = await findPair(context, imageId, request.params.id);
    return listReply("pprcs", [pprcItem(context.links(request), imageId, pair)]);
  });
  app.post<{ Body: RequestBody<typeof CreateParams> }>("/cs/pprcs", { schema: { body: requestBody(CreateParams) }, config }, async (request, reply) => {
    const created = await createPairs(context, request, request.body.request.params);
    const links = context.links(request);
    return reply.code(201).send(createdReply("pprcs", created.pairs.map((pair) => pprcItem(links, created.imageId, pair))));
  });
  app.post<{ Body: RequestBody<typeof PauseParams> }>("/cs/pprcs/pause", { schema: { body: requestBody(PauseParams) }, config }, async (request) => {
    await changePairs(context, request, "pausepprc", await pairSet(context, request.body.request.params.pprc_ids, "request.params.pprc_ids"));
    return { server: OK };
  });
  app.post<{ Body: RequestBody<typeof ResumeParams> }>("/cs/pprcs/resume", { schema: { body: requestBody(ResumeParams) }, config }, async (request) => {
    await resumePairs(context, request, request.body.request.params);
    return { server: OK };
  });
  app.delete<{ Params: { id: string } }>("/cs/pprcs/:id", { schema: { params: PairParams }, config }, async (request) => {
    await changePairs(context, request, "rmpprc", await pairSet(context, [request.params.id], "id"));
    return { server: OK };
  });
  app.delete<{ Querystring: Static<typeof DeleteQuery> }>("/cs/pprcs", { schema: { querystring: DeleteQuery }, config }, async (request) => {
    await changePairs(context, request, "rmpprc", await pairSet(context, splitIds(request.query.ids), "ids"));
    return { server: OK };
  });
  // The pre-R8 listing pyds8k's get_pprc_by_volume reads: sourcevolume, targetvolume, targetsystem.
  app.get<{ Params: { id: string } }>("/volumes/:id/pprc", { schema: { params: idParams(VOLUME_ID, "volume ID") }, config }, async (request) => {
    const imageId = await context.imageId();
    const { id } = await context.site.volume(imageId, request.params.id.toUpperCase());
    const links = context.links(request);
    const pairs = (await context.site.listPairs(imageId)).filter((pair) => localVolume(pair) === id);
    return listReply("pprc", pairs.map((pair) => volumePprcItem(links, imageId, pair)));
  });
  app.post<{ Body: RequestBody<typeof DeleteParams> }>("/cs/pprcs/delete", { schema: { body: requestBody(DeleteParams) }, config }, async (request) => {
    await changePairs(context, request, "rmpprc", await deleteSet(context, request.body.request.params));
    return { server: OK };
  });
}

async function changePairs(context: RestContext, request: FastifyRequest, operation: PairOperation, set: PairSet, type?: PprcType): Promise<string[]> {
  const remoteImageId = set.secondaryImageId ?? undefined;
  return context.siteFor(request).changePairs(set.primaryImageId, operation, { ids: set.ids, ...(remoteImageId === undefined ? {} : { remoteImageId }), ...(type === undefined ? {} : { type }) });
}

async function createPairs(context: RestContext, request: FastifyRequest, params: CreateParams): Promise<{ imageId: string; pairs: PairInfo[] }> {
  const options = checkOptions(params.options, CREATE_OPTIONS, "a PPRC create");
  if (options.has("initial_copy_full") && options.has("no_copy")) {
    throw new RestError(400, "BAD_OPTION", "request.params.options: initial_copy_full and no_copy exclude each other", "request.params.options");
  }
  const served = await context.imageId();
  const first = params.volume_pairs[0];
  const source = first.source_system_id === undefined || first.source_system_id === "" ? served : (await imageBySystemId(context, first.source_system_id, "request.params.volume_pairs[0].source_system_id")).id;
  const target = (await otherImage(context, source, first.target_system_id, "request.params.volume_pairs[0].target_system_id")).id;
  for (const [index, pair] of params.volume_pairs.entries()) await checkSameSystems(context, pair, index, source, target);
  const pairs = params.volume_pairs.map((pair): [string, string] => [pair.source_volume.toUpperCase(), pair.target_volume.toUpperCase()]);
  const type = pprcType(params.type) ?? "mmir";
  const site = context.siteFor(request);
  let ids: string[];
  if (options.has("failover")) {
    ids = await site.changePairs(source, "failoverpprc", { remoteImageId: target, ids: pairs.map((pair) => pair.join(":")) });
  } else {
    const make: MakePairsRequest = { remoteImageId: target, pairs, type, mode: options.has("no_copy") ? "nocp" : "full" };
    ids = await site.makePairs(source, make);
  }
  const made = new Set(ids);
  return { imageId: source, pairs: (await context.site.listPairs(source)).filter((pair) => pair.role === "primary" && made.has(pair.id)) };
}

async function checkSameSystems(context: RestContext, pair: Static<typeof VolumePair>, index: number, source: string, target: string): Promise<void> {
  const field = `request.params.volume_pairs[${index}]`;
  if (pair.source_system_id !== undefined && pair.source_system_id !== "" && (await imageBySystemId(context, pair.source_system_id, `${field}.source_system_id`)).id !== source) {
    throw new RestError(400, "BAD_REQUEST", `${field}.source_system_id: every pair of one request has the same source system as the first (${systemIdOf(source)})`, `${field}.source_system_id`);
  }
  if (pair.target_system_id !== undefined && pair.target_system_id !== "" && (await imageBySystemId(context, pair.target_system_id, `${field}.target_system_id`)).id !== target) {
    throw new RestError(400, "BAD_REQUEST", `${field}.target_system_id: every pair of one request has the same target system as the first (${systemIdOf(target)})`, `${field}.target_system_id`);
  }
}

async function resumePairs(context: RestContext, request: FastifyRequest, params: ResumeParams): Promise<string[]> {
  const options = checkOptions(params.options, RESUME_OPTIONS, "a PPRC resume");
  const set = await pairSet(context, params.pprc_ids, "request.params.pprc_ids");
  if (!options.has("failback")) return changePairs(context, request, "resumepprc", set, pprcType(params.type));
  // failbackpprc A:B is issued to A's image and needs to know B's.
  if (set.secondaryImageId === null) {
    throw new RestError(400, "BAD_REQUEST", "request.params.pprc_ids: a failback names both systems in each ID (SYSTEM_VOLUME:SYSTEM_VOLUME)", "request.params.pprc_ids");
  }
  return changePairs(context, request, "failbackpprc", set);
}

// IDs of one primary and one secondary system, as a Site call takes them.
async function pairSet(context: RestContext, ids: readonly string[], field: string): Promise<PairSet> {
  const served = await context.imageId();
  const parsed: PairSet[] = [];
  for (const [index, id] of ids.entries()) parsed.push(await parsePairId(context, served, id, ids.length === 1 ? field : `${field}[${index}]`));
  parsed.forEach((set, index) => {
    if (set.primaryImageId !== parsed[0].primaryImageId || set.secondaryImageId !== parsed[0].secondaryImageId) {
      const where = `${field}[${index}]`;
      throw new RestError(400, "BAD_REQUEST", `${where}: every pair of one request has the same primary and secondary systems as the first`, where);
    }
  });
  return { primaryImageId: parsed[0].primaryImageId, secondaryImageId: parsed[0].secondaryImageId, ids: parsed.flatMap((set) => set.ids) };
}

async function parsePairId(context: RestContext, served: string, id: string, field: string): Promise<PairSet> {
  const [primaryText, secondaryText] = id.split(":");
  const [primarySystem, primaryVolume] = splitSystem(primaryText);
  const [secondarySystem, secondaryVolume] = splitSystem(secondaryText);
  const primaryImageId = primarySystem === null ? served : (await imageBySystemId(context, primarySystem, field)).id;
  const secondaryImageId = secondarySystem === null ? null : (await imageBySystemId(context, secondarySystem, field)).id;
  return { primaryImageId, secondaryImageId, ids: [`${primaryVolume}:${secondaryVolume}`.toUpperCase()] };
}

// "2107-75TZ001_1000" → ["2107-75TZ001", "1000"]; "1000" → [null, "1000"].
function splitSystem(text: string): [string | null, string] {
  const at = text.lastIndexOf("_");
  return at < 0 ? [null, text] : [text.slice(0, at), text.slice(at + 1)];
}

function splitIds(text: string): string[] {
  const ids = text.split(",").map((id) => id.trim());
  const pattern = new RegExp(PPRC_ID);
  ids.forEach((id, index) => {
    if (!pattern.test(id)) throw new RestError(400, "BAD_ID", `query parameter ids: entry ${index} ${JSON.stringify(id.slice(0, 64))} is not a PPRC pair ID (SYSTEM_VOLUME:SYSTEM_VOLUME)`, "ids");
  });
  if (ids.length > PPRC_PAIRS_PER_REQUEST_MAX) throw new RestError(400, "BAD_REQUEST", `query parameter ids: at most ${PPRC_PAIRS_PER_REQUEST_MAX} pairs a request`, "ids");
  return ids;
}

// POST cs/pprcs/delete: the pairs of the volumes named (on the system named, default the served one), removed from their primary.
async function deleteSet(context: RestContext, params: DeleteParams): Promise<PairSet> {
  checkOptions(params.options, DELETE_OPTIONS, "a PPRC delete");
  if ((params.volume_full_ids === undefined) === (params.pprc_ids === undefined)) {
    throw new RestError(400, "BAD_REQUEST", "request.params: give either volume_full_ids or pprc_ids", "request.params.volume_full_ids");
  }
  if (params.pprc_ids !== undefined) return pairSet(context, params.pprc_ids, "request.params.pprc_ids");
  const served = await context.imageId();
  const ids: string[] = [];
  for (const [index, volume] of params.volume_full_ids!.entries()) {
    const field = `request.params.volume_full_ids[${index}]`;
    const imageId = volume.system_id === undefined || volume.system_id === "" ? served : (await imageBySystemId(context, volume.system_id, `${field}.system_id`)).id;
    const pair = (await context.site.listPairs(imageId)).find((candidate) => localVolume(candidate) === volume.volume_id.toUpperCase());
    if (pair === undefined) throw new RestError(404, "PAIR_NOT_FOUND", `${field}: volume ${volume.volume_id} of ${systemIdOf(imageId)} is in no PPRC pair`, field);
    ids.push(`${systemIdOf(pair.primaryImageId)}_${pair.id.split(":")[0]}:${systemIdOf(pair.secondaryImageId)}_${pair.id.split(":")[1]}`);
  }
  return pairSet(context, ids, "request.params.volume_full_ids");
}

function checkOptions(given: readonly string[] | undefined, allowed: readonly string[], what: string): Set<string> {
  for (const [index, name] of (given ?? []).entries()) {
    const field = `request.params.options[${index}]`;
    if (!allowed.includes(name)) throw new RestError(400, "BAD_OPTION", `${field}: ${JSON.stringify(name.slice(0, 64))} is not an option of ${what} (${allowed.join(", ")})`, field);
  }
  return new Set(given ?? []);
}

const pprcType = (name: string | undefined): PprcType | undefined => (name === undefined || name === "" ? undefined : TYPES[name]);

async function findPair(context: RestContext, imageId: string, id: string): Promise<PairInfo> {
  const pairs = await context.site.listPairs(imageId);
  const wanted = id.toUpperCase();
  const found = pairs.find((pair) => pprcId(pair).toUpperCase() === wanted || pair.id === wanted);
  if (found === undefined) throw new RestError(404, "PAIR_NOT_FOUND", `there is no PPRC pair ${id} with a volume on ${systemIdOf(imageId)}`, "id");
  return found;
}

// The volume of a pair on the image that lists it.
const localVolume = (pair: PairInfo): string => pair.id.split(":")[pair.role === "primary" ? 0 : 1];

function volumeRange(from: string | undefined, to: string | undefined): [number, number] {
  const low = from === undefined || from === "" ? 0 : Number.parseInt(from, 16);
  const high = to === undefined || to === "" ? 0xffff : Number.parseInt(to, 16);
  if (low > high) throw new RestError(400, "BAD_REQUEST", `query parameter volume_id_from ${from} is above volume_id_to ${to}`, "volume_id_from");
  return [low, high];
}

const inRange = (volumeId: string, [low, high]: [number, number]): boolean => {
  const value = Number.parseInt(volumeId, 16);
  return value >= low && value <= high;
};

export function pprcId(pair: PairInfo): string {
  const [primary, secondary] = pair.id.split(":");
  return `${systemIdOf(pair.primaryImageId)}_${primary}:${systemIdOf(pair.secondaryImageId)}_${secondary}`;
}

// A volume or system as a pair names it: with `name` as well as `id`, since
// DS8000 answers `name` (Cinder reads it) and pyds8k takes either. Objects
// of another system carry no link: this server does not serve them.
function volumeRef(links: Links, servedImageId: string, imageId: string, volumeId: string): object {
  return imageId === servedImageId ? { id: volumeId, name: volumeId, link: links.to("volumes", volumeId) } : { id: volumeId, name: volumeId, link: {} };
}

function systemRef(links: Links, servedImageId: string, imageId: string): object {
  const id = systemIdOf(imageId);
  return imageId === servedImageId ? { id, link: links.to("systems", id) } : { id, link: {} };
}

function pprcItem(links: Links, servedImageId: string, pair: PairInfo): Item {
  const [primary, secondary] = pair.id.split(":");
  const id = pprcId(pair);
  return {
    id, link: links.to("cs", "pprcs", id),
    source_volume: volumeRef(links, servedImageId, pair.primaryImageId, primary), source_system: systemRef(links, servedImageId, pair.primaryImageId),
    target_volume: volumeRef(links, servedImageId, pair.secondaryImageId, secondary), target_system: systemRef(links, servedImageId, pair.secondaryImageId),
    type: TYPE_NAMES[pair.type], state: pair.state.toLowerCase().replace(/ /g, "_"), reason: pair.reason ?? "",
    out_of_sync_tracks: text(pair.outOfSyncTracks), target_read: pair.tgtread ? "enabled" : "disabled", critical_mode: pair.critmode ? "enabled" : "disabled",
  };
}

function volumePprcItem(links: Links, servedImageId: string, pair: PairInfo): Item {
  const [primary, secondary] = pair.id.split(":");
  return {
    id: pair.id, link: links.to("cs", "pprcs", pprcId(pair)),
    sourcevolume: volumeRef(links, servedImageId, pair.primaryImageId, primary), targetvolume: volumeRef(links, servedImageId, pair.secondaryImageId, secondary),
    targetsystem: systemRef(links, servedImageId, pair.secondaryImageId), type: TYPE_NAMES[pair.type], state: pair.state.toLowerCase().replace(/ /g, "_"),
  };
}
