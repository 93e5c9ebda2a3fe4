// The console's pure parts, in node: which listings an event refreshes, how
// a path's port pairs join, the throughput samples (idle gaps drawn as zero),
// the numbers' formats, and how an action quotes what a user typed.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { addSample, joinPaths, sectionsOf, THROUGHPUT_SECONDS, type ConsoleState, type Path } from "../../console/app/store.js";
import { bytes, eta, percent, rate } from "../../console/app/format.js";
import { word } from "../../console/app/components/actions.js";
import type { ProgressMessage } from "../../console/app/stream.js";

const Store = suite("console store");

Store("should refresh the listings an event's kind touches, and every listing for a kind it does not know", () => {
  assert.equal(sectionsOf("volume.created"), ["volumes", "images"]);
  assert.equal(sectionsOf("flash.withdrawn"), ["flash", "images"]);
  assert.equal(sectionsOf("pprc.made"), ["pprc", "paths"]);
  assert.equal(sectionsOf("path.made"), ["paths", "pprc"]);
  assert.equal(sectionsOf("task.ran"), ["tasks"]);
  assert.equal(sectionsOf("user.created"), []);
  assert.equal(sectionsOf("takeover"), ["images", "volumes", "flash", "pprc", "paths", "ports", "tasks"]);
});

Store("should join lspprcpath's rows of one LSS pair into one path with all its port pairs", () => {
  const row = (port: string, image = "A"): Path => ({ image, source: "10", target: "20", state: "Success", ports: [port], targetWwnn: "W", reason: "-" });
  const joined = joinPaths([row("I0010:I0143"), row("I0011:I0142"), row("I0010:I0143", "B")]);
  assert.equal(joined.map((path) => [path.image, path.ports]), [["A", ["I0010:I0143", "I0011:I0142"]], ["B", ["I0010:I0143"]]]);
});

const progress = (time: string, flashRate: number): ProgressMessage => ({
  type: "progress", time, flash: flashRate === 0 ? [] : [{ image: "A", id: "1000:1001", tracksLeft: 1, trackCount: 2, bytesPerSecond: flashRate }], pprc: [],
});
const empty: ConsoleState["throughput"] = { seconds: [], flash: [], pprc: [] };

Store("should draw the seconds between two progress messages far apart as idle, at zero", () => {
  let samples = addSample(empty, progress("2026-12-01T10:00:00Z", 5e6));
  samples = addSample(samples, progress("2026-12-01T10:00:01Z", 7e6));
  samples = addSample(samples, progress("2026-12-01T10:00:30Z", 3e6));
  const t0 = Date.parse("2026-12-01T10:00:00Z") / 1000;
  assert.equal(samples.seconds.map((second) => second - t0), [0, 1, 2, 29, 30]);
  assert.equal(samples.flash, [5e6, 7e6, 0, 0, 3e6]);
  assert.equal(samples.pprc, [0, 0, 0, 0, 0]);
});

Store("should keep at most the chart's window of samples, and ignore one that is not newer", () => {
  let samples = empty;
  const start = Date.parse("2026-12-01T10:00:00Z");
  for (let second = 0; second < THROUGHPUT_SECONDS + 50; second++) samples = addSample(samples, progress(new Date(start + second * 1000).toISOString(), second));
  assert.is(samples.seconds.length, THROUGHPUT_SECONDS);
  assert.is(samples.flash[samples.flash.length - 1], THROUGHPUT_SECONDS + 49);
  assert.is(addSample(samples, progress(new Date(start).toISOString(), 1)), samples);
});

const Format = suite("console formats");

Format("should write sizes in binary units, rates in MB/s and time left from the rate", () => {
  assert.is(bytes(0), "0 B");
  assert.is(bytes(64 * 1024 * 1024), "64.0 MiB");
  assert.is(bytes(1024 ** 3), "1.00 GiB");
  assert.is(rate(0), "-");
  assert.is(rate(250e6), "250.0 MB/s");
  assert.is(eta(0, 0), "0s");
  assert.is(eta(100e6, 0), "-");
  assert.is(eta(90e6, 1e6), "1m 30s");
  assert.is(percent(512, 1024), 50);
  assert.is(percent(0, 0), 100);
});

Format("should quote a value holding a blank, and refuse one holding a quote or a line break", () => {
  assert.is(word("1000:1001"), "1000:1001");
  assert.is(word("my volume"), '"my volume"');
  assert.is(word(""), '""');
  assert.throws(() => word('a"b'), /double quote/);
  assert.throws(() => word("a\nrmfbvol 1000"), /line break/);
});

Store.run();
Format.run();
