// FlashCopy V2 on a 2107: resync, reverse (-fast), revertible increments
// with commit and revert, -freeze with unfreeze and the LSS timeout, and
// every rule refused with nothing changed. Copies run from the test's thread
// (workers: 0, copyTracks), so every count is exact.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { once } from "node:events";
import { StorageImage } from "../../src/engine/image.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { refuses } from "./support.js";
import { saveState, loadState } from "../../src/store/index.js";
import { WorkloadSet } from "../../src/engine/workload.js";
import { temporaryDirectory, rejectsWithStore } from "../store/support.js";

const TRACKS = 8;
const SIZE = TRACKS * TRACK_SIZE;
const fresh = (model: "2105" | "2107" = "2107", freezeTimeoutMs?: number) => {
  const image = new StorageImage({ model, workers: 0, freezeTimeoutMs });
  for (const id of ["1000", "1001", "1002", "1003"]) image.createVolume({ id, capacity: TRACKS * 128 });
  image.createVolume({ id: "1004", capacity: (TRACKS + 1) * 128 });
  image.writePattern("1000", 0, SIZE, 1);
  image.writePattern("1002", 0, SIZE, 2);
  return image;
};
// An incremental pair whose background copy has completed.
const copiedPair = (image: StorageImage, source = "1000", target = "1001") => {
  image.establish(source, target, { record: true, persist: true });
  assert.is(image.copyTracks(`${source}:${target}`, 0, TRACKS), TRACKS);
  return `${source}:${target}`;
};

const Resync = suite("resyncflash");
let image: StorageImage;
Resync.before.each(() => {
  image = fresh();
});
Resync.after.each(() => image.close());

Resync("should arm exactly the tracks changed on either side since the last T0", () => {
  const id = copiedPair(image);
  image.fill("1000", 0, 100, 0xaa); // track 0
  image.fill("1000", 3 * TRACK_SIZE - 10, 20, 0xbb); // tracks 2 and 3
  image.fill("1001", 3 * TRACK_SIZE, 10, 0xcc); // track 3 again, on the target
  image.fill("1001", 6 * TRACK_SIZE, 10, 0xdd); // track 6
  const t1 = image.checksum("1000");
  image.resync(id, { record: true, persist: true });
  assert.is(image.status(id).pendingTracks, 4);
  assert.is(image.recordedTracks(id, "source"), 0);
  assert.is(image.recordedTracks(id, "target"), 0);
  assert.is(image.checksum("1001"), t1, "the target reads as the new T0 at once");
  image.fill("1000", 0, SIZE, 0x11); // the new T0 holds while the source changes
  assert.is(image.checksum("1001"), t1);
  assert.is(image.copyTracks(id, 0, TRACKS), 0, "every armed track was copied on write");
});

Resync("should copy nothing when nothing changed", () => {
  const id = copiedPair(image);
  image.resync(id, { record: true, persist: true });
  assert.is(image.status(id).pendingTracks, 0);
});

Resync("should stop recording, and refuse the next resync, when -record is not given again", () => {
  const id = copiedPair(image);
  image.resync(id, { persist: true });
  assert.is(image.relationship(id).record, false);
  refuses(image, "NOT_INCREMENTAL", [id, "-record"], () => image.resync(id, { record: true, persist: true }));
});

Resync("should refuse a pair made without -record, naming it and the rule", () => {
  image.establish("1000", "1001", { nocopy: true });
  refuses(image, "NOT_INCREMENTAL", ["1000:1001", "-record -persist", "-record"], () => image.resync("1000:1001", { record: true, persist: true }));
});

Resync("should refuse a pair that does not exist", () => {
  refuses(image, "RELATIONSHIP_NOT_FOUND", ["1000:1001"], () => image.resync("1000:1001"));
});

Resync("should refuse a sequence number out of range", () => {
  const id = copiedPair(image);
  refuses(image, "BAD_ARGUMENT", [id, "sequence number"], () => image.resync(id, { record: true, persist: true, seqnum: -1 }));
});

Resync("should be refused by name on a 2105", async () => {
  const ess = fresh("2105");
  ess.establish("1000", "1001", { record: true, persist: true });
  refuses(ess, "NOT_SUPPORTED", ["resyncflash", "2105", ess.id], () => ess.resync("1000:1001", { record: true, persist: true }));
  for (const [name, action] of [
    ["reverseflash", () => ess.reverse("1000:1001")],
    ["setflashrevertible", () => ess.setRevertible("1000:1001")],
    ["commitflash", () => ess.commitRevertible("1000:1001")],
    ["revertflash", () => ess.revertRevertible("1000:1001")],
    ["unfreezeflash", () => ess.unfreeze("10")],
    ["mkflash -freeze", () => ess.establish("1002", "1003", { freeze: true })],
    ["mkflash -tgtpprc", () => ess.establish("1002", "1003", { tgtpprc: true })],
  ] as const) {
    refuses(ess, "NOT_SUPPORTED", [name, "2105"], action);
  }
  await ess.close();
});

const Reverse = suite("reverseflash");
Reverse.before.each(() => {
  image = fresh();
});
Reverse.after.each(() => image.close());

Reverse("should give the source back the target's image, copying only the tracks that differ", () => {
  const id = copiedPair(image);
  const saved = image.checksum("1001");
  image.fill("1000", 2 * TRACK_SIZE, 10, 0xee); // the source is damaged on tracks 2 and 5
  image.fill("1000", 5 * TRACK_SIZE, TRACK_SIZE, 0xef);
  const reversed = image.reverse(id, { record: true, persist: true });
  assert.is(reversed.id, "1001:1000");
  assert.equal(image.listRelationships().map((r) => r.id), ["1001:1000"]);
  assert.is(image.status("1001:1000").pendingTracks, 2);
  assert.is(image.checksum("1000"), saved, "the old source reads as the old target at once");
  assert.is(image.copyTracks("1001:1000", 0, TRACKS), 2);
  assert.is(image.checksum("1000"), saved);
});

Reverse("should leave a -fast reversal without background copy, still reading as the old target", () => {
  const id = copiedPair(image);
  const saved = image.checksum("1001");
  image.fill("1000", 0, 10, 0xee);
  image.reverse(id, { fast: true, record: true, persist: true });
  const status = image.status("1001:1000");
  assert.is(status.nocopy, true);
  assert.is(status.activeCopy, false);
  assert.is(status.pendingTracks, 1);
  assert.is(image.checksum("1000"), saved);
});

Reverse("should end a reversal made without -persist once its copy completes", () => {
  const id = copiedPair(image);
  image.fill("1000", 0, 10, 0xee);
  image.reverse(id);
  image.copyTracks("1001:1000", 0, TRACKS);
  image.poll();
  assert.equal(image.listRelationships(), []);
  assert.is(image.checksum("1000"), image.checksum("1001"));
});

Reverse("should refuse while the copy is incomplete", () => {
  image.establish("1000", "1001", { record: true, persist: true });
  image.copyTracks("1000:1001", 0, 3);
  refuses(image, "COPY_INCOMPLETE", ["1000:1001", "5 tracks", "1001"], () => image.reverse("1000:1001"));
});

Reverse("should refuse a source with other targets", () => {
  const id = copiedPair(image);
  image.establish("1000", "1002", { nocopy: true });
  refuses(image, "CASCADE_NOT_ALLOWED", [id, "1000", "other targets"], () => image.reverse(id));
});

Reverse("should refuse when the reversed target would be smaller", () => {
  const id = copiedPair(image, "1002", "1004");
  refuses(image, "TARGET_TOO_SMALL", [id, "1002", "1004", "smaller"], () => image.reverse(id));
});

Reverse("should refuse a pair made without -record", () => {
  image.establish("1000", "1001", {});
  image.copyTracks("1000:1001", 0, TRACKS);
  refuses(image, "NOT_INCREMENTAL", ["1000:1001", "-record"], () => image.reverse("1000:1001"));
});

const Revertible = suite("setflashrevertible, commitflash, revertflash");
Revertible.before.each(() => {
  image = fresh();
});
Revertible.after.each(() => image.close());

Revertible("should roll the target back to its image before the increment", () => {
  const id = copiedPair(image);
  const before = image.checksum("1001");
  image.fill("1000", TRACK_SIZE, 2 * TRACK_SIZE, 0x5a); // tracks 1 and 2
  image.setRevertible(id);
  assert.is(image.relationship(id).revertible, true);
  assert.is(image.checksum("1001"), image.checksum("1000"), "the increment reads as the new T0");
  image.copyTracks(id, 0, 2); // the increment is half copied
  image.fill("1000", 2 * TRACK_SIZE, 10, 0x77); // and the source changes again
  image.revertRevertible(id);
  assert.is(image.relationship(id).revertible, false);
  assert.is(image.checksum("1001"), before);
  assert.is(image.status(id).pendingTracks, 0);
  assert.is(image.recordedTracks(id, "source"), 2, "the rolled-back tracks count as changed again");
  image.resync(id, { record: true, persist: true });
  assert.is(image.status(id).pendingTracks, 2);
});

Revertible("should keep the increment on commit", () => {
  const id = copiedPair(image);
  image.fill("1000", 0, 10, 0x5a);
  image.setRevertible(id, { seqnum: 7 });
  const t1 = image.checksum("1000");
  image.commitRevertible(id);
  assert.is(image.relationship(id).revertible, false);
  assert.is(image.relationship(id).seqnum, 7);
  assert.is(image.checksum("1001"), t1);
  image.write("1001", 0, new Uint8Array(10)); // the target takes writes again
});

Revertible("should refuse host writes to the target while revertible, naming the way out", () => {
  const id = copiedPair(image);
  image.setRevertible(id);
  refuses(image, "TARGET_WRITE_INHIBITED", ["1001", id, "revertible", "commitflash"], () => image.write("1001", 0, new Uint8Array(1)));
});

Revertible("should refuse a second increment, a resync, a reverse and rmflash while revertible", () => {
  const id = copiedPair(image);
  image.setRevertible(id);
  refuses(image, "REVERTIBLE", [id, "setflashrevertible"], () => image.setRevertible(id));
  refuses(image, "REVERTIBLE", [id, "resyncflash"], () => image.resync(id, { record: true, persist: true }));
  refuses(image, "REVERTIBLE", [id, "reverseflash"], () => image.reverse(id));
  refuses(image, "REVERTIBLE", [id, "rmflash"], () => image.withdraw(id));
});

Revertible("should refuse commit and revert of a pair that is not revertible", () => {
  const id = copiedPair(image);
  refuses(image, "NOT_REVERTIBLE", [id, "commitflash", "setflashrevertible"], () => image.commitRevertible(id));
  refuses(image, "NOT_REVERTIBLE", [id, "revertflash"], () => image.revertRevertible(id));
});

Revertible("should refuse setflashrevertible without -record", () => {
  image.establish("1000", "1001", { nocopy: true });
  refuses(image, "NOT_INCREMENTAL", ["1000:1001", "setflashrevertible"], () => image.setRevertible("1000:1001"));
});

const Freeze = suite("mkflash -freeze and unfreezeflash");
Freeze.after.each(() => image.close());

Freeze("should make every pair one T0 and then hold the sources' writes (long busy) until unfreeze", () => {
  image = fresh();
  const t0 = [image.checksum("1000", 1), image.checksum("1002")];
  image.establish("1000", "1001", { nocopy: true, freeze: true });
  image.establish("1002", "1003", { nocopy: true, freeze: true });
  refuses(image, "LONG_BUSY", ["1000", "1000:1001", "long busy", "unfreezeflash 10"], () => image.write("1000", 0, new Uint8Array(1)));
  refuses(image, "LONG_BUSY", ["1002"], () => image.fill("1002", 0, 10, 1));
  assert.is(image.read("1000", 0, 4).length, 4, "reads go on");
  image.write("1001", 0, new Uint8Array(1)); // targets take writes
  assert.equal(image.unfreeze("10"), ["1000:1001", "1002:1003"]);
  image.fill("1000", 0, SIZE, 9);
  image.fill("1002", 0, SIZE, 9);
  assert.is(image.checksum("1003"), t0[1]);
  assert.is(image.read("1001", 0, 1)[0], 0);
  assert.is(image.checksum("1001", 1), t0[0], "the target holds the T0 of the freeze beyond what was written on it");
});

Freeze("should release the writes by itself after the LSS's timeout", async () => {
  image = fresh("2107", 20);
  image.establish("1000", "1001", { nocopy: true, freeze: true });
  // The freeze timer does not keep a process alive; this test's own timer does, meanwhile.
  const alive = setTimeout(() => undefined, 60_000);
  const [event] = await once(image, "unfrozen");
  clearTimeout(alive);
  assert.equal(event, { lss: "10", released: ["1000:1001"], reason: "timeout" });
  assert.is(image.relationship("1000:1001").writesHeld, false);
  image.write("1000", 0, new Uint8Array(1));
});

Freeze("should fail a workload thread's writes to a frozen source as long busy", async () => {
  image = fresh();
  image.establish("1000", "1001", { nocopy: true, freeze: true });
  const workloads = new WorkloadSet();
  const workload = workloads.start(image, { name: "held", volumeId: "1000", rw: "write", pattern: "random", blockBytes: 4096, seed: 1 });
  await workload.done;
  assert.is(workload.state, "failed");
  assert.is(workload.error?.code, "LONG_BUSY");
  assert.ok(workload.error?.message.includes("unfreezeflash"), workload.error?.message);
  await workloads.stopAll();
});

Freeze("should accept unfreeze of an LSS with nothing frozen, and refuse an LSS that does not exist", () => {
  image = fresh();
  assert.equal(image.unfreeze("10"), []);
  refuses(image, "LSS_NOT_FOUND", ["LSS 20"], () => image.unfreeze("20"));
  refuses(image, "BAD_ARGUMENT", ["LSS 1X"], () => image.unfreeze("1X"));
});

Freeze("should record -tgtpprc and change nothing else", () => {
  image = fresh();
  const relationship = image.establish("1000", "1001", { tgtpprc: true, nocopy: true });
  assert.is(relationship.tgtpprc, true);
  image.write("1001", 0, new Uint8Array(1));
});

const State = suite("state files");
State.after.each(() => image.close());

State("should refuse to save a revertible pair, writing nothing, and save it once committed", async () => {
  image = fresh();
  const id = copiedPair(image);
  image.fill("1000", 0, 10, 3);
  image.setRevertible(id);
  const folder = temporaryDirectory();
  const file = join(folder.path, "state.tz0");
  try {
    const error = await rejectsWithStore(saveState([image], file), "BUSY");
    assert.ok(error.message.includes(id) && error.message.includes("revertible"), error.message);
    assert.not.ok(existsSync(file));
    image.commitRevertible(id);
    await saveState([image], file);
    const [loaded] = await loadState(file, { workers: 0 });
    assert.is(loaded.checksum("1001"), image.checksum("1001"));
    assert.is(loaded.relationship(id).record, true);
    await loaded.close();
  } finally {
    folder.remove();
  }
});

Resync.run();
Reverse.run();
Revertible.run();
Freeze.run();
State.run();
