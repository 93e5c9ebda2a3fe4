// The steps of the journal, seen through its file operations (a recording
// JournalFileSystem): the order that makes a new segment and a snapshot
// crash-safe (write, fsync, rename, fsync of the folder), an append that is
// one write and one fsync, and a snapshot that fails at any step leaving the
// journal as it was.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { appendFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { openJournal } from "../../src/store/index.js";
import { rejectsWithStore, temporaryDirectory } from "./support.js";
import { add, changes, ioFailure, recordingFileSystem, tallyOptions, type Operation } from "./journal-support.js";

let folder: ReturnType<typeof temporaryDirectory>;
let directory: string;

const Steps = suite("the steps of the journal");
Steps.before.each(() => {
  folder = temporaryDirectory();
  directory = join(folder.path, "server-state");
});
Steps.after.each(() => folder.remove());

const NEW_SEGMENT_1 = [
  "open .journal-1.TMP wx", "write .journal-1.TMP", "fsync .journal-1.TMP", "close .journal-1.TMP",
  "rename .journal-1.TMP → journal-1.tzj", "open . r", "fsync .", "close .", "open journal-1.tzj r+",
];

Steps("should start a journal with a segment written, fsynced, renamed into place and the folder fsynced", async () => {
  const { fileSystem, log } = recordingFileSystem(directory);
  const journal = await openJournal(directory, tallyOptions({ fileSystem }));
  assert.equal(changes(log), ["makeDirectory .", ...NEW_SEGMENT_1]);
  await journal.close();
});

Steps("should append with one write and one fsync of the segment, and acknowledge only after the fsync", async () => {
  const { fileSystem, log } = recordingFileSystem(directory);
  const journal = await openJournal(directory, tallyOptions({ fileSystem }));
  log.length = 0;
  await Promise.all([journal.append(add(1)), journal.append(add(2)), journal.append(add(3))]);
  assert.equal(changes(log), ["write journal-1.tzj", "fsync journal-1.tzj"]);
  await journal.close();
});

Steps("should write a snapshot crash-safely, then start the next segment, then remove the old one", async () => {
  const { fileSystem, log } = recordingFileSystem(directory);
  const journal = await openJournal(directory, tallyOptions({ fileSystem }));
  await journal.append(add(1));
  await journal.append(add(2));
  log.length = 0;
  await journal.snapshot();
  assert.equal(changes(log), [
    "open .snapshot-2.TMP wx", "write .snapshot-2.TMP", "fsync .snapshot-2.TMP", "close .snapshot-2.TMP",
    "rename .snapshot-2.TMP → snapshot-2.tzj", "open . r", "fsync .", "close .",
    "open .journal-3.TMP wx", "write .journal-3.TMP", "fsync .journal-3.TMP", "close .journal-3.TMP",
    "rename .journal-3.TMP → journal-3.tzj", "open . r", "fsync .", "close .", "open journal-3.tzj r+",
    "close journal-1.tzj", "unlink journal-1.tzj", "open . r", "fsync .", "close .",
  ]);
  await journal.close();
});

Steps("should leave the journal as it was when a step of a snapshot before its rename fails", async () => {
  const failures: Operation[] = [
    { name: "open", path: ".snapshot-2.TMP" }, { name: "write", path: ".snapshot-2.TMP" },
    { name: "fsync", path: ".snapshot-2.TMP" }, { name: "rename", path: ".snapshot-2.TMP" },
  ];
  for (const failure of failures) {
    const state = join(folder.path, `state-${failure.name}`);
    let armed = false;
    const { fileSystem } = recordingFileSystem(state, (operation) => {
      if (armed && operation.name === failure.name && operation.path === failure.path) throw ioFailure(failure.name);
    });
    const journal = await openJournal(state, tallyOptions({ fileSystem }));
    await journal.append(add(1));
    await journal.append(add(2));
    armed = true;
    const error = await rejectsWithStore(journal.snapshot(), "IO_ERROR", failure.name);
    assert.match(error.message, new RegExp(`injected ${failure.name} failure`));
    armed = false;
    assert.equal(readdirSync(state).sort(), ["journal-00000000000000000001.tzj", "lock"], `after a failed ${failure.name}, no temporary file`);
    assert.is(await journal.append(add(3)), 3, `the journal goes on after a failed ${failure.name}`);
    await journal.close();
    const reopened = await openJournal(state, tallyOptions());
    assert.equal(reopened.state.values, [1, 2, 3]);
    await reopened.close();
  }
});

Steps("should cut a torn tail with a truncate and an fsync before anything is appended", async () => {
  const first = await openJournal(directory, tallyOptions());
  await first.append(add(1));
  await first.close();
  appendFileSync(join(directory, "journal-00000000000000000001.tzj"), new Uint8Array([9, 0, 0]));
  const { fileSystem, log } = recordingFileSystem(directory);
  const journal = await openJournal(directory, tallyOptions({ fileSystem }));
  assert.equal(changes(log), ["makeDirectory .", "open journal-1.tzj r+", "truncate journal-1.tzj", "fsync journal-1.tzj"]);
  await journal.close();
});

Steps.run();
