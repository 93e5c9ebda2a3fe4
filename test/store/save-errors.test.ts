// A save that cannot complete leaves the previous file as it was, no
// temporary file behind, and the images running (thawed).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StorageImage } from "../../src/engine/image.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import { saveState } from "../../src/store/index.js";
import { temporaryDirectory, rejectsWithStore, assertSaveFailedCleanly } from "./support.js";

let folder: ReturnType<typeof temporaryDirectory>;
let image: StorageImage;
let file: string;
const previous = new TextEncoder().encode("the previous state file");

const SaveErrors = suite("failed saves");
SaveErrors.before.each(() => {
  folder = temporaryDirectory();
  image = new StorageImage({ workers: 0 });
  image.createVolume({ id: "1000", capacity: 64 * 128 });
  image.writePattern("1000", 0, 64 * TRACK_SIZE, 1);
  file = join(folder.path, "state.tzs");
  writeFileSync(file, previous);
});
SaveErrors.after.each(async () => {
  await image.close();
  folder.remove();
});

const unchanged = () => assertSaveFailedCleanly(image, folder.path, file, previous);

SaveErrors("should give up rather than keep host I/O frozen past its budget", async () => {
  const error = await rejectsWithStore(saveState([image], file, { frozenBudgetMs: 1e-6 }), "FROZEN_TOO_LONG");
  assert.ok(error.message.includes("budget"));
  unchanged();
});

SaveErrors("should refuse to save when the images cannot be quiesced", async () => {
  assert.is(image.core.exports.image_quiesce(), 0); // somebody holds the image quiesced already
  try {
    await rejectsWithStore(saveState([image], file), "BUSY");
  } finally {
    image.core.exports.image_resume();
  }
  unchanged();
});

SaveErrors("should report a folder that does not exist as an I/O error", async () => {
  const error = await rejectsWithStore(saveState([image], join(folder.path, "absent", "state.tzs")), "IO_ERROR");
  assert.ok(error.message.includes("absent"));
  unchanged();
});

SaveErrors("should refuse closed images and an image given twice", async () => {
  await rejectsWithStore(saveState([image, image], file), "BAD_ARGUMENT");
  const closed = new StorageImage({ workers: 0, serial: "75TZ009" });
  await closed.close();
  await rejectsWithStore(saveState([image, closed], file), "BAD_ARGUMENT");
  await rejectsWithStore(saveState([image], file, { frozenBudgetMs: 0 }), "BAD_ARGUMENT");
  unchanged();
});

SaveErrors("should replace the previous file on success", async () => {
  const report = await saveState([image], file);
  assert.is(report.bytesWritten, readFileSync(file).byteLength);
  assert.is(report.dataBytes, 64 * TRACK_SIZE);
  assert.ok(report.frozenMs <= report.elapsedMs);
  assert.equal(readdirSync(folder.path), ["state.tzs"]);
});

SaveErrors.run();
