// Copying 16 MiB of tracks between two pre-touched volumes of one image: one
// memory.copy per track, per 1 MiB run (what the core's background copy does
// within an extent), in one piece, through the engine (establish, copy_tracks,
// withdraw), and from TypeScript with Buffer.copy and TypedArray.set.
import { StorageImage } from "../../src/engine/index.js";
import { touchedPair } from "../harness/fixtures.js";
import { check } from "../harness/suite.js";
import type { MicroSuite } from "./harness.js";

const BYTES = 16 << 20;
const TRACK_SIZE = 64 << 10;
const EXTENT_SIZE = 1 << 20;

export const copyMicro: MicroSuite = {
  name: "copy",
  describe: "copy 16 MiB of tracks between two volumes of one image (a working set that caches can hold; the macro figures copy 256 MiB to 1 GiB)",
  baseline: "core-one-memory.copy",
  async setUp() {
    const image = new StorageImage({ workers: 0 });
    const pair = touchedPair(image, "1000", "1001", BYTES, 7);
    const exports = image.core.exports;
    const { sourcePointer: source, targetPointer: target } = pair;
    const sourceHash = exports.hash_memory(source, BYTES);
    const buffer = Buffer.from(image.memory.buffer);
    const bytes = new Uint8Array(image.memory.buffer);
    // Each check first spoils the target, runs the case once, and compares.
    const checkOf = (fn: () => void) => () => {
      bytes.fill(0xa5, target, target + BYTES);
      fn();
      check(exports.hash_memory(target, BYTES) === sourceHash, "the target equals the source after the copy");
    };
    const cases = [
      { name: "core-memory.copy-per-track", fn: () => { for (let at = 0; at < BYTES; at += TRACK_SIZE) exports.raw_copy(target + at, source + at, TRACK_SIZE); } },
      { name: "core-memory.copy-per-1MiB-run", fn: () => { for (let at = 0; at < BYTES; at += EXTENT_SIZE) exports.raw_copy(target + at, source + at, EXTENT_SIZE); } },
      { name: "core-one-memory.copy", fn: () => exports.raw_copy(target, source, BYTES) },
      {
        name: "engine-copy_tracks",
        fn: () => {
          const relationship = image.establish(pair.source.id, pair.target.id, { nocopy: true });
          image.copyTracks(relationship.id, 0, BYTES / TRACK_SIZE);
          image.withdraw(relationship.id);
        },
      },
      { name: "Buffer.copy", fn: () => { buffer.copy(buffer, target, source, source + BYTES); } },
      { name: "TypedArray.set", fn: () => { bytes.set(bytes.subarray(source, source + BYTES), target); } },
      { name: "TypedArray.copyWithin", fn: () => { bytes.copyWithin(target, source, source + BYTES); } },
    ];
    return {
      cases: cases.map((item) => ({ ...item, check: checkOf(item.fn) })),
      close: () => image.close(),
    };
  },
};
