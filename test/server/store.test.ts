// The server's store on real files: commits come back after a reopen (with
// and without snapshots), a torn last entry is cut at every byte and never
// half-applied, and a record or snapshot that is not valid is refused.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ServerStore } from "../../src/server/store.js";
import { ServerError } from "../../src/server/server-errors.js";
import { emptySiteState, type SiteRecord } from "../../src/server/site-state.js";
import { openJournal, StoreError } from "../../src/store/index.js";
import { temporaryDirectory } from "../store/support.js";

const IMAGE = { id: "IBM.2107-75TZ001", model: "2107" as const, wwnn: "5005076303FFC001" };

function volumeRecord(id: string): SiteRecord {
  return { type: "catalog.changed", imageId: IMAGE.id, volumes: { set: [{ id, blocks: 64, pool: "P0", name: `v${id}` }], remove: [] }, pools: { set: [], remove: [] }, flash: { set: [], remove: [] } };
}

const JOINED: SiteRecord = { type: "node.joined", nodeId: "a", url: "http://127.0.0.1:8452", images: [IMAGE] };

function copyDirectory(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) if (name !== "lock") copyFileSync(join(from, name), join(to, name));
}

function segmentOf(directory: string): string {
  const segments = readdirSync(directory).filter((name) => name.startsWith("journal-")).sort();
  return join(directory, segments[segments.length - 1]);
}

const Store = suite("the server's store");
let folder: { path: string; remove(): void };
Store.before.each(() => {
  folder = temporaryDirectory();
});
Store.after.each(() => folder.remove());

Store("should bring the same state back after a reopen, and after periodic snapshots", async () => {
  const directory = join(folder.path, "state");
  const store = await ServerStore.open(directory, { snapshotEveryAppends: 3 });
  await store.commit([JOINED]);
  for (let index = 0; index < 7; index++) await store.commit([volumeRecord(`100${index}`)]);
  await store.commit([{ type: "term.raised", term: 2 }]);
  const state = store.state;
  assert.is(store.sequence, 9);
  await store.close();
  const reopened = await ServerStore.open(directory);
  assert.equal(reopened.state, state);
  assert.is(reopened.term, 2);
  assert.ok(reopened.openReport.snapshot !== null, "a snapshot was taken along the way");
  assert.ok(reopened.openReport.replayed < 9, "the snapshot spared replaying every entry");
  const next = await reopened.commit([volumeRecord("2000")]);
  assert.is(next.term, 2, "records after a reopen carry the raised term");
  await reopened.close();
});

Store("should cut a torn last entry at every byte of it, keeping every whole one and applying none of the torn", async () => {
  const directory = join(folder.path, "state");
  const store = await ServerStore.open(directory);
  await store.commit([JOINED]);
  await store.commit([volumeRecord("1000")]);
  const before = { state: store.state, sequence: store.sequence, size: statSync(segmentOf(directory)).size };
  await store.commit([volumeRecord("1001"), volumeRecord("1002")]); // one entry of two records
  const after = store.state;
  await store.close();
  const segment = segmentOf(directory);
  const size = statSync(segment).size;
  assert.ok(size > before.size);
  for (let cut = before.size; cut <= size; cut++) {
    const copy = join(folder.path, `cut-${cut}`);
    copyDirectory(directory, copy);
    truncateSync(join(copy, segment.slice(directory.length + 1)), cut);
    const reopened = await ServerStore.open(copy);
    const whole = cut === size;
    assert.equal(reopened.state, whole ? after : before.state, `cut at ${cut} of ${size}`);
    assert.is(reopened.sequence, whole ? before.sequence + 1 : before.sequence);
    assert.is(reopened.openReport.tornTail !== null, cut > before.size && !whole, `torn tail reported at cut ${cut}`);
    await reopened.commit([volumeRecord("3000")]);
    await reopened.close();
    const again = await ServerStore.open(copy);
    assert.is(again.sequence, reopened.sequence, "appends after the cut continue where the whole entries end");
    await again.close();
  }
});

Store("should refuse a journal whose record does not apply, naming the file and the record", async () => {
  const directory = join(folder.path, "state");
  const raw = await openJournal<unknown, unknown>(directory, { initial: () => ({}), apply: (state) => state });
  await raw.append(JOINED);
  await raw.append({ type: "node.lost", nodeId: "nobody" });
  await raw.close();
  try {
    await ServerStore.open(directory);
    assert.unreachable("the store opened");
  } catch (error) {
    assert.instance(error, StoreError);
    assert.is((error as StoreError).code, "BAD_RECORD");
    assert.match((error as Error).message, /journal-\d+\.tzj: the record at byte \d+ does not apply: node\.lost: there is no node nobody/);
  }
});

Store("should refuse a snapshot that is not a site state, naming the field", async () => {
  const directory = join(folder.path, "state");
  const raw = await openJournal<unknown, unknown>(directory, { initial: () => ({ ...emptySiteState(), nodes: "many" }), apply: (state) => state });
  await raw.append({ anything: true });
  await raw.snapshot();
  await raw.close();
  try {
    await ServerStore.open(directory);
    assert.unreachable("the store opened");
  } catch (error) {
    assert.instance(error, ServerError);
    assert.is((error as ServerError).code, "BAD_STATE");
    assert.ok((error as Error).message.includes(directory), "names the directory");
    assert.ok((error as Error).message.includes("/nodes"), (error as Error).message);
  }
  const again = await openJournal<unknown, unknown>(directory, { initial: () => ({}), apply: (state) => state });
  await again.close(); // the refused open let go of its lock
});

Store("should refuse a record that does not apply and change nothing", async () => {
  const directory = join(folder.path, "state");
  const store = await ServerStore.open(directory);
  await store.commit([JOINED]);
  const state = store.state;
  try {
    await store.commit([volumeRecord("1000"), { type: "node.lost", nodeId: "ghost" }]);
    assert.unreachable("committed");
  } catch (error) {
    assert.instance(error, ServerError);
    assert.is((error as ServerError).code, "BAD_RECORD");
  }
  assert.equal(store.state, state);
  assert.is(store.sequence, 1);
  await store.close();
});

Store("should finish a replacement of the state that a crash cut between its renames, and undo one cut before them", async () => {
  const directory = join(folder.path, "state");
  const store = await ServerStore.open(directory);
  await store.commit([JOINED]);
  const replacement = { ...store.state, term: 5 };
  await store.replaceState(replacement);
  assert.equal(store.state, replacement);
  await store.commit([volumeRecord("1000")]);
  const after = store.state;
  await store.close();
  // Cut between the renames: the old directory is aside, the new one not yet in place.
  renameSync(directory, `${directory}.incoming`);
  mkdirSync(`${directory}.replaced`);
  const finished = await ServerStore.open(directory);
  assert.equal(finished.state, after);
  assert.is(existsSync(`${directory}.replaced`), false);
  await finished.close();
  // Cut before the renames: a half-written incoming journal is dropped.
  mkdirSync(`${directory}.incoming`);
  writeFileSync(join(`${directory}.incoming`, "journal-00000000000000000001.tzj"), "torn");
  const undone = await ServerStore.open(directory);
  assert.equal(undone.state, after);
  assert.is(existsSync(`${directory}.incoming`), false);
  await undone.close();
});

Store("should keep the files in its directory that are not the journal's (site key, TLS pair, peer) when the state is replaced", async () => {
  const directory = join(folder.path, "state");
  const store = await ServerStore.open(directory);
  await store.commit([JOINED]);
  writeFileSync(join(directory, "site.key"), "key\n", { mode: 0o600 });
  writeFileSync(join(directory, "peer-server"), "ws://127.0.0.1:8452\n");
  mkdirSync(join(directory, "tls"));
  writeFileSync(join(directory, "tls", "key.pem"), "pem\n", { mode: 0o600 });
  await store.replaceState({ ...store.state, term: 5 });
  assert.is(readFileSync(join(directory, "site.key"), "utf8"), "key\n");
  assert.is(statSync(join(directory, "site.key")).mode & 0o777, 0o600);
  assert.is(readFileSync(join(directory, "peer-server"), "utf8"), "ws://127.0.0.1:8452\n");
  assert.is(statSync(join(directory, "tls", "key.pem")).mode & 0o777, 0o600);
  assert.is(store.state.term, 5);
  await store.close();
  const reopened = await ServerStore.open(directory);
  assert.is(reopened.state.term, 5);
  await reopened.close();
});

Store("should refuse to replace the state with one that is not valid, and keep the old", async () => {
  const store = await ServerStore.open(join(folder.path, "state"));
  await store.commit([JOINED]);
  const state = store.state;
  await store.replaceState({ ...state, images: [] }).then(() => assert.unreachable("replaced"), (error) => assert.is((error as ServerError).code, "BAD_STATE"));
  assert.equal(store.state, state);
  await store.close();
});

Store.run();
