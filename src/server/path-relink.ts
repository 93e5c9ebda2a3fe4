// A node that (re)registers may take PPRC links at a new address: one
// restarted without a fixed --link-listen listens on a new port, and the
// paths of other nodes to its images would go on dialling the old one. So at
// each registration the server gives every path between that node's images
// and another node's the address where its target's node takes links now:
// it makes the path again on the node that holds it, with the path's own LSS
// pair, WWNN and ports (mkpprcpath with the same ports replaces only where its
// link goes, and the link dials there at once). A path already Success is
// left alone: its link is connected where its target is. Each path is made
// under its image's lock, so no command crosses it, and what was done (or
// why not) is an event of the server's.
import type { PathInfo } from "../site/types.js";
import { serverEvent } from "./console-events.js";
import type { Router } from "./router.js";
import { findImage, type SiteRecord } from "./site-state.js";

interface Candidate {
  imageId: string; // the image that holds the path
  targetImageId: string;
  sourceLss: string;
  targetLss: string;
}

// The events of what registering `nodeId` did to the paths to and from its images.
export async function relinkPaths(router: Router, nodeId: string, now: () => number): Promise<SiteRecord[]> {
  const endpoints = new Map<string, Promise<string | null>>(); // by node: where it takes links
  const records: SiteRecord[] = [];
  for (const candidate of candidates(router, nodeId)) {
    const targetNode = findImage(router.state, candidate.targetImageId)!.nodeId;
    if (!endpoints.has(targetNode)) endpoints.set(targetNode, linkEndpoint(router, candidate.targetImageId));
    const text = await relinkOne(router, candidate, endpoints.get(targetNode)!);
    if (text !== null) records.push(serverEvent({ kind: "path.relinked", image: candidate.imageId, ids: [`${candidate.sourceLss}:${candidate.targetLss}`], text }, { source: "server" }, now()));
  }
  return records;
}

// The catalog's paths between an image of `nodeId` and one of another node, both nodes connected.
function candidates(router: Router, nodeId: string): Candidate[] {
  const { state } = router;
  const connected = (node: string) => router.connectedSite(node) !== undefined;
  return state.images.filter((holder) => connected(holder.nodeId)).flatMap((holder) => (holder.catalog.paths ?? []).filter((path) => {
    const targetNode = findImage(state, path.targetImageId)?.nodeId;
    return targetNode !== undefined && targetNode !== holder.nodeId && (holder.nodeId === nodeId || targetNode === nodeId) && connected(targetNode);
  }).map((path) => ({ imageId: holder.info.id, targetImageId: path.targetImageId, sourceLss: path.sourceLss, targetLss: path.targetLss })));
}

async function linkEndpoint(router: Router, imageId: string): Promise<string | null> {
  const ports = await router.read(imageId, (site) => site.listPorts(imageId));
  return ports.find((port) => port.endpoint !== undefined)?.endpoint ?? null;
}

// The event's text for one path: re-linked and its state then, or why not; null when it was left alone.
async function relinkOne(router: Router, candidate: Candidate, endpoint: Promise<string | null>): Promise<string | null> {
  const name = `PPRC path ${candidate.sourceLss}:${candidate.targetLss} of ${candidate.imageId} to ${candidate.targetImageId}`;
  try {
    return await router.exclusive([candidate.imageId], async () => {
      const site = router.siteOf(candidate.imageId);
      const live = (await site.listPaths(candidate.imageId, [candidate.sourceLss])).find((path) => isCandidate(path, candidate));
      if (live === undefined || live.state === "Success") return null;
      const remoteEndpoint = await endpoint;
      if (remoteEndpoint === null) return `${name} is Failed and stays so: the node of ${candidate.targetImageId} takes no PPRC links`;
      const made = await site.makePath(candidate.imageId, {
        remoteImageId: candidate.targetImageId, remoteWwnn: live.targetWwnn, sourceLss: live.sourceLss, targetLss: live.targetLss,
        ports: live.ports.map((port) => `${port.local}:${port.remote}`), consistgrp: live.consistgrp, remoteEndpoint,
      });
      const state = made.reason === null ? made.state : `${made.state}: ${made.reason}`;
      return `${name} links to ${remoteEndpoint}, where its node takes links now: ${state}`;
    });
  } catch (error) {
    return `${name} could not be given its target's link address: ${(error as Error).message}`;
  }
}

function isCandidate(path: PathInfo, candidate: Candidate): boolean {
  return path.targetImageId === candidate.targetImageId && path.sourceLss === candidate.sourceLss && path.targetLss === candidate.targetLss;
}
