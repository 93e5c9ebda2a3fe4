// Login sessions: tokens that expire a fixed time after login and idle out,
// logout, and every malformed or stale token refused with its own code,
// against an injected clock; and what the journal gets: a hash per session,
// never the token, one touch per touchMs however busy, and the same sessions
// in a second Sessions over the same journal (a restart, a takeover).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { applySessionRecord, Sessions, type SessionEntry, type SessionJournal, type SessionRecord } from "../../src/server/sessions.js";
import { rejectsWithUser, throwsUser } from "./support.js";

const MINUTE = 60_000;
let clock: number;
let sessions: Sessions;

// A journal that keeps what was committed, as the server's store would.
function recordingJournal(): SessionJournal & { records: SessionRecord[] } {
  let entries: SessionEntry[] = [];
  const records: SessionRecord[] = [];
  return {
    records,
    entries: () => entries,
    commit: async (committed) => {
      for (const record of committed) entries = applySessionRecord(entries, record);
      records.push(...committed);
    },
    failed: (error) => {
      throw error;
    },
  };
}

function sessionsOver(journal: SessionJournal): Sessions {
  return new Sessions({ now: () => clock, lifetimeMs: 60 * MINUTE, idleMs: 10 * MINUTE, touchMs: MINUTE, sessionsMax: 4, journal });
}

// Lets the background commits (touches, ends) of the last calls run.
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

const Tokens = suite("login sessions");
Tokens.before.each(() => {
  clock = 1_800_000_000_000;
  sessions = new Sessions({ now: () => clock, lifetimeMs: 60 * MINUTE, idleMs: 10 * MINUTE, sessionsMax: 4 });
});

Tokens("should issue a distinct 32-byte base64url token per login and know whose it is", async () => {
  const first = await sessions.issue("admin");
  const second = await sessions.issue("admin");
  assert.match(first.token, /^[A-Za-z0-9_-]{43}$/);
  assert.is(Buffer.from(first.token, "base64url").byteLength, 32);
  assert.is.not(first.token, second.token);
  assert.is(first.expiresAt, clock + 60 * MINUTE);
  assert.equal(sessions.check(first.token).user, "admin");
});

Tokens("should expire a session at its absolute lifetime however busy it is", async () => {
  const { token } = await sessions.issue("op");
  for (let minute = 5; minute < 60; minute += 5) {
    clock += 5 * MINUTE;
    assert.is(sessions.check(token).user, "op", `minute ${minute}`);
  }
  clock += 5 * MINUTE;
  assert.match(throwsUser(() => sessions.check(token), "TOKEN_EXPIRED").message, /session of op expired/);
  throwsUser(() => sessions.check(token), "TOKEN_UNKNOWN");
});

Tokens("should idle out a session left unused, and restart the idle time at each use", async () => {
  const { token } = await sessions.issue("op");
  clock += 10 * MINUTE - 1;
  sessions.check(token);
  clock += 10 * MINUTE - 1;
  sessions.check(token);
  clock += 10 * MINUTE;
  assert.match(throwsUser(() => sessions.check(token), "TOKEN_IDLE").message, /idle for 10 min \(sessions idle out after 10 min\)/);
  await settle();
  assert.is(sessions.size, 0);
});

Tokens("should end a session at logout, and refuse a second logout", async () => {
  const { token } = await sessions.issue("op");
  await sessions.logout(token);
  throwsUser(() => sessions.check(token), "TOKEN_UNKNOWN");
  await rejectsWithUser(sessions.logout(token), "TOKEN_UNKNOWN");
});

Tokens("should refuse a missing, malformed or never-issued token", async () => {
  await sessions.issue("op");
  throwsUser(() => sessions.check(undefined), "TOKEN_MISSING");
  throwsUser(() => sessions.check(""), "TOKEN_MISSING");
  throwsUser(() => sessions.check(42), "TOKEN_UNKNOWN");
  throwsUser(() => sessions.check("short"), "TOKEN_UNKNOWN");
  throwsUser(() => sessions.check("!".repeat(43)), "TOKEN_UNKNOWN");
  throwsUser(() => sessions.check("A".repeat(43)), "TOKEN_UNKNOWN");
});

Tokens("should end a user's sessions and no one else's", async () => {
  const own = await sessions.issue("op");
  await sessions.issue("op");
  const other = await sessions.issue("admin");
  assert.is(sessions.endSessionsOf("op"), 2);
  throwsUser(() => sessions.check(own.token), "TOKEN_UNKNOWN");
  assert.is(sessions.check(other.token).user, "admin");
});

Tokens("should keep at most sessionsMax sessions, making room from expired and idle ones first", async () => {
  for (let index = 0; index < 4; index++) await sessions.issue(`u${index}`);
  assert.match((await rejectsWithUser(sessions.issue("late"), "SESSIONS_FULL")).message, /at most 4 sessions/);
  clock += 10 * MINUTE;
  assert.is(sessions.check((await sessions.issue("late")).token).user, "late");
  assert.is(sessions.size, 1);
});

Tokens("should refuse lifetimes, idle times and bounds that are not positive whole numbers", () => {
  throwsUser(() => new Sessions({ lifetimeMs: 0 }), "BAD_ARGUMENT");
  throwsUser(() => new Sessions({ idleMs: -1 }), "BAD_ARGUMENT");
  throwsUser(() => new Sessions({ touchMs: 0 }), "BAD_ARGUMENT");
  throwsUser(() => new Sessions({ sessionsMax: 1.5 }), "BAD_ARGUMENT");
});

const Journaled = suite("journaled login sessions");
Journaled.before.each(() => {
  clock = 1_800_000_000_000;
});

Journaled("should journal the token's SHA-256 and never the token", async () => {
  const journal = recordingJournal();
  const { token } = await sessionsOver(journal).issue("op");
  assert.equal(journal.records.map((record) => record.type), ["session.issued"]);
  const text = JSON.stringify(journal.records);
  assert.not.ok(text.includes(token), "the token itself is in the journal");
  assert.match(text, /"key":"[0-9a-f]{64}"/);
});

Journaled("should journal a use at most once per touchMs however many requests come", async () => {
  const journal = recordingJournal();
  const first = sessionsOver(journal);
  const { token } = await first.issue("op");
  for (let second = 1; second <= 300; second++) {
    clock += 1000;
    first.check(token);
    await settle();
  }
  const touches = journal.records.filter((record) => record.type === "session.touched");
  assert.is(touches.length, 5, `${touches.length} touches in five minutes of a request a second`);
});

Journaled("should know the sessions of its journal as another server left them, to within touchMs of their use", async () => {
  const journal = recordingJournal();
  const primary = sessionsOver(journal);
  const busy = await primary.issue("op");
  const quiet = await primary.issue("admin");
  const gone = await primary.issue("csop");
  for (let minute = 1; minute <= 10; minute++) {
    clock += MINUTE;
    primary.check(busy.token);
    await settle();
  }
  await primary.logout(gone.token);
  const backup = sessionsOver(journal); // a takeover or a restart: nothing but the journal
  assert.is(backup.check(busy.token).user, "op", "a session used a minute ago");
  assert.match(throwsUser(() => backup.check(quiet.token), "TOKEN_IDLE").message, /session of admin was idle for 10 min/, "the journal knows no use of the quiet one");
  throwsUser(() => backup.check(gone.token), "TOKEN_UNKNOWN");
  clock += 60 * MINUTE;
  throwsUser(() => backup.check(busy.token), "TOKEN_EXPIRED");
});

Journaled("should end a user's sessions in the records committed with the user's change", async () => {
  const journal = recordingJournal();
  const server = sessionsOver(journal);
  const own = await server.issue("op");
  await server.issue("admin");
  const records = server.endRecordsOf("op");
  assert.is(records.length, 1);
  await journal.commit(records);
  throwsUser(() => server.check(own.token), "TOKEN_UNKNOWN");
  assert.equal(server.endRecordsOf("op"), []);
});

Journaled("should report a use it could not journal, and keep the use in memory", async () => {
  const failures: string[] = [];
  const journal = recordingJournal();
  const failing: SessionJournal = { ...journal, failed: (error) => failures.push((error as Error).message) };
  const server = sessionsOver(failing);
  const { token } = await server.issue("op");
  failing.commit = async () => {
    throw new Error("the store is closed");
  };
  clock += 2 * MINUTE;
  server.check(token);
  await settle();
  assert.equal(failures, ["the store is closed"]);
  clock += 9 * MINUTE;
  assert.is(server.check(token).user, "op", "idle counted from the last use, not the last journaled one");
});

Tokens.run();
Journaled.run();
