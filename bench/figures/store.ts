// Save and load of state files (src/store): GB/s of live data and the bytes
// written per byte of live data, beside the machine limits they run into —
// plain file writes for the save, first touch of fresh memory for the load.
// measureStoreThroughput checks that the loaded image equals the saved one
// before it reports anything.
import { measureStoreThroughput } from "../../src/store/index.js";
import { check, type Suite } from "../harness/suite.js";
import { MiB } from "../harness/stats.js";

export const storeSuite: Suite = {
  name: "store",
  figures: ["store.save", "store.load"],
  async run(context) {
    const liveBytes = (context.quick ? 64 : 256) * MiB;
    const result = await measureStoreThroughput({ liveBytes, volumeBytes: 2 * liveBytes, seed: context.seed });
    check(result.liveBytes === liveBytes, "the image held the live data asked for");
    const verified = "the loaded image's volumes and relationships equal the saved ones (checksums)";
    const details = { ...result };
    return [
      {
        key: "store.save",
        figure: `save ${liveBytes / MiB} MiB of live data (of ${result.provisionedBytes / MiB} MiB provisioned)`,
        value: `${result.saveGBps.toFixed(2)} GB/s, ${result.bytesPerLiveByte.toFixed(4)} B written per live B, I/O held ${result.frozenMs.toFixed(0)} ms`,
        bar: "reported, vs plain file writes",
        ratio: result.saveGBps / result.fileWriteGBps,
        met: null,
        verified,
        note: `plain writes of as many bytes with fsync: ${result.fileWriteGBps.toFixed(2)} GB/s`,
        details,
      },
      {
        key: "store.load",
        figure: `load ${liveBytes / MiB} MiB of live data into a new image`,
        value: `${result.loadGBps.toFixed(2)} GB/s`,
        bar: "reported, vs first touch of fresh memory",
        ratio: result.loadGBps / result.firstTouchGBps,
        met: null,
        verified,
        note: `first writes to fresh shared memory: ${result.firstTouchGBps.toFixed(2)} GB/s`,
        details,
      },
    ];
  },
};
