// `save` and `load` as commands: a cancelled script (Ctrl-C) abandons them,
// leaving the file, and the session's images, as they were.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScriptError } from "../../src/lang/errors.js";
import { recordedSession, runOk, sessionFingerprint } from "./support.js";

const StateCommands = suite("save and load commands");

async function cancelled(run: (signal: AbortSignal) => Promise<void>): Promise<ScriptError> {
  try {
    await run(AbortSignal.abort());
  } catch (error) {
    assert.instance(error, ScriptError);
    return error as ScriptError;
  }
  return assert.unreachable("expected the command to be abandoned") as never;
}

StateCommands("should abandon a save or a load when the script is cancelled", async () => {
  const folder = mkdtempSync(join(tmpdir(), "tzero-state-commands-"));
  const recorded = recordedSession({ cwd: folder });
  try {
    await runOk(recorded, "mkfbvol -cap 4096 -type blocks 1000\nwrite 1000 -offset 0 -len 65536 -pattern 0x42\nsave saved.tzs");
    const saved = readFileSync(join(folder, "saved.tzs"));
    await runOk(recorded, "write 1000 -offset 0 -len 65536 -pattern 0x43");
    const save = await cancelled((signal) => recorded.session.runSource("save saved.tzs", "t.tzs", { signal }));
    assert.is(save.code, "CANCELLED", save.message); // stopped before the command ran
    const before = (await sessionFingerprint(recorded.session));
    // A signal aborted while the save runs (it has opened its temporary
    // file by the next turn of the event loop) reaches the store.
    const controller = new AbortController();
    const running = recorded.session.runSource("save saved.tzs", "t.tzs", { signal: controller.signal });
    setImmediate(() => controller.abort());
    const error = await running.then(() => null, (caught: unknown) => caught);
    assert.instance(error, ScriptError);
    assert.is((error as ScriptError).code, "ABANDONED", (error as ScriptError).message);
    assert.match((error as ScriptError).message, /abandoned/);
    assert.equal(readFileSync(join(folder, "saved.tzs")), saved, "the file is as the first save left it");
    assert.equal(readdirSync(folder), ["saved.tzs"], "no temporary file is left");
    assert.is((await sessionFingerprint(recorded.session)), before);
    writeFileSync(join(folder, "copy.tzs"), saved);
    const load = await cancelled((signal) => recorded.session.runSource("load copy.tzs", "t.tzs", { signal }));
    assert.is(load.code, "CANCELLED", load.message);
    assert.is((await sessionFingerprint(recorded.session)), before, "the session's images are still its own");
  } finally {
    await recorded.session.close();
    rmSync(folder, { recursive: true, force: true });
  }
});

StateCommands.run();
