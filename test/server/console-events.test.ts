// The event log's records: what each command's event says, the bounds on an
// event, and the log and tasks in the SiteState (applied purely, bounded,
// refused when malformed, absent from a state written before they existed).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { commandEvent, eventMessage, listed, serverEvent } from "../../src/server/console-events.js";
import {
  applySiteRecord, checkSiteState, emptySiteState, eventLog, EVENT_IDS_MAX, EVENT_TEXT_LENGTH_MAX, EVENTS_KEPT_MAX, TASK_HISTORY_MAX, tasksOf,
  type SiteRecord, type SiteState,
} from "../../src/server/site-state.js";
import { ServerError } from "../../src/server/server-errors.js";
import type { PairInfo } from "../../src/site/types.js";
import { deepFreeze } from "./support.js";

const IMAGE = "IBM.2107-75EVNT1";
const AT = 1_800_000_000_000;
const REST = { user: "admin", source: "rest" as const };

function text(method: string, result: unknown): string {
  return commandEvent(method, IMAGE, result, REST, AT)!.text;
}

const Describe = suite("what a command's event says");

Describe("should name the objects each command changed, in DS CLI's words", () => {
  assert.is(text("createVolumes", ["1000", "1001"]), "volumes 1000, 1001 created");
  assert.is(text("removeVolumes", ["1000"]), "volume 1000 removed");
  assert.is(text("establishFlash", ["1000:1001"]), "FlashCopy relationship 1000:1001 established");
  assert.is(text("withdrawFlash", [{ id: "1000:1001", targetId: "1001", complete: false }]), "FlashCopy relationship 1000:1001 withdrawn; the copy was incomplete, so target 1001 is now unusable");
  assert.is(text("unfreezeFlash", { lsses: ["10"], released: [] }), "LSS 10 unfrozen: writes released to no volume");
  assert.is(text("createHostConnection", { id: "0000", name: "db", nbd: "127.0.0.1:10809" }), "host connection 0000 (db) created, NBD on 127.0.0.1:10809");
  assert.is(text("removePaths", ["10:20"]), "PPRC path 10:20 removed");
  assert.is(text("addImage", { id: IMAGE, model: "2107", wwnn: "5005076303FFC001" }), `storage image ${IMAGE} (model 2107) added`);
});

Describe("should give a PPRC command's event the states it left", () => {
  const pairs: PairInfo[] = [{
    id: "1000:2000", imageId: IMAGE, primaryImageId: IMAGE, secondaryImageId: "IBM.2107-75EVNT2", role: "primary", state: "Suspended", reason: "Host Source",
    type: "mmir", outOfSyncTracks: 0, tgtread: false, critmode: false, suspendedAtMs: AT, sourceLss: "10", firstPassDone: true, sentTracks: 0, detail: null,
  }];
  assert.is(commandEvent("pausepprc", IMAGE, ["1000:2000"], REST, AT, pairs)!.text, "PPRC pair 1000:2000 suspended (paused); now 1000:2000 Suspended: Host Source");
  assert.is(commandEvent("rmpprc", IMAGE, ["1000:2000"], REST, AT, [])!.text, "PPRC pair 1000:2000 removed");
});

Describe("should log a method it has no words for by its name, and not log setLink", () => {
  const event = commandEvent("frobnicate", IMAGE, 7, REST, AT)!;
  assert.equal([event.kind, event.text], ["site.changed", "frobnicate done"]);
  assert.is(commandEvent("setLink", IMAGE, undefined, REST, AT), null);
  assert.is(commandEvent("createPool", IMAGE, null, REST, AT)!.kind, "site.changed", "a result of an unexpected shape");
});

Describe("should bound an event's ids and text, and say how many more there are", () => {
  const ids = Array.from({ length: 200 }, (_, index) => (0x1000 + index).toString(16).toUpperCase());
  const event = commandEvent("createVolumes", IMAGE, ids, REST, AT)!;
  assert.is(event.ids.length, EVENT_IDS_MAX);
  assert.is(event.text, "volumes 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007 and 192 more created");
  const long = serverEvent({ kind: "task.created", image: null, ids: [], text: "x".repeat(5000) }, {}, AT);
  assert.is(long.text.length, EVENT_TEXT_LENGTH_MAX);
  assert.equal([long.user, long.source], [null, "server"]);
  assert.is(listed(["a", "b"]), "a, b");
});

Describe.run();

const Log = suite("the event log and tasks in the SiteState");

function apply(state: SiteState, records: SiteRecord[]): SiteState {
  return records.reduce((next, record) => applySiteRecord(deepFreeze(next), record), state);
}

Log("should number events from 1 and keep only the last EVENTS_KEPT_MAX", () => {
  const record = commandEvent("createVolumes", IMAGE, ["1000"], REST, AT)!;
  let state = apply(emptySiteState(), [record, record]);
  assert.equal(eventLog(state).map((event) => event.seq), [1, 2]);
  assert.equal(eventMessage(eventLog(state)[0]), { type: "event", seq: 1, time: "2027-01-15T08:00:00.000Z", kind: "volume.created", image: IMAGE, ids: ["1000"], user: "admin", source: "rest", text: "volume 1000 created" });
  for (let index = 0; index < EVENTS_KEPT_MAX; index++) state = applySiteRecord(state, record);
  assert.is(eventLog(state).length, EVENTS_KEPT_MAX);
  assert.is(eventLog(state)[0].seq, 3);
  assert.is(state.eventSeq, EVENTS_KEPT_MAX + 2);
  checkSiteState(state);
});

Log("should save, replace (keeping the history), run and remove a task", () => {
  let state = apply(emptySiteState(), [
    { type: "task.saved", name: "b", kind: "actions", body: "lssi" },
    { type: "task.saved", name: "a", kind: "script", body: "lssi" },
  ]);
  assert.equal(tasksOf(state).map((task) => task.name), ["a", "b"]);
  for (let run = 0; run < TASK_HISTORY_MAX + 3; run++) state = applySiteRecord(state, { type: "task.ran", name: "b", startedMs: run, finishedMs: run + 1, exitCode: 0, user: "admin" });
  state = applySiteRecord(state, { type: "task.saved", name: "b", kind: "script", body: "lsfbvol" });
  const task = tasksOf(state).find((each) => each.name === "b")!;
  assert.equal([task.kind, task.body, task.history.length, task.history[0].startedMs], ["script", "lsfbvol", TASK_HISTORY_MAX, 3]);
  state = applySiteRecord(state, { type: "task.removed", name: "a" });
  assert.equal(tasksOf(state).map((each) => each.name), ["b"]);
  checkSiteState(state);
});

Log("should refuse malformed event and task records, naming what is wrong", () => {
  const bad: unknown[] = [
    { type: "event.logged", atMs: AT, kind: "", image: null, ids: [], user: null, source: "server", text: "" },
    { type: "event.logged", atMs: AT, kind: "x", image: null, ids: [], user: null, source: "browser", text: "" },
    { type: "event.logged", atMs: AT, kind: "x", image: null, ids: [], user: null, source: "server", text: "", seq: 4 },
    { type: "task.saved", name: "../x", kind: "actions", body: "lssi" },
    { type: "task.saved", name: "x", kind: "macro", body: "lssi" },
    { type: "task.removed", name: "nothere" },
    { type: "task.ran", name: "nothere", startedMs: 0, finishedMs: 1, exitCode: 0, user: "admin" },
  ];
  for (const record of bad) {
    try {
      applySiteRecord(emptySiteState(), record as SiteRecord);
      assert.unreachable(JSON.stringify(record));
    } catch (error) {
      assert.instance(error, ServerError, JSON.stringify(record));
      assert.is((error as ServerError).code, "BAD_RECORD");
    }
  }
});

Log("should read a state written before the log and tasks existed as having none", () => {
  const { eventSeq: _seq, events: _events, tasks: _tasks, ...older } = emptySiteState();
  const state = checkSiteState(older);
  assert.equal([eventLog(state), tasksOf(state)], [[], []]);
  const next = applySiteRecord(state, serverEvent({ kind: "node.joined", image: null, ids: ["n1"], text: "node n1 joined" }, {}, AT));
  assert.equal(eventLog(next).map((event) => event.seq), [1]);
});

Log.run();
