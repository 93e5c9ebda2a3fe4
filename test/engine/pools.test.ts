// Extent pools: quotas the core checks before it allocates, rank groups,
// out-of-space errors that change nothing, recovery once space is freed.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageImage } from "../../src/engine/image.js";
import { engineFailure } from "./support.js";
import { Worker } from "node:worker_threads";
import { CoreCode, TRACK_SIZE } from "../../src/core/codes.js";
import { coreModule } from "../../src/core/core.js";
import type { ExtentWriterData } from "./fixtures/extent-writer.js";

const MiB = 1 << 20;
const GiB = 1 << 30;

const code = engineFailure;

function allocated(image: StorageImage, id: string): number {
  return image.pools.usage(image.pools.get(id)).allocatedExtents;
}

const Pools = suite("extent pools");
let image: StorageImage;
Pools.before.each(() => {
  image = new StorageImage({ workers: 0, model: "2107" });
});
Pools.after.each(() => image.close());

Pools("should start with P0 in rank group 0 and P1 in rank group 1, splitting the image's space", () => {
  const [p0, p1] = image.pools.list();
  assert.equal([p0.id, p0.rankGroup, p1.id, p1.rankGroup], ["P0", 0, "P1", 1]);
  assert.is(p0.capacityExtents + p1.capacityExtents, 4 * 1024);
});

Pools("should give new pools the lowest free ID of their rank group's parity", () => {
  assert.is(image.pools.create({ name: "a", rankGroup: 0, capacityGiB: 1 }).id, "P2");
  assert.is(image.pools.create({ name: "b", rankGroup: 1, capacityGiB: 1 }).id, "P3");
  assert.is(image.pools.create({ name: "c", rankGroup: 0, capacityGiB: 1 }).id, "P4");
  assert.match(code(() => image.pools.create({ name: "a", rankGroup: 1 })), /^POOL_EXISTS/);
});

Pools("should refuse a pool of the wrong rank group for the volume's LSS", () => {
  assert.match(code(() => image.createVolume({ id: "1000", capacity: 128, pool: "P1" })), /^RANKGROUP_MISMATCH: .*LSS 10/);
  assert.is(image.hasVolume("1000"), false);
  assert.match(code(() => image.createVolume({ id: "1000", capacity: 128, pool: "P9" })), /^POOL_NOT_FOUND/);
  assert.is(image.createVolume({ id: "1100", capacity: 128, pool: "P1" }).pool, "P1");
});

Pools("should count allocated 1 MiB extents and give them back when a volume goes", () => {
  image.createVolume({ id: "1000", capacity: (8 * MiB) / 512, pool: "P0" });
  image.fill("1000", 0, 1, 1);
  image.fill("1000", 5 * MiB, 2 * MiB, 2);
  assert.is(allocated(image, "P0"), 3);
  image.reinitVolume("1000");
  assert.is(allocated(image, "P0"), 0);
  image.fill("1000", 0, 1, 1);
  image.removeVolume("1000");
  assert.is(allocated(image, "P0"), 0);
});

Pools("should refuse a write to a full pool with a clear error, changing nothing", () => {
  image.pools.create({ name: "small", rankGroup: 0, capacityGiB: 0 });
  image.createVolume({ id: "1000", capacity: (4 * MiB) / 512, pool: "P2" });
  const before = image.checksum("1000");
  assert.match(code(() => image.fill("1000", 0, 4096, 7)), /^NO_SPACE: cannot write volume 1000: its extent pool P2 \(0 of 0 extents allocated\) is full/);
  assert.is(image.checksum("1000"), before);
  assert.is(image.allocatedBytes("1000"), 0);
});

Pools("should refuse a write spanning more extents than are free without taking any of them", () => {
  image.createVolume({ id: "1000", capacity: (3 * GiB) / 512, pool: "P0" });
  image.fill("1000", 0, 2 * GiB - 2 * MiB, 1);
  assert.is(allocated(image, "P0"), 2046);
  assert.match(code(() => image.fill("1000", 2 * GiB, 3 * MiB, 2)), /^NO_SPACE: .*extent pool P0 \(2046 of 2048 extents allocated\) is full \(the write needs up to 4 extents\)/);
  assert.is(allocated(image, "P0"), 2046);
  image.fill("1000", 2 * GiB, 2 * MiB, 2);
  assert.is(allocated(image, "P0"), 2048);
  assert.is(image.read("1000", 2 * GiB + MiB, 1)[0], 2);
  image.removeVolume("1000");
});

Pools("should fail a source write whose FlashCopy target's pool is full, then recover once space is freed", () => {
  image.pools.create({ name: "tiny", rankGroup: 1, capacityGiB: 0 });
  image.createVolume({ id: "1000", capacity: (2 * MiB) / 512, pool: "P0" });
  image.createVolume({ id: "1101", capacity: (2 * MiB) / 512, pool: "P3" });
  image.fill("1000", 0, 2 * MiB, 5);
  image.establish("1000", "1101", { nocopy: true });
  const source = image.checksum("1000");
  assert.match(code(() => image.fill("1000", 0, TRACK_SIZE, 9)), /^NO_SPACE: cannot write volume 1000: extent pool P3 \(0 of 0 extents allocated\) of its FlashCopy target 1101 is full/);
  assert.is(image.checksum("1000"), source);
  assert.is(image.checksum("1101"), source);
  image.pools.remove("P3");
  assert.is(image.pools.has("P3"), false);
});

Pools("should leave tracks pending when a background copy's target pool is full, and finish once the pool has room", () => {
  image.pools.create({ name: "tight", rankGroup: 1, capacityGiB: 1 });
  image.createVolume({ id: "1000", capacity: (2 * MiB) / 512, pool: "P0" });
  image.createVolume({ id: "1101", capacity: (2 * MiB) / 512, pool: "P3" });
  image.createVolume({ id: "1103", capacity: GiB / 512, pool: "P3" });
  image.fill("1103", 0, GiB, 1);
  image.fill("1000", 0, 2 * MiB, 5);
  const source = image.checksum("1000");
  image.establish("1000", "1101");
  assert.match(code(() => image.copyTracks("1000:1101", 0, 32)), /^NO_SPACE: .*extent pool P3 \(1024 of 1024 extents allocated\) of target 1101 is full; the tracks stay pending/);
  assert.is(image.status("1000:1101").pendingTracks, 32);
  assert.is(image.checksum("1101"), source);
  image.removeVolume("1103");
  assert.is(image.copyTracks("1000:1101", 0, 32), 32);
  assert.is(image.checksum("1101"), source);
  assert.is(allocated(image, "P3"), 2);
});

Pools("should refuse to remove a pool that holds volumes", () => {
  image.createVolume({ id: "1000", capacity: 128, pool: "P0" });
  assert.match(code(() => image.removePool("P0")), /^POOL_NOT_EMPTY: extent pool P0 holds 1 volume/);
  assert.ok(image.pools.has("P0"));
});

Pools("should grow an idle volume, keeping its data, and never shrink one", () => {
  image.createVolume({ id: "1000", capacity: 1, unit: "ds", pool: "P0" });
  image.fill("1000", 0, MiB, 3);
  const grown = image.growVolume("1000", 2, "ds");
  assert.is(grown.sizeBytes, 2 * GiB);
  assert.is(image.read("1000", MiB - 1, 2).join(","), "3,0");
  image.fill("1000", 2 * GiB - 1, 1, 4);
  assert.is(image.read("1000", 2 * GiB - 1, 1)[0], 4);
  assert.match(code(() => image.growVolume("1000", 1, "ds")), /^BAD_CAPACITY: .*never shrink/);
  image.createVolume({ id: "1001", capacity: 2, unit: "ds", pool: "P0" });
  image.establish("1000", "1001", { nocopy: true });
  assert.match(code(() => image.growVolume("1000", 3, "ds")), /^VOLUME_IN_RELATIONSHIP/);
  assert.is(image.volume("1000").sizeBytes, 2 * GiB);
});

// Each writer thread writes one byte per extent of its own volume until the pool refuses.
function writeExtentsFromThreads(target: StorageImage, volumeIds: string[], extentCount: number): Promise<Array<{ written: number; code: number }>> {
  const start = new Int32Array(new SharedArrayBuffer(4));
  const results = volumeIds.map((id) => new Promise<{ written: number; code: number }>((resolve, reject) => {
    const threadId = target.threadIds.take();
    const worker = new Worker(new URL("./fixtures/extent-writer.js", import.meta.url), {
      workerData: { memory: target.memory, module: coreModule(), threadId, slot: target.volume(id).slot, extentCount, start: start.buffer } satisfies ExtentWriterData,
    });
    let result: { written: number; code: number } | null = null;
    worker.on("message", (message) => { result = message; });
    worker.on("error", reject);
    worker.on("exit", () => {
      target.core.exports.reap_thread(threadId);
      target.threadIds.release(threadId);
      if (result) resolve(result);
      else reject(new Error(`writer of ${id} exited without its result`));
    });
  }));
  setTimeout(() => {
    Atomics.store(start, 0, 1);
    Atomics.notify(start, 0);
  }, 50);
  return Promise.all(results);
}

Pools("should let threads racing for a pool's last extents take exactly as many as are left", async () => {
  image.pools.create({ name: "race", rankGroup: 0, capacityGiB: 1 });
  image.createVolume({ id: "1000", capacity: GiB / 512, pool: "P2" });
  image.fill("1000", 0, GiB - 40 * MiB, 1); // 40 extents left
  const writers = ["1002", "1004", "1006", "1008"];
  for (const id of writers) image.createVolume({ id, capacity: (64 * MiB) / 512, pool: "P2" });
  const results = await writeExtentsFromThreads(image, writers, 64);
  assert.is(results.reduce((sum, result) => sum + result.written, 0), 40);
  for (const result of results) assert.is(result.code, CoreCode.NO_SPACE);
  assert.is(allocated(image, "P2"), 1024);
  assert.is(writers.reduce((sum, id) => sum + image.allocatedBytes(id), 0), 40 * MiB);
});

Pools.run();
