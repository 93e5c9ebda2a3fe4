// Standard volumes (mkfbvol -sam standard): every extent allocated at
// creation, kept through trims, reinitialisation and growth; a standard
// volume that does not fit is refused with nothing changed; touching its
// pages changes no byte.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageImage } from "../../src/engine/image.js";
import { engineFailure as failure } from "./support.js";

const MiB = 1 << 20;

const Standard = suite("standard volumes");
let image: StorageImage;
Standard.before.each(() => {
  image = new StorageImage({ workers: 0, model: "2107" });
});
Standard.after.each(() => image.close());

function poolExtents(id: string): number {
  return image.pools.usage(image.pools.get(id)).allocatedExtents;
}

Standard("should allocate every extent of a standard volume at creation, and none of an ese one", () => {
  const standard = image.createVolume({ id: "1000", capacity: (5 * MiB + 512) / 512, pool: "P0", sam: "standard" });
  const thin = image.createVolume({ id: "1002", capacity: (8 * MiB) / 512, pool: "P0" });
  assert.equal([standard.sam, thin.sam], ["standard", "ese"]);
  assert.is(image.allocatedBytes("1000"), 6 * MiB);
  assert.is(image.allocatedBytes("1002"), 0);
  assert.is(poolExtents("P0"), 6);
  assert.is(image.checksum("1000"), image.checksum("1002", 0, 5 * MiB + 512));
});

Standard("should refuse a standard volume its pool cannot hold, naming it, with nothing changed", () => {
  image.pools.create({ name: "small", rankGroup: 0, capacityGiB: 1 });
  image.createVolume({ id: "1000", capacity: (1000 * MiB) / 512, pool: "P2", sam: "standard" });
  const why = failure(() => image.createVolume({ id: "1002", capacity: (100 * MiB) / 512, pool: "P2", sam: "standard" }));
  assert.match(why, /^NO_SPACE: .*standard volume 1002/);
  assert.is(image.hasVolume("1002"), false);
  assert.is(poolExtents("P2"), 1000);
  // The slot and the space are free again: a volume that fits is made.
  assert.is(image.createVolume({ id: "1002", capacity: (24 * MiB) / 512, pool: "P2", sam: "standard" }).sam, "standard");
  assert.is(poolExtents("P2"), 1024);
});

Standard("should zero a trimmed range of a standard volume without giving its extents back", () => {
  image.createVolume({ id: "1000", capacity: (4 * MiB) / 512, pool: "P0", sam: "standard" });
  image.createVolume({ id: "1002", capacity: (4 * MiB) / 512, pool: "P0" });
  image.fill("1000", 0, 4 * MiB, 7);
  image.fill("1002", 0, 4 * MiB, 7);
  assert.is(image.trim("1000", 512, 3 * MiB), 0);
  assert.is(image.trim("1002", 512, 3 * MiB), 2);
  assert.is(image.allocatedBytes("1000"), 4 * MiB);
  assert.is(image.allocatedBytes("1002"), 2 * MiB);
  assert.is(image.checksum("1000"), image.checksum("1002"));
});

Standard("should keep a standard volume fully allocated through initfbvol and chfbvol -cap", () => {
  image.createVolume({ id: "1000", capacity: (2 * MiB) / 512, pool: "P0", sam: "standard" });
  image.fill("1000", 0, 2 * MiB, 9);
  image.reinitVolume("1000");
  assert.is(image.allocatedBytes("1000"), 2 * MiB);
  assert.equal([...image.read("1000", 0, 4096)].every((byte) => byte === 0), true);
  image.growVolume("1000", (5 * MiB) / 512, "blocks");
  assert.is(image.allocatedBytes("1000"), 5 * MiB);
  assert.is(poolExtents("P0"), 5);
});

Standard("should refuse to grow a standard volume past its pool's room, with nothing changed", () => {
  image.pools.create({ name: "small", rankGroup: 0, capacityGiB: 1 });
  image.createVolume({ id: "1000", capacity: (1000 * MiB) / 512, pool: "P2", sam: "standard" });
  assert.match(failure(() => image.growVolume("1000", (1100 * MiB) / 512, "blocks")), /^NO_SPACE: standard volume 1000 needs 100 more extents to grow, and extent pool P2 has 24 free/);
  assert.is(image.volume("1000").blocks, (1000 * MiB) / 512);
  assert.is(poolExtents("P2"), 1000);
});

Standard("should touch a standard volume's pages without changing a byte", async () => {
  image.createVolume({ id: "1000", capacity: (40 * MiB) / 512, sam: "standard" });
  image.writePattern("1000", 3 * MiB + 100, 20 * MiB, 5);
  const before = image.checksum("1000");
  await image.touchVolume("1000");
  assert.is(image.checksum("1000"), before);
  assert.is(image.allocatedBytes("1000"), 40 * MiB);
});

// The kernel's 4 KiB pages: a fresh one's first write is a minor (zero-fill) fault.
const KERNEL_PAGES_PER_MIB = MiB / 4096;

Standard("should take the zero-fill faults of a fresh standard volume when touched, so that its first writes take almost none", async () => {
  const mebibytes = 64;
  image.createVolume({ id: "1000", capacity: (mebibytes * MiB) / 512, sam: "standard" });
  const faults = () => process.resourceUsage().minorPageFault;
  const beforeTouch = faults();
  await image.touchVolume("1000");
  const touched = faults() - beforeTouch;
  const beforeWrites = faults();
  image.fill("1000", 0, mebibytes * MiB, 3);
  const written = faults() - beforeWrites;
  assert.ok(touched >= 0.9 * mebibytes * KERNEL_PAGES_PER_MIB, `touching took ${touched} faults`);
  assert.ok(written <= 0.1 * mebibytes * KERNEL_PAGES_PER_MIB, `the first writes took ${written} faults after the touch`);
});

Standard.run();
