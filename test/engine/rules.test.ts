// Every FlashCopy rule of both models, and every bad input: a stable code, a
// message naming the volume and the rule, and nothing changed.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageImage } from "../../src/engine/image.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import { refuses } from "./support.js";

const ESS = suite("2105 rules");
let image: StorageImage;

ESS.before.each(() => {
  image = new StorageImage({ model: "2105", workers: 0 });
  image.createVolume({ id: "1000", capacity: 256, os: "aix", name: "prod" });
  image.createVolume({ id: "1001", capacity: 256, os: "aix" });
  image.createVolume({ id: "1002", capacity: 255, os: "aix" });
  image.createVolume({ id: "1003", capacity: 512, os: "linux" });
  image.createVolume({ id: "1004", capacity: 256, os: "aix" });
  image.createVolume({ id: "1100", capacity: 256, os: "aix" });
  image.fill("1000", 0, 256 * 512, 7);
});
ESS.after.each(() => image.close());

ESS("should refuse an unknown source or target volume", () => {
  refuses(image, "VOLUME_NOT_FOUND", ["1010"], () => image.establish("1010", "1001"));
  refuses(image, "VOLUME_NOT_FOUND", ["1011"], () => image.establish("1000", "1011"));
});
ESS("should refuse a source equal to its target", () => {
  refuses(image, "SOURCE_EQUALS_TARGET", ["1000:1000", "same volume"], () => image.establish("1000", "1000"));
});
ESS("should refuse a target smaller than its source", () => {
  refuses(image, "TARGET_TOO_SMALL", ["1000:1002", "1002", "at least as large"], () => image.establish("1000", "1002"));
});
ESS("should refuse a source and target in different LSSs", () => {
  refuses(image, "LSS_MISMATCH", ["1000:1100", "LSS 10", "LSS 11", "same LSS"], () => image.establish("1000", "1100"));
});
ESS("should refuse a volume already in a relationship, as source or as target", () => {
  image.establish("1000", "1001", { nocopy: true });
  refuses(image, "VOLUME_IN_RELATIONSHIP", ["1000", "one at a time"], () => image.establish("1000", "1004"));
  refuses(image, "VOLUME_IN_RELATIONSHIP", ["1001"], () => image.establish("1004", "1001"));
  refuses(image, "VOLUME_IN_RELATIONSHIP", ["1001"], () => image.establish("1001", "1004"));
});
ESS("should refuse source and target of different OS types", () => {
  refuses(image, "OS_MISMATCH", ["1000:1003", "aix", "linux", "operating system"], () => image.establish("1000", "1003"));
});
ESS("should refuse a sequence number that is not a 32-bit whole number", () => {
  refuses(image, "BAD_ARGUMENT", ["sequence number"], () => image.establish("1000", "1001", { seqnum: -1 }));
  refuses(image, "BAD_ARGUMENT", ["sequence number"], () => image.establish("1000", "1001", { seqnum: 1.5 }));
});
ESS("should refuse host writes to a target established with -tgtinhibit", () => {
  image.establish("1000", "1001", { nocopy: true, tgtinhibit: true });
  refuses(image, "TARGET_WRITE_INHIBITED", ["1001", "1000:1001", "-tgtinhibit"], () => image.write("1001", 0, new Uint8Array(10)));
  refuses(image, "TARGET_WRITE_INHIBITED", ["1001"], () => image.fill("1001", 0, 10, 1));
  image.write("1000", 0, new Uint8Array(10)); // the source stays writable
});
ESS("should refuse reads of a target whose incomplete copy was withdrawn", () => {
  image.establish("1000", "1001", { nocopy: true });
  assert.is(image.withdraw("1000:1001"), false);
  assert.is(image.dataState("1001"), "Unusable");
  refuses(image, "VOLUME_UNUSABLE", ["1001", "not usable"], () => image.read("1001", 0, 512));
  refuses(image, "VOLUME_UNUSABLE", ["1001"], () => image.checksum("1001"));
  refuses(image, "VOLUME_UNUSABLE", ["1001", "source"], () => image.establish("1001", "1004"));
});
ESS("should refuse offsets and lengths out of range", () => {
  const size = 256 * 512;
  refuses(image, "OUT_OF_RANGE", ["1000", String(size)], () => image.read("1000", size - 1, 2));
  refuses(image, "OUT_OF_RANGE", ["1000"], () => image.write("1000", size, new Uint8Array(1)));
  refuses(image, "OUT_OF_RANGE", ["1000", "offset -1"], () => image.read("1000", -1, 1));
  refuses(image, "OUT_OF_RANGE", ["1000", "offset 1.5"], () => image.read("1000", 1.5, 1));
  refuses(image, "OUT_OF_RANGE", ["1000", "length -4"], () => image.read("1000", 0, -4));
  refuses(image, "OUT_OF_RANGE", ["1000"], () => image.checksum("1000", 10, size));
  refuses(image, "OUT_OF_RANGE", ["1000"], () => image.writePattern("1000", 0, size + 1, 3));
});
ESS("should refuse bad volume definitions", () => {
  refuses(image, "VOLUME_EXISTS", ["1000"], () => image.createVolume({ id: "1000", capacity: 1 }));
  refuses(image, "BAD_VOLUME_ID", ["10G0"], () => image.createVolume({ id: "10G0", capacity: 1 }));
  refuses(image, "BAD_VOLUME_ID", ["FF00", "reserved"], () => image.createVolume({ id: "FF00", capacity: 1 }));
  refuses(image, "BAD_CAPACITY", ["0"], () => image.createVolume({ id: "1005", capacity: 0 }));
  refuses(image, "BAD_CAPACITY", ["blocks"], () => image.createVolume({ id: "1005", capacity: 2.5, unit: "blocks" }));
  refuses(image, "BAD_CAPACITY", ["at most", "16 TiB"], () => image.createVolume({ id: "1005", capacity: 16385, unit: "ds" }));
  refuses(image, "BAD_OS_TYPE", ["beos"], () => image.createVolume({ id: "1005", capacity: 1, os: "beos" }));
});
ESS("should refuse to remove a volume in a relationship, and an unknown relationship", () => {
  image.establish("1000", "1001", { nocopy: true });
  refuses(image, "VOLUME_IN_RELATIONSHIP", ["1001", "1000:1001"], () => image.removeVolume("1001"));
  refuses(image, "RELATIONSHIP_NOT_FOUND", ["1000:1004"], () => image.withdraw("1000:1004"));
  refuses(image, "BAD_ARGUMENT", ["1000"], () => image.withdraw("1000"));
});
ESS("should refuse a fill value or seed that is not a byte or 32-bit number", () => {
  refuses(image, "BAD_ARGUMENT", ["256"], () => image.fill("1000", 0, 1, 256));
  refuses(image, "BAD_ARGUMENT", ["seed"], () => image.writePattern("1000", 0, 1, -3));
});
ESS.run();

const DS8K = suite("2107 rules");
DS8K.before.each(() => {
  image = new StorageImage({ model: "2107", workers: 0 });
  for (let index = 0; index < 14; index++) image.createVolume({ id: (0x1000 + index).toString(16), capacity: 256, os: index === 3 ? "linux" : "aix" });
  image.createVolume({ id: "2000", capacity: 256 });
});
DS8K.after.each(() => image.close());

DS8K("should allow any LSS and differing OS types", () => {
  image.establish("1000", "2000", { nocopy: true });
  image.establish("1000", "1003", { nocopy: true });
  assert.is(image.listRelationships().length, 2);
});
DS8K("should allow up to 12 targets per source and refuse the 13th", () => {
  for (let index = 1; index <= 12; index++) image.establish("1000", (0x1000 + index).toString(16), { nocopy: true });
  refuses(image, "TOO_MANY_TARGETS", ["1000", "12"], () => image.establish("1000", "100D"));
});
DS8K("should refuse a second source for a target and a volume both source and target", () => {
  image.establish("1000", "1001", { nocopy: true });
  refuses(image, "TARGET_HAS_SOURCE", ["1001"], () => image.establish("1002", "1001"));
  refuses(image, "CASCADE_NOT_ALLOWED", ["1001"], () => image.establish("1001", "1002"));
  refuses(image, "CASCADE_NOT_ALLOWED", ["1000"], () => image.establish("1002", "1000"));
  refuses(image, "VOLUME_IN_RELATIONSHIP", ["1000:1001"], () => image.establish("1000", "1001"));
});
DS8K("should give every target of a source its own T0 image", () => {
  image.fill("1000", 0, TRACK_SIZE, 1);
  image.establish("1000", "1001", { nocopy: true });
  image.fill("1000", 0, 100, 2);
  image.establish("1000", "1002", { nocopy: true });
  image.fill("1000", 0, 10, 3);
  assert.is(image.read("1001", 0, 1)[0], 1);
  assert.is(image.read("1002", 0, 1)[0], 2);
  assert.is(image.read("1002", 100, 1)[0], 1);
  assert.is(image.read("1000", 0, 1)[0], 3);
});
DS8K.run();
