// Extent pools in the state file: saved with their names, rank groups and
// capacities; volumes keep their pool and its allocated extents; a file
// written before pools (no pool fields) loads with the default pools.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StorageImage } from "../../src/engine/image.js";
import { saveState, loadState } from "../../src/store/index.js";
import { decodeRecord, describeState, editRecord, frameOfType, splitFrames, temporaryDirectory } from "./support.js";

const MiB = 1 << 20;
const Pools = suite("extent pools in the state file");
let folder: ReturnType<typeof temporaryDirectory>;
const opened: StorageImage[] = [];
Pools.before.each(() => {
  folder = temporaryDirectory();
});
Pools.after.each(async () => {
  await Promise.all(opened.splice(0).map((image) => image.close()));
  folder.remove();
});

function pooledImage(): StorageImage {
  const image = new StorageImage({ workers: 0, model: "2107", serial: "75KDR91" });
  opened.push(image);
  image.pools.create({ name: "gold", rankGroup: 0, capacityGiB: 1 });
  image.pools.create({ name: "small", rankGroup: 1, capacityGiB: 0 });
  image.createVolume({ id: "1000", capacity: (8 * MiB) / 512, pool: "P2" });
  image.createVolume({ id: "1101", capacity: (8 * MiB) / 512, pool: "P1" });
  image.createVolume({ id: "1200", capacity: (8 * MiB) / 512 });
  image.fill("1000", 0, 3 * MiB, 1);
  image.fill("1101", MiB, 1, 2);
  return image;
}

async function roundTrip(file: string): Promise<StorageImage[]> {
  const loaded = await loadState(file, { workers: 0 });
  opened.push(...loaded);
  return loaded;
}

Pools("should bring back pools, each volume's pool and the allocated extents", async () => {
  const image = pooledImage();
  const file = join(folder.path, "pools.tz0");
  await saveState([image], file);
  const [loaded] = await roundTrip(file);
  assert.equal(describeState([loaded]), describeState([image]));
  assert.is(loaded.pools.usage(loaded.pools.get("gold")).allocatedExtents, 3);
  assert.is(loaded.volume("1200").pool, null);
  // The quota holds after the load: P3 has no room at all.
  loaded.createVolume({ id: "1301", capacity: 128, pool: "P3" });
  assert.throws(() => loaded.fill("1301", 0, 1, 1), (error: Error) => error.message.includes("extent pool P3 (0 of 0 extents allocated) is full"));
});

Pools("should bring back a standard volume fully allocated, and load one whose record has no sam as ese", async () => {
  const image = pooledImage();
  image.createVolume({ id: "1002", capacity: (3 * MiB) / 512, pool: "P2", sam: "standard" });
  image.fill("1002", MiB, 4096, 5);
  const file = join(folder.path, "standard.tz0");
  await saveState([image], file);
  const [loaded] = await roundTrip(file);
  assert.equal(describeState([loaded]), describeState([image]));
  assert.equal([loaded.volume("1002").sam, loaded.allocatedBytes("1002")], ["standard", 3 * MiB]);
  let bytes: Uint8Array = new Uint8Array(readFileSync(file));
  const standardFrame = splitFrames(bytes).frames.findIndex((frame) => {
    const record = decodeRecord(frame.payload);
    return record.type === "volume" && record.id === "1002";
  });
  bytes = editRecord(bytes, standardFrame, (record) => { delete record.sam; });
  writeFileSync(file, bytes);
  const [thin] = await roundTrip(file);
  assert.equal([thin.volume("1002").sam, thin.allocatedBytes("1002"), thin.checksum("1002")], ["ese", MiB, image.checksum("1002")]);
});

Pools("should load a file written before pools with the default pools and its volumes in none", async () => {
  const image = pooledImage();
  const file = join(folder.path, "old.tz0");
  await saveState([image], file);
  let bytes: Uint8Array = new Uint8Array(readFileSync(file));
  bytes = editRecord(bytes, frameOfType(bytes, "image"), (record) => { delete record.pools; });
  const volumeFrames = splitFrames(bytes).frames.map((_, index) => index).filter((index) => index > frameOfType(bytes, "image")).slice(0, 3);
  for (const index of volumeFrames) bytes = editRecord(bytes, index, (record) => { delete record.pool; });
  writeFileSync(file, bytes);
  const [loaded] = await roundTrip(file);
  assert.equal(loaded.pools.list().map((pool) => `${pool.id}/${pool.name}`), ["P0/fb_pool_0", "P1/fb_pool_1"]);
  assert.equal(loaded.listVolumes().map((volume) => volume.pool), [null, null, null]);
  assert.equal(loaded.listVolumes().map((volume) => loaded.checksum(volume.id)), image.listVolumes().map((volume) => image.checksum(volume.id)));
});

Pools("should refuse a file whose volume names a pool of the wrong rank group", async () => {
  const image = pooledImage();
  const file = join(folder.path, "bad.tz0");
  await saveState([image], file);
  let bytes: Uint8Array = new Uint8Array(readFileSync(file));
  const first = frameOfType(bytes, "volume");
  bytes = editRecord(bytes, first, (record) => { record.pool = "P1"; });
  writeFileSync(file, bytes);
  try {
    await roundTrip(file);
    assert.unreachable("the load should fail");
  } catch (error) {
    assert.match((error as Error).message, /rank group/);
  }
});

Pools.run();
