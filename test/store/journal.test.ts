// The journal (src/store/journal.ts): records round-trip through a reopen,
// concurrent appends share fsyncs, snapshots cut the journal and replay on
// top, a torn last record is cut back at every byte it can be torn at, and
// any other damage is refused naming the file and the offset, with nothing
// applied.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, readdirSync, writeFileSync, truncateSync, copyFileSync, mkdirSync, existsSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { openJournal, StoreError, RECORD_BYTES_MAX, type Journal } from "../../src/store/index.js";
import { JOURNAL_PREAMBLE_SIZE, JOURNAL_FRAME_HEADER_SIZE } from "../../src/store/journal-format.js";
import { rejectsWithStore, temporaryDirectory } from "./support.js";
import { add, tallyOptions, recordingFileSystem, type Tally, type AddRecord } from "./journal-support.js";

type TallyJournal = Journal<Tally, AddRecord>;
let folder: ReturnType<typeof temporaryDirectory>;
let directory: string;
const open = (extra = {}) => openJournal(directory, tallyOptions(extra));
const files = () => readdirSync(directory).sort();
const segment = (first = 1) => join(directory, `journal-${String(first).padStart(20, "0")}.tzj`);

async function appendAll(journal: TallyJournal, values: readonly number[]): Promise<number[]> {
  return Promise.all(values.map((value) => journal.append(add(value))));
}

// The values a fresh open of the directory finds (it closes again).
async function valuesAfterReopen(): Promise<number[]> {
  const journal = await open();
  await journal.close();
  return journal.state.values;
}

// Appends `count` records one after another (each its own fsync) and closes.
async function journalOf(count: number): Promise<void> {
  const journal = await open();
  for (let value = 1; value <= count; value++) await journal.append(add(value));
  await journal.close();
}

// Byte offsets of every frame of a segment.
function frameOffsets(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets: number[] = [];
  for (let offset = JOURNAL_PREAMBLE_SIZE; offset < bytes.byteLength; offset += JOURNAL_FRAME_HEADER_SIZE + view.getUint32(offset, true)) offsets.push(offset);
  return offsets;
}

const Journals = suite("the journal");
Journals.before.each(() => {
  folder = temporaryDirectory();
  directory = join(folder.path, "server-state");
});
Journals.after.each(() => folder.remove());

Journals("should create the directory, bring every record back in order after a reopen, and go on from there", async () => {
  const first = await open();
  assert.is(first.report.sequence, 0);
  assert.equal(await appendAll(first, [5, 7, 11]), [1, 2, 3]);
  assert.equal(first.state, { values: [5, 7, 11], sum: 23 });
  await first.close();
  const second = await open();
  assert.equal(second.state, { values: [5, 7, 11], sum: 23 });
  assert.is(second.sequence, 3);
  assert.is(second.report.replayed, 3);
  assert.is(second.report.journalId, first.report.journalId);
  assert.is(await second.append(add(13)), 4);
  await second.close();
  assert.equal(await valuesAfterReopen(), [5, 7, 11, 13]);
});

Journals("should acknowledge 64 appends made at once with one fsync, in the order they were made", async () => {
  const journal = await open();
  const sequences = await appendAll(journal, Array.from({ length: 64 }, (_, index) => index));
  assert.equal(sequences, Array.from({ length: 64 }, (_, index) => index + 1));
  assert.is(journal.fsyncs, 1);
  assert.is(journal.appends, 64);
  await journal.close();
  assert.equal(await valuesAfterReopen(), Array.from({ length: 64 }, (_, index) => index));
});

Journals("should give the appends made while an fsync is in flight one fsync together", async () => {
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => { release = resolve; });
  let fsyncs = 0;
  const { fileSystem } = recordingFileSystem(directory, async (operation) => {
    if (operation.name === "fsync" && operation.path === "journal-1.tzj" && fsyncs++ === 0) await held;
  });
  const journal = await open({ fileSystem });
  const first = journal.append(add(1));
  await new Promise((resolve) => setTimeout(resolve, 20)); // the first flush reaches its fsync
  const rest = appendAll(journal, [2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.is(journal.sequence, 0, "nothing is acknowledged before its fsync");
  release();
  assert.is(await first, 1);
  assert.equal(await rest, [2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.is(journal.fsyncs, 2);
  await journal.close();
});

Journals("should refuse a record that does not apply, or is larger than a record may be, and change nothing", async () => {
  const journal = await open();
  await journal.append(add(1));
  const before = readFileSync(segment());
  try {
    await journal.append({ type: "add", value: 1.5 });
    assert.unreachable("a record that does not apply was accepted");
  } catch (error) {
    assert.match((error as Error).message, /not an add record/);
  }
  const oversized = await rejectsWithStore(journal.append({ type: "add", value: 2, padding: "x".repeat(RECORD_BYTES_MAX) }), "BAD_ARGUMENT");
  assert.match(oversized.message, /more than a journal entry holds/);
  assert.is(journal.sequence, 1);
  assert.equal(journal.state.values, [1]);
  assert.equal(readFileSync(segment()), before);
  assert.is(await journal.append(add(3)), 2, "the sequence numbers go on without a gap");
  await journal.close();
});

Journals("should journal the records of one command as one entry, all or nothing", async () => {
  const journal = await open();
  assert.is(await journal.appendAll([add(1), add(2), add(3)]), 1, "one entry, one sequence");
  try {
    await journal.appendAll([add(4), { type: "add", value: Number.NaN }]);
    assert.unreachable("a command with a record that does not apply was accepted");
  } catch (error) {
    assert.match((error as Error).message, /not an add record/);
  }
  await rejectsWithStore(journal.appendAll([]), "BAD_ARGUMENT");
  assert.equal(journal.state.values, [1, 2, 3], "no record of the refused command was applied");
  await journal.close();
  const whole = readFileSync(segment());
  const reopened = await open();
  assert.equal(reopened.state.values, [1, 2, 3]);
  assert.is(reopened.report.replayed, 1);
  await reopened.close();
  writeFileSync(segment(), whole.subarray(0, whole.byteLength - 1));
  const torn = await open();
  assert.equal(torn.state.values, [], "a torn entry takes all its records with it");
  await torn.close();
});

Journals("should take a record of nearly the largest size", async () => {
  const journal = await open();
  const padding = "y".repeat(RECORD_BYTES_MAX - 64);
  await journal.append({ type: "add", value: 9, padding });
  await journal.close();
  assert.equal(await valuesAfterReopen(), [9]);
});

Journals("should snapshot, start a new segment, remove the old one, and replay later records on the snapshot", async () => {
  const journal = await open();
  await appendAll(journal, [1, 2, 3]);
  const report = await journal.snapshot();
  assert.is(report.sequence, 3);
  assert.equal(report.removed, ["journal-00000000000000000001.tzj"]);
  await appendAll(journal, [4, 5]);
  await journal.close();
  assert.equal(files(), ["journal-00000000000000000004.tzj", "snapshot-00000000000000000003.tzj"]);
  const reopened = await open();
  assert.equal(reopened.state, { values: [1, 2, 3, 4, 5], sum: 15 });
  assert.equal(reopened.report.snapshot?.sequence, 3);
  assert.is(reopened.report.replayed, 2);
  await reopened.close();
});

Journals("should hold appends made during a snapshot and write them to the new segment", async () => {
  const journal = await open();
  await appendAll(journal, [1, 2]);
  const snapshot = journal.snapshot();
  const during = appendAll(journal, [3, 4]);
  assert.is((await snapshot).sequence, 2);
  assert.equal(await during, [3, 4]);
  await journal.close();
  const reopened = await open();
  assert.equal(reopened.state.values, [1, 2, 3, 4]);
  assert.is(reopened.report.replayed, 2);
});

Journals("should snapshot a state larger than a frame, in chunks", async () => {
  interface Notes { texts: string[] }
  const options = { initial: (): Notes => ({ texts: [] }), apply: (state: Notes, record: AddRecord): Notes => ({ texts: [...state.texts, record.padding ?? ""] }) };
  const journal = await openJournal(directory, options);
  const texts = [0, 1, 2].map((index) => String.fromCharCode(97 + index).repeat(600_000));
  for (const padding of texts) await journal.append({ type: "add", value: 0, padding });
  const report = await journal.snapshot();
  assert.ok(report.bytes > 3 * RECORD_BYTES_MAX / 2, `the snapshot is ${report.bytes} bytes`);
  await journal.close();
  const reopened = await openJournal(directory, options);
  assert.equal(reopened.state.texts, texts);
  assert.is(reopened.report.replayed, 0);
  await reopened.close();
});

Journals("should skip a snapshot twice in a row when nothing came between, keeping its empty segment", async () => {
  const journal = await open();
  await appendAll(journal, [1]);
  await journal.snapshot();
  const again = await journal.snapshot();
  assert.equal(again.removed, []);
  await journal.close();
  assert.equal(files(), ["journal-00000000000000000002.tzj", "snapshot-00000000000000000001.tzj"]);
});

Journals("should cut a torn last record back to the last whole one, at every byte it can be torn at", async () => {
  await journalOf(4);
  const whole = readFileSync(segment());
  const last = frameOffsets(whole).at(-1)!;
  for (let cut = last + 1; cut < whole.byteLength; cut++) {
    writeFileSync(segment(), whole.subarray(0, cut));
    const journal = await open();
    assert.equal(journal.report.tornTail, { file: segment(), offset: last, bytes: cut - last }, `torn at byte ${cut}`);
    assert.equal(journal.state.values, [1, 2, 3], `torn at byte ${cut}`);
    assert.is(readFileSync(segment()).byteLength, last, "the torn bytes are cut off");
    assert.is(await journal.append(add(40)), 4, "appends go on after the last whole record");
    await journal.close();
    const reopened = await open();
    assert.equal(reopened.state.values, [1, 2, 3, 40], `torn at byte ${cut}, then appended`);
    await reopened.close();
  }
});

Journals("should open a segment cut exactly after a record without reporting a cut", async () => {
  await journalOf(3);
  const whole = readFileSync(segment());
  truncateSync(segment(), frameOffsets(whole).at(-1)!);
  const journal = await open();
  assert.is(journal.report.tornTail, null);
  assert.equal(journal.state.values, [1, 2]);
  await journal.close();
});

Journals("should refuse a flipped bit in any byte of a record followed by others, naming the file and the record's offset", async () => {
  await journalOf(3);
  const whole = readFileSync(segment());
  const [, middle, last] = frameOffsets(whole);
  for (let offset = middle; offset < last; offset++) {
    const damaged = Uint8Array.from(whole);
    damaged[offset] ^= 0x10;
    writeFileSync(segment(), damaged);
    try {
      await open();
      assert.unreachable(`a flipped bit at byte ${offset} was accepted`);
    } catch (error) {
      assert.instance(error, StoreError, String(error));
      const store = error as StoreError;
      assert.ok(["CHECKSUM_MISMATCH", "BAD_LENGTH"].includes(store.code), `byte ${offset}: ${store.code} ${store.message}`);
      assert.is(store.file, segment());
      assert.is(store.offset, middle, `byte ${offset}: ${store.message}`);
      assert.ok(store.message.includes(segment()) && store.message.includes(`byte ${middle}`), store.message);
    }
    assert.equal(new Uint8Array(readFileSync(segment())), damaged, "a refused journal is left as it was");
    assert.not.ok(existsSync(join(directory, "lock")), "a refused open releases the lock");
  }
});

Journals("should refuse a last record that is whole but corrupt, rather than cut an acknowledged record", async () => {
  await journalOf(2);
  const damaged = Uint8Array.from(readFileSync(segment()));
  damaged[damaged.byteLength - 1] ^= 0x01;
  writeFileSync(segment(), damaged);
  const error = await rejectsWithStore(open(), "CHECKSUM_MISMATCH");
  assert.is(error.offset, frameOffsets(damaged)[1]);
});

Journals("should refuse a record taken from another journal, and a segment of another journal", async () => {
  await journalOf(2);
  const ours = readFileSync(segment());
  const other = join(folder.path, "other");
  const otherJournal = await openJournal(other, tallyOptions());
  await appendAll(otherJournal, [1, 2, 3]);
  await otherJournal.close();
  const theirs = readFileSync(join(other, "journal-00000000000000000001.tzj"));
  const theirThird = theirs.subarray(frameOffsets(theirs)[2]);
  writeFileSync(segment(), Buffer.concat([ours, theirThird]));
  const spliced = await rejectsWithStore(open(), "CHECKSUM_MISMATCH");
  assert.is(spliced.offset, ours.byteLength);
  writeFileSync(segment(), ours);
  const journal = await open();
  await journal.snapshot(); // segment 3 is now ours; put theirs in as segment 1 beside it
  await journal.close();
  writeFileSync(segment(1), theirs);
  for (const name of files()) if (name.startsWith("snapshot-")) rmSync(join(directory, name));
  const foreign = await rejectsWithStore(open(), "WRONG_JOURNAL");
  assert.ok(foreign.message.includes("belongs to another journal"), foreign.message);
});

Journals("should refuse a journal whose records skip, naming the missing ones", async () => {
  await journalOf(2);
  const journal = await open();
  await journal.snapshot();
  await appendAll(journal, [3, 4]);
  await journal.close();
  copyFileSync(segment(3), segment(5)); // holds 3 and 4 but claims to start at 5
  const error = await rejectsWithStore(open(), "MISSING_RECORDS");
  assert.match(error.message, /journal-00000000000000000005\.tzj/);
});

Journals("should refuse a corrupt snapshot whose records are gone, and fall back to an older whole one when they are there", async () => {
  const journal = await open();
  await appendAll(journal, [1, 2, 3]);
  await journal.snapshot();
  await appendAll(journal, [4, 5, 6]);
  const keep = join(folder.path, "kept");
  mkdirSync(keep);
  for (const name of files()) if (name !== "lock") copyFileSync(join(directory, name), join(keep, name));
  await journal.snapshot();
  await journal.append(add(7));
  await journal.close();
  const newest = join(directory, "snapshot-00000000000000000006.tzj");
  const damaged = Uint8Array.from(readFileSync(newest));
  damaged[JOURNAL_PREAMBLE_SIZE + JOURNAL_FRAME_HEADER_SIZE + 2] ^= 0x04;
  writeFileSync(newest, damaged);
  const refused = await rejectsWithStore(open(), "CHECKSUM_MISMATCH");
  assert.is(refused.file, newest);
  for (const name of readdirSync(keep)) copyFileSync(join(keep, name), join(directory, name));
  const fallback = await open();
  assert.equal(fallback.state.values, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(fallback.report.snapshot?.sequence, 3);
  assert.equal(fallback.report.skippedSnapshots.map((skipped) => [skipped.file, skipped.code]), [[newest, "CHECKSUM_MISMATCH"]]);
  await fallback.close();
});

Journals("should refuse a replayed record that does not apply, naming where it is, with nothing applied", async () => {
  await journalOf(2);
  const error = await rejectsWithStore(openJournal(directory, tallyOptions({ apply: (state: Tally, record: AddRecord) => {
    if (record.value === 2) throw new Error("two is not welcome");
    return { values: [...state.values, record.value], sum: state.sum + record.value };
  } })), "BAD_RECORD");
  assert.match(error.message, /two is not welcome/);
  assert.is(error.offset, frameOffsets(readFileSync(segment()))[1]);
});

Journals("should refuse a second open of a directory in use, and take over the lock of a process that died", async () => {
  const journal = await open();
  const refused = await rejectsWithStore(open(), "LOCKED");
  assert.ok(refused.message.includes(`process ${process.pid}`), refused.message);
  await journal.append(add(1));
  await journal.close();
  const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
  writeFileSync(join(directory, "lock"), `${dead}\n`);
  const reopened = await open();
  assert.is(reopened.report.staleLockPid, dead);
  assert.equal(reopened.state.values, [1]);
  assert.match(readFileSync(join(directory, "lock"), "utf8"), new RegExp(`^${process.pid} \\d+\n$`));
  await reopened.close();
  assert.not.ok(existsSync(join(directory, "lock")), "close removes the lock");
});

Journals("should take over a lock naming this process's pid but another start: a predecessor's in a restarted container", async () => {
  await journalOf(1);
  writeFileSync(join(directory, "lock"), `${process.pid} 1000\n`);
  const journal = await open();
  assert.is(journal.report.staleLockPid, process.pid);
  await journal.close();
  writeFileSync(join(directory, "lock"), "");
  const afterEmpty = await open();
  assert.is(afterEmpty.report.staleLockPid, -1, "an empty lock (its maker died before writing it) is stale");
  await afterEmpty.close();
});

Journals("should refuse appends after close, and a term that goes down", async () => {
  const journal = await open({ term: 3 });
  assert.is(journal.term, 3);
  assert.throws(() => journal.raiseTerm(2), (error: unknown) => error instanceof StoreError && error.code === "BAD_ARGUMENT");
  journal.raiseTerm(4);
  await journal.append(add(1));
  await journal.close();
  await rejectsWithStore(journal.append(add(2)), "CLOSED");
  const reopened = await open();
  assert.is(reopened.term, 4, "the term is the last record's");
  await reopened.close();
});

Journals("should reject every append in flight when an fsync fails, refuse more, and reopen with what the disk holds", async () => {
  let failing = false;
  const { fileSystem } = recordingFileSystem(directory, (operation) => {
    if (failing && operation.name === "fsync" && operation.path === "journal-1.tzj") throw Object.assign(new Error("injected fsync failure"), { code: "EIO" });
  });
  const journal = await open({ fileSystem });
  await appendAll(journal, [1, 2]);
  failing = true;
  const results = await Promise.allSettled([3, 4].map((value) => journal.append(add(value))));
  assert.equal(results.map((result) => result.status), ["rejected", "rejected"]);
  const reason = (results[0] as PromiseRejectedResult).reason as StoreError;
  assert.is(reason.code, "CLOSED");
  assert.match(reason.message, /injected fsync failure/);
  assert.equal(journal.state.values, [1, 2], "the acknowledged state has only acknowledged records");
  await rejectsWithStore(journal.append(add(5)), "CLOSED");
  await journal.close();
  const reopened = await open();
  assert.equal(reopened.state.values.slice(0, 2), [1, 2]);
  await reopened.close();
});

Journals.run();
