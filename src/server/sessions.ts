// Login sessions of the Copy Services Server: a token per login (32 random
// bytes, base64url) that expires a fixed time after the login and idles out
// after a stretch without use, and logout. Tokens are kept by their SHA-256,
// never as given, so the map's lookups do not compare secrets. The clock is
// injected, so tests move time instead of waiting for it.
//
// Sessions are not journaled: a restarted server, or a backup that takes
// over, starts without any, and its users log in again.

import { createHash, randomBytes } from "node:crypto";
import { UserError } from "./user-errors.js";

export const TOKEN_BYTES = 32;
export const SESSION_LIFETIME_MS_DEFAULT = 8 * 60 * 60 * 1000; // a working day
export const SESSION_IDLE_MS_DEFAULT = 30 * 60 * 1000;
export const SESSIONS_MAX_DEFAULT = 10_000;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/; // 32 bytes in base64url, unpadded

export interface SessionOptions {
  now?: () => number; // milliseconds; default Date.now
  lifetimeMs?: number; // from login to expiry, however busy
  idleMs?: number; // without a request, after which the token is refused
  sessionsMax?: number; // live sessions kept at most
}

export interface Session {
  user: string;
  passwordExpired: boolean; // only chuser -pw of one's own password until it is changed
  issuedAt: number;
  expiresAt: number;
  lastUsedAt: number;
}

export class Sessions {
  private readonly sessions = new Map<string, Session>(); // by the token's SHA-256, hex
  private readonly now: () => number;
  readonly lifetimeMs: number;
  readonly idleMs: number;
  readonly sessionsMax: number;

  constructor(options: SessionOptions = {}) {
    this.now = options.now ?? Date.now;
    this.lifetimeMs = positive(options.lifetimeMs ?? SESSION_LIFETIME_MS_DEFAULT, "lifetimeMs");
    this.idleMs = positive(options.idleMs ?? SESSION_IDLE_MS_DEFAULT, "idleMs");
    this.sessionsMax = positive(options.sessionsMax ?? SESSIONS_MAX_DEFAULT, "sessionsMax");
  }

  get size(): number {
    return this.sessions.size;
  }

  // A new token for `user`, to hand out once.
  issue(user: string, passwordExpired: boolean): { token: string; expiresAt: number } {
    if (this.sessions.size >= this.sessionsMax) this.sweep();
    if (this.sessions.size >= this.sessionsMax) throw new UserError("SESSIONS_FULL", `the server keeps at most ${this.sessionsMax} sessions; log out of some first`);
    const token = randomBytes(TOKEN_BYTES).toString("base64url");
    const issuedAt = this.now();
    const session: Session = { user, passwordExpired, issuedAt, expiresAt: issuedAt + this.lifetimeMs, lastUsedAt: issuedAt };
    this.sessions.set(digest(token), session);
    return { token, expiresAt: session.expiresAt };
  }

  // The session of `token`, its idle time restarted; or TOKEN_MISSING,
  // TOKEN_UNKNOWN (never issued, logged out, or malformed), TOKEN_EXPIRED,
  // TOKEN_IDLE. An expired or idle session is ended.
  check(token: unknown): Session {
    const key = this.keyOf(token);
    const session = this.sessions.get(key);
    if (session === undefined) throw new UserError("TOKEN_UNKNOWN", "the token is not one of a live session: log in again", "token");
    const now = this.now();
    if (now >= session.expiresAt) {
      this.sessions.delete(key);
      throw new UserError("TOKEN_EXPIRED", `the session of ${session.user} expired ${formatDuration(now - session.expiresAt)} ago: log in again`, "token");
    }
    if (now - session.lastUsedAt >= this.idleMs) {
      this.sessions.delete(key);
      throw new UserError("TOKEN_IDLE", `the session of ${session.user} was idle for ${formatDuration(now - session.lastUsedAt)} (sessions idle out after ${formatDuration(this.idleMs)}): log in again`, "token");
    }
    session.lastUsedAt = now;
    return { ...session };
  }

  logout(token: unknown): void {
    const key = this.keyOf(token);
    if (!this.sessions.delete(key)) throw new UserError("TOKEN_UNKNOWN", "the token is not one of a live session", "token");
  }

  // Ends every session of `user` (removed, or locked): the count ended.
  endSessionsOf(user: string): number {
    let ended = 0;
    for (const [key, session] of this.sessions) {
      if (session.user !== user) continue;
      this.sessions.delete(key);
      ended++;
    }
    return ended;
  }

  // After the user set a new password: their sessions may run every command their groups allow.
  passwordChanged(user: string): void {
    for (const session of this.sessions.values()) if (session.user === user) session.passwordExpired = false;
  }

  // Removes expired and idle sessions; returns how many.
  sweep(): number {
    const now = this.now();
    let removed = 0;
    for (const [key, session] of this.sessions) {
      if (now < session.expiresAt && now - session.lastUsedAt < this.idleMs) continue;
      this.sessions.delete(key);
      removed++;
    }
    return removed;
  }

  private keyOf(token: unknown): string {
    if (token === undefined || token === null || token === "") throw new UserError("TOKEN_MISSING", "the request carries no token: log in first", "token");
    if (typeof token !== "string" || !TOKEN_PATTERN.test(token)) throw new UserError("TOKEN_UNKNOWN", "a token is 43 characters of base64url; this is not one", "token");
    return digest(token);
  }
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
