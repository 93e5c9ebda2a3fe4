// `fill` and `write` run in chunks: an abort of the script's signal (Ctrl-C)
// stops them with an error that says how much was written.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ScriptError } from "../../src/lang/errors.js";
import { currentEngineImage, recordedSession, runOk } from "./support.js";

const FillCommand = suite("fill and write commands");

FillCommand("should fill a whole volume as one synchronous pattern would", async () => {
  const recorded = recordedSession();
  try {
    const lines = await runOk(recorded, "mkfbvol -cap 8192 -type blocks 1000 1001\nfill 1000 -pattern random -seed 5\nfill 1001 -pattern 0x00");
    assert.ok(lines.some((line) => line.includes("volume 1000 filled (4194304 bytes)")), lines.join("\n"));
    const image = currentEngineImage(recorded.session);
    image.writePattern("1001", 0, 4 << 20, 5);
    assert.is(image.checksum("1000"), image.checksum("1001"));
  } finally {
    await recorded.session.close();
  }
});

FillCommand("should stop a fill when the script is cancelled, saying how much it wrote", async () => {
  const recorded = recordedSession();
  const controller = new AbortController();
  try {
    await runOk(recorded, "mkfbvol -cap 131072 -type blocks 1000");
    const image = currentEngineImage(recorded.session);
    // Cancelled once the fill has written its first chunk.
    const watcher = setInterval(() => { if (image.allocatedBytes("1000") > 0) controller.abort(); }, 0);
    let error: unknown = null;
    try {
      await recorded.session.runSource("write 1000 -pattern 0x11 -offset 4096 -len 67104768", "t.tzs", { signal: controller.signal });
    } catch (caught) {
      error = caught;
    } finally {
      clearInterval(watcher);
    }
    assert.instance(error, ScriptError);
    assert.is((error as ScriptError).code, "CANCELLED");
    assert.match((error as ScriptError).message, /filling volume 1000 cancelled after \d+ of 67104768 bytes/);
  } finally {
    await recorded.session.close();
  }
});

FillCommand.run();
