// Standard volumes (DS CLI mkfbvol -sam standard): every extent allocated
// when the volume is made, as on a DS8000's fully provisioned volume, where
// an ESE volume (the default) gets each extent on its first write. The core
// does the work a step at a time (assembly/volume.ts volume_provision,
// volume_touch); these helpers walk a range of extents in those steps.
import { CoreCode, PROVISION_EXTENTS_MAX } from "../core/codes.js";
import type { CoreThread } from "../core/core.js";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";

export type Sam = "ese" | "standard";
export const SAMS: readonly Sam[] = ["ese", "standard"];

// How many extents one volume_touch call faults in (16 MiB, about 11 ms on a
// quiet machine), and how long the touching holds the event loop before it
// yields a turn: issue 9's bound on a stall is 50 ms.
const TOUCH_STEP_EXTENTS = 16;
const TOUCH_SLICE_MS = 20;

// Allocates extents [firstExtent, endExtent) of the volume in `slot`; the
// core's code: OK, or the first failure (NO_SPACE when the image or the pool is full).
export function provisionExtents(core: CoreThread, slot: number, firstExtent: number, endExtent: number): number {
  for (let extent = firstExtent; extent < endExtent; extent += PROVISION_EXTENTS_MAX) {
    const code = core.exports.volume_provision(slot, extent, Math.min(PROVISION_EXTENTS_MAX, endExtent - extent));
    if (code !== CoreCode.OK) return code;
  }
  return CoreCode.OK;
}

// Faults in the pages of extents [firstExtent, endExtent) of the volume in
// `slot`, TOUCH_SLICE_MS of the event loop at a time; OK, or the core's code
// (NO_VOLUME when the volume was removed meanwhile).
export async function touchExtents(core: CoreThread, slot: number, firstExtent: number, endExtent: number): Promise<number> {
  let sliceStart = performance.now();
  for (let extent = firstExtent; extent < endExtent; extent += TOUCH_STEP_EXTENTS) {
    const code = core.exports.volume_touch(slot, extent, Math.min(TOUCH_STEP_EXTENTS, endExtent - extent));
    if (code !== CoreCode.OK) return code;
    if (performance.now() - sliceStart >= TOUCH_SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  return CoreCode.OK;
}
