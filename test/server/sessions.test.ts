// Login sessions: tokens that expire a fixed time after login and idle out,
// logout, and every malformed or stale token refused with its own code,
// against an injected clock.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Sessions } from "../../src/server/sessions.js";
import { throwsUser } from "./support.js";

const MINUTE = 60_000;
let clock: number;
let sessions: Sessions;

const Tokens = suite("login sessions");
Tokens.before.each(() => {
  clock = 1_800_000_000_000;
  sessions = new Sessions({ now: () => clock, lifetimeMs: 60 * MINUTE, idleMs: 10 * MINUTE, sessionsMax: 4 });
});

Tokens("should issue a distinct 32-byte base64url token per login and know whose it is", () => {
  const first = sessions.issue("admin", false);
  const second = sessions.issue("admin", false);
  assert.match(first.token, /^[A-Za-z0-9_-]{43}$/);
  assert.is(Buffer.from(first.token, "base64url").byteLength, 32);
  assert.is.not(first.token, second.token);
  assert.is(first.expiresAt, clock + 60 * MINUTE);
  assert.equal(sessions.check(first.token).user, "admin");
});

Tokens("should expire a session at its absolute lifetime however busy it is", () => {
  const { token } = sessions.issue("op", false);
  for (let minute = 5; minute < 60; minute += 5) {
    clock += 5 * MINUTE;
    assert.is(sessions.check(token).user, "op", `minute ${minute}`);
  }
  clock += 5 * MINUTE;
  assert.match(throwsUser(() => sessions.check(token), "TOKEN_EXPIRED").message, /session of op expired/);
  throwsUser(() => sessions.check(token), "TOKEN_UNKNOWN");
});

Tokens("should idle out a session left unused, and restart the idle time at each use", () => {
  const { token } = sessions.issue("op", false);
  clock += 10 * MINUTE - 1;
  sessions.check(token);
  clock += 10 * MINUTE - 1;
  sessions.check(token);
  clock += 10 * MINUTE;
  assert.match(throwsUser(() => sessions.check(token), "TOKEN_IDLE").message, /idle for 10 min \(sessions idle out after 10 min\)/);
  assert.is(sessions.size, 0);
});

Tokens("should end a session at logout, and refuse a second logout", () => {
  const { token } = sessions.issue("op", false);
  sessions.logout(token);
  throwsUser(() => sessions.check(token), "TOKEN_UNKNOWN");
  throwsUser(() => sessions.logout(token), "TOKEN_UNKNOWN");
});

Tokens("should refuse a missing, malformed or never-issued token", () => {
  sessions.issue("op", false);
  throwsUser(() => sessions.check(undefined), "TOKEN_MISSING");
  throwsUser(() => sessions.check(""), "TOKEN_MISSING");
  throwsUser(() => sessions.check(42), "TOKEN_UNKNOWN");
  throwsUser(() => sessions.check("short"), "TOKEN_UNKNOWN");
  throwsUser(() => sessions.check("!".repeat(43)), "TOKEN_UNKNOWN");
  throwsUser(() => sessions.check("A".repeat(43)), "TOKEN_UNKNOWN");
});

Tokens("should end a user's sessions, and lift a password-expired session once the password is changed", () => {
  const own = sessions.issue("op", true);
  sessions.issue("op", true);
  const other = sessions.issue("admin", false);
  assert.ok(sessions.check(own.token).passwordExpired);
  sessions.passwordChanged("op");
  assert.not.ok(sessions.check(own.token).passwordExpired);
  assert.is(sessions.endSessionsOf("op"), 2);
  throwsUser(() => sessions.check(own.token), "TOKEN_UNKNOWN");
  assert.is(sessions.check(other.token).user, "admin");
});

Tokens("should keep at most sessionsMax sessions, making room from expired and idle ones first", () => {
  for (let index = 0; index < 4; index++) sessions.issue(`u${index}`, false);
  assert.match(throwsUser(() => sessions.issue("late", false), "SESSIONS_FULL").message, /at most 4 sessions/);
  clock += 10 * MINUTE;
  assert.is(sessions.check(sessions.issue("late", false).token).user, "late");
  assert.is(sessions.size, 1);
});

Tokens("should refuse lifetimes, idle times and bounds that are not positive whole numbers", () => {
  throwsUser(() => new Sessions({ lifetimeMs: 0 }), "BAD_ARGUMENT");
  throwsUser(() => new Sessions({ idleMs: -1 }), "BAD_ARGUMENT");
  throwsUser(() => new Sessions({ sessionsMax: 1.5 }), "BAD_ARGUMENT");
});

Tokens.run();
