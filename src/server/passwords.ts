// Passwords of the site's users: DS8000's rules for names and passwords, and
// scrypt hashes (node:crypto) that carry their own parameters and salt, so
// that stronger parameters can be introduced without invalidating old hashes.
//
// The rules are those of the DS CLI of the ESS/DS8000 (mkuser, chuser):
//   user name: 1 to 16 characters (DS8000's limit); tzero also asks that it
//     start with a letter and hold only letters, digits, "_", "-" and ".".
//   password: 6 to 16 characters, at least 5 of them letters and at least 1
//     a digit, beginning and ending with a letter, not containing the user
//     name (compared ignoring case), case-sensitive, printable ASCII without
//     spaces (tzero's), and none of the user's last four passwords.

import { randomBytes, randomInt, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { UserError } from "./user-errors.js";

export const NAME_LENGTH_MAX = 16;
export const PASSWORD_LENGTH_MIN = 6;
export const PASSWORD_LENGTH_MAX = 16;
export const PASSWORD_LETTERS_MIN = 5;
export const PASSWORD_DIGITS_MIN = 1;
export const PASSWORD_HISTORY = 4; // a new password must differ from this many: the current one and the three before

export const NAME_RULES = `a user name has 1 to ${NAME_LENGTH_MAX} characters, starts with a letter and holds only letters, digits, "_", "-" and "."`;
export const PASSWORD_RULES = `a password has ${PASSWORD_LENGTH_MIN} to ${PASSWORD_LENGTH_MAX} characters (printable, no spaces), at least ${PASSWORD_LETTERS_MIN} letters and ${PASSWORD_DIGITS_MIN} digit, begins and ends with a letter, does not contain the user name, and is none of the user's last ${PASSWORD_HISTORY} passwords; it is case-sensitive`;

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const PRINTABLE = /^[\x21-\x7e]*$/;
const LETTER = /[A-Za-z]/;

export function checkName(name: unknown): string {
  if (typeof name !== "string" || name.length === 0) throw new UserError("BAD_NAME", `a user name is required: ${NAME_RULES}`, "name");
  if (name.length > NAME_LENGTH_MAX) throw new UserError("BAD_NAME", `the user name ${JSON.stringify(name)} has ${name.length} characters; ${NAME_RULES}`, "name");
  if (!NAME_PATTERN.test(name)) throw new UserError("BAD_NAME", `the user name ${JSON.stringify(name)} is not allowed: ${NAME_RULES}`, "name");
  return name;
}

// The rule `password` breaks for user `name`, or null when it keeps them all
// (the history rule needs the hashes: see isReused).
export function brokenPasswordRule(password: string, name: string): string | null {
  const letters = [...password].filter((character) => LETTER.test(character)).length;
  const digits = [...password].filter((character) => character >= "0" && character <= "9").length;
  if (password.length < PASSWORD_LENGTH_MIN || password.length > PASSWORD_LENGTH_MAX) return `it has ${password.length} characters, not ${PASSWORD_LENGTH_MIN} to ${PASSWORD_LENGTH_MAX}`;
  if (!PRINTABLE.test(password)) return "it holds a space or a character that is not printable ASCII";
  if (letters < PASSWORD_LETTERS_MIN) return `it has ${letters} letters, fewer than ${PASSWORD_LETTERS_MIN}`;
  if (digits < PASSWORD_DIGITS_MIN) return "it has no digit";
  if (!LETTER.test(password[0]) || !LETTER.test(password[password.length - 1])) return "it does not begin and end with a letter";
  if (password.toLowerCase().includes(name.toLowerCase())) return "it contains the user name";
  return null;
}

// Checks `password` for user `name`; `where` says where it came from ("-pw", a file) for the message.
export function checkPassword(password: unknown, name: string, where = "-pw"): string {
  if (typeof password !== "string" || password.length === 0) throw new UserError("BAD_PASSWORD", `${where}: a password is required: ${PASSWORD_RULES}`, "password", "required");
  const broken = brokenPasswordRule(password, name);
  if (broken !== null) throw new UserError("BAD_PASSWORD", `${where}: the password for ${name} is too weak: ${broken}; ${PASSWORD_RULES}`, "password", broken);
  return password;
}

export interface ScryptParameters {
  N: number; // CPU/memory cost, a power of two
  r: number; // block size
  p: number; // parallelism
  keyLength: number; // bytes of derived key
}

// Node's defaults but a 32-byte key: about 16 MiB and tens of ms per hash.
export const SCRYPT_DEFAULTS: ScryptParameters = { N: 16_384, r: 8, p: 1, keyLength: 32 };
const SALT_BYTES = 16;
// Bounds on parameters read back from the journal: a damaged record must not
// make one login take minutes or gigabytes.
const N_MAX = 1 << 20;
const R_MAX = 32;
const P_MAX = 16;
const KEY_LENGTH_MAX = 64;

export interface PasswordHash extends ScryptParameters {
  algorithm: "scrypt";
  salt: string; // base64
  hash: string; // base64
}

function derive(password: string, salt: Buffer, parameters: ScryptParameters): Promise<Buffer> {
  const options: ScryptOptions = { N: parameters.N, r: parameters.r, p: parameters.p, maxmem: 256 * parameters.N * parameters.r + (1 << 20) };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, parameters.keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashPassword(password: string, parameters: ScryptParameters = SCRYPT_DEFAULTS): Promise<PasswordHash> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, parameters);
  return { algorithm: "scrypt", ...parameters, salt: salt.toString("base64"), hash: key.toString("base64") };
}

export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const expected = Buffer.from(stored.hash, "base64");
  const key = await derive(password, Buffer.from(stored.salt, "base64"), stored);
  return key.byteLength === expected.byteLength && timingSafeEqual(key, expected);
}

// True when `password` is the current one or one of the history's.
export async function isReused(password: string, hashes: readonly PasswordHash[]): Promise<boolean> {
  for (const hash of hashes) if (await verifyPassword(password, hash)) return true;
  return false;
}

// Why `value` is not a well-formed PasswordHash, or null when it is.
export function passwordHashProblem(value: unknown): string | null {
  const hash = value as Partial<PasswordHash> | null;
  if (typeof hash !== "object" || hash === null || hash.algorithm !== "scrypt") return "not an scrypt password hash";
  const within = (field: unknown, low: number, high: number) => typeof field === "number" && Number.isSafeInteger(field) && field >= low && field <= high;
  if (!within(hash.N, 2, N_MAX) || (hash.N! & (hash.N! - 1)) !== 0) return `its N is not a power of two up to ${N_MAX}`;
  if (!within(hash.r, 1, R_MAX) || !within(hash.p, 1, P_MAX) || !within(hash.keyLength, 16, KEY_LENGTH_MAX)) return "its r, p or keyLength is out of range";
  if (typeof hash.salt !== "string" || typeof hash.hash !== "string") return "its salt or hash is not text";
  if (Buffer.from(hash.hash, "base64").byteLength !== hash.keyLength) return "its hash is not keyLength bytes";
  return null;
}

const LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"; // no I, l, O: read aloud or copied from a terminal
const DIGITS = "23456789";
const GENERATED_LENGTH = PASSWORD_LENGTH_MAX;
const GENERATION_ATTEMPTS_MAX = 100;

// A random password of 16 characters that keeps the rules for `name`:
// letters at both ends, letters and digits between.
export function generatePassword(name: string): string {
  for (let attempt = 0; attempt < GENERATION_ATTEMPTS_MAX; attempt++) {
    const alphabet = LETTERS + DIGITS;
    let password = LETTERS[randomInt(LETTERS.length)];
    for (let index = 2; index < GENERATED_LENGTH; index++) password += alphabet[randomInt(alphabet.length)];
    password += LETTERS[randomInt(LETTERS.length)];
    if (brokenPasswordRule(password, name) === null) return password;
  }
  throw new Error(`no password keeping the rules came out of ${GENERATION_ATTEMPTS_MAX} random draws`);
}
