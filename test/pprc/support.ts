// Two storage images in one embedded site, a path between them, and helpers
// to look at the pairs beneath the Site interface.
import { EmbeddedSite } from "../../src/site/embedded.js";
import { StorageImage } from "../../src/engine/image.js";
import type { CoreBuild } from "../../src/core/core.js";
import type { PairInfo } from "../../src/site/types.js";
import type { LinkFaults } from "../../src/pprc/link-faults.js";

export const A = "IBM.2107-75SITEA";
export const B = "IBM.2107-75SITEB";
export const TRACK_BYTES = 65536;
export const TRACK_BLOCKS = 128;

export interface TwoImages {
  site: EmbeddedSite;
  wwnnA: string;
  wwnnB: string;
}

// The tests' mirrored writes wait up to 30 s for their ack (the product's bound is 5 s): on a machine
// loaded far past its cores a sender thread has been seen descheduled for 5 s, and the pair then
// rightly suspends, which is not what these tests are about.
const TEST_ACK_TIMEOUT_MS = 30_000;

// `build`: the core of both images (the debug one asserts), else the default.
export async function twoImages(options: { mirrorAckTimeoutMs?: number; pprcFreezeTimeoutMs?: number; workers?: number; linkFaults?: LinkFaults; build?: CoreBuild } = {}): Promise<TwoImages> {
  const { build, ...siteOptions } = options;
  const images = build === undefined
    ? { images: [{ model: "2107" as const, id: A }, { model: "2107" as const, id: B }] }
    : { adopt: [A, B].map((id) => new StorageImage({ model: "2107", serial: id.slice(id.indexOf("-") + 1), workers: siteOptions.workers ?? 0, build })) };
  const site = new EmbeddedSite({ workers: 0, ...images, mirrorAckTimeoutMs: TEST_ACK_TIMEOUT_MS, ...siteOptions });
  const [first, second] = await site.listImages();
  return { site, wwnnA: first.wwnn, wwnnB: second.wwnn };
}

// Paths A 10 → B 20 and B 20 → A 10, and volumes 1000.. on A and 2000.. on B of `tracks` tracks each.
export async function mirrored(images: TwoImages, count: number, tracks: number): Promise<void> {
  const { site } = images;
  await site.makePath(A, { remoteImageId: B, remoteWwnn: images.wwnnB, sourceLss: "10", targetLss: "20", ports: ["I0010:I0143"] });
  await site.makePath(B, { remoteImageId: A, remoteWwnn: images.wwnnA, sourceLss: "20", targetLss: "10", ports: ["I0143:I0010"] });
  const ids = (lss: string) => Array.from({ length: count }, (_, index) => `${lss}${index.toString(16).toUpperCase().padStart(2, "0")}`);
  await site.createVolumes(A, { ids: ids("10"), capacity: tracks * TRACK_BLOCKS, unit: "blocks" });
  await site.createVolumes(B, { ids: ids("20"), capacity: tracks * TRACK_BLOCKS, unit: "blocks" });
}

export async function pairOn(site: EmbeddedSite, imageId: string, id: string): Promise<PairInfo> {
  const found = (await site.listPairs(imageId)).find((pair) => pair.id === id);
  if (!found) throw new Error(`no pair ${id} on ${imageId}`);
  return found;
}

export async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// Checksums of the whole volume on both sides, read beneath the secondary's read refusal.
export function sameData(site: EmbeddedSite, primaryId: string, secondaryId: string, primaryImage = A, secondaryImage = B): boolean {
  return site.engineImage(primaryImage).checksum(primaryId) === site.engineImage(secondaryImage).checksum(secondaryId);
}
