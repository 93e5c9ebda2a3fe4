// /api/v1/volumes: GET list and one, POST create (one or several, all or
// nothing), PUT change (rename, grow), DELETE remove; and GET
// volumes/ID/flashcopy, the relationships a volume is in.
//
// POST params, as DS8000 takes them (an empty string means "not given"):
//   cap + captype (gib, the default, or bytes: a whole number of 512-byte blocks);
//   id (with quantity: that many consecutive IDs from it) or ids, or neither:
//     the server picks free IDs in `lss`, else in the LSSs of the pool's rank group;
//   name (every volume; DS CLI's #h and #d work) or namecol (one name each);
//   pool; stgtype fb; tp ese (thin, the default) or none (a standard volume,
//   every extent allocated, as mkfbvol -sam standard makes); tse (track
//   space-efficient, which DS8000 also names) is refused as not supported.
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { Site } from "../../../site/site.js";
import type { FlashInfo, PoolInfo, VolumeDetail, VolumeInfo } from "../../../site/types.js";
import { isSiteError } from "../../../site/errors.js";
import type { RestContext } from "../context.js";
import { RestError } from "../errors.js";
import { createdReply, JSON_TYPE, listReply, listReplyBytes, OK, type Item, type Links } from "../reply.js";
import { idParams, NumberText, requestBody, VOLUME_ID, type RequestBody } from "../schemas.js";
import { COPY_SERVICES, findOne, MONITOR, text, VOLUME } from "./common.js";
import { volumeFlashItem } from "./flashcopies.js";

export const VOLUMES_PER_REQUEST_MAX = 4096;
const BLOCK_BYTES = 512;
const VOLUMES_PER_LSS = 256;
const LSS_COUNT = 0xff; // 00 to FE

const OrEmpty = (pattern: string) => Type.String({ pattern: `^$|${pattern}` });
// DS CLI names: at most 16 printable ASCII characters.
const VolumeName = Type.String({ maxLength: 16, pattern: "^[\\x20-\\x7e]*$" });

const CreateParams = Type.Object({
  cap: NumberText,
  captype: Type.Optional(Type.Union([Type.Literal("gib"), Type.Literal("bytes"), Type.Literal("")])),
  stgtype: Type.Optional(Type.Union([Type.Literal("fb"), Type.Literal("")])),
  tp: Type.Optional(Type.Union([Type.Literal("none"), Type.Literal("ese"), Type.Literal("tse"), Type.Literal("")])),
  pool: Type.Optional(OrEmpty("^[Pp][0-9]{1,2}$")),
  lss: Type.Optional(OrEmpty("^[0-9A-Fa-f]{2}$")),
  id: Type.Optional(OrEmpty(VOLUME_ID)),
  ids: Type.Optional(Type.Array(Type.String({ pattern: VOLUME_ID }), { minItems: 1, maxItems: VOLUMES_PER_REQUEST_MAX })),
  quantity: Type.Optional(NumberText),
  name: Type.Optional(VolumeName),
  namecol: Type.Optional(Type.Array(VolumeName, { minItems: 1, maxItems: VOLUMES_PER_REQUEST_MAX })),
}, { additionalProperties: false });
type CreateParams = Static<typeof CreateParams>;

const ChangeParams = Type.Object({
  name: Type.Optional(VolumeName),
  cap: Type.Optional(NumberText),
  captype: Type.Optional(Type.Union([Type.Literal("gib"), Type.Literal("bytes"), Type.Literal("")])),
  pool: Type.Optional(OrEmpty("^[Pp][0-9]{1,2}$")),
}, { additionalProperties: false });
type ChangeParams = Static<typeof ChangeParams>;

const VolumeParams = idParams(VOLUME_ID, "volume ID");
type IdRequest = { Params: { id: string } };

export function volumeRoutes(app: FastifyInstance, context: RestContext): void {
  const { site } = context;
  app.get("/volumes", { config: MONITOR }, async (request, reply) => {
    const links = context.links(request);
    return sendVolumes(reply, context, links, await site.listVolumes(await context.imageId()));
  });
  app.get<IdRequest>("/volumes/:id", { schema: { params: VolumeParams }, config: MONITOR }, async (request) => {
    return listReply("volumes", [volumeItem(context.links(request), await site.volume(await context.imageId(), request.params.id.toUpperCase()))]);
  });
  app.get<IdRequest>("/volumes/:id/flashcopy", { schema: { params: VolumeParams }, config: COPY_SERVICES }, async (request) => {
    const imageId = await context.imageId();
    const { id } = await site.volume(imageId, request.params.id.toUpperCase());
    const links = context.links(request);
    const relationships = (await site.listFlash(imageId)).filter((flash: FlashInfo) => flash.sourceId === id || flash.targetId === id);
    return listReply("flashcopy", relationships.map((flash) => volumeFlashItem(links, flash)));
  });
  app.post<{ Body: RequestBody<typeof CreateParams> }>("/volumes", { schema: { body: requestBody(CreateParams) }, config: VOLUME }, async (request, reply) => {
    const imageId = await context.imageId();
    const ids = await createVolumes(context.siteFor(request), imageId, request.body.request.params);
    const links = context.links(request);
    const created = new Set(ids);
    const volumes = (await site.listVolumes(imageId)).filter((volume) => created.has(volume.id));
    return reply.code(201).send(createdReply("volumes", volumes.map((volume) => volumeItem(links, volume))));
  });
  app.put<IdRequest & { Body: RequestBody<typeof ChangeParams> }>("/volumes/:id", { schema: { params: VolumeParams, body: requestBody(ChangeParams) }, config: VOLUME }, async (request) => {
    await changeVolume(context.siteFor(request), await context.imageId(), request.params.id.toUpperCase(), request.body.request.params);
    return { server: OK };
  });
  app.delete<IdRequest>("/volumes/:id", { schema: { params: VolumeParams }, config: VOLUME }, async (request) => {
    await context.siteFor(request).removeVolumes(await context.imageId(), [request.params.id.toUpperCase()]);
    return { server: OK };
  });
}

// A volume as DS8000 lists it, rendered straight to JSON text: a listing of
// thousands is most of what GET /volumes costs, and building objects for
// JSON.stringify to walk doubled it (bench rest.volumes). Only the name is
// free text; IDs and the links' base are plain (checked where they come in).
export function volumeText(links: Links, volume: VolumeInfo | VolumeDetail): string {
  const allocated = "allocatedBytes" in volume ? text(volume.allocatedBytes) : "";
  const cap = text(volume.sizeBytes);
  const pool = volume.pool === null ? `""` : `{"id":"${volume.pool}","link":${links.toText("pools", volume.pool)}}`;
  return `{"id":"${volume.id}","link":${links.toText("volumes", volume.id)},"name":${JSON.stringify(volume.name)},` +
    `"state":"${volume.dataState === "Normal" ? "normal" : "inaccessible"}","cap":"${cap}","real_cap":"${allocated}","virtual_cap":"${cap}",` +
    `"stgtype":"fb","VOLSER":"","lss":{"id":"${volume.lss}","link":${links.toText("lss", volume.lss)}},"allocmethod":"","tp":"${volume.sam === "standard" ? "none" : "ese"}",` +
    `"capalloc":"${allocated}","MTM":"2107-900","datatype":"FB 512","easytier":"none","tieralloc":[],"pool":${pool},` +
    `"flashcopy":{"link":${links.toText("volumes", volume.id, "flashcopy")}},"pprc":""}`;
}

export function volumeItem(links: Links, volume: VolumeInfo | VolumeDetail): Item {
  return JSON.parse(volumeText(links, volume)) as Item;
}

export function sendVolumes(reply: FastifyReply, context: RestContext, links: Links, volumes: readonly VolumeInfo[]): FastifyReply {
  return reply.type(JSON_TYPE).send(listReplyBytes("volumes", volumes.map((volume) => context.volumeTexts.render(links, volume))));
}

// The UTF-8 text of each volume's item as last rendered, reused while every
// field it shows (and the links' base) is the same: re-rendering and
// encoding a thousand items per GET was most of its cost. One entry per
// volume ID, so it holds at most the 65,280 IDs an image has.
export class VolumeTextCache {
  private readonly entries = new Map<string, { key: string; bytes: Buffer }>();

  render(links: Links, volume: VolumeInfo): Buffer {
    const key = `${links.baseText}\n${volume.name}\n${volume.sizeBytes}\n${volume.pool}\n${volume.lss}\n${volume.dataState}`;
    const entry = this.entries.get(volume.id);
    if (entry !== undefined && entry.key === key) return entry.bytes;
    const bytes = Buffer.from(volumeText(links, volume), "utf8");
    this.entries.set(volume.id, { key, bytes });
    return bytes;
  }
}

// ---- create ------------------------------------------------------------------------------

const given = (value: string | undefined): value is string => value !== undefined && value !== "";

async function createVolumes(site: Site, imageId: string, params: CreateParams): Promise<string[]> {
  const capacity = capacityOf(params.cap, params.captype, "request.params.cap");
  const pool = given(params.pool) ? findOne(await site.listPools(imageId), params.pool, "extent pool", "POOL_NOT_FOUND") : undefined;
  const ids = await volumeIds(site, imageId, params, pool);
  const names = params.namecol;
  if (names !== undefined && names.length !== ids.length) {
    throw new RestError(400, "BAD_REQUEST", `request.params.namecol has ${names.length} names for ${ids.length} volumes`, "request.params.namecol");
  }
  const request = { ids, ...capacity, sam: samOf(params.tp), ...(given(params.name) ? { nameTemplate: params.name } : {}), ...(pool ? { pool: pool.id } : {}) };
  const created = await site.createVolumes(imageId, request);
  if (names !== undefined) await nameEach(site, imageId, created, names);
  return created;
}

// The allocation method of tp: ese (or not given) thin, none standard.
function samOf(tp: CreateParams["tp"]): "ese" | "standard" {
  if (tp === "tse") throw new RestError(400, "NOT_SUPPORTED", "request.params.tp tse (track space-efficient) is not supported: ese (thin) or none (standard)", "request.params.tp");
  return tp === "none" ? "standard" : "ese";
}

// Names of namecol, one volume at a time; should one be refused, the fresh volumes go again, so nothing changed.
async function nameEach(site: Site, imageId: string, ids: string[], names: string[]): Promise<void> {
  try {
    for (const [index, id] of ids.entries()) await site.changeVolumes(imageId, { ids: [id], nameTemplate: names[index] });
  } catch (error) {
    await site.removeVolumes(imageId, ids);
    if (isSiteError(error)) throw new RestError(400, error.code, `request.params.namecol: ${error.message}`, "request.params.namecol");
    throw error;
  }
}

function capacityOf(cap: string | number, captype: string | undefined, field: string): { capacity: number; unit: "ds" | "blocks" } {
  const value = typeof cap === "number" ? cap : /^\d+(\.\d+)?$/.test(cap) ? Number(cap) : Number.NaN;
  if (!Number.isFinite(value) || value <= 0) throw new RestError(400, "BAD_CAPACITY", `${field} must be a positive number, not ${JSON.stringify(cap)}`, field);
  if (captype !== "bytes") return { capacity: value, unit: "ds" };
  if (!Number.isSafeInteger(value) || value % BLOCK_BYTES !== 0) {
    throw new RestError(400, "BAD_CAPACITY", `${field} ${value} bytes is not a whole number of ${BLOCK_BYTES}-byte blocks`, field);
  }
  return { capacity: value / BLOCK_BYTES, unit: "blocks" };
}

function quantityOf(quantity: string | number | undefined): number | null {
  if (quantity === undefined || quantity === "") return null;
  const value = typeof quantity === "number" ? quantity : /^\d+$/.test(quantity) ? Number(quantity) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > VOLUMES_PER_REQUEST_MAX) {
    throw new RestError(400, "BAD_REQUEST", `request.params.quantity must be a whole number from 1 to ${VOLUMES_PER_REQUEST_MAX}, not ${JSON.stringify(quantity)}`, "request.params.quantity");
  }
  return value;
}

async function volumeIds(site: Site, imageId: string, params: CreateParams, pool: PoolInfo | undefined): Promise<string[]> {
  const quantity = quantityOf(params.quantity);
  if (params.ids !== undefined) {
    if (given(params.id)) throw new RestError(400, "BAD_REQUEST", "request.params takes id or ids, not both", "request.params.ids");
    if (quantity !== null && quantity !== params.ids.length) {
      throw new RestError(400, "BAD_REQUEST", `request.params.quantity ${quantity} does not match the ${params.ids.length} ids given`, "request.params.quantity");
    }
    return params.ids.map((id) => id.toUpperCase());
  }
  const count = quantity ?? params.namecol?.length ?? 1;
  if (given(params.id)) return consecutiveIds(params.id.toUpperCase(), count);
  const taken = new Set((await site.listVolumes(imageId)).map((volume) => volume.id));
  return freeIds(taken, count, given(params.lss) ? params.lss.toUpperCase() : undefined, pool);
}

function consecutiveIds(first: string, count: number): string[] {
  const start = parseInt(first, 16);
  if ((start & 0xff) + count > VOLUMES_PER_LSS) {
    throw new RestError(400, "BAD_REQUEST", `${count} volumes from ${first} would run past the end of LSS ${first.slice(0, 2)}`, "request.params.quantity");
  }
  return Array.from({ length: count }, (_, index) => (start + index).toString(16).toUpperCase().padStart(4, "0"));
}

// The first `count` free IDs, LSS by LSS: in `lss`, else in every LSS of the pool's rank group (even LSSs without a pool).
function freeIds(taken: ReadonlySet<string>, count: number, lss: string | undefined, pool: PoolInfo | undefined): string[] {
  const rankGroup = pool?.rankGroup ?? 0;
  const lsses = lss !== undefined ? [parseInt(lss, 16)] : Array.from({ length: LSS_COUNT }, (_, index) => index).filter((index) => index % 2 === rankGroup);
  const ids: string[] = [];
  for (const number of lsses) {
    for (let volume = 0; volume < VOLUMES_PER_LSS && ids.length < count; volume++) {
      const id = ((number << 8) | volume).toString(16).toUpperCase().padStart(4, "0");
      if (!taken.has(id)) ids.push(id);
    }
    if (ids.length === count) return ids;
  }
  const where = lss !== undefined ? `LSS ${lss}` : `the LSSs of rank group ${rankGroup}`;
  throw new RestError(409, "NO_FREE_VOLUME_ID", `${where} have ${ids.length} free volume IDs; ${count} were asked for`, "request.params.quantity");
}

// ---- change ------------------------------------------------------------------------------

async function changeVolume(site: Site, imageId: string, id: string, params: ChangeParams): Promise<void> {
  const volume = await site.volume(imageId, id);
  if (given(params.pool) && params.pool.toUpperCase() !== volume.pool) {
    throw new RestError(400, "NOT_SUPPORTED", `request.params.pool: moving volume ${id} from ${volume.pool ?? "no pool"} to ${params.pool} is not supported: tzero does not relocate volumes`, "request.params.pool");
  }
  const capacity = params.cap === undefined || params.cap === "" ? undefined : capacityOf(params.cap, params.captype, "request.params.cap");
  if (capacity === undefined && !given(params.name) && !given(params.pool)) {
    throw new RestError(400, "BAD_REQUEST", "request.params has nothing to change: give name or cap", "request.params");
  }
  if (capacity === undefined && !given(params.name)) return;
  await site.changeVolumes(imageId, { ids: [volume.id], ...(given(params.name) ? { nameTemplate: params.name } : {}), ...(capacity ?? {}) });
}
