// `import` and `export` move a file a chunk at a time: the event loop runs
// between chunks, and an abort of the script's signal (Ctrl-C) stops them with
// an error that says how far they got; a cancelled export leaves no file.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScriptError } from "../../src/lang/errors.js";
import { currentEngineImage, recordedSession, runOk } from "./support.js";

const MiB = 1 << 20;
const ImportExport = suite("import and export commands");

let folder: string;
ImportExport.before.each(() => {
  folder = mkdtempSync(join(tmpdir(), "tzero-import-export-"));
});
ImportExport.after.each(() => {
  rmSync(folder, { recursive: true, force: true });
});

// Runs `source` with a signal that `abortWhen` aborts, polled from a timer; returns the error.
async function cancelled(recorded: ReturnType<typeof recordedSession>, source: string, abortWhen: () => boolean): Promise<ScriptError> {
  const controller = new AbortController();
  const watcher = setInterval(() => { if (abortWhen()) controller.abort(); }, 0);
  try {
    await recorded.session.runSource(source, join(folder, "t.tzs"), { signal: controller.signal });
  } catch (error) {
    assert.instance(error, ScriptError);
    return error as ScriptError;
  } finally {
    clearInterval(watcher);
  }
  throw new Error(`${source} was not cancelled`);
}

ImportExport("should let timers run while an export writes, and write every byte", async () => {
  const recorded = recordedSession({ cwd: folder });
  try {
    await runOk(recorded, "mkfbvol -cap 32768 -type blocks 1000\nfill 1000 -pattern random -seed 3");
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 0);
    try {
      await runOk(recorded, "export 1000 out.bin\nmkfbvol -cap 32768 -type blocks 1001\nimport 1001 out.bin");
    } finally {
      clearInterval(timer);
    }
    assert.ok(ticks > 0, "a timer fired during the export and the import");
    const image = currentEngineImage(recorded.session);
    assert.is(image.checksum("1001"), image.checksum("1000"));
  } finally {
    await recorded.session.close();
  }
});

ImportExport("should stop an export when cancelled, leaving neither the file nor a temporary one", async () => {
  const recorded = recordedSession({ cwd: folder });
  try {
    await runOk(recorded, "mkfbvol -cap 65536 -type blocks 1000\nfill 1000 -pattern 0x5a");
    // The temporary file may be renamed between the listing and the stat: gone is not written yet.
    const temporaryWritten = () => readdirSync(folder).some((name) => name.endsWith(".tmp") && (statSync(join(folder, name), { throwIfNoEntry: false })?.size ?? 0) > 0);
    const error = await cancelled(recorded, "export 1000 out.bin", temporaryWritten);
    assert.is(error.code, "CANCELLED");
    assert.match(error.message, /export of volume 1000 to \S+out\.bin cancelled after \d+ of 33554432 bytes/);
    assert.equal(readdirSync(folder), []);
  } finally {
    await recorded.session.close();
  }
});

ImportExport("should stop an import when cancelled, saying how much it wrote", async () => {
  writeFileSync(join(folder, "in.bin"), new Uint8Array(32 * MiB).fill(7));
  const recorded = recordedSession({ cwd: folder });
  try {
    await runOk(recorded, "mkfbvol -cap 65536 -type blocks 1000");
    const image = currentEngineImage(recorded.session);
    const error = await cancelled(recorded, "import 1000 in.bin", () => image.allocatedBytes("1000") > 0);
    assert.is(error.code, "CANCELLED");
    assert.match(error.message, /import of \S+in\.bin cancelled after \d+ of 33554432 bytes; bytes 0 to \d+ of volume 1000 were written/);
  } finally {
    await recorded.session.close();
  }
});

ImportExport.run();
