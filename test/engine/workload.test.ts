// Workloads: worker threads doing host I/O through the core, their figures,
// the latency histogram, pacing, and failures reported with a code.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageImage } from "../../src/engine/image.js";
import { EngineError } from "../../src/engine/errors.js";
import { HISTOGRAM_BUCKETS, WorkloadSet, bucketMiddle, bucketOf, percentileNanos, type WorkloadSpec } from "../../src/engine/workload.js";

const Histogram = suite("latency histogram");

Histogram("should keep small values exact and larger ones within 1/16", () => {
  for (const nanos of [0, 1, 31, 32, 33, 100, 1000, 4097, 65_535, 1e6, 123_456_789, 2 ** 31 - 1]) {
    const middle = bucketMiddle(bucketOf(nanos));
    if (nanos < 32) assert.is(middle, nanos);
    else assert.ok(Math.abs(middle - nanos) / nanos <= 1 / 16, `${nanos} ns went to a bucket around ${middle}`);
  }
  assert.is(bucketOf(1e12), HISTOGRAM_BUCKETS - 1);
  for (let nanos = 1; nanos < 2 ** 31; nanos = Math.ceil(nanos * 1.01)) {
    assert.ok(bucketOf(nanos) >= bucketOf(nanos - 1), "buckets grow with the value");
  }
});

Histogram("should find p50 and p99 of a known distribution", () => {
  const histogram = new Int32Array(HISTOGRAM_BUCKETS);
  for (let index = 0; index < 990; index++) histogram[bucketOf(1000)]++;
  for (let index = 0; index < 10; index++) histogram[bucketOf(500_000)]++;
  assert.ok(Math.abs(percentileNanos(histogram, 0.5) - 1000) <= 1000 / 16);
  assert.ok(Math.abs(percentileNanos(histogram, 0.99) - 1000) <= 1000 / 16);
  assert.ok(Math.abs(percentileNanos(histogram, 0.995) - 500_000) <= 500_000 / 16);
  assert.is(percentileNanos(new Int32Array(HISTOGRAM_BUCKETS), 0.5), 0);
});

const Workloads = suite("workloads");
let image: StorageImage;
let workloads: WorkloadSet;
Workloads.before.each(() => {
  image = new StorageImage({ workers: 0 });
  image.createVolume({ id: "1000", capacity: 2048 });
  image.createVolume({ id: "1001", capacity: 2048 });
  image.createVolume({ id: "1002", capacity: 4 });
  workloads = new WorkloadSet();
});
Workloads.after.each(async () => {
  await workloads.stopAll();
  await image.close();
});

function spec(overrides: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return { name: "w", volumeId: "1000", rw: "write", pattern: "random", blockBytes: 4096, seed: 1, ...overrides };
}

Workloads("should write through the core until its duration ends, and report its figures", async () => {
  const before = image.checksum("1000");
  const workload = workloads.start(image, spec({ durationMs: 150 }));
  await workload.done;
  const stats = workload.stats();
  assert.is(workload.error, null);
  assert.is(stats.running, false);
  assert.ok(stats.ios > 0);
  assert.ok(stats.iops > 0);
  assert.ok(Math.abs(stats.bytesPerSecond - stats.iops * 4096) < 1e-6 * stats.bytesPerSecond + 1);
  assert.ok(stats.p50Micros > 0 && stats.p99Micros >= stats.p50Micros);
  assert.is.not(image.checksum("1000"), before);
});

Workloads("should copy on write for a -nocp target, keeping T0", async () => {
  image.writePattern("1000", 0, 2048 * 512, 5);
  const t0 = image.checksum("1000");
  image.establish("1000", "1001", { nocopy: true });
  const workload = workloads.start(image, spec({ rw: "mixed", pattern: "hotspot", durationMs: 150 }));
  await workload.done;
  assert.is(image.checksum("1001"), t0);
  assert.ok(image.status("1000:1001").pendingTracks < 16);
});

Workloads("should stop on request and free its thread id", async () => {
  const threadsBefore = image.threadIds.count;
  const workload = workloads.start(image, spec({ rw: "read", pattern: "seq" }));
  assert.is(image.threadIds.count, threadsBefore + 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await workload.stop();
  assert.is(workload.running, false);
  assert.is(image.threadIds.count, threadsBefore);
  assert.equal(workloads.runningOn(image, "1000"), []);
});

// Its schedule, not the machine's load, decides the count: every I/O the
// rate asks for in the duration is either run or given up as missed (a
// stalled thread does not burst to catch up), never run early.
Workloads("should pace I/O to -iops, running or counting as missed each I/O its schedule holds", async () => {
  const workload = workloads.start(image, spec({ rw: "read", iopsMax: 400, durationMs: 250 }));
  await workload.done;
  assert.is(workload.ios + workload.missed, 100, `400 IOPS for 0.25 s is 100 I/Os: ran ${workload.ios}, missed ${workload.missed}`);
  assert.ok(workload.ios > 0, "it ran some");
});

Workloads("should not count missed I/Os without -iops", async () => {
  const workload = workloads.start(image, spec({ rw: "read", durationMs: 50 }));
  await workload.done;
  assert.ok(workload.ios > 0);
  assert.is(workload.missed, 0);
});

Workloads("should fail with the core's refusal as an engine error", async () => {
  image.establish("1001", "1000", { nocopy: true, tgtinhibit: true });
  const workload = workloads.start(image, spec({ durationMs: 1000 }));
  await workload.done;
  assert.instance(workload.error, EngineError);
  assert.is(workload.error?.code, "TARGET_WRITE_INHIBITED");
  assert.is(workload.ios, 0);
});

Workloads("should refuse bad specs before starting a thread", () => {
  const threads = image.threadIds.count;
  for (const [overrides, mention] of [
    [{ blockBytes: 100 }, "block size 100"],
    [{ blockBytes: 2048 * 512 * 2 }, "block size 2097152"],
    [{ volumeId: "1002", blockBytes: 4096 }, "larger than volume 1002"],
    [{ iopsMax: -1 }, "-iops"],
    [{ durationMs: 0 }, "-duration"],
    [{ seed: 2 ** 32 }, "seed"],
  ] as const) {
    try {
      workloads.start(image, spec(overrides));
      assert.unreachable(`should refuse ${mention}`);
    } catch (error) {
      assert.instance(error, EngineError);
      assert.is((error as EngineError).code, "BAD_ARGUMENT");
      assert.ok((error as EngineError).message.includes(mention), (error as EngineError).message);
    }
  }
  assert.is(image.threadIds.count, threads);
  assert.equal(workloads.list(), []);
});

Histogram.run();
Workloads.run();
