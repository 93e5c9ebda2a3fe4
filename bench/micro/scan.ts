// Pending-track scan over a real 16 GiB relationship bitmap with 1% of its
// tracks pending: the core's batched scan vs the TypeScript word scan of the
// same words (bench/figures/scan.ts times the same two at three densities).
import { StorageImage } from "../../src/engine/index.js";
import { coreSweep, wordSweep, leavePending } from "../figures/scan.js";
import { check } from "../harness/suite.js";
import { controlLeaf } from "../harness/fixtures.js";
import type { MicroSuite } from "./harness.js";

const TRACKS = 262_144; // 16 GiB of 64 KiB tracks: one full bitmap leaf
const FRACTION = 0.01;

export const scanMicro: MicroSuite = {
  name: "scan",
  describe: `one sweep over a 16 GiB bitmap finding its ${FRACTION * 100}% pending tracks`,
  baseline: "ts-word-at-a-time",
  async setUp() {
    const image = new StorageImage({ workers: 0 });
    const source = image.createVolume({ id: "4000", capacity: TRACKS * 128, unit: "blocks" });
    const target = image.createVolume({ id: "4001", capacity: TRACKS * 128, unit: "blocks" });
    const relationship = image.establish(source.id, target.id, { nocopy: true });
    const chosen = leavePending(image, relationship.id, TRACKS, FRACTION, 48);
    const { pointer, wordCount } = controlLeaf(image, relationship.slot);
    const words = new Uint32Array(image.memory.buffer, pointer, wordCount * 2);
    const sweeps = { core: coreSweep(image, relationship.id), word: wordSweep(words) };
    let found = 0;
    const expectAll = () => {
      check(found === chosen.length, `a sweep found all ${chosen.length} pending tracks (found ${found})`);
    };
    return {
      cases: [
        { name: "core-rel_find_pending_many", fn: () => { found = sweeps.core().count; }, check: expectAll },
        { name: "ts-word-at-a-time", fn: () => { found = sweeps.word().count; }, check: expectAll },
      ],
      close: () => image.close(),
    };
  },
};
