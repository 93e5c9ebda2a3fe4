// Faults reach the user: a background copy that cannot go on holds its
// relationship with a State and a reason, waits fail at once naming pair and
// cause, the copy resumes when the cause goes away and the T0 image holds;
// each bounded wait of the core times out with its own code; an abort of
// the core in a worker fails the operation and is never papered over.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageImage } from "../../src/engine/image.js";
import { CoreThread, type CoreBuild } from "../../src/core/core.js";
import { CoreCode, EXTENT_SIZE, FIND_MANY_TRACKS_MIN, TRACK_SIZE, WAIT_TIMEOUTS_MS } from "../../src/core/codes.js";
import { CopyFaults } from "../../src/engine/copy-faults.js";
import type { CopyFailure } from "../../src/engine/copy-pool.js";
import { WorkloadSet } from "../../src/engine/workload.js";
import { EngineError } from "../../src/engine/errors.js";
import { refuses, rejectsWith } from "./support.js";
import { until } from "./writers.js";

const GiB = 2 ** 30;
const BLOCKS_PER_GIB = GiB / 512;
const TRACKS = 4;
const BUILDS: CoreBuild[] = ["release", "debug"];

// A second thread of the image on this JavaScript thread: it holds locks and
// gates as a stalled thread would (assembly/faults.ts).
function stalledThread(image: StorageImage): CoreThread {
  return new CoreThread(image.memory, image.threadIds.take(), image.core.module);
}

function smallPair(image: StorageImage): string {
  image.createVolume({ id: "1000", capacity: TRACKS * 128 });
  image.createVolume({ id: "1001", capacity: TRACKS * 128 });
  image.writePattern("1000", 0, TRACKS * TRACK_SIZE, 7);
  return image.checksum("1000");
}

// The first track of the last extent whose tracks are all pending: its target extent was never
// allocated, so copying any of its tracks needs space.
function trackInUnallocatedExtent(image: StorageImage, id: string): number {
  const tracksPerExtent = EXTENT_SIZE / TRACK_SIZE;
  const pendingPerExtent = new Map<number, number>();
  const batch = new Uint32Array(FIND_MANY_TRACKS_MIN);
  const trackCount = image.status(id).trackCount;
  for (let from = 0, found = 0; from < trackCount; from = batch[found - 1] + 1) {
    found = image.pendingTracks(id, from, batch);
    if (found === 0) break;
    for (const track of batch.subarray(0, found)) {
      const extent = Math.floor(track / tracksPerExtent);
      pendingPerExtent.set(extent, (pendingPerExtent.get(extent) ?? 0) + 1);
    }
  }
  const whole = [...pendingPerExtent].filter(([, count]) => count === tracksPerExtent).map(([extent]) => extent);
  assert.ok(whole.length > 0, "an extent of the pair is still wholly pending");
  return Math.max(...whole) * tracksPerExtent;
}

const Space = suite("a copy out of space");

Space("should hold the copy as Validation Required, fail waits at once, and finish once space is freed", async () => {
  const image = new StorageImage({ workers: 2 });
  try {
    // 1.75 GiB written elsewhere + a 1.25 GiB source: its target cannot get all its 1.25 GiB of the image's 4.
    image.createVolume({ id: "1100", capacity: 1.75 * BLOCKS_PER_GIB });
    image.fill("1100", 0, 1.75 * GiB, 0x5a);
    image.createVolume({ id: "1000", capacity: 1.25 * BLOCKS_PER_GIB });
    image.createVolume({ id: "1001", capacity: 1.25 * BLOCKS_PER_GIB });
    image.writePattern("1000", 0, 1.25 * GiB, 1);
    const t0 = image.checksum("1000");
    const faults: string[] = [];
    image.on("fault", ({ id }: { id: string }) => faults.push(id));
    image.establish("1000", "1001");
    const first = await rejectsWith(image.waitForCopy(["1000:1001"], { timeoutMs: 300_000 }), "NO_SPACE");
    assert.match(first.message, /1000:1001/);
    assert.match(first.message, /Validation Required/);
    assert.match(first.message, /no free space/);
    const status = image.status("1000:1001");
    assert.is(status.state, "Validation Required");
    assert.match(status.reason ?? "", /no free space/);
    assert.is(status.activeCopy, false, "a held copy is not active");
    assert.ok(status.pendingTracks > 0);
    assert.ok(faults.length > 0 && faults.every((id) => id === "1000:1001"), "the fault was reported, for that pair only");
    // A second wait fails too, at once: it does not sit out its timeout.
    await rejectsWith(image.waitForCopy(["1000:1001"], { timeoutMs: 300_000 }), "NO_SPACE");
    // The T0 image holds meanwhile, and a source write that would need space fails, changing nothing.
    // A track still pending in a target extent not yet allocated: the copy workers may have copied
    // any track before space ran out, and one may have allocated an extent another's failure left
    // part-copied, whose pending tracks then need no space.
    const pendingTrack = trackInUnallocatedExtent(image, "1000:1001");
    refuses(image, "NO_SPACE", ["1000"], () => image.fill("1000", pendingTrack * TRACK_SIZE, TRACK_SIZE, 0xee));
    image.removeVolume("1100");
    await image.waitForCopy(["1000:1001"], { timeoutMs: 300_000 });
    // It ends at a progress poll after its copy completes (or a later one, if that withdraw could not drain).
    await until(() => !image.hasRelationship("1000:1001"), "the completed copy ended by itself");
    assert.is(image.checksum("1001"), t0, "the target holds the source's T0 image");
  } finally {
    await image.close();
  }
});

// Reports of failed copy steps, fed to CopyFaults in the order a loaded host
// may receive them: deterministic, no worker threads.
const Late = suite("a failure reported late");

function latePair(): { image: StorageImage; faults: CopyFaults; slot: number; epoch: () => number } {
  const image = new StorageImage({ workers: 0 });
  smallPair(image);
  const relationship = image.establish("1000", "1001", { persist: true });
  const faults = new CopyFaults(image.core, WAIT_TIMEOUTS_MS, { fault: () => {}, recovered: () => {} });
  const words = new Int32Array(image.memory.buffer);
  const epoch = () => Atomics.load(words, image.core.exports.work_epoch_pointer() >> 2);
  return { image, faults, slot: relationship.slot, epoch };
}

function spaceFailure(slot: number, image: StorageImage, epoch: number): CopyFailure {
  return { code: CoreCode.NO_SPACE, message: null, relSlot: slot, generation: image.core.exports.rel_generation(slot), threadId: 9, epoch };
}

Late("should not hold a copy again for a second worker's failure that predates the release after space was freed", async () => {
  const { image, faults, slot, epoch } = latePair();
  try {
    const before = epoch();
    // Two workers failed on the copy before space was freed; only the first report has arrived.
    faults.record({ id: "1000:1001", slot }, spaceFailure(slot, image, before));
    assert.is(image.core.exports.rel_copy_held(slot), 1, "the first report holds the copy");
    faults.spaceFreed();
    assert.is(image.core.exports.rel_copy_held(slot), 0, "freeing space releases it");
    faults.record({ id: "1000:1001", slot }, spaceFailure(slot, image, before));
    assert.is(image.core.exports.rel_copy_held(slot), 0, "the late report of the second worker leaves it released");
    assert.is(faults.get("1000:1001")?.retrying, true, "and the copy is still being retried, so waits go on");
    // A failure of a step that began after the release is news: it holds the copy.
    faults.record({ id: "1000:1001", slot }, spaceFailure(slot, image, epoch()));
    assert.is(image.core.exports.rel_copy_held(slot), 1);
    assert.is(faults.get("1000:1001")?.retrying, false);
  } finally {
    faults.dispose();
    await image.close();
  }
});

Late("should retry at once a failure for want of space whose step began before space was freed", async () => {
  const { image, faults, slot, epoch } = latePair();
  try {
    const before = epoch();
    faults.spaceFreed();
    faults.record({ id: "1000:1001", slot }, spaceFailure(slot, image, before));
    assert.is(image.core.exports.rel_copy_held(slot), 0, "released at once");
    assert.is(faults.get("1000:1001")?.retrying, true);
  } finally {
    faults.dispose();
    await image.close();
  }
});

const Waits = suite("bounded waits");

for (const build of BUILDS) {
  Waits(`a track lock held too long should hold the copy with LOCK_TIMEOUT, which resumes once it is free (${build})`, async () => {
    const image = new StorageImage({ workers: 1, build, waitTimeouts: { lock: 30 } });
    try {
      const t0 = smallPair(image);
      const stalled = stalledThread(image);
      assert.is(stalled.exports.fault_hold_track_lock(image.volume("1000").slot, 0), CoreCode.OK);
      image.establish("1000", "1001", { persist: true });
      const error = await rejectsWith(image.waitForCopy(["1000:1001"], { timeoutMs: 60_000 }), "LOCK_TIMEOUT");
      assert.match(error.message, /track stayed locked by another thread for more than 30 ms/);
      assert.is(image.status("1000:1001").state, "Validation Required");
      let recovered = false;
      image.once("recovered", () => (recovered = true));
      stalled.exports.fault_release_track_lock(image.volume("1000").slot, 0);
      // Until its backoff retry has run, a wait still fails at once: the copy is held.
      await until(() => recovered, "the copy recovers");
      await image.waitForCopy(["1000:1001"], { timeoutMs: 60_000 });
      assert.is(image.checksum("1001"), t0);
    } finally {
      await image.close();
    }
  });

  Waits(`a write that fails part-way should say how much of it was written (${build})`, async () => {
    const image = new StorageImage({ workers: 0, build, waitTimeouts: { lock: 20 } });
    try {
      const t0 = smallPair(image);
      image.establish("1000", "1001", { nocopy: true });
      const stalled = stalledThread(image);
      stalled.exports.fault_hold_track_lock(image.volume("1000").slot, 1);
      const data = new Uint8Array(2 * TRACK_SIZE).fill(0xab);
      let caught: unknown;
      try {
        image.write("1000", 0, data);
      } catch (error) {
        caught = error;
      }
      assert.instance(caught, EngineError);
      const error = caught as EngineError;
      assert.is(error.code, "LOCK_TIMEOUT");
      assert.is(error.bytesWritten, TRACK_SIZE);
      assert.match(error.message, new RegExp(`${TRACK_SIZE} of the write's ${2 * TRACK_SIZE} bytes`));
      assert.not.match(error.message, /nothing changed/);
      stalled.exports.fault_release_track_lock(image.volume("1000").slot, 1);
      assert.is(image.read("1000", 0, 1)[0], 0xab, "the first track was written");
      assert.is.not(image.read("1000", TRACK_SIZE, 1)[0], 0xab, "the second was not");
      assert.is(image.checksum("1001"), t0, "the target kept its T0 image");
    } finally {
      await image.close();
    }
  });

  Waits(`an allocator lock held too long should read ALLOC_LOCK_TIMEOUT, not NO_SPACE (${build})`, async () => {
    const image = new StorageImage({ workers: 0, build, waitTimeouts: { alloc: 20 } });
    try {
      image.createVolume({ id: "1000", capacity: TRACKS * 128 });
      const stalled = stalledThread(image);
      assert.is(stalled.exports.fault_hold_allocator(), CoreCode.OK);
      const error = refuses(image, "ALLOC_LOCK_TIMEOUT", ["1000", "allocator"], () => image.fill("1000", 0, 100, 1));
      assert.is(error.bytesWritten, undefined);
      stalled.exports.fault_release_allocator();
      image.fill("1000", 0, 100, 1);
    } finally {
      await image.close();
    }
  });

  Waits(`a background copy waiting on the allocator should hold with ALLOC_LOCK_TIMEOUT and resume by its retry (${build})`, async () => {
    const image = new StorageImage({ workers: 1, build, waitTimeouts: { alloc: 20 } });
    try {
      const t0 = smallPair(image);
      // The worker attaches first: attaching allocates its staging buffer.
      await until(() => image.pool.readyCount === 1, "the copy worker is ready");
      const stalled = stalledThread(image);
      const source = image.volume("1000").slot;
      // The worker first waits on a track lock, then finds the allocator held when it needs the target's extent.
      stalled.exports.fault_hold_track_lock(source, 0);
      image.establish("1000", "1001", { persist: true });
      assert.is(stalled.exports.fault_hold_allocator(), CoreCode.OK);
      stalled.exports.fault_release_track_lock(source, 0);
      await rejectsWith(image.waitForCopy(["1000:1001"], { timeoutMs: 60_000 }), "ALLOC_LOCK_TIMEOUT");
      assert.match(image.status("1000:1001").reason ?? "", /allocator/);
      let recovered = false;
      image.once("recovered", () => (recovered = true));
      stalled.exports.fault_release_allocator();
      await until(() => recovered, "the copy recovers");
      await image.waitForCopy(["1000:1001"], { timeoutMs: 60_000 });
      assert.is(image.checksum("1001"), t0);
    } finally {
      await image.close();
    }
  });

  Waits(`a freeze whose drain times out should fail with DRAIN_TIMEOUT, change nothing, and succeed when retried (${build})`, async () => {
    const image = new StorageImage({ workers: 0, build });
    try {
      smallPair(image);
      const stalled = stalledThread(image);
      const source = image.volume("1000").slot;
      assert.is(stalled.exports.io_begin(source), CoreCode.OK, "a request in flight on the source");
      refuses(image, "DRAIN_TIMEOUT", ["1000:1001", "did not drain within 50 ms"], () => image.establish("1000", "1001"));
      setTimeout(() => stalled.exports.io_end(source), 100);
      const relationship = await image.drained(() => image.establish("1000", "1001"));
      assert.is(relationship.id, "1000:1001");
    } finally {
      await image.close();
    }
  });

  Waits(`a copied pair whose end found I/O that did not drain should end at a later poll, once it drains (${build})`, async () => {
    const image = new StorageImage({ workers: 0, build, progressIntervalMs: 5, waitTimeouts: { drain: 5 } });
    try {
      smallPair(image);
      image.establish("1000", "1001");
      assert.is(image.copyTracks("1000:1001", 0, TRACKS), TRACKS);
      const stalled = stalledThread(image);
      const source = image.volume("1000").slot;
      assert.is(stalled.exports.io_begin(source), CoreCode.OK, "a request in flight on the source");
      let completedPolls = 0;
      image.on("progress", (event: { tracksLeft: number }) => {
        if (event.tracksLeft === 0) completedPolls++;
      });
      await until(() => completedPolls >= 3, "polls find the copy complete again after a refused end", 20_000);
      assert.ok(image.hasRelationship("1000:1001"), "it cannot end while the request is in flight");
      stalled.exports.io_end(source);
      await until(() => !image.hasRelationship("1000:1001"), "the pair ends by itself", 20_000);
      await image.waitForCopy(["1000:1001"]);
    } finally {
      await image.close();
    }
  });

  Waits(`I/O at a volume frozen too long should fail with GATE_TIMEOUT, changing nothing (${build})`, async () => {
    const image = new StorageImage({ workers: 0, build, waitTimeouts: { gate: 20 } });
    try {
      smallPair(image);
      const stalled = stalledThread(image);
      assert.is(stalled.exports.image_quiesce(), CoreCode.OK);
      let caught: unknown;
      try {
        image.fill("1000", 0, 10, 3);
      } catch (error) {
        caught = error;
      }
      assert.instance(caught, EngineError);
      assert.is((caught as EngineError).code, "GATE_TIMEOUT");
      assert.match((caught as EngineError).message, /stayed frozen .* for more than 20 ms/);
      assert.is((caught as EngineError).bytesWritten, undefined);
      stalled.exports.image_resume();
      assert.is.not(image.read("1000", 0, 1)[0], 3);
    } finally {
      await image.close();
    }
  });
}

const Aborts = suite("aborts of the core");

for (const build of BUILDS) {
  Aborts(`an abort in a copy worker should make the pair Tgt Failed, fail the wait, and not be replaced (${build})`, async () => {
    const image = new StorageImage({ workers: 1, build });
    try {
      smallPair(image);
      const exits: unknown[] = [];
      image.on("worker-exit", (exit) => exits.push(exit));
      image.core.exports.fault_arm_abort(1);
      image.establish("1000", "1001");
      const error = await rejectsWith(image.waitForCopy(["1000:1001"], { timeoutMs: 60_000 }), "CORE_ABORT");
      assert.match(error.message, /1000:1001 is Tgt Failed/);
      assert.match(error.message, /fault injection/);
      const status = image.status("1000:1001");
      assert.is(status.state, "Tgt Failed");
      assert.match(status.reason ?? "", /withdraw the pair/);
      await until(() => exits.length > 0, "the worker's exit is reported");
      const [exit] = image.pool.exits;
      assert.is(exit.cause, "aborted");
      assert.is(exit.replaced, false);
      assert.is(image.pool.workerCount, 0, "an aborted worker is not replaced");
      // The dead worker's track locks were released: a read of the pending target does not wait on them.
      assert.is(image.read("1001", 0, 1).byteLength, 1);
      image.withdraw("1000:1001");
    } finally {
      await image.close();
    }
  });

  Aborts(`a terminated copy worker should be replaced, and its exit reported (${build})`, async () => {
    const image = new StorageImage({ workers: 1, build });
    try {
      await image.pool.terminateWorker(0);
      const [exit] = image.pool.exits;
      assert.is(exit.cause, "terminated");
      assert.is(exit.replaced, true);
      assert.is(image.pool.workerCount, 1);
    } finally {
      await image.close();
    }
  });

  Aborts(`an abort in a workload should fail it with its reason at once (${build})`, async () => {
    const image = new StorageImage({ workers: 0, build });
    const workloads = new WorkloadSet();
    try {
      smallPair(image);
      image.establish("1000", "1001", { nocopy: true });
      image.core.exports.fault_arm_abort(1);
      const workload = workloads.start(image, { name: "w", volumeId: "1000", rw: "write", pattern: "seq", blockBytes: 4096, seed: 1 });
      await until(() => workload.state === "failed", "the workload fails");
      await workload.done;
      assert.is(workload.error?.code, "CORE_ABORT");
      assert.match(workload.failureReason ?? "", /workload w on volume 1000 stopped: the core aborted \(.*fault injection/);
      // Its thread was reaped: the track lock it died holding is free again.
      assert.is(image.read("1001", 0, 1).byteLength, 1);
    } finally {
      await workloads.stopAll();
      await image.close();
    }
  });
}

const Stalled = suite("a stalled copy");

Stalled("should report a rate of 0, not an average decaying towards it, once no track has moved for a second", async () => {
  const image = new StorageImage({ workers: 0, progressIntervalMs: 10 });
  try {
    image.createVolume({ id: "1000", capacity: 64 * 128 });
    image.createVolume({ id: "1001", capacity: 64 * 128 });
    image.establish("1000", "1001", { persist: true });
    image.copyTracks("1000:1001", 0, 32);
    image.poll();
    assert.ok(image.status("1000:1001").bytesPerSecond > 0, "a copy that moved has a rate");
    // No workers: nothing moves any more.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    image.poll();
    assert.is(image.status("1000:1001").bytesPerSecond, 0);
  } finally {
    await image.close();
  }
});

const Start = suite("a worker that cannot start");

Start("should fail every wait for a copy with WORKER_EXITED, naming why, and not be replaced", async () => {
  const image = new StorageImage({ workers: 1, waitTimeouts: { alloc: 20 } });
  try {
    // The worker is still loading: it finds the allocator (its staging buffer) held when it attaches.
    const stalled = stalledThread(image);
    assert.is(stalled.exports.fault_hold_allocator(), CoreCode.OK);
    await until(() => image.pool.exits.length > 0, "the worker's exit is reported");
    stalled.exports.fault_release_allocator();
    assert.is(image.pool.exits[0].replaced, false);
    smallPair(image);
    image.establish("1000", "1001");
    const error = await rejectsWith(image.waitForCopy(["1000:1001"], { timeoutMs: 60_000 }), "WORKER_EXITED");
    assert.match(error.message, /cannot attach thread/);
  } finally {
    await image.close();
  }
});

Space.run();
Late.run();
Waits.run();
Aborts.run();
Stalled.run();
Start.run();
