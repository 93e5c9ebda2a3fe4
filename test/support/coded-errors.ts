// The error a call fails with, checked for its class and its code (errors
// carry a code to act on: EngineError, SiteError, UserError, WireError...);
// any other error, or no error, fails the test and says what came instead.
import * as assert from "uvu/assert";

type CodedErrorClass<E> = abstract new (...args: never[]) => E;

function checkCoded<E extends Error & { code: string }>(error: unknown, kind: CodedErrorClass<E>, code: E["code"]): E {
  assert.instance(error, kind, `expected ${kind.name} ${code}, got ${String(error)}`);
  const coded = error as E;
  assert.is(coded.code, code, `${kind.name} ${coded.code} (${coded.message}), expected ${code}`);
  return coded;
}

export async function rejectsWithCode<E extends Error & { code: string }>(promise: Promise<unknown>, kind: CodedErrorClass<E>, code: E["code"], what = ""): Promise<E> {
  try {
    await promise;
  } catch (error) {
    return checkCoded(error, kind, code);
  }
  throw new assert.Assertion({ message: `expected a rejection with ${code}${what ? ` (${what})` : ""}`, operator: "rejects", expects: code, actual: "resolved", generated: false });
}

export function throwsWithCode<E extends Error & { code: string }>(action: () => unknown, kind: CodedErrorClass<E>, code: E["code"]): E {
  try {
    action();
  } catch (error) {
    return checkCoded(error, kind, code);
  }
  throw new assert.Assertion({ message: `expected a throw with ${code}`, operator: "throws", expects: code, actual: "returned", generated: false });
}
