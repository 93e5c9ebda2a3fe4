// The host 4 KiB write path: through the core (io_write from a staging
// buffer), through the engine's API, on the source of a -nocp relationship
// whose tracks are already copied, and a raw memory.copy of the same bytes.
import { StorageImage } from "../../src/engine/index.js";
import { CoreThread, coreModule } from "../../src/core/core.js";
import { contiguousPointer } from "../harness/fixtures.js";
import { check } from "../harness/suite.js";
import { Xorshift32 } from "../harness/random.js";
import type { MicroSuite } from "./harness.js";

const HOT_BYTES = 16 << 20;
const BLOCK = 4096;
const WRITES = 1024; // per case call: ops/s below are per 1024 writes

export const writeMicro: MicroSuite = {
  name: "write",
  describe: `${WRITES} random 4 KiB writes in a 16 MiB pre-touched hot set (ops are batches of ${WRITES})`,
  baseline: "raw-memory.copy",
  async setUp() {
    const image = new StorageImage({ workers: 0 });
    const plain = image.createVolume({ id: "3000", capacity: HOT_BYTES / 512, unit: "blocks" });
    const source = image.createVolume({ id: "3002", capacity: HOT_BYTES / 512, unit: "blocks" });
    const target = image.createVolume({ id: "3003", capacity: HOT_BYTES / 512, unit: "blocks" });
    for (const volume of [plain, source, target]) image.writePattern(volume.id, 0, HOT_BYTES, 3);
    image.establish(source.id, target.id, { nocopy: true });
    image.writePattern(source.id, 0, HOT_BYTES, 4); // copies every track: the hot set is copied
    const plainPointer = contiguousPointer(image, plain);
    const hostId = image.threadIds.take();
    const host = new CoreThread(image.memory, hostId, coreModule());
    const payload = host.staging(BLOCK);
    const random = new Xorshift32(11);
    for (let index = 0; index < BLOCK; index++) payload[index] = random.next() & 0xff;
    const data = payload.slice();
    const offsets = Uint32Array.from({ length: WRITES }, () => random.below(HOT_BYTES / BLOCK) * BLOCK);
    const { io_write: write, raw_copy: rawCopy } = host.exports;
    const staging = host.stagingPointer;
    const checkLast = (volumeId: string) => () => {
      const last = offsets[WRITES - 1];
      check(Buffer.compare(image.read(volumeId, last, BLOCK), data) === 0, `the last block written on ${volumeId} holds the payload`);
    };
    return {
      cases: [
        { name: "raw-memory.copy", fn: () => { for (const offset of offsets) rawCopy(plainPointer + offset, staging, BLOCK); }, check: checkLast(plain.id) },
        {
          name: "core-io_write",
          fn: () => { for (const offset of offsets) if (write(plain.slot, offset, BLOCK, staging) !== 0) throw new Error("io_write failed"); },
          check: checkLast(plain.id),
        },
        {
          name: "core-io_write-nocp-source-copied",
          fn: () => { for (const offset of offsets) if (write(source.slot, offset, BLOCK, staging) !== 0) throw new Error("io_write failed"); },
          check: checkLast(source.id),
        },
        { name: "engine-StorageImage.write", fn: () => { for (const offset of offsets) image.write(plain.id, offset, data); }, check: checkLast(plain.id) },
      ],
      close: async () => {
        image.core.exports.reap_thread(hostId);
        image.threadIds.release(hostId);
        await image.close();
      },
    };
  },
};
