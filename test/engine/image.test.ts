// FlashCopy lifecycle on one storage image: T0 semantics, background copy,
// NOCOPY, persistence, withdrawal, events.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageImage, type ProgressEvent } from "../../src/engine/image.js";
import { TRACK_SIZE, CoreCode } from "../../src/core/codes.js";
import { rejectsWith } from "./support.js";

const MiB = 1 << 20;
const T0 = suite("T0 semantics");
let image: StorageImage;
T0.before.each(() => {
  image = new StorageImage({ workers: 0 });
  image.createVolume({ id: "1000", capacity: 4 * 128 });
  image.createVolume({ id: "1001", capacity: 4 * 128 });
  image.writePattern("1000", 0, 4 * TRACK_SIZE, 1);
});
T0.after.each(() => image.close());

T0("should show the source's T0 data on the target at once", () => {
  const before = image.checksum("1000");
  image.establish("1000", "1001", { nocopy: true });
  assert.is(image.checksum("1001"), before);
  assert.is(image.status("1000:1001").pendingTracks, 4);
});
T0("should keep the target at T0 while the source changes", () => {
  const t0 = image.read("1000", 0, 4 * TRACK_SIZE);
  image.establish("1000", "1001", { nocopy: true });
  image.fill("1000", 100, 3 * TRACK_SIZE, 0xee);
  assert.equal(image.read("1001", 0, 4 * TRACK_SIZE), t0);
  assert.is(image.read("1000", 100, 1)[0], 0xee);
  // Copy-on-write moved exactly the tracks the write touched.
  assert.is(image.status("1000:1001").pendingTracks, 0);
});
T0("should keep the rest of a track at T0 after a partial target write", () => {
  const t0 = image.read("1000", 0, TRACK_SIZE);
  image.establish("1000", "1001", { nocopy: true });
  image.write("1001", 10, new Uint8Array([1, 2, 3]));
  const track = image.read("1001", 0, TRACK_SIZE);
  assert.equal([...track.subarray(10, 13)], [1, 2, 3]);
  assert.equal(track.subarray(0, 10), t0.subarray(0, 10));
  assert.equal(track.subarray(13), t0.subarray(13));
  assert.is(image.status("1000:1001").pendingTracks, 3);
});
T0("should take a whole-track target write without copying the track", () => {
  image.establish("1000", "1001", { nocopy: true });
  image.fill("1001", TRACK_SIZE, TRACK_SIZE, 9);
  assert.ok(image.read("1001", TRACK_SIZE, TRACK_SIZE).every((byte) => byte === 9));
  assert.is(image.status("1000:1001").pendingTracks, 3);
});
T0("should record changed tracks of both sides with -record", () => {
  image.establish("1000", "1001", { nocopy: true, persist: true, record: true });
  image.fill("1000", 0, 10, 1);
  image.fill("1000", 3 * TRACK_SIZE, 10, 1);
  image.fill("1001", TRACK_SIZE, 10, 1);
  assert.is(image.recordedTracks("1000:1001", "source"), 2);
  assert.is(image.recordedTracks("1000:1001", "target"), 1);
});
T0.run();

const Life = suite("relationship lifecycle");
Life.before.each(() => {
  image = new StorageImage({ workers: 2, progressIntervalMs: 10 });
  image.createVolume({ id: "1000", capacity: 32, unit: "blocks" });
  for (const id of ["1000", "1001", "1002"]) if (!image.hasVolume(id)) image.createVolume({ id, capacity: 8 * 2048 });
  image.createVolume({ id: "1003", capacity: 8 * 2048 });
  image.writePattern("1002", 0, 8 * MiB, 3);
});
Life.after.each(() => image.close());

Life("should copy in the background, then end the relationship by itself", async () => {
  const t0 = image.checksum("1002");
  const events: ProgressEvent[] = [];
  image.on("progress", (event: ProgressEvent) => events.push(event));
  const ended = new Promise((resolve) => image.once("copied", resolve));
  image.establish("1002", "1003");
  image.fill("1002", 0, MiB, 0); // production keeps writing
  await image.waitForCopy(["1002:1003"], { timeoutMs: 60_000 });
  await ended;
  assert.is(image.listRelationships().length, 0);
  assert.is(image.checksum("1003"), t0);
  assert.is(image.dataState("1003"), "Normal");
  assert.ok(events.some((event) => event.id === "1002:1003" && event.tracksLeft === 0));
});
Life("should keep a persistent relationship after its copy completes", async () => {
  image.establish("1002", "1003", { persist: true });
  await image.waitForCopy(["1002:1003"], { timeoutMs: 60_000 });
  image.poll();
  const status = image.status("1002:1003");
  assert.is(status.pendingTracks, 0);
  assert.is(status.activeCopy, false);
  assert.ok(status.syncedAt instanceof Date);
  assert.is(image.withdraw("1002:1003"), true);
  assert.is(image.dataState("1003"), "Normal");
});
Life("should keep a NOCOPY relationship until withdrawn, copying only what changes", async () => {
  image.establish("1002", "1003", { nocopy: true });
  image.fill("1002", 0, 10, 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  image.poll();
  assert.is(image.status("1002:1003").pendingTracks, 127);
  assert.is(image.status("1002:1003").activeCopy, false);
  await rejectsWith(image.waitForCopy(["1002:1003"]), "BAD_ARGUMENT");
  assert.is(image.withdraw("1002:1003"), false);
  assert.is(image.dataState("1003"), "Unusable");
});
Life("should make an unusable target usable again by a new FlashCopy or reinitialisation", () => {
  image.establish("1002", "1003", { nocopy: true });
  image.withdraw("1002:1003");
  image.establish("1002", "1003", { nocopy: true });
  assert.is(image.dataState("1003"), "Normal");
  assert.is(image.checksum("1003"), image.checksum("1002"));
  image.withdraw("1002:1003");
  image.reinitVolume("1003");
  assert.is(image.dataState("1003"), "Normal");
  assert.ok(image.read("1003", 0, 4096).every((byte) => byte === 0));
});
Life("should time out or cancel a wait and leave the copy running", async () => {
  image.establish("1000", "1001", { nocopy: true });
  image.establish("1002", "1003");
  const controller = new AbortController();
  const waiting = image.waitForCopy(["1002:1003"], { signal: controller.signal });
  controller.abort();
  await rejectsWith(waiting, "CANCELLED");
  await rejectsWith(image.waitForCopy(["1002:1003"], { timeoutMs: 1 }), "TIMEOUT");
  await image.waitForCopy(["1002:1003"], { timeoutMs: 60_000 });
});
Life("should wake a thread waiting on the pending counter when the copy completes", () => {
  const relationship = image.establish("1002", "1003", { persist: true });
  const pointer = image.core.exports.rel_pending_pointer(relationship.slot);
  const words = new Int32Array(image.memory.buffer);
  const started = Date.now();
  let wakes = 0;
  for (let pending = Atomics.load(words, pointer >> 2); pending > 0; pending = Atomics.load(words, pointer >> 2)) {
    // Without a notify at zero this would sleep the whole 30 s.
    assert.ok(Date.now() - started < 30_000, "woken before the timeout");
    Atomics.wait(words, pointer >> 2, pending, 30_000);
    wakes++;
  }
  assert.ok(wakes < 100, `woken by the end of the copy, not by polling (${wakes} wakes)`);
  assert.is(image.status("1002:1003").pendingTracks, 0);
});
Life("should remove volumes and reuse their IDs", () => {
  image.removeVolume("1001");
  assert.is(image.hasVolume("1001"), false);
  image.createVolume({ id: "1001", capacity: 100 });
  assert.ok(image.read("1001", 0, 100).every((byte) => byte === 0));
});
Life.run();

const Big = suite("a 1 GiB volume pair");
Big("should establish at once and copy to a target equal to the source's T0 image", async () => {
  const big = new StorageImage({ workers: 2, progressIntervalMs: 20 });
  try {
    big.createVolume({ id: "2000", capacity: 1, unit: "ds" });
    big.createVolume({ id: "2001", capacity: 1, unit: "ds" });
    big.writePattern("2000", 0, 1 << 30, 42);
    const t0 = big.checksum("2000");
    const started = performance.now();
    big.establish("2000", "2001");
    const establishMicros = (performance.now() - started) * 1000;
    big.fill("2000", 12345, 4096, 0xff); // a write after T0 must not reach the target
    await big.waitForCopy(["2000:2001"], { timeoutMs: 240_000 });
    const copyMillis = performance.now() - started;
    assert.is(big.checksum("2001"), t0);
    assert.is.not(big.checksum("2000"), t0);
    // Once the process is warm (JIT, first calls into the core), establish costs microseconds.
    const warm: number[] = [];
    for (let round = 0; round < 21; round++) {
      const start = performance.now();
      big.establish("2000", "2001", { nocopy: true });
      warm.push((performance.now() - start) * 1000);
      big.withdraw("2000:2001");
    }
    warm.sort((a, b) => a - b);
    console.log(`  1 GiB pair: first establish in this process ${establishMicros.toFixed(1)} us, then median ${warm[10].toFixed(1)} us; background copy ${copyMillis.toFixed(0)} ms (first touch of target memory included)`);
  } finally {
    await big.close();
  }
});
Big.run();

const Rearm = suite("a new T0 from the change records (the core's rel_rearm_from_records)");
Rearm("should make pending exactly the tracks changed on either side, and serve them from the source again", () => {
  const image = new StorageImage({ workers: 0 });
  try {
    const size = 20 * TRACK_SIZE;
    image.createVolume({ id: "1000", capacity: size / 512 });
    image.createVolume({ id: "1001", capacity: size / 512 });
    image.writePattern("1000", 0, size, 3);
    const relationship = image.establish("1000", "1001", { nocopy: true, record: true, persist: true });
    image.copyTracks(relationship.id, 0, 20);
    image.fill("1000", 3 * TRACK_SIZE + 10, 100, 7); // source track 3 changes
    image.fill("1001", 17 * TRACK_SIZE, TRACK_SIZE, 9); // target track 17 changes
    assert.is(image.status(relationship.id).pendingTracks, 0);
    const exports = image.core.exports;
    assert.is(exports.rel_rearm_from_records(relationship.slot), 2);
    assert.is(exports.rel_count_pending(relationship.slot), 2);
    assert.equal([exports.rel_find_pending(relationship.slot, 0), exports.rel_find_pending(relationship.slot, 4)], [3, 17]);
    assert.equal([image.recordedTracks(relationship.id, "source"), image.recordedTracks(relationship.id, "target")], [0, 0]);
    assert.is(image.checksum("1001"), image.checksum("1000"), "the target reads as the source's new T0 image");
  } finally {
    void image.close();
  }
});
Rearm("should refuse a relationship without -record and change nothing", () => {
  const image = new StorageImage({ workers: 0 });
  try {
    image.createVolume({ id: "1000", capacity: 128 });
    image.createVolume({ id: "1001", capacity: 128 });
    const relationship = image.establish("1000", "1001", { nocopy: true });
    image.copyTracks(relationship.id, 0, 1);
    assert.is(image.core.exports.rel_rearm_from_records(relationship.slot), CoreCode.BAD_ARGUMENT);
    assert.is(image.status(relationship.id).pendingTracks, 0);
  } finally {
    void image.close();
  }
});
Rearm.run();
