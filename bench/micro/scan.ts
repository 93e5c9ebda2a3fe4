// Next-pending scan over a real 3 GiB relationship bitmap with 48 scattered
// pending tracks: the core's v128 scan vs TypeScript scans of the same words.
import { StorageImage } from "../../src/engine/index.js";
import { plainFindPending, wordFindPending } from "../figures/scan.js";
import { check } from "../harness/suite.js";
import { Xorshift32 } from "../harness/random.js";
import { controlLeaf } from "../harness/fixtures.js";
import type { MicroSuite } from "./harness.js";

const TRACKS = 49_152; // 3 GiB of 64 KiB tracks
const PENDING = 48;

export const scanMicro: MicroSuite = {
  name: "scan",
  describe: `one sweep over a 3 GiB bitmap finding its ${PENDING} pending tracks`,
  baseline: "ts-track-at-a-time",
  async setUp() {
    const image = new StorageImage({ workers: 0 });
    const source = image.createVolume({ id: "4000", capacity: TRACKS * 128, unit: "blocks" });
    const target = image.createVolume({ id: "4001", capacity: TRACKS * 128, unit: "blocks" });
    const relationship = image.establish(source.id, target.id, { nocopy: true });
    const random = new Xorshift32(48);
    const chosen = [...new Set(Array.from({ length: PENDING }, () => random.below(TRACKS)))].sort((a, b) => a - b);
    let from = 0;
    for (const track of chosen) {
      if (track > from) image.copyTracks(relationship.id, from, track - from);
      from = track + 1;
    }
    image.copyTracks(relationship.id, from, TRACKS - from);
    const exports = image.core.exports;
    const { pointer: bitmap, wordCount } = controlLeaf(image, relationship.slot);
    const words = new Uint32Array(image.memory.buffer, bitmap, wordCount * 2);
    let found = 0;
    const expectAll = () => {
      check(found === chosen.length, `a sweep found all ${chosen.length} pending tracks (found ${found})`);
    };
    return {
      cases: [
        {
          name: "core-scan_find",
          fn: () => {
            found = 0;
            for (let track = exports.scan_find(bitmap, wordCount, 0); track >= 0; track = exports.scan_find(bitmap, wordCount, track + 1)) found++;
          },
          check: expectAll,
        },
        {
          name: "core-rel_find_pending",
          fn: () => {
            found = 0;
            for (let track = exports.rel_find_pending(relationship.slot, 0); track >= 0; track = exports.rel_find_pending(relationship.slot, track + 1)) found++;
          },
          check: expectAll,
        },
        {
          name: "ts-word-at-a-time",
          fn: () => {
            found = 0;
            for (let track = wordFindPending(words, 0); track >= 0; track = wordFindPending(words, track + 1)) found++;
          },
          check: expectAll,
        },
        {
          name: "ts-track-at-a-time",
          fn: () => {
            found = 0;
            for (let track = plainFindPending(words, 0); track >= 0; track = plainFindPending(words, track + 1)) found++;
          },
          check: expectAll,
        },
      ],
      close: () => image.close(),
    };
  },
};
