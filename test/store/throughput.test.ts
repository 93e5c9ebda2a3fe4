// measureStoreThroughput, which `tzero bench` calls: it checks its own round
// trip and reports consistent figures.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { measureStoreThroughput, StoreError } from "../../src/store/index.js";

const MiB = 1 << 20;
const Throughput = suite("store throughput");

Throughput("should report GB/s and bytes written per live byte for a checked round trip", async () => {
  const result = await measureStoreThroughput({ liveBytes: 16 * MiB, volumeBytes: 16 * MiB });
  console.log(`  save ${result.saveGBps.toFixed(2)} GB/s (plain file writes ${result.fileWriteGBps.toFixed(2)}), load ${result.loadGBps.toFixed(2)} GB/s (first touch of memory ${result.firstTouchGBps.toFixed(2)}), ${result.bytesPerLiveByte.toFixed(4)} bytes per live byte, frozen ${result.frozenMs.toFixed(1)} ms`);
  assert.is(result.liveBytes, 16 * MiB);
  assert.is(result.provisionedBytes, 32 * MiB, "half of each extent is live, so 16 MiB live need two 16 MiB volumes");
  assert.ok(result.bytesPerLiveByte >= 1, "every live byte is written");
  assert.ok(result.bytesPerLiveByte < 1.01, "zero tracks and unallocated extents are not written");
  for (const figure of [result.saveGBps, result.loadGBps, result.fileWriteGBps, result.firstTouchGBps]) assert.ok(figure > 0 && Number.isFinite(figure));
  assert.ok(result.frozenMs <= result.saveSeconds * 1000);
});

Throughput("should refuse sizes that are not whole MiB", async () => {
  try {
    await measureStoreThroughput({ liveBytes: 1000 });
    assert.unreachable("expected BAD_ARGUMENT");
  } catch (error) {
    assert.instance(error, StoreError);
    assert.is((error as StoreError).code, "BAD_ARGUMENT");
  }
});

Throughput.run();
