// StorageImage.fillAsync: a fill or seeded pattern of any size in chunks,
// byte for byte what one synchronous call writes, with the event loop running
// between chunks and an abort stopping it with how much was written.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageImage } from "../../src/engine/image.js";
import { rejectsWith } from "./support.js";

const MiB = 1 << 20;

let image: StorageImage;
const Fill = suite("chunked fills");
Fill.before.each(() => {
  image = new StorageImage({ workers: 0 });
  for (const id of ["1000", "1001"]) image.createVolume({ id, capacity: 48 * MiB / 512 });
});
Fill.after.each(() => image.close());


Fill("should write what one synchronous call writes, at any offset and length", async () => {
  const offset = 3 * MiB + 12345;
  const length = 40 * MiB + 777;
  assert.is(await image.fillAsync("1000", offset, length, { kind: "pattern", seed: 9 }), length);
  image.writePattern("1001", offset, length, 9);
  assert.is(image.checksum("1000"), image.checksum("1001"));
  await image.fillAsync("1000", 5, 2 * MiB, { kind: "byte", value: 0xa5 });
  image.fill("1001", 5, 2 * MiB, 0xa5);
  assert.is(image.checksum("1000"), image.checksum("1001"));
});

Fill("should let timers run between its chunks", async () => {
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 0);
  try {
    await image.fillAsync("1000", 0, 48 * MiB, { kind: "pattern", seed: 1 });
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticks > 0, "a timer fired during the fill");
});

Fill("should stop when aborted and say how much it wrote", async () => {
  const controller = new AbortController();
  const timer = setImmediate(() => controller.abort()); // after the first chunk
  const error = await rejectsWith(image.fillAsync("1000", MiB, 47 * MiB, { kind: "byte", value: 1 }, { signal: controller.signal }), "CANCELLED");
  clearImmediate(timer);
  const match = /after (\d+) of (\d+) bytes/.exec(error.message);
  assert.ok(match, error.message);
  const written = Number(match![1]);
  assert.is(Number(match![2]), 47 * MiB);
  assert.ok(written > 0 && written < 47 * MiB, error.message);
  assert.ok(error.message.includes("volume 1000"), error.message);
  // Exactly the bytes it says, from the offset on, and nothing beyond.
  const bytes = image.read("1000", 0, 48 * MiB);
  assert.is(bytes.subarray(0, MiB).some((byte) => byte !== 0), false);
  assert.is(bytes.subarray(MiB, MiB + written).every((byte) => byte === 1), true);
  assert.is(bytes.subarray(MiB + written).some((byte) => byte !== 0), false);
  await rejectsWith(image.fillAsync("1000", 0, 1, { kind: "byte", value: 1 }, { signal: AbortSignal.abort() }), "CANCELLED");
});

Fill("should refuse bad arguments before writing anything", async () => {
  await rejectsWith(image.fillAsync("1000", 48 * MiB - 1, 2, { kind: "byte", value: 1 }), "OUT_OF_RANGE");
  await rejectsWith(image.fillAsync("1000", 0, 1, { kind: "byte", value: 256 }), "BAD_ARGUMENT");
  await rejectsWith(image.fillAsync("1000", 0, 1, { kind: "pattern", seed: -1 }), "BAD_ARGUMENT");
  await rejectsWith(image.fillAsync("1FFF", 0, 1, { kind: "byte", value: 1 }), "VOLUME_NOT_FOUND");
  assert.is(image.allocatedBytes("1000"), 0);
});

Fill.run();
