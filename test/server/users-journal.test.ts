// The users' state kept by the server's journal: commands produce records,
// the journal applies and persists them, and a reopen (with or without a
// snapshot between) brings the same users back, lockout counts included.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { openJournal } from "../../src/store/index.js";
import { applyUserRecord, emptyUsers, firstStart, mkuser, chuser, authenticate, lsuser, findUser, type UsersState, type UserRecord } from "../../src/server/users.js";
import { temporaryDirectory } from "../store/support.js";
import { config, rejectsWithUser } from "./support.js";

const options = { initial: () => emptyUsers(), apply: applyUserRecord };
const Journaled = suite("users kept by the journal");

Journaled("should bring the same users back after a reopen, and after a snapshot", async () => {
  const folder = temporaryDirectory();
  const directory = join(folder.path, "server-state");
  try {
    const journal = await openJournal<UsersState, UserRecord>(directory, options);
    const start = await firstStart(journal.state, config);
    await journal.append(start!.record);
    await journal.append(await mkuser(journal.state, "admin", { name: "csop", password: "Temp0rary", groups: "op_copy_services" }, config));
    const failed = await authenticate(journal.state, "csop", "Wrongpass1x", config);
    await journal.append(failed.record!);
    const listed = lsuser(journal.state, "admin");
    await journal.close();
    const reopened = await openJournal<UsersState, UserRecord>(directory, options);
    assert.equal(lsuser(reopened.state, "admin"), listed);
    assert.is(findUser(reopened.state, "csop")!.failedLogins, 1);
    assert.ok((await authenticate(reopened.state, "admin", start!.password!, config)).ok);
    const duplicate = await mkuser(reopened.state, "admin", { name: "csop2", password: "Temp0rary", groups: "monitor" }, config);
    await reopened.append(duplicate);
    await rejectsWithUser(reopened.append(duplicate), "BAD_RECORD");
    assert.is(reopened.sequence, 4, "a record that does not apply is not journaled");
    const change = await chuser(reopened.state, "admin", { name: "csop", groups: "monitor", lock: true, password: "Changed5pw" }, config);
    assert.is(change.length, 3);
    await reopened.appendAll(change);
    assert.is(reopened.sequence, 5, "one command, one entry");
    await reopened.snapshot();
    await reopened.close();
    const fromSnapshot = await openJournal<UsersState, UserRecord>(directory, options);
    assert.equal(fromSnapshot.report.snapshot?.sequence, 5);
    assert.equal(lsuser(fromSnapshot.state, "admin"), [
      { Name: "admin", Group: "admin", State: "active" }, { Name: "csop", Group: "monitor", State: "locked" }, { Name: "csop2", Group: "monitor", State: "active" },
    ]);
    await fromSnapshot.close();
  } finally {
    folder.remove();
  }
});

Journaled.run();
