// Helpers of the server tests: cheap scrypt parameters (the real ones take
// tens of milliseconds a hash), a site with an admin, and error checks.
import * as assert from "uvu/assert";
import { UserError, type UserErrorCode } from "../../src/server/user-errors.js";
import { applyUserRecord, emptyUsers, firstStart, type UsersState, type UserRecord } from "../../src/server/users.js";
import type { ScryptParameters } from "../../src/server/passwords.js";
import { rejectsWithCode, throwsWithCode } from "../support/coded-errors.js";

export const CHEAP_SCRYPT: ScryptParameters = { N: 1024, r: 8, p: 1, keyLength: 32 };
export const config = { scrypt: CHEAP_SCRYPT };

export function applyAll(state: UsersState, records: readonly UserRecord[]): UsersState {
  return records.reduce(applyUserRecord, state);
}

// A site whose admin has the password returned.
export async function siteWithAdmin(): Promise<{ state: UsersState; adminPassword: string }> {
  const start = await firstStart(emptyUsers(), config);
  assert.ok(start !== null && start.password !== null);
  return { state: applyUserRecord(emptyUsers(), start.record), adminPassword: start.password };
}

export function rejectsWithUser(promise: Promise<unknown>, code: UserErrorCode): Promise<UserError> {
  return rejectsWithCode(promise, UserError, code);
}

export function throwsUser(action: () => unknown, code: UserErrorCode): UserError {
  return throwsWithCode(action, UserError, code);
}

// Freezes a state all the way down, so that a command or apply that writes to it throws.
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const field of Object.values(value as object)) deepFreeze(field);
  }
  return value;
}
