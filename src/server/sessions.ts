// Login sessions of the Copy Services Server: a token per login (32 random
// bytes, base64url) that expires a fixed time after the login and idles out
// after a stretch without use, and logout. Tokens are kept by their SHA-256,
// never as given, so neither the state nor its lookups hold a secret. The
// clock is injected, so tests move time instead of waiting for it.
//
// Sessions are journaled (session.issued, session.touched, session.ended in
// the server's SiteState, site-state.ts), so a token stays good across a
// restart and on the backup once it takes over. The idle timer is journaled
// coarsely: a use is kept in memory, and written as a touch only when the
// journaled one is touchMs old, so a busy console costs one commit a minute,
// not one a request. A server that takes over therefore knows each session's
// last use to within touchMs, and may idle one out that much early.
//
//   const sessions = new Sessions({ journal: { entries, commit, failed }, ... })
//   await sessions.issue(user)          → { token, expiresAt }
//   sessions.check(token)               → the Session, or throws UserError TOKEN_*
//   await sessions.logout(token)
//   sessions.endRecordsOf(user)         → the records that end a user's sessions, to commit with the user's change
//
// Without a journal the sessions live in memory (the REST API's tests).

import { createHash, randomBytes } from "node:crypto";
import { UserError } from "./user-errors.js";

export const TOKEN_BYTES = 32;
export const SESSION_LIFETIME_MS_DEFAULT = 8 * 60 * 60 * 1000; // a working day
export const SESSION_IDLE_MS_DEFAULT = 30 * 60 * 1000;
export const SESSION_TOUCH_MS_MAX = 60 * 1000; // a use is journaled at most this often per session
export const SESSIONS_MAX_DEFAULT = 10_000;
export const SESSION_KEY_PATTERN = "^[0-9a-f]{64}$"; // a token's SHA-256, hex
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/; // 32 bytes in base64url, unpadded

// A session as the journal keeps it.
export interface SessionEntry {
  key: string; // the token's SHA-256, hex
  user: string;
  issuedAtMs: number;
  expiresAtMs: number;
  touchedAtMs: number; // the last use journaled
}

export type SessionRecord =
  | { type: "session.issued"; key: string; user: string; issuedAtMs: number; expiresAtMs: number }
  | { type: "session.touched"; keys: string[]; atMs: number }
  | { type: "session.ended"; keys: string[] };

// The next list of sessions: pure. A touch or an end of a session that is gone
// already changes nothing: two ends of one session (a logout and an expiry)
// may be committed one after the other.
export function applySessionRecord(entries: readonly SessionEntry[], record: SessionRecord): SessionEntry[] {
  switch (record.type) {
    case "session.issued": {
      const { type: _type, ...fields } = record;
      return [...entries, { ...fields, touchedAtMs: record.issuedAtMs }];
    }
    case "session.touched": {
      const keys = new Set(record.keys);
      return entries.map((entry) => (keys.has(entry.key) && entry.touchedAtMs < record.atMs ? { ...entry, touchedAtMs: record.atMs } : entry));
    }
    case "session.ended": {
      const keys = new Set(record.keys);
      return entries.filter((entry) => !keys.has(entry.key));
    }
  }
}

// Where the sessions are kept: the server's store, or memory.
export interface SessionJournal {
  entries(): readonly SessionEntry[];
  commit(records: SessionRecord[]): Promise<void>;
  failed(error: unknown): void; // a background commit (a touch, the end of a stale session) failed
}

export interface SessionOptions {
  now?: () => number; // milliseconds; default Date.now
  lifetimeMs?: number; // from login to expiry, however busy
  idleMs?: number; // without a request, after which the token is refused
  touchMs?: number; // how stale the journaled last use may get; default min(SESSION_TOUCH_MS_MAX, idleMs / 4)
  sessionsMax?: number; // live sessions kept at most
  journal?: SessionJournal; // default: in memory
}

export interface Session {
  user: string;
  issuedAt: number;
  expiresAt: number;
  lastUsedAt: number;
}

export class Sessions {
  private readonly now: () => number;
  private readonly journal: SessionJournal;
  private readonly usedAtMs = new Map<string, number>(); // uses not journaled yet, by key
  private readonly ending = new Set<string>(); // ended, the record on its way to the journal
  private readonly touches = new Set<string>(); // keys whose use is to be journaled
  private touchFlush: Promise<void> | null = null;
  private indexed: readonly SessionEntry[] | null = null;
  private index = new Map<string, SessionEntry>();
  readonly lifetimeMs: number;
  readonly idleMs: number;
  readonly touchMs: number;
  readonly sessionsMax: number;

  constructor(options: SessionOptions = {}) {
    this.now = options.now ?? Date.now;
    this.lifetimeMs = positive(options.lifetimeMs ?? SESSION_LIFETIME_MS_DEFAULT, "lifetimeMs");
    this.idleMs = positive(options.idleMs ?? SESSION_IDLE_MS_DEFAULT, "idleMs");
    this.touchMs = positive(options.touchMs ?? Math.max(1, Math.min(SESSION_TOUCH_MS_MAX, Math.floor(this.idleMs / 4))), "touchMs");
    this.sessionsMax = positive(options.sessionsMax ?? SESSIONS_MAX_DEFAULT, "sessionsMax");
    this.journal = options.journal ?? memoryJournal();
  }

  // Live sessions and those not swept yet.
  get size(): number {
    return this.journal.entries().length - this.ending.size;
  }

  // A new token for `user`, to hand out once; stale sessions are swept in the same commit.
  async issue(user: string): Promise<{ token: string; expiresAt: number }> {
    const stale = this.staleKeys();
    if (this.size - stale.length >= this.sessionsMax) throw new UserError("SESSIONS_FULL", `the server keeps at most ${this.sessionsMax} sessions; log out of some first`);
    const token = randomBytes(TOKEN_BYTES).toString("base64url");
    const issuedAtMs = this.now();
    const issued: SessionRecord = { type: "session.issued", key: digest(token), user, issuedAtMs, expiresAtMs: issuedAtMs + this.lifetimeMs };
    await this.journal.commit(stale.length === 0 ? [issued] : [{ type: "session.ended", keys: stale }, issued]);
    for (const key of stale) this.usedAtMs.delete(key);
    return { token, expiresAt: issued.expiresAtMs };
  }

  // The session of `token`, its idle time restarted; or TOKEN_MISSING,
  // TOKEN_UNKNOWN (never issued, logged out, or malformed), TOKEN_EXPIRED,
  // TOKEN_IDLE. An expired or idle session is ended.
  check(token: unknown): Session {
    const key = keyOf(token);
    const entry = this.find(key);
    if (entry === undefined) throw new UserError("TOKEN_UNKNOWN", "the token is not one of a live session: log in again", "token");
    const now = this.now();
    const lastUsedAt = this.lastUsedAt(entry);
    if (now >= entry.expiresAtMs) {
      this.endInBackground([key]);
      throw new UserError("TOKEN_EXPIRED", `the session of ${entry.user} expired ${formatDuration(now - entry.expiresAtMs)} ago: log in again`, "token");
    }
    if (now - lastUsedAt >= this.idleMs) {
      this.endInBackground([key]);
      throw new UserError("TOKEN_IDLE", `the session of ${entry.user} was idle for ${formatDuration(now - lastUsedAt)} (sessions idle out after ${formatDuration(this.idleMs)}): log in again`, "token");
    }
    this.used(entry, now);
    return { user: entry.user, issuedAt: entry.issuedAtMs, expiresAt: entry.expiresAtMs, lastUsedAt: now };
  }

  async logout(token: unknown): Promise<void> {
    const key = keyOf(token);
    if (this.find(key) === undefined) throw new UserError("TOKEN_UNKNOWN", "the token is not one of a live session", "token");
    await this.end([key]);
  }

  // The records that end every session of `user` (removed, locked, or given a
  // temporary password), to commit with that change; none when it has none.
  endRecordsOf(user: string): SessionRecord[] {
    const keys = this.journal.entries().filter((entry) => entry.user === user).map((entry) => entry.key);
    for (const key of keys) this.usedAtMs.delete(key);
    return keys.length === 0 ? [] : [{ type: "session.ended", keys }];
  }

  // Ends every session of `user` now (their account is gone or locked): the count ended.
  endSessionsOf(user: string): number {
    const keys = this.journal.entries().filter((entry) => entry.user === user && !this.ending.has(entry.key)).map((entry) => entry.key);
    if (keys.length > 0) this.endInBackground(keys);
    return keys.length;
  }

  // The keys of the sessions that have expired or idled out.
  private staleKeys(): string[] {
    const now = this.now();
    return this.journal.entries()
      .filter((entry) => !this.ending.has(entry.key) && (now >= entry.expiresAtMs || now - this.lastUsedAt(entry) >= this.idleMs))
      .map((entry) => entry.key);
  }

  private find(key: string): SessionEntry | undefined {
    const entries = this.journal.entries();
    // The journal's list is replaced, never changed in place, when a session record applies.
    if (entries !== this.indexed) {
      this.index = new Map(entries.map((entry) => [entry.key, entry]));
      this.indexed = entries;
    }
    return this.ending.has(key) ? undefined : this.index.get(key);
  }

  private lastUsedAt(entry: SessionEntry): number {
    return Math.max(entry.touchedAtMs, this.usedAtMs.get(entry.key) ?? 0);
  }

  // Kept in memory; journaled once the journal's last use is touchMs old.
  private used(entry: SessionEntry, now: number): void {
    this.usedAtMs.set(entry.key, now);
    if (now - entry.touchedAtMs < this.touchMs) return;
    this.touches.add(entry.key);
    this.touchFlush ??= this.flushTouches().finally(() => { this.touchFlush = null; });
  }

  // The uses of one turn go in one commit; a failed one is reported, and the
  // uses stay in memory, so the session idles out no sooner here.
  private async flushTouches(): Promise<void> {
    await Promise.resolve();
    while (this.touches.size > 0) {
      const keys = [...this.touches];
      this.touches.clear();
      try {
        await this.journal.commit([{ type: "session.touched", keys, atMs: this.now() }]);
      } catch (error) {
        this.journal.failed(error);
      }
    }
  }

  private async end(keys: string[]): Promise<void> {
    for (const key of keys) this.ending.add(key);
    try {
      await this.journal.commit([{ type: "session.ended", keys }]);
    } finally {
      for (const key of keys) {
        this.ending.delete(key);
        this.usedAtMs.delete(key);
      }
    }
  }

  private endInBackground(keys: string[]): void {
    this.end(keys).catch((error: unknown) => this.journal.failed(error));
  }
}

// Sessions kept by nothing but this process.
export function memoryJournal(): SessionJournal {
  let entries: SessionEntry[] = [];
  return {
    entries: () => entries,
    commit: async (records) => {
      for (const record of records) entries = applySessionRecord(entries, record);
    },
    failed: (error) => {
      throw error;
    },
  };
}

function keyOf(token: unknown): string {
  if (token === undefined || token === null || token === "") throw new UserError("TOKEN_MISSING", "the request carries no token: log in first", "token");
  if (typeof token !== "string" || !TOKEN_PATTERN.test(token)) throw new UserError("TOKEN_UNKNOWN", "a token is 43 characters of base64url; this is not one", "token");
  return digest(token);
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new UserError("BAD_ARGUMENT", `${name} must be a positive whole number, not ${value}`, name);
  return value;
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}
