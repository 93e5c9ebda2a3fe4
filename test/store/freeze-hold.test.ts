// A -freeze hold (mkflash -freeze: the source's writes held, long busy, until
// unfreezeflash or its LSS's timeout) in the state file: it loads held, with
// the deadline it had, and unfreezeflash or that deadline ends it; a hold
// whose deadline passed while no process ran loads ended, as a DS8000's
// extended long busy ends at its timeout.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { once } from "node:events";
import { join } from "node:path";
import { StorageImage } from "../../src/engine/image.js";
import { EngineError } from "../../src/engine/errors.js";
import { saveState, loadState } from "../../src/store/index.js";
import { temporaryDirectory } from "./support.js";

const BLOCKS = 2048; // 1 MiB

let folder: ReturnType<typeof temporaryDirectory>;
let open: StorageImage[] = [];

function frozen(freezeTimeoutMs: number): StorageImage {
  const image = new StorageImage({ model: "2107", serial: "75HOLD1", workers: 0, freezeTimeoutMs });
  open.push(image);
  image.createVolume({ id: "1000", capacity: BLOCKS, unit: "blocks" });
  image.createVolume({ id: "1001", capacity: BLOCKS, unit: "blocks" });
  image.establish("1000", "1001", { nocopy: true, freeze: true });
  return image;
}

async function saveAndLoad(image: StorageImage): Promise<StorageImage> {
  const file = join(folder.path, "hold.tz0");
  await saveState([image], file);
  const [loaded] = await loadState(file, { workers: 0 });
  open.push(loaded);
  return loaded;
}

function longBusy(image: StorageImage): boolean {
  try {
    image.write("1000", 0, new Uint8Array(512).fill(1));
    return false;
  } catch (error) {
    if (error instanceof EngineError && error.code === "LONG_BUSY") return true;
    throw error;
  }
}

const Hold = suite("a -freeze hold in the state file");
Hold.before.each(() => {
  folder = temporaryDirectory();
  open = [];
});
Hold.after.each(async () => {
  await Promise.all(open.map((each) => each.close()));
  folder.remove();
});

Hold("should load a held source long busy until unfreezeflash, as before the save", async () => {
  const image = frozen(60_000);
  const deadline = image.freezeDeadline("10");
  assert.ok(deadline !== null, "the hold has a deadline");
  const loaded = await saveAndLoad(image);
  assert.is(loaded.relationship("1000:1001").writesHeld, true, "the loaded relationship holds its source's writes");
  assert.is(loaded.freezeDeadline("10"), deadline, "with the deadline it had");
  assert.ok(longBusy(loaded), "a write to the loaded source is long busy");
  loaded.write("1001", 0, new Uint8Array(512)); // the target takes writes
  assert.equal(loaded.unfreeze("10"), ["1000:1001"]);
  assert.is(longBusy(loaded), false, "unfreezeflash lets the writes through");
  assert.is(loaded.freezeDeadline("10"), null);
});

Hold("should end a loaded hold by itself at the deadline it was saved with", async () => {
  const loaded = await saveAndLoad(frozen(1_500));
  assert.ok(longBusy(loaded), "held after the load");
  // The freeze timer does not keep a process alive; this test's own timer does, meanwhile.
  const alive = setTimeout(() => undefined, 60_000);
  const [event] = await once(loaded, "unfrozen");
  clearTimeout(alive);
  assert.equal(event, { lss: "10", released: ["1000:1001"], reason: "timeout" });
  assert.is(longBusy(loaded), false);
});

Hold("should load a hold whose timeout passed before the load as ended", async () => {
  const image = frozen(1_500);
  const file = join(folder.path, "hold.tz0");
  await saveState([image], file);
  assert.is(image.relationship("1000:1001").writesHeld, true, "the save ran while the hold was on");
  const ends = image.freezeDeadline("10")!;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, ends - Date.now()) + 50));
  const [loaded] = await loadState(file, { workers: 0 });
  open.push(loaded);
  assert.is(loaded.relationship("1000:1001").writesHeld, false, "the hold ended at its timeout while no process ran");
  assert.is(loaded.freezeDeadline("10"), null);
  assert.is(longBusy(loaded), false);
});

Hold.run();
