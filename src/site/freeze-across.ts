// freezepprc and unfreezepprc over LSS pairs whose primaries are on more than
// one storage image, and so, on a site, on more than one `tzero serve` node.
// An LSS pair names its own images in DS CLI's fully qualified form,
// `IMAGE/10:REMOTE/20`; a bare `10:20` is on -dev.
//
// One image freezes all its LSS pairs at one instant (Pprc.freeze). Images
// share no instant, so a freeze across them runs in two phases:
//   1. every image freezes its LSS pairs and holds the writes of every primary
//      in them (long busy), whatever the paths' -consistgrp, and answers;
//   2. once every image has answered, the holds of LSSs whose paths were made
//      without -consistgrp are released; the others stay held until
//      unfreezepprc or the LSS's long-busy timeout, as in one image.
// So from the moment the first LSS stops mirroring until the last has, no
// write completes on any frozen LSS: a write acknowledged before another was
// issued is on the secondaries whenever that other one is.
//
// An image that does not answer phase 1 within FREEZE_ANSWER_TIMEOUT_MS (or
// refuses it) fails the command, naming its node; the images that froze keep
// holding their writes, so none completes unmirrored there, until unfreezepprc
// or the long-busy timeout that each node runs by itself: nothing of the
// freeze depends on the caller (the Copy Services Server) after phase 1.
import { SiteError, isSiteError } from "./errors.js";
import type { Site } from "./site.js";
import type { PairsRequest } from "./types.js";

export const FREEZE_ANSWER_TIMEOUT_MS = 5_000;

export type LssPairOperation = "freezepprc" | "unfreezepprc";

export function isLssPairOperation(operation: string): operation is LssPairOperation {
  return operation === "freezepprc" || operation === "unfreezepprc";
}

// The LSS pairs of one primary image, with where each came in the request.
export interface LssPairMember {
  imageId: string;
  ids: string[]; // "10:20", as that image's own freeze takes them
  items: number[]; // index in the request of each of ids
}

// How the coordinator reaches an image: the Site that answers for it and, for messages, where it is.
export interface ReachedImage {
  site: Site;
  where: string; // "node node-a (image IBM.2107-75SITEA)"
}

const QUALIFIED = /^([^/:\s]+)\/([^/:\s]+):([^/:\s]+)\/([^/:\s]+)$/;

// Where a pair command goes: one image (a freeze of one image's LSS pairs
// is that image's own, with its ids made bare), or, for a freeze or unfreeze
// naming several primary images, `across` them.
export type PairCommandRoute =
  | { imageId: string; request: PairsRequest; across: null }
  | { imageId: string; request: PairsRequest; across: { operation: LssPairOperation; members: LssPairMember[] } };

export function routePairCommand(imageId: string, operation: string, request: PairsRequest): PairCommandRoute {
  if (!isLssPairOperation(operation)) return { imageId, request, across: null };
  const members = lssPairMembers(imageId, request);
  if (members.length === 1) return { imageId: members[0].imageId, request: { ...request, ids: members[0].ids }, across: null };
  return { imageId, request, across: { operation, members } };
}

// The request's LSS pairs by primary image, in the order the images first appear.
export function lssPairMembers(imageId: string, request: PairsRequest): LssPairMember[] {
  const members = new Map<string, LssPairMember>();
  request.ids.forEach((id, item) => {
    const [source, lssPair] = qualifiedLssPair(imageId, request.remoteImageId, id, item);
    const member = members.get(source) ?? { imageId: source, ids: [], items: [] };
    member.ids.push(lssPair);
    member.items.push(item);
    members.set(source, member);
  });
  return [...members.values()];
}

function qualifiedLssPair(imageId: string, remoteImageId: string | undefined, id: string, item: number): [string, string] {
  if (!id.includes("/")) return [imageId, id];
  const parts = QUALIFIED.exec(id);
  if (parts === null) {
    throw new SiteError({ code: "BAD_ARGUMENT", message: `${id} is not an LSS pair SOURCE_LSS:TARGET_LSS such as 10:20 or IMAGE/10:REMOTE_IMAGE/20`, item });
  }
  const [, source, sourceLss, target, targetLss] = parts;
  if (remoteImageId !== undefined && target.toUpperCase() !== remoteImageId.toUpperCase()) {
    throw new SiteError({ code: "BAD_ARGUMENT", message: `LSS pair ${id}: its target image ${target} is not -remotedev ${remoteImageId}`, item });
  }
  return [source.toUpperCase(), `${sourceLss}:${targetLss}`];
}

// Checks every image, then freezes (two phases) or unfreezes; returns the request's ids as done.
export async function acrossImages(
  operation: LssPairOperation, members: LssPairMember[], request: PairsRequest, reach: (imageId: string) => ReachedImage,
  answerTimeoutMs = FREEZE_ANSWER_TIMEOUT_MS,
): Promise<string[]> {
  const reached = await checkAcrossImages(operation, members, request, reach, answerTimeoutMs);
  const ask = <T>(member: (typeof reached)[number], call: (site: Site) => Promise<T>) => bounded(member, call(member.site), answerTimeoutMs);
  const requestOf = (member: LssPairMember, extra: Partial<PairsRequest> = {}): PairsRequest => ({ remoteImageId: request.remoteImageId, ids: member.ids, ...extra });
  const done = request.ids.map((id) => id.toUpperCase());
  if (operation === "unfreezepprc") {
    const results = await Promise.allSettled(reached.map((member) => ask(member, (site) => site.changePairs(member.imageId, operation, requestOf(member)))));
    throwFailures(operation, reached, results, "the others take writes again");
    return done;
  }
  const releasable = await Promise.all(reached.map((member) => ask(member, (site) => withoutConsistgrp(site, member, request.remoteImageId))));
  const frozen = await Promise.allSettled(reached.map((member) => ask(member, (site) => site.changePairs(member.imageId, operation, requestOf(member, { holdWrites: true })))));
  throwFailures(operation, reached, frozen, "the others froze and hold their primaries' writes (long busy) until unfreezepprc or their LSSs' long-busy timeout, so none completes unmirrored");
  const released = await Promise.allSettled(reached.map((member, index) => releasable[index].length === 0
    ? Promise.resolve([])
    : ask(member, (site) => site.changePairs(member.imageId, "unfreezepprc", requestOf(member, { ids: releasable[index] })))));
  throwFailures(operation, reached, released, "every LSS pair froze, but the writes these hold are released only by unfreezepprc or the LSS's long-busy timeout");
  return done;
}

// Every image checks its LSS pairs before any changes: a refusal or a silent node changes nothing.
export async function checkAcrossImages(
  operation: LssPairOperation, members: LssPairMember[], request: PairsRequest, reach: (imageId: string) => ReachedImage,
  answerTimeoutMs = FREEZE_ANSWER_TIMEOUT_MS,
): Promise<Array<LssPairMember & ReachedImage>> {
  const reached = members.map((member) => ({ ...member, ...reach(member.imageId) }));
  await Promise.all(reached.map((member) => bounded(member, member.site.checkPairs(member.imageId, operation, { remoteImageId: request.remoteImageId, ids: member.ids }), answerTimeoutMs)));
  return reached;
}

// The member's LSS pairs whose source LSS has no -consistgrp path among them: phase 2 releases their holds.
async function withoutConsistgrp(site: Site, member: LssPairMember, remoteImageId: string | undefined): Promise<string[]> {
  const paths = (await site.listPaths(member.imageId)).filter((path) => path.targetImageId.toUpperCase() === remoteImageId?.toUpperCase());
  const held = new Set<string>();
  for (const id of member.ids) {
    const [sourceLss, targetLss] = id.toUpperCase().split(":");
    if (paths.some((path) => path.sourceLss === sourceLss && path.targetLss === targetLss && path.consistgrp)) held.add(sourceLss);
  }
  return member.ids.filter((id) => !held.has(id.toUpperCase().split(":")[0]));
}

// A call to one image, bounded; its refusal names where the image is and which request item it was.
async function bounded<T>(member: LssPairMember & ReachedImage, call: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SiteError({ code: "TIMEOUT", message: `${member.where} did not answer within ${timeoutMs} ms` })), timeoutMs);
  });
  try {
    return await Promise.race([call.catch((error: unknown) => { throw namedError(member, error); }), silent]);
  } finally {
    clearTimeout(timer);
  }
}

function namedError(member: LssPairMember & ReachedImage, error: unknown): SiteError {
  const data = isSiteError(error) ? error.toData() : { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) };
  const item = data.item === undefined ? undefined : member.items[data.item];
  return new SiteError({ ...data, message: `${member.where}: ${data.message}`, ...(item === undefined ? { item: undefined } : { item }) });
}

function throwFailures(operation: LssPairOperation, members: Array<LssPairMember & ReachedImage>, results: Array<PromiseSettledResult<unknown>>, others: string): void {
  const failures = results.flatMap((result) => (result.status === "rejected" ? [result.reason as SiteError] : []));
  if (failures.length === 0) return;
  const answered = members.filter((_, index) => results[index].status === "fulfilled").map((member) => member.where);
  const rest = answered.length === 0 ? "" : `; ${answered.join(", ")}: ${others}`;
  const code = failures.length === members.length ? failures[0].code : `${operation === "freezepprc" ? "FREEZE" : "UNFREEZE"}_INCOMPLETE`;
  throw new SiteError({ code, message: `${operation}: ${failures.map((failure) => failure.message).join("; ")}${rest}` });
}
