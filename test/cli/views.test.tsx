// The live views of `watch` and `mkflash -wait`, rendered with ink to a fake
// terminal and read back with colour codes stripped.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { render } from "ink";
import { StorageImage } from "../../src/engine/image.js";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import type { HostIoStats, WatchRequest, WorkloadStats } from "../../src/lang/presenter.js";
import { WatchView } from "../../src/cli/views/components/watch-view.js";
import { InkPresenter } from "../../src/cli/views/ink-presenter.js";
import { CopyTracker, type CopyRow } from "../../src/cli/views/copy-tracker.js";
import { formatEta, formatLatency, formatPercent, progressBar } from "../../src/cli/views/format.js";
import { FakeKeyboard, FakeScreen, until } from "./fake-terminal.js";

const TRACK_BLOCKS = TRACK_SIZE / 512;

const Figures = suite("figures");
Figures("should never show a partly copied relationship as a full bar", () => {
  assert.is(progressBar(0.999, 10), "█████████░");
  assert.is(progressBar(1, 10), "██████████");
  assert.is(progressBar(0, 4), "░░░░");
});
Figures("should round percent copied down to a tenth", () => {
  assert.is(formatPercent(1, 3), "33.3%");
  assert.is(formatPercent(15, 16), "93.7%");
  assert.is(formatPercent(16, 16), "100.0%");
});
Figures("should give the time left from bytes left and rate", () => {
  assert.is(formatEta(10 * 1_000_000, 1_000_000), "0:10");
  assert.is(formatEta(3725 * 1000, 1000), "1:02:05");
  assert.is(formatEta(1, 0), "—");
  assert.is(formatEta(96 * 65536, 1e-70), "—", "a rate decayed towards 0 gives no ETA, not ages");
  assert.is(formatEta(0, 0), "0:00");
});
Figures("should give latency in µs below a millisecond, else in ms", () => {
  assert.is(formatLatency(41.4), "41 µs");
  assert.is(formatLatency(1250), "1.3 ms");
});
Figures.run();

const View = suite("watch view");
View("should draw a bar, percent, tracks left, MB/s and ETA per relationship, a line per workload and per NBD host", () => {
  const screen = new FakeScreen();
  const copies: CopyRow[] = [
    { id: "1000:1001", kind: "flash", trackCount: 16384, tracksLeft: 8192, bytesPerSecond: 250_000_000, state: "copying" },
    { id: "1002:1003", kind: "flash", trackCount: 16, tracksLeft: 0, bytesPerSecond: 0, state: "copied" },
  ];
  const workloads: WorkloadStats[] = [
    { name: "oltp", volumeId: "1000", running: true, iops: 12345.6, bytesPerSecond: 48_200_000, p50Micros: 41, p99Micros: 1800, ios: 99 },
  ];
  const hosts: HostIoStats[] = [{ name: "prod", nbd: "127.0.0.1:10809", clients: 2, iops: 20_500.2, bytesPerSecond: 84_000_000, meanMicros: 312 }];
  const view = render(<WatchView imageId="IBM.2105-75TZ001" copies={copies} workloads={workloads} hosts={hosts} showKeys={true} />, {
    stdout: screen as unknown as NodeJS.WriteStream, patchConsole: false,
  });
  view.unmount();
  const lines = screen.text.split("\n");
  const first = lines.find((line) => line.startsWith("1000:1001"));
  assert.ok(first, screen.text);
  assert.match(first, /████████████░░░░░░░░░░░░  50\.0%/);
  assert.match(first, /8,192 of 16,384 tracks left/);
  assert.match(first, /250\.0 MB\/s/);
  // 8192 tracks of 64 KiB at 250 MB/s: 2.15 s, shown rounded up.
  assert.match(first, /ETA 0:03/);
  const second = lines.find((line) => line.startsWith("1002:1003"));
  assert.match(second ?? "", /100\.0%\s+0 of 16 tracks left .* copied/);
  const workload = lines.find((line) => line.startsWith("workload oltp"));
  assert.match(workload ?? "", /workload oltp on 1000\s+12,346 IOPS\s+48\.2 MB\/s\s+p50 41 µs\s+p99 1\.8 ms/);
  const host = lines.find((line) => line.startsWith("nbd host prod"));
  assert.match(host ?? "", /nbd host prod \(127\.0\.0\.1:10809, 2 clients\)\s+20,500 IOPS\s+84\.0 MB\/s\s+mean 312 µs in the server/);
  assert.match(screen.text, /q stops watching/);
});
View("should title PPRC pairs' Copy Pending and show a pair in sync", () => {
  const screen = new FakeScreen();
  const copies: CopyRow[] = [
    { id: "1000:2000", kind: "pprc", trackCount: 64, tracksLeft: 16, bytesPerSecond: 1_000_000, state: "copying" },
    { id: "1001:2001", kind: "pprc", trackCount: 64, tracksLeft: 0, bytesPerSecond: 0, state: "copied" },
  ];
  const view = render(<WatchView imageId="IBM.2107-75SITEA" copies={copies} workloads={[]} showKeys={false} />, {
    stdout: screen as unknown as NodeJS.WriteStream, patchConsole: false,
  });
  view.unmount();
  assert.match(screen.text, /Remote Mirror and Copy: Copy Pending on IBM\.2107-75SITEA/);
  assert.match(screen.text.split("\n").find((line) => line.startsWith("1000:2000")) ?? "", /75\.0%\s+16 of 64 tracks left/);
  assert.match(screen.text.split("\n").find((line) => line.startsWith("1001:2001")) ?? "", /in sync/);
});
View.run();

// A request over a real image; workers: 0 so copies advance only when the test copies tracks.
function watchRequest(image: StorageImage, overrides: Partial<WatchRequest> = {}): WatchRequest {
  return {
    site: new EmbeddedSite({ adopt: [image] }), imageId: image.id, pairs: [], workloads: async () => [], until: "copied", signal: new AbortController().signal, refreshMs: 10, ...overrides,
  };
}

function newImage(): StorageImage {
  const image = new StorageImage({ workers: 0, progressIntervalMs: 10 });
  for (const id of ["1000", "1001", "1002", "1003"]) image.createVolume({ id, capacity: 16 * TRACK_BLOCKS });
  return image;
}

const Presenter = suite("ink presenter");
let image: StorageImage;
Presenter.before.each(() => {
  image = newImage();
});
Presenter.after.each(() => image.close());

Presenter("should end by itself when the followed copies complete, showing them copied", async () => {
  image.establish("1000", "1001");
  image.copyTracks("1000:1001", 0, 8);
  const screen = new FakeScreen();
  const keyboard = new FakeKeyboard();
  let interrupted = 0;
  const presenter = new InkPresenter({ stdout: screen, stdin: keyboard, onInterrupt: () => interrupted++ });
  const watching = presenter.watch(watchRequest(image, { pairs: ["1000:1001"] }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  image.copyTracks("1000:1001", 8, 8);
  await watching;
  // The view ends as soon as no track is left; the engine ends the relationship at its next progress tick.
  await until("a completed copy ends its relationship", () => !image.hasRelationship("1000:1001"));
  const final = /1000:1001\s+█{24}\s+100\.0%\s+0 of 16 tracks left\s+([\d.]+) MB\/s avg\s+copied/.exec(screen.text);
  assert.ok(final, screen.text);
  assert.ok(Number(final[1]) > 0, "a copied relationship shows its average rate");
  assert.is(interrupted, 0);
  assert.is(keyboard.isRaw, false, "ink gives raw mode back");
});

Presenter("should end on q without interrupting, leaving the copy running", async () => {
  image.establish("1000", "1001");
  image.copyTracks("1000:1001", 0, 4);
  const screen = new FakeScreen();
  const keyboard = new FakeKeyboard();
  let interrupted = 0;
  const presenter = new InkPresenter({ stdout: screen, stdin: keyboard, onInterrupt: () => interrupted++ });
  const watching = presenter.watch(watchRequest(image, { until: "cancel" }));
  await until("raw mode for the view", () => keyboard.isRaw);
  keyboard.type("q");
  await watching;
  assert.is(interrupted, 0);
  assert.is(image.status("1000:1001").pendingTracks, 12);
  assert.match(screen.text, /1000:1001\s+█{6}░{18}\s+25\.0%\s+12 of 16 tracks left\s+0\.0 MB\/s\s+ETA —/);
  assert.not.match(screen.text.split("\n").slice(-3).join("\n"), /q stops watching/);
});

Presenter("should interrupt the statement on Ctrl-C", async () => {
  image.establish("1000", "1001");
  const screen = new FakeScreen();
  const keyboard = new FakeKeyboard();
  let interrupted = 0;
  const presenter = new InkPresenter({ stdout: screen, stdin: keyboard, onInterrupt: () => interrupted++ });
  const watching = presenter.watch(watchRequest(image));
  await until("raw mode for the view", () => keyboard.isRaw);
  keyboard.type("\u0003");
  await watching;
  assert.is(interrupted, 1);
  assert.match(screen.text, /0\.0%\s+16 of 16 tracks left/);
});

Presenter("should end when the request's signal aborts", async () => {
  image.establish("1000", "1001");
  const controller = new AbortController();
  const presenter = new InkPresenter({ stdout: new FakeScreen(), stdin: new FakeKeyboard(), onInterrupt: () => {} });
  const watching = presenter.watch(watchRequest(image, { signal: controller.signal, until: "cancel" }));
  setTimeout(() => controller.abort(), 30);
  await watching;
  assert.ok(image.hasRelationship("1000:1001"));
});

Presenter("should hand the terminal over and back around the view", async () => {
  const calls: string[] = [];
  image.establish("1000", "1001");
  image.copyTracks("1000:1001", 0, 16);
  const presenter = new InkPresenter({
    stdout: new FakeScreen(), stdin: new FakeKeyboard(), onInterrupt: () => {},
    takeTerminal: () => calls.push("take"), releaseTerminal: () => calls.push("release"),
  });
  await presenter.watch(watchRequest(image));
  assert.equal(calls, ["take", "release"]);
});

Presenter("should show running workloads with their figures and leave out stopped ones", async () => {
  image.establish("1000", "1001");
  const screen = new FakeScreen();
  const controller = new AbortController();
  const workloads: WorkloadStats[] = [
    { name: "oltp", volumeId: "1000", running: true, iops: 2000, bytesPerSecond: 8_192_000, p50Micros: 120, p99Micros: 950, ios: 10 },
    { name: "batch", volumeId: "1002", running: false, iops: 0, bytesPerSecond: 0, p50Micros: 0, p99Micros: 0, ios: 5 },
  ];
  const presenter = new InkPresenter({ stdout: screen, stdin: new FakeKeyboard(), onInterrupt: () => {} });
  const watching = presenter.watch(watchRequest(image, { signal: controller.signal, workloads: async () => workloads }));
  setTimeout(() => controller.abort(), 30);
  await watching;
  assert.match(screen.text, /workload oltp on 1000\s+2,000 IOPS\s+8\.2 MB\/s\s+p50 120 µs\s+p99 950 µs/);
  assert.not.match(screen.text, /batch/);
});

Presenter("should read no keys from an input that is not a terminal", async () => {
  image.establish("1000", "1001");
  const keyboard = new FakeKeyboard(false);
  const screen = new FakeScreen();
  const presenter = new InkPresenter({ stdout: screen, stdin: keyboard, onInterrupt: () => {} });
  const watching = presenter.watch(watchRequest(image));
  setTimeout(() => image.copyTracks("1000:1001", 0, 16), 30);
  await watching;
  assert.equal(keyboard.rawModeChanges, []);
  assert.not.match(screen.text, /q stops watching/);
  assert.match(screen.text, /100\.0%/);
});
Presenter.run();

const Tracker = suite("copy tracker");
let tracked: StorageImage;
Tracker.before.each(() => {
  tracked = newImage();
});
Tracker.after.each(() => tracked.close());

Tracker("should follow every background copy when no pair is named, also ones established later", async () => {
  tracked.establish("1000", "1001");
  const tracker = new CopyTracker(new EmbeddedSite({ adopt: [tracked] }), tracked.id, []);
  assert.equal((await tracker.sample()).map((row) => row.id), ["1000:1001"]);
  tracked.establish("1002", "1003", { nocopy: true });
  assert.equal((await tracker.sample()).map((row) => row.id), ["1000:1001"], "-nocp relationships have no background copy");
  tracker.dispose();
});

Tracker("should tell a withdrawn relationship from a copied one", async () => {
  tracked.establish("1000", "1001");
  tracked.establish("1002", "1003");
  const tracker = new CopyTracker(new EmbeddedSite({ adopt: [tracked] }), tracked.id, ["1000:1001", "1002:1003"]);
  (await tracker.sample());
  tracked.copyTracks("1002:1003", 0, 16);
  tracked.poll();
  tracked.withdraw("1000:1001");
  const rows = (await tracker.sample());
  assert.equal(rows.map((row) => [row.id, row.state, row.tracksLeft]), [["1000:1001", "withdrawn", 16], ["1002:1003", "copied", 0]]);
  assert.ok(CopyTracker.settled(rows));
  tracker.dispose();
});

Tracker("should count a named pair that completed before the view looked as copied", async () => {
  tracked.establish("1000", "1001");
  tracked.copyTracks("1000:1001", 0, 16);
  tracked.poll();
  const tracker = new CopyTracker(new EmbeddedSite({ adopt: [tracked] }), tracked.id, ["1000:1001"]);
  assert.equal((await tracker.sample()), [{ id: "1000:1001", kind: "flash", trackCount: 16, tracksLeft: 0, bytesPerSecond: 0, state: "copied" }]);
  tracker.dispose();
});

Tracker("should not be settled while a copy runs", async () => {
  tracked.establish("1000", "1001");
  const tracker = new CopyTracker(new EmbeddedSite({ adopt: [tracked] }), tracked.id, ["1000:1001"]);
  assert.not.ok(CopyTracker.settled((await tracker.sample())));
  tracker.dispose();
});
Tracker.run();

const Held = suite("a held copy");
Held("should show a copy that cannot go on as held, with its reason, and settle the view", async () => {
  const image = new StorageImage({ workers: 1 });
  try {
    image.createVolume({ id: "1000", capacity: 16 * TRACK_BLOCKS });
    image.createVolume({ id: "1001", capacity: 16 * TRACK_BLOCKS });
    image.writePattern("1000", 0, TRACK_SIZE, 1);
    image.core.exports.fault_arm_abort(1);
    image.establish("1000", "1001");
    const tracker = new CopyTracker(new EmbeddedSite({ adopt: [image] }), image.id, ["1000:1001"]);
    await until("the copy is held", () => image.status("1000:1001").state !== "Valid", 60_000);
    const [row] = (await tracker.sample());
    assert.is(row.state, "held");
    assert.match(row.reason ?? "", /^Tgt Failed: the core aborted/);
    assert.ok(CopyTracker.settled([row]), "a held copy ends a view waiting for copies");
    tracker.dispose();
  } finally {
    await image.close();
  }
});
Held.run();
