// The plain-lines presenter: progress of background copies and workloads as
// lines at a steady interval, ending when the copies complete or on abort.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { StorageImage } from "../../src/engine/image.js";
import { PlainPresenter, copyLine, workloadLine } from "../../src/lang/plain-presenter.js";
import { recordedSession, runOk } from "./support.js";

const Lines = suite("plain lines");

Lines("should describe a copy and a workload in one line each", () => {
  assert.is(copyLine("1000:1001", 48, 64, 2_000_000), "1000:1001 background copy: 48 of 64 tracks left (25.0% done), 2.0 MB/s ETA 2s");
  assert.is(copyLine("1000:1001", 64, 64, 0), "1000:1001 background copy: 64 of 64 tracks left (0.0% done), 0.0 MB/s ETA —");
  assert.is(copyLine("1000:1001", 96, 32768, 1e-70), "1000:1001 background copy: 96 of 32768 tracks left (99.7% done), 0.0 MB/s ETA —", "no ETA of ages from a rate decayed towards 0");
  assert.is(
    workloadLine({ name: "oltp", volumeId: "1000", running: true, iops: 51234.4, bytesPerSecond: 209_856_000, p50Micros: 9.04, p99Micros: 41.5, ios: 9 }),
    "workload oltp on 1000: 51234 IOPS, 209.9 MB/s, p50 9.0 us, p99 41.5 us",
  );
});

const Watch = suite("watch");

Watch("should print progress until the followed copy completes", async () => {
  const image = new StorageImage({ workers: 0 });
  try {
    image.createVolume({ id: "1000", capacity: 4 * 128 });
    image.createVolume({ id: "1001", capacity: 4 * 128 });
    image.establish("1000", "1001", { persist: true });
    const lines: string[] = [];
    const presenter = new PlainPresenter((text) => lines.push(text));
    const watching = presenter.watch({
      site: new EmbeddedSite({ adopt: [image] }), imageId: image.id, pairs: ["1000:1001"], workloads: async () => [], until: "copied", signal: new AbortController().signal, refreshMs: 10,
    });
    await new Promise((resolve) => setTimeout(resolve, 35));
    image.copyTracks("1000:1001", 0, 4);
    await watching;
    assert.ok(lines.length >= 3, lines.join("\n"));
    assert.match(lines[0], /^1000:1001 background copy: 4 of 4 tracks left \(0\.0% done\)/);
    assert.is(lines[lines.length - 1], "1000:1001 background copy complete");
  } finally {
    await image.close();
  }
});

Watch("should print a PPRC pair's Copy Pending until it is Full Duplex, from mkpprc -wait", async () => {
  const recorded = recordedSession({ refreshMs: 5 });
  try {
    await runOk(recorded, `mksi -model 2107
mkfbvol -cap 1 -type ds 1000
mkfbvol -dev IBM.2107-75TZ002 -cap 1 -type ds 2000
fill 1000 -pattern random -seed 3
mkpprcpath -remotedev IBM.2107-75TZ002 -remotewwnn 5005076303FFC002 -srclss 10 -tgtlss 20 I0010:I0143`);
    const lines = await runOk(recorded, "mkpprc -remotedev IBM.2107-75TZ002 -type mmir -wait 1000:2000");
    const progress = lines.filter((line) => line.startsWith("1000:2000 Copy Pending"));
    assert.ok(progress.length >= 1, lines.join("\n"));
    assert.match(progress[0], /^1000:2000 Copy Pending: \d+ tracks out of sync, \d+ sent$/);
    assert.ok(lines.includes("1000:2000 copy complete (Full Duplex)"), lines.join("\n"));
    assert.is(lines[lines.length - 1], "CMUC09031I mkpprc: Remote Mirror and Copy volume pair 1000:2000 copy complete.");
  } finally {
    await recorded.session.close();
  }
});

Watch("should follow workloads until aborted, and watch -for ends by itself", async () => {
  const recorded = recordedSession({ refreshMs: 20 });
  try {
    await runOk(recorded, "mkfbvol -cap 256 -type blocks 1000\nworkload start w -vol 1000 -rw read -pattern seq -bs 4KiB -iops 1000");
    const started = performance.now();
    const lines = await runOk(recorded, "watch -for 100ms");
    assert.ok(performance.now() - started < 2000);
    assert.ok(lines.length >= 2, lines.join("\n"));
    assert.ok(lines.every((line) => /^workload w on 1000: \d+ IOPS/.test(line)), lines.join("\n"));
  } finally {
    await recorded.session.close();
  }
});

Watch("should end at once when the signal is already aborted", async () => {
  const image = new StorageImage({ workers: 0 });
  const controller = new AbortController();
  controller.abort();
  const lines: string[] = [];
  await new PlainPresenter((text) => lines.push(text)).watch({
    site: new EmbeddedSite({ adopt: [image] }), imageId: image.id, pairs: [], workloads: async () => [], until: "cancel", signal: controller.signal, refreshMs: 10,
  });
  assert.equal(lines, []);
  await image.close();
});

Lines.run();
Watch.run();
