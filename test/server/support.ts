// Helpers of the server tests: cheap scrypt parameters (the real ones take
// tens of milliseconds a hash), a site with an admin, and error checks.
import * as assert from "uvu/assert";
import { UserError, type UserErrorCode } from "../../src/server/user-errors.js";
import { applyUserRecord, emptyUsers, firstStart, type UsersState, type UserRecord } from "../../src/server/users.js";
import type { ScryptParameters } from "../../src/server/passwords.js";

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

export async function rejectsWithUser(promise: Promise<unknown>, code: UserErrorCode): Promise<UserError> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, UserError, `expected UserError ${code}, got ${String(error)}`);
    assert.is((error as UserError).code, code, (error as UserError).message);
    return error as UserError;
  }
  throw new assert.Assertion({ message: `expected a rejection with ${code}`, operator: "rejects", expects: code, actual: "resolved", generated: false });
}

export function throwsUser(action: () => unknown, code: UserErrorCode): UserError {
  try {
    action();
  } catch (error) {
    assert.instance(error, UserError, `expected UserError ${code}, got ${String(error)}`);
    assert.is((error as UserError).code, code, (error as UserError).message);
    return error as UserError;
  }
  throw new assert.Assertion({ message: `expected a throw with ${code}`, operator: "throws", expects: code, actual: "returned", generated: false });
}

// Freezes a state all the way down, so that a command or apply that writes to it throws.
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const field of Object.values(value as object)) deepFreeze(field);
  }
  return value;
}
