// State files of format version 1 (flat bitmaps, volumes of at most 4 GiB)
// still load, with the same volumes, data and relationships. The fixture was
// saved by tzero at commit 3c450c5, the last one writing version 1, from the
// script in fixtures/saved-in-format-1.md, which also wrote the description of
// its images (describeState) that the loaded images must equal.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadState, saveState } from "../../src/store/index.js";
import { describeState, temporaryDirectory } from "./support.js";
import { join } from "node:path";

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/store/fixtures/${name}`, import.meta.url));

test("should load a state file of format 1 with identical volumes and relationships", async () => {
  const expected: unknown = JSON.parse(readFileSync(fixture("saved-in-format-1.json"), "utf8"));
  const images = await loadState(fixture("saved-in-format-1.tz0"), { workers: 0 });
  try {
    assert.equal(JSON.parse(JSON.stringify(describeState(images))), expected);
  } finally {
    await Promise.all(images.map((image) => image.close()));
  }
});

test("should save what it loaded from format 1 in the current format, and load that alike", async () => {
  const folder = temporaryDirectory();
  const images = await loadState(fixture("saved-in-format-1.tz0"), { workers: 0 });
  try {
    // A loaded copy that is complete (2000:2101) is marked synced by the
    // image's next poll, which may come while the save runs: poll first.
    for (const image of images) image.poll();
    const file = join(folder.path, "again.tz0");
    await saveState(images, file);
    const again = await loadState(file, { workers: 0 });
    assert.equal(describeState(again), describeState(images));
    await Promise.all(again.map((image) => image.close()));
  } finally {
    await Promise.all(images.map((image) => image.close()));
    folder.remove();
  }
});

test.run();
