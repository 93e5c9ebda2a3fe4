// State files of every format version this tzero reads load as they did when
// they were written: fixtures/format/version-1.tzs was written by the format-1
// store, and version-1.json is what that store loaded it as (describeState).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { StorageImage } from "../../src/engine/image.js";
import { saveState, loadState, FORMAT_VERSION } from "../../src/store/index.js";
import { describeState, temporaryDirectory } from "./support.js";

// The fixtures stay in the source tree; the compiled tests run from dist/.
const FIXTURES = fileURLToPath(new URL("../../../test/store/fixtures/format/", import.meta.url));

// `actual` cut down to the fields of `expected`, at every level: the fixture
// records what describeState showed when it was written, and fields added to
// it since (a relationship's state and reason) are not in it.
function fieldsOf(actual: unknown, expected: unknown): unknown {
  if (Array.isArray(actual) && Array.isArray(expected)) return actual.map((item, index) => fieldsOf(item, expected[index]));
  if (actual === null || expected === null || typeof actual !== "object" || typeof expected !== "object") return actual;
  return Object.fromEntries(Object.keys(expected).map((key) => [key, fieldsOf((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key])]));
}

function described(images: StorageImage[], expected: unknown): unknown {
  return fieldsOf(JSON.parse(JSON.stringify(describeState(images))), expected);
}

const Versions = suite("format versions");

Versions("should load a format-1 file as the format-1 store loaded it", async () => {
  const file = join(FIXTURES, "version-1.tzs");
  assert.is(new DataView(readFileSync(file).buffer).getUint32(8, true), 1, "the fixture is format 1");
  const expected = JSON.parse(readFileSync(join(FIXTURES, "version-1.json"), "utf8"));
  const loaded = await loadState(file, { workers: 0 });
  try {
    assert.equal(described(loaded, expected), expected);
    for (const image of loaded) {
      for (const relationship of image.listRelationships()) assert.is(image.status(relationship.id).state, "Valid", relationship.id);
      // Written before -tgtpprc was saved: none of its relationships has it.
      for (const relationship of image.listRelationships()) assert.is(image.status(relationship.id).tgtpprc, false, relationship.id);
    }
    assert.ok(loaded.some((image) => image.listRelationships().length > 0), "the fixture has relationships");
    // Saved again, it is a file of this version that loads alike.
    const folder = temporaryDirectory();
    try {
      const again = join(folder.path, "again.tzs");
      await saveState(loaded, again);
      assert.is(new DataView(readFileSync(again).buffer).getUint32(8, true), FORMAT_VERSION);
      const reloaded = await loadState(again, { workers: 0 });
      assert.equal(described(reloaded, expected), expected);
      await Promise.all(reloaded.map((image) => image.close()));
    } finally {
      folder.remove();
    }
  } finally {
    await Promise.all(loaded.map((image: StorageImage) => image.close()));
  }
});

Versions.run();
