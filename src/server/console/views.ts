// What the console's views need beyond the REST API's lists, read from the
// server's site over every image: FlashCopy relationships with their percent
// done and ETA, PPRC pairs with first-pass status and paths, images with the
// node that hosts them and whether it is connected.
//
//   GET /cs/console/images        → {"images":[{"id","model","wwnn","node","online","volumes","relationships"}]}
//   GET /cs/console/flashcopies   → {"flashcopies":[FlashInfo + "image","percent","etaSeconds"]}
//   GET /cs/console/pprcs         → {"pprcs":[PairInfo]}          (PairInfo has imageId already)
//   GET /cs/console/paths         → {"paths":[PathInfo + "image"]}
//
// An image whose node is not connected is left out of the lists and shows online: false.
import type { FastifyInstance } from "fastify";
import type { FlashInfo } from "../../site/types.js";
import { findNode } from "../site-state.js";
import type { Identify } from "./routes.js";

const TRACK_BYTES = 64 * 1024;

export function consoleViews(api: FastifyInstance, caller: Identify): void {
  api.get("/images", async (request) => {
    const { server } = caller(request, "monitor");
    const images = await server.listImages();
    return {
      images: images.map((image) => {
        const entry = server.state.images.find((each) => each.info.id === image.id);
        const node = entry === undefined ? undefined : findNode(server.state, entry.nodeId);
        return {
          ...image, node: entry?.nodeId ?? null, online: node?.online ?? false,
          volumes: entry?.catalog.volumes.length ?? 0, relationships: entry?.catalog.flash.length ?? 0,
        };
      }),
    };
  });
  api.get("/flashcopies", async (request) => {
    const { server } = caller(request, "monitor");
    const lists = await everyImage(server.state.images.map((image) => image.info.id), (imageId) => server.listFlash(imageId));
    return { flashcopies: lists.flatMap(({ imageId, items }) => items.map((flash) => ({ ...flash, image: imageId, ...progressOf(flash) }))) };
  });
  api.get("/pprcs", async (request) => {
    const { server } = caller(request, "monitor");
    const lists = await everyImage(server.state.images.map((image) => image.info.id), (imageId) => server.listPairs(imageId));
    return { pprcs: lists.flatMap(({ items }) => items) };
  });
  api.get("/paths", async (request) => {
    const { server } = caller(request, "monitor");
    const lists = await everyImage(server.state.images.map((image) => image.info.id), (imageId) => server.listPaths(imageId));
    return { paths: lists.flatMap(({ imageId, items }) => items.map((path) => ({ ...path, image: imageId }))) };
  });
}

// The lists of the images whose nodes answer.
async function everyImage<T>(imageIds: readonly string[], list: (imageId: string) => Promise<T[]>): Promise<Array<{ imageId: string; items: T[] }>> {
  const settled = await Promise.allSettled(imageIds.map(async (imageId) => ({ imageId, items: await list(imageId) })));
  return settled.flatMap((each) => (each.status === "fulfilled" ? [each.value] : []));
}

// Percent copied, and the seconds left at the current rate (null while it makes no progress).
function progressOf(flash: FlashInfo): { percent: number; etaSeconds: number | null } {
  const percent = flash.trackCount === 0 ? 100 : Math.floor((1000 * (flash.trackCount - flash.pendingTracks)) / flash.trackCount) / 10;
  const eta = flash.nocopy || flash.bytesPerSecond <= 0 || flash.pendingTracks === 0 ? null : Math.ceil((flash.pendingTracks * TRACK_BYTES) / flash.bytesPerSecond);
  return { percent, etaSeconds: eta };
}
