// Establish and withdraw (one cycle) for thin pairs from 64 MiB to 3 GiB:
// flat in the volume size, since only the bitmap (one bit per track) is built.
import { StorageImage } from "../../src/engine/index.js";
import { check } from "../harness/suite.js";
import type { MicroSuite } from "./harness.js";

const MiB = 1 << 20;
const SIZES = [64 * MiB, 1024 * MiB, 3072 * MiB];

export const establishMicro: MicroSuite = {
  name: "establish",
  describe: "StorageImage.establish + withdraw of a thin pair",
  baseline: "64MiB",
  async setUp() {
    const image = new StorageImage({ workers: 0 });
    const cases = SIZES.map((bytes, index) => {
      const source = image.createVolume({ id: `20${(2 * index).toString(16).padStart(2, "0")}`, capacity: bytes / 512, unit: "blocks" });
      const target = image.createVolume({ id: `20${(2 * index + 1).toString(16).padStart(2, "0")}`, capacity: bytes / 512, unit: "blocks" });
      image.writePattern(source.id, 0, 65536, index + 1);
      return {
        name: `${bytes / MiB}MiB`,
        fn: () => {
          const relationship = image.establish(source.id, target.id);
          image.withdraw(relationship.id);
        },
        check: () => {
          const relationship = image.establish(source.id, target.id);
          check(image.status(relationship.id).pendingTracks === bytes / 65536, "every track is pending after establish");
          check(image.checksum(target.id, 0, 65536) === image.checksum(source.id, 0, 65536), "the target reads as its T0 image");
          image.withdraw(relationship.id);
        },
      };
    });
    return { cases, close: () => image.close() };
  },
};
