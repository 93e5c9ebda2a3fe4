// The benchmark harness: its TypeScript baselines answer like the core, its
// filter and arguments behave, and a run writes a complete record. No timing
// is asserted here: a benchmark is never a timed test.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageImage } from "../../src/engine/image.js";
import { CoreThread, coreModule } from "../../src/core/core.js";
import { wordFindPending, wordFindMany, coreSweep, wordSweep, leavePending } from "../../bench/figures/scan.js";
import { controlLeaf } from "../../bench/harness/fixtures.js";
import { formatTable, formatMarkdownTable, formatRatioWithSpread } from "../../bench/harness/report.js";
import { spreadOf } from "../../bench/harness/stats.js";
import { runBench } from "../../bench/run.js";
import type { FigureResult } from "../../bench/harness/suite.js";
import { Random, testSeed } from "../support/random.js";

// Output of runBench goes to stdout; keep the test log readable.
async function quietly<T>(action: () => Promise<T>): Promise<T> {
  const write = process.stdout.write.bind(process.stdout);
  const writeError = process.stderr.write.bind(process.stderr);
  process.stdout.write = () => true;
  process.stderr.write = () => true;
  try {
    return await action();
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeError;
  }
}

// A bitmap of random size and density in the staging buffer (scratch:
// nothing else uses it in these tests), as the TypeScript scans see it.
function randomBitmap(image: StorageImage, random: Random): { words: Uint32Array; wordCount: number } {
  const wordCount = 2 * random.int(1, 64); // the core's bitmaps have an even number of u64 words
  const words = new Uint32Array(image.memory.buffer, image.core.stagingPointer, wordCount * 2);
  const density = random.pick([0, 1, 8, 64, 512]);
  words.fill(0);
  for (let bit = 0; bit < density; bit++) {
    const track = random.int(0, wordCount * 64 - 1);
    words[track >>> 5] |= 1 << (track & 31);
  }
  return { words, wordCount };
}

test("should find the tracks the core scan finds, one at a time and a batch at a time, with the TypeScript word scan", async () => {
  const seed = testSeed();
  const random = new Random(seed);
  const image = new StorageImage({ workers: 0 });
  try {
    const exports = image.core.exports;
    const bitmap = image.core.stagingPointer;
    for (let trial = 0; trial < 20; trial++) {
      const { words, wordCount } = randomBitmap(image, random);
      const into = new Uint32Array(random.int(1, 40));
      for (let from = 0; from <= wordCount * 64; from += random.int(1, 97)) {
        const next = exports.scan_find(bitmap, wordCount, from);
        assert.is(wordFindPending(words, from), next, `word scan from ${from} (seed ${seed})`);
        const expected: number[] = [];
        for (let track = next; track >= 0 && expected.length < into.length; track = exports.scan_find(bitmap, wordCount, track + 1)) expected.push(track);
        const found = wordFindMany(words, from, into);
        assert.equal(Array.from(into.subarray(0, found)), expected, `batch of ${into.length} from ${from} (seed ${seed})`);
      }
    }
  } finally {
    await image.close();
  }
});

// The scan bench's sweeps stop at a batch each calls the last without asking
// for an empty one: at 10% pending a 16 GiB bitmap takes two batches of up to
// 16,384 tracks, so a wrong rule for the first batch's end loses the second.
test("should find every pending track in each of the scan bench's sweeps, in one batch or two", async () => {
  const seed = testSeed();
  const image = new StorageImage({ workers: 0, model: "2107" });
  try {
    const tracks = 262_144;
    for (const fraction of [0.01, 0.1]) {
      const source = image.createVolume({ id: "1000", capacity: tracks * 128, unit: "blocks" });
      const target = image.createVolume({ id: "1001", capacity: tracks * 128, unit: "blocks" });
      const relationship = image.establish(source.id, target.id, { nocopy: true });
      const chosen = leavePending(image, relationship.id, tracks, fraction, seed);
      const { pointer, wordCount } = controlLeaf(image, relationship.slot);
      const words = new Uint32Array(image.memory.buffer, pointer, wordCount * 2);
      const expected = { count: chosen.length, sum: chosen.reduce((total, track) => (total + track) | 0, 0) };
      assert.equal(coreSweep(image, relationship.id)(), expected, `the core's sweep at ${fraction * 100}% (seed ${seed})`);
      assert.equal(wordSweep(words)(), expected, `the word scan's sweep at ${fraction * 100}% (seed ${seed})`);
      image.withdraw(relationship.id);
      image.removeVolume(source.id);
      image.removeVolume(target.id);
    }
  } finally {
    await image.close();
  }
});

// The write benchmarks write through a host thread of their own; in a full run
// it attaches once the image has passed 2 GiB, where the core's usize results
// come back to JavaScript as negative i32s.
test("should write through a host thread whose staging buffer lies above 2 GiB", async () => {
  const image = new StorageImage({ workers: 0 });
  const hostId = image.threadIds.take();
  try {
    const extentBytes = 1 << 20;
    const filler = image.createVolume({ id: "1000", capacity: (2100 * extentBytes) / 512, unit: "blocks" });
    // One byte per extent allocates it while touching a single page.
    for (let extent = 0; extent < 2100; extent++) image.fill(filler.id, extent * extentBytes, 1, 1);
    const volume = image.createVolume({ id: "1001", capacity: 128, unit: "blocks" });
    const host = new CoreThread(image.memory, hostId, coreModule());
    assert.ok(host.stagingPointer >= 2 ** 31, `staging at ${host.stagingPointer} lies above 2 GiB`);
    host.staging(4096).fill(0x5a);
    assert.is(host.exports.io_write(volume.slot, 0, 4096, host.stagingPointer), 0);
    assert.equal([...image.read(volume.id, 0, 4)], [0x5a, 0x5a, 0x5a, 0x5a]);
  } finally {
    image.core.exports.reap_thread(hostId);
    image.threadIds.release(hostId);
    await image.close();
  }
});

test("should list suites and refuse an unknown filter or a bad seed", async () => {
  assert.is(await quietly(() => runBench(["--list"])), 0);
  assert.is(await quietly(() => runBench(["no-such-figure"])), 2);
  assert.is(await quietly(() => runBench(["--seed", "minus one"])), 2);
  assert.is(await quietly(() => runBench(["--no-such-option"])), 2);
});

test("should print a verdict for every figure: met, NOT MET or reported", () => {
  const figure = (key: string, met: boolean | null): FigureResult => ({
    key, figure: key, value: "1 µs", bar: "≥ 2×", ratio: met === null ? null : 2, met, verified: "checked", details: {},
  });
  const table = formatTable([figure("a", true), figure("b", false), figure("c", null)]);
  const lines = table.split("\n");
  assert.is(lines.length, 5);
  assert.ok(/\bmet\b/.test(lines[2]), lines[2]);
  assert.ok(lines[3].includes("NOT MET"), lines[3]);
  assert.ok(lines[4].includes("reported"), lines[4]);
});

test("should print a figure's min–max over its rounds beside its median, in the table and the Markdown", () => {
  const figure: FigureResult = {
    key: "copy.one-worker", figure: "copy", value: "1 GiB/s", bar: "≥ 0.9×", ratio: 0.95, spread: spreadOf([0.91, 0.95, 0.98]),
    met: true, verified: "checked", details: {},
  };
  assert.is(formatRatioWithSpread(figure), "0.95× (0.91–0.98×)");
  assert.ok(formatTable([figure]).includes("0.95× (0.91–0.98×)"));
  assert.ok(formatMarkdownTable([figure]).includes("| 0.95× (0.91–0.98×) |"));
  assert.is(formatRatioWithSpread({ ...figure, spread: undefined }), "0.95×", "a figure without rounds shows its ratio alone");
});

test("should write a run record with the machine and every selected figure, each checked", async () => {
  const folder = mkdtempSync(join(tmpdir(), "tzero-bench-"));
  try {
    const path = join(folder, "record.json");
    const code = await quietly(() => runBench(["--quick", "model.mixed", "--json", path]));
    assert.ok(code === 0 || code === 1, `a run whose checks pass exits 0 or 1 (bar missed), not ${code}`);
    const record = JSON.parse(readFileSync(path, "utf8"));
    assert.ok(record.machine.cpuModel.length > 0);
    assert.ok(record.machine.cores >= 1);
    assert.ok(record.machine.node.startsWith("v"));
    assert.equal(record.failures, []);
    assert.equal(record.results.map((result: FigureResult) => result.key), ["model.mixed"]);
    assert.ok(record.results[0].verified.length > 0);
    assert.type(record.results[0].ratio, "number");
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test.run();
