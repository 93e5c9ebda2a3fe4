// /api/v1/cs/flashcopies: GET list and one, POST establish (every pair of the
// request one call, all or nothing), DELETE withdraw, POST unfreeze (release
// the writes a freeze_consistency establish holds on its LSSs).
//
// POST params: volume_pairs [{source_volume, target_volume}], options: the
// DS8000 option names below. Options tzero does not model are refused by
// name, except those whose effect tzero has anyway (its volumes are thin).
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { FlashInfo, FlashOptions } from "../../../site/types.js";
import type { RestContext } from "../context.js";
import { RestError } from "../errors.js";
import { createdReply, listReply, OK, type Item, type Links } from "../reply.js";
import { idParams, LSS_ID, PAIR_ID, requestBody, VOLUME_ID, type RequestBody } from "../schemas.js";
import { COPY_SERVICES, findOne, text } from "./common.js";

export const PAIRS_PER_REQUEST_MAX = 1024;

// DS8000 option → what it sets in tzero's FlashOptions; `null`: accepted, nothing to set.
const OPTIONS: Record<string, keyof FlashOptions | null> = {
  no_background_copy: "nocopy",
  persistent: "persist",
  record_changes: "record",
  inhibit_target_writes: "tgtinhibit",
  freeze_consistency: "freeze",
  allow_pprc_target_primary: "tgtpprc",
  permit_space_efficient_target: null, // every tzero volume is thin (space efficient)
  fail_space_efficient_target_out_of_space: null, // a target out of space fails its relationship in tzero anyway
};
const NOT_MODELLED = ["reverse_restore", "fast_reverse_restore"];

const VolumePair = Type.Object({
  source_volume: Type.String({ pattern: VOLUME_ID }),
  target_volume: Type.String({ pattern: VOLUME_ID }),
}, { additionalProperties: false });
const EstablishParams = Type.Object({
  volume_pairs: Type.Array(VolumePair, { minItems: 1, maxItems: PAIRS_PER_REQUEST_MAX }),
  options: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 16 })),
}, { additionalProperties: false });
type EstablishParams = Static<typeof EstablishParams>;
const UnfreezeParams = Type.Object({
  lss_ids: Type.Array(Type.String({ pattern: LSS_ID }), { minItems: 1, maxItems: 255 }),
}, { additionalProperties: false });

export function flashcopyRoutes(app: FastifyInstance, context: RestContext): void {
  const { site } = context;
  const config = COPY_SERVICES;
  app.get("/cs/flashcopies", { config }, async (request) => {
    const links = context.links(request);
    return listReply("flashcopies", (await site.listFlash(await context.imageId())).map((flash) => flashItem(links, flash)));
  });
  app.get<{ Params: { id: string } }>("/cs/flashcopies/:id", { schema: { params: idParams(PAIR_ID, "FlashCopy ID") }, config }, async (request) => {
    const flash = findOne(await site.listFlash(await context.imageId()), request.params.id, "FlashCopy relationship", "RELATIONSHIP_NOT_FOUND");
    return listReply("flashcopies", [flashItem(context.links(request), flash)]);
  });
  app.post<{ Body: RequestBody<typeof EstablishParams> }>("/cs/flashcopies", { schema: { body: requestBody(EstablishParams) }, config }, async (request, reply) => {
    const imageId = await context.imageId();
    const { pairs, options } = establishRequest(request.body.request.params);
    const ids = new Set(await context.siteFor(request).establishFlash(imageId, { pairs, options }));
    const links = context.links(request);
    const established = (await site.listFlash(imageId)).filter((flash) => ids.has(flash.id));
    return reply.code(201).send(createdReply("flashcopies", established.map((flash) => flashItem(links, flash))));
  });
  app.delete<{ Params: { id: string } }>("/cs/flashcopies/:id", { schema: { params: idParams(PAIR_ID, "FlashCopy ID") }, config }, async (request) => {
    await context.siteFor(request).withdrawFlash(await context.imageId(), [request.params.id.toUpperCase()]);
    return { server: OK };
  });
  app.post<{ Body: RequestBody<typeof UnfreezeParams> }>("/cs/flashcopies/unfreeze", { schema: { body: requestBody(UnfreezeParams) }, config }, async (request) => {
    await context.siteFor(request).unfreezeFlash(await context.imageId(), request.body.request.params.lss_ids.map((lss) => lss.toUpperCase()));
    return { server: OK };
  });
}

function establishRequest(params: EstablishParams): { pairs: Array<[string, string]>; options: FlashOptions } {
  const options: FlashOptions = {};
  for (const [index, name] of (params.options ?? []).entries()) {
    const field = `request.params.options[${index}]`;
    if (NOT_MODELLED.includes(name)) throw new RestError(400, "NOT_SUPPORTED", `${field}: option ${name} is not supported by tzero`, field);
    if (!Object.hasOwn(OPTIONS, name)) throw new RestError(400, "BAD_OPTION", `${field}: ${JSON.stringify(name.slice(0, 64))} is not a FlashCopy option (${Object.keys(OPTIONS).join(", ")})`, field);
    const option = OPTIONS[name];
    if (option !== null) Object.assign(options, { [option]: true });
  }
  const pairs = params.volume_pairs.map((pair): [string, string] => [pair.source_volume.toUpperCase(), pair.target_volume.toUpperCase()]);
  return { pairs, options };
}

const enabled = (flag: boolean): string => (flag ? "enabled" : "disabled");
const stateOf = (flash: FlashInfo): string => flash.state.toLowerCase().replace(/ /g, "_");

function flashItem(links: Links, flash: FlashInfo): Item {
  return {
    id: flash.id, link: links.to("cs", "flashcopies", flash.id),
    source_volume: links.ref("volumes", flash.sourceId), target_volume: links.ref("volumes", flash.targetId),
    persistent: enabled(flash.persist), recording: enabled(flash.record), backgroundcopy: enabled(!flash.nocopy),
    inhibit_target_writes: enabled(flash.tgtinhibit), sequence_number: text(flash.seqnum),
    out_of_sync_tracks: text(flash.pendingTracks), state: stateOf(flash),
  };
}

// A relationship as volumes/ID/flashcopy lists it (the pre-R8 shape pyds8k's FlashCopy reads).
export function volumeFlashItem(links: Links, flash: FlashInfo): Item {
  return {
    id: flash.id, link: links.to("cs", "flashcopies", flash.id),
    sourcevolume: links.ref("volumes", flash.sourceId), targetvolume: links.ref("volumes", flash.targetId),
    persistent: enabled(flash.persist), recording: enabled(flash.record), backgroundcopy: enabled(!flash.nocopy),
    out_of_sync_tracks: text(flash.pendingTracks), state: stateOf(flash),
  };
}
