// DS8000's name and password rules, and scrypt hashes that carry their parameters.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  checkName, checkPassword, hashPassword, verifyPassword, generatePassword, brokenPasswordRule, passwordHashProblem,
} from "../../src/server/passwords.js";
import { CHEAP_SCRYPT, throwsUser } from "./support.js";

const Rules = suite("user name and password rules");

Rules("should accept names of 1 to 16 characters that start with a letter", () => {
  for (const name of ["a", "admin", "copy_op-2.b", "A234567890123456"]) assert.is(checkName(name), name);
});

Rules("should refuse an empty, long or ill-formed name, naming it and the rule", () => {
  for (const name of ["", "A2345678901234567", "2admin", "ad min", "ad/min", "_admin", "név"]) {
    const error = throwsUser(() => checkName(name), "BAD_NAME");
    assert.is(error.field, "name");
    assert.match(error.message, /1 to 16 characters, starts with a letter/);
  }
  throwsUser(() => checkName(undefined), "BAD_NAME");
});

Rules("should accept a password that keeps every DS8000 rule", () => {
  for (const password of ["abcde1f", "Tzero7abc", "Copy2ServicesXy", "a1b2c3d4efghijkl"]) assert.is(checkPassword(password, "bob"), password);
});

Rules("should refuse each broken rule with a message saying which", () => {
  const cases: [string, RegExp][] = [
    ["ab1cd", /5 characters, not 6 to 16/],
    ["abcdefghij1234567", /17 characters, not 6 to 16/],
    ["abc de1f", /space/],
    ["ab12c3d", /4 letters, fewer than 5/],
    ["abcdefg", /no digit/],
    ["1abcdef", /begin and end with a letter/],
    ["abcdef1", /begin and end with a letter/],
    ["xBoB1abcd", /contains the user name/],
  ];
  for (const [password, rule] of cases) {
    const error = throwsUser(() => checkPassword(password, "bob"), "BAD_PASSWORD");
    assert.match(error.message, rule);
    assert.match(error.rule ?? "", rule);
    assert.is(error.field, "password");
    assert.not.ok(error.message.includes(password), "the message does not repeat the password");
  }
  throwsUser(() => checkPassword("", "bob"), "BAD_PASSWORD");
});

const Hashes = suite("scrypt password hashes");

Hashes("should verify the right password and refuse a wrong one, with a fresh salt each time", async () => {
  const first = await hashPassword("Tzero7abc", CHEAP_SCRYPT);
  const second = await hashPassword("Tzero7abc", CHEAP_SCRYPT);
  assert.is(first.algorithm, "scrypt");
  assert.equal([first.N, first.r, first.p, first.keyLength], [1024, 8, 1, 32]);
  assert.is.not(first.salt, second.salt);
  assert.is.not(first.hash, second.hash);
  assert.ok(await verifyPassword("Tzero7abc", first));
  assert.not.ok(await verifyPassword("tzero7abc", first), "passwords are case-sensitive");
  assert.not.ok(await verifyPassword("Tzero7abd", second));
  assert.is(passwordHashProblem(first), null);
});

Hashes("should find what is wrong with a damaged hash record", () => {
  const good = { algorithm: "scrypt", N: 1024, r: 8, p: 1, keyLength: 32, salt: "c2FsdA==", hash: Buffer.alloc(32).toString("base64") };
  assert.is(passwordHashProblem(good), null);
  assert.match(passwordHashProblem({ ...good, N: 1000 }) ?? "", /power of two/);
  assert.match(passwordHashProblem({ ...good, N: 1 << 24 }) ?? "", /power of two/);
  assert.match(passwordHashProblem({ ...good, r: 0 }) ?? "", /out of range/);
  assert.match(passwordHashProblem({ ...good, hash: "AAAA" }) ?? "", /keyLength bytes/);
  assert.match(passwordHashProblem({ ...good, algorithm: "md5" }) ?? "", /not an scrypt/);
  assert.match(passwordHashProblem(null) ?? "", /not an scrypt/);
});

Hashes("should generate random passwords that keep the rules", () => {
  const seen = new Set<string>();
  for (let draw = 0; draw < 500; draw++) {
    const password = generatePassword("admin");
    assert.is(brokenPasswordRule(password, "admin"), null, password);
    assert.is(password.length, 16);
    seen.add(password);
  }
  assert.is(seen.size, 500, "no two alike");
});

Rules.run();
Hashes.run();
