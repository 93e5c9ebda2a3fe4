// The site's users, as the DS CLI of an ESS/DS8000 has them: mkuser, lsuser,
// chuser, rmuser, the seven user groups and what each may run, logins with
// lockout after failed attempts, and the first start's admin account.
//
// The state is plain data (UsersState), kept by the server's journal
// (src/store/journal.ts): commands check their input and the caller's
// authority against the state and produce records; applyUserRecord(state,
// record) is pure and is the only way the state changes, both live and when
// the journal replays. A command that refuses throws a UserError and produces
// nothing, so nothing changes.
//
//   mkuser(state, actor, { name, password, groups })          → Promise<UserRecord>
//   chuser(state, actor, { name, password?, groups?, lock?, unlock? }) → Promise<UserRecord[]>
//   rmuser(state, actor, name)                                 → UserRecord
//   lsuser(state, actor)                                       → rows { Name, Group, State }
//   authenticate(state, name, password, config?)               → Promise<LoginOutcome>
//   authorize(state, name, commandClass)                       → the account, or throws
//   firstStart(state, { passwordFile? })                       → Promise<{ record, password } | null>
//
// Sessions (tokens) live in sessions.ts, journaled beside the users, so a
// server that restarts or takes over knows its users' tokens.

import { readFile } from "node:fs/promises";
import { UserError } from "./user-errors.js";
import {
  checkName, checkPassword, hashPassword, verifyPassword, isReused, passwordHashProblem, generatePassword,
  SCRYPT_DEFAULTS, PASSWORD_HISTORY, NAME_RULES, PASSWORD_RULES, type PasswordHash, type ScryptParameters,
} from "./passwords.js";

// What each command class covers; commands are mapped to classes where they are wired.
export type CommandClass =
  | "monitor" // list and show commands
  | "copy_services" // FlashCopy and PPRC: mkflash, rmflash, mkpprc, ...
  | "volume" // logical volumes, hosts, volume groups: mkfbvol, rmfbvol, ...
  | "storage" // physical configuration: storage images, arrays, ranks, extent pools
  | "service" // code loads, problem logs
  | "security"; // user administration: mkuser, rmuser, lsuser, chuser of another user

// DS8000's user groups and what each may run (DS CLI mkuser -group).
export const USER_GROUPS = {
  admin: { classes: ["monitor", "copy_services", "volume", "storage", "service", "security"], about: "everything, user administration included" },
  op_storage: { classes: ["monitor", "copy_services", "storage"], about: "physical configuration, plus op_copy_services and monitor" },
  op_volume: { classes: ["monitor", "volume"], about: "logical volumes, hosts and volume groups, plus monitor" },
  op_copy_services: { classes: ["monitor", "copy_services"], about: "Copy Services, plus monitor" },
  service: { classes: ["monitor", "service"], about: "service methods such as code loads and problem logs, plus monitor" },
  monitor: { classes: ["monitor"], about: "list and show commands only" },
  no_access: { classes: [], about: "nothing but changing one's own password" },
} as const satisfies Record<string, { classes: readonly CommandClass[]; about: string }>;

export type UserGroup = keyof typeof USER_GROUPS;
const GROUP_NAMES = Object.keys(USER_GROUPS) as UserGroup[];

export const FAILED_LOGINS_MAX_DEFAULT = 3; // DS8000's default (chpass -fail)

export interface UserAccount {
  name: string;
  groups: UserGroup[];
  password: PasswordHash;
  history: PasswordHash[]; // the passwords before the current one, newest first, at most PASSWORD_HISTORY - 1
  passwordExpired: boolean; // set by an administrator: must be changed at the next login
  locked: boolean;
  failedLogins: number; // since the last successful login
}

export interface UsersState {
  failedLoginsMax: number; // a login failing this many times in a row locks the account (0: never)
  users: UserAccount[]; // by name
}

export type UserRecord =
  | { type: "user.create"; name: string; groups: UserGroup[]; password: PasswordHash; expired: boolean }
  | { type: "user.password"; name: string; password: PasswordHash; expired: boolean }
  | { type: "user.groups"; name: string; groups: UserGroup[] }
  | { type: "user.lock"; name: string }
  | { type: "user.unlock"; name: string }
  | { type: "user.remove"; name: string }
  | { type: "user.login-failed"; name: string }
  | { type: "user.login-succeeded"; name: string };

export function emptyUsers(failedLoginsMax = FAILED_LOGINS_MAX_DEFAULT): UsersState {
  return { failedLoginsMax, users: [] };
}

export interface UsersConfig {
  scrypt?: ScryptParameters; // default SCRYPT_DEFAULTS; tests use cheaper ones
}

export const USERS_HELP = {
  mkuser: `mkuser -pw PASSWORD -group GROUP[,GROUP...] NAME: creates a user (admin only); the password is temporary and must be changed with chuser -pw at the first login. Groups: ${GROUP_NAMES.join(", ")}. ${capitalise(NAME_RULES)}. ${capitalise(PASSWORD_RULES)}.`,
  chuser: `chuser [-pw PASSWORD] [-group GROUP[,GROUP...]] [-lock | -unlock] NAME: changes a user. Anyone may change their own password; only admin may change another user's (it is then temporary), groups, or lock and unlock. ${capitalise(PASSWORD_RULES)}.`,
  lsuser: "lsuser: lists the users (admin only), columns Name, Group and State (active or locked).",
  rmuser: "rmuser NAME: removes a user (admin only); the last unlocked admin cannot be removed.",
} as const;

function capitalise(text: string): string {
  return text[0].toUpperCase() + text.slice(1);
}

// ---- the state, changed only by records ----

export function findUser(state: UsersState, name: string): UserAccount | undefined {
  return state.users.find((user) => user.name === name);
}

function requireUser(state: UsersState, name: string): UserAccount {
  const user = findUser(state, name);
  if (user === undefined) throw new UserError("NO_SUCH_USER", `there is no user named ${JSON.stringify(name)}`, "name");
  return user;
}

// The next state: pure (a new state, the argument untouched). Throws
// UserError BAD_RECORD for a record that is malformed or does not fit.
export function applyUserRecord(state: UsersState, record: UserRecord): UsersState {
  const problem = recordProblem(record);
  if (problem !== null) throw new UserError("BAD_RECORD", `not a valid users record: ${problem}`);
  if (record.type === "user.create") {
    if (findUser(state, record.name) !== undefined) throw new UserError("BAD_RECORD", `user.create: ${record.name} exists already`, "name");
    const account: UserAccount = { name: record.name, groups: [...record.groups], password: record.password, history: [], passwordExpired: record.expired, locked: false, failedLogins: 0 };
    return { ...state, users: [...state.users, account].sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0)) };
  }
  const user = findUser(state, record.name);
  if (user === undefined) throw new UserError("BAD_RECORD", `${record.type}: there is no user ${record.name}`, "name");
  if (record.type === "user.remove") return { ...state, users: state.users.filter((each) => each !== user) };
  return { ...state, users: state.users.map((each) => (each === user ? changedAccount(state, user, record) : each)) };
}

function changedAccount(state: UsersState, user: UserAccount, record: Exclude<UserRecord, { type: "user.create" | "user.remove" }>): UserAccount {
  switch (record.type) {
    case "user.password":
      return { ...user, password: record.password, history: [user.password, ...user.history].slice(0, PASSWORD_HISTORY - 1), passwordExpired: record.expired };
    case "user.groups":
      return { ...user, groups: [...record.groups] };
    case "user.lock":
      return { ...user, locked: true };
    case "user.unlock":
      return { ...user, locked: false, failedLogins: 0 };
    case "user.login-failed": {
      const failedLogins = user.failedLogins + 1;
      return { ...user, failedLogins, locked: user.locked || (state.failedLoginsMax > 0 && failedLogins >= state.failedLoginsMax) };
    }
    case "user.login-succeeded":
      return { ...user, failedLogins: 0 };
  }
}

const RECORD_TYPES = new Set(["user.create", "user.password", "user.groups", "user.lock", "user.unlock", "user.remove", "user.login-failed", "user.login-succeeded"]);

// Why `value` is not a well-formed record (whatever the state), or null.
function recordProblem(value: unknown): string | null {
  const record = value as Partial<Record<string, unknown>> | null;
  if (typeof record !== "object" || record === null || typeof record.type !== "string" || !RECORD_TYPES.has(record.type)) return "no known type";
  try {
    checkName(record.name);
  } catch (error) {
    return `${record.type}: ${(error as Error).message}`;
  }
  if ((record.type === "user.create" || record.type === "user.groups") && groupsProblem(record.groups) !== null) return `${record.type}: ${groupsProblem(record.groups)}`;
  if (record.type === "user.create" || record.type === "user.password") {
    const hashProblem = passwordHashProblem(record.password);
    if (hashProblem !== null) return `${record.type}: the password hash: ${hashProblem}`;
    if (typeof record.expired !== "boolean") return `${record.type}: expired is not true or false`;
  }
  return null;
}

function groupsProblem(groups: unknown): string | null {
  if (!Array.isArray(groups) || groups.length === 0) return "no groups";
  for (const group of groups) if (!GROUP_NAMES.includes(group as UserGroup)) return `unknown group ${JSON.stringify(group)}`;
  if (new Set(groups).size !== groups.length) return "a group given twice";
  if (groups.includes("no_access") && groups.length > 1) return "no_access with other groups";
  return null;
}

// ---- authority ----

export function classesOf(groups: readonly UserGroup[]): Set<CommandClass> {
  return new Set(groups.flatMap((group) => USER_GROUPS[group].classes));
}

// May user `name` run a command of `commandClass`? Returns the account, or
// throws: NO_SUCH_USER (removed since it logged in), ACCOUNT_LOCKED,
// PASSWORD_EXPIRED (only chuser -pw of one's own password is allowed, which
// is not a class: see chuser), NOT_AUTHORIZED.
export function authorize(state: UsersState, name: string, commandClass: CommandClass): UserAccount {
  const user = requireUser(state, name);
  if (user.locked) throw new UserError("ACCOUNT_LOCKED", `the account of ${name} is locked; an administrator can unlock it with chuser -unlock`, "name");
  if (user.passwordExpired) throw new UserError("PASSWORD_EXPIRED", `the password of ${name} has expired: set a new one with chuser -pw PASSWORD ${name} first`, "password");
  if (!classesOf(user.groups).has(commandClass)) {
    throw new UserError("NOT_AUTHORIZED", `${name} (group ${user.groups.join(",")}) may not run ${commandClass.replace("_", " ")} commands`, "group");
  }
  return user;
}

// The caller of a command: logged in, not locked. An expired password still
// lets one change it.
function actorAccount(state: UsersState, actor: string): UserAccount {
  const user = requireUser(state, actor);
  if (user.locked) throw new UserError("ACCOUNT_LOCKED", `the account of ${actor} is locked`, "name");
  return user;
}

// True when no unlocked admin remains in `users`.
function noAdminLeft(users: readonly UserAccount[]): boolean {
  return !users.some((user) => user.groups.includes("admin") && !user.locked);
}

function checkAdminRemains(state: UsersState, after: UsersState, what: string): void {
  if (noAdminLeft(after.users) && !noAdminLeft(state.users)) throw new UserError("LAST_ADMIN", `${what} would leave no unlocked user in the admin group`, "name");
}

// ---- commands: they check, and produce records ----

export function parseGroups(text: unknown): UserGroup[] {
  if (typeof text !== "string" || text.length === 0) throw new UserError("BAD_GROUP", `-group needs one or more of ${GROUP_NAMES.join(", ")}, separated by commas`, "group");
  const groups = text.split(",");
  for (const group of groups) {
    if (!GROUP_NAMES.includes(group as UserGroup)) throw new UserError("BAD_GROUP", `-group: ${JSON.stringify(group)} is not a user group; the groups are ${GROUP_NAMES.join(", ")}`, "group");
  }
  const problem = groupsProblem(groups);
  if (problem !== null) throw new UserError("BAD_GROUP", `-group ${text}: ${problem}`, "group");
  return groups as UserGroup[];
}

export interface MkuserArguments {
  name: string;
  password: string; // -pw
  groups: string; // -group G[,G]
}

export async function mkuser(state: UsersState, actor: string, input: MkuserArguments, config: UsersConfig = {}): Promise<UserRecord> {
  authorize(state, actor, "security");
  const name = checkName(input.name);
  const groups = parseGroups(input.groups);
  const password = checkPassword(input.password, name);
  if (findUser(state, name) !== undefined) throw new UserError("USER_EXISTS", `a user named ${name} exists already`, "name");
  return { type: "user.create", name, groups, password: await hashPassword(password, config.scrypt ?? SCRYPT_DEFAULTS), expired: true };
}

export interface ChuserArguments {
  name: string;
  password?: string; // -pw
  groups?: string; // -group
  lock?: boolean;
  unlock?: boolean;
}

export async function chuser(state: UsersState, actor: string, input: ChuserArguments, config: UsersConfig = {}): Promise<UserRecord[]> {
  const caller = actorAccount(state, actor);
  const name = checkName(input.name);
  const changes = [input.password !== undefined, input.groups !== undefined, input.lock === true, input.unlock === true];
  if (!changes.some(Boolean)) throw new UserError("BAD_ARGUMENT", "chuser: give -pw, -group, -lock or -unlock");
  if (input.lock === true && input.unlock === true) throw new UserError("BAD_ARGUMENT", "chuser: -lock and -unlock exclude each other", "lock");
  const ownPasswordOnly = name === actor && input.groups === undefined && input.lock !== true && input.unlock !== true;
  if (!ownPasswordOnly) authorize(state, actor, "security");
  const user = requireUser(state, name);
  const records: UserRecord[] = [];
  if (input.groups !== undefined) records.push({ type: "user.groups", name, groups: parseGroups(input.groups) });
  if (input.lock === true) records.push({ type: "user.lock", name });
  if (input.unlock === true) records.push({ type: "user.unlock", name });
  if (input.password !== undefined) records.push(await passwordRecord(user, caller, input.password, config));
  checkAdminRemains(state, records.reduce(applyUserRecord, state), `chuser ${name}`);
  return records;
}

// A new password: the user's own is theirs; one set by an administrator for
// someone else is temporary (DS CLI: it expires at its first use).
async function passwordRecord(user: UserAccount, caller: UserAccount, text: string, config: UsersConfig): Promise<UserRecord> {
  const password = checkPassword(text, user.name);
  if (await isReused(password, [user.password, ...user.history])) {
    throw new UserError("PASSWORD_REUSED", `-pw: the password is one of the last ${PASSWORD_HISTORY} of ${user.name}; choose another`, "password", "reused");
  }
  return { type: "user.password", name: user.name, password: await hashPassword(password, config.scrypt ?? SCRYPT_DEFAULTS), expired: caller.name !== user.name };
}

export function rmuser(state: UsersState, actor: string, name: string): UserRecord {
  authorize(state, actor, "security");
  requireUser(state, checkName(name));
  const record: UserRecord = { type: "user.remove", name };
  checkAdminRemains(state, applyUserRecord(state, record), `rmuser ${name}`);
  return record;
}

export interface UserRow {
  Name: string;
  Group: string; // comma-separated
  State: "active" | "locked";
}

export function lsuser(state: UsersState, actor: string): UserRow[] {
  authorize(state, actor, "security");
  return state.users.map((user) => ({ Name: user.name, Group: user.groups.join(","), State: user.locked ? "locked" : "active" }));
}

// ---- logins ----

export type LoginOutcome =
  | { ok: true; name: string; passwordExpired: boolean; record: UserRecord | null } // record: failures to reset
  | { ok: false; error: UserError; record: UserRecord | null }; // record: the failure to count

// Checks a login. The caller journals `record` when there is one (a failed
// attempt counts towards lockout, a success resets the count), then issues a
// token or reports the error. An unknown name and a wrong password fail
// alike, after the same scrypt work, so neither reveals which names exist.
export async function authenticate(state: UsersState, name: string, password: string, config: UsersConfig = {}): Promise<LoginOutcome> {
  const failed = new UserError("AUTHENTICATION_FAILED", "the user name or the password is wrong", "password");
  const user = typeof name === "string" ? findUser(state, name) : undefined;
  if (user === undefined || typeof password !== "string") {
    await verifyPassword(String(password), { ...DUMMY_HASH, ...(config.scrypt ?? SCRYPT_DEFAULTS) });
    return { ok: false, error: failed, record: null };
  }
  if (user.locked) return { ok: false, error: new UserError("ACCOUNT_LOCKED", `the account of ${name} is locked; an administrator can unlock it with chuser -unlock`, "name"), record: null };
  if (!(await verifyPassword(password, user.password))) return { ok: false, error: failed, record: { type: "user.login-failed", name } };
  return { ok: true, name, passwordExpired: user.passwordExpired, record: user.failedLogins > 0 ? { type: "user.login-succeeded", name } : null };
}

// A fixed hash to spend the same work on for unknown names (its password is
// nobody's), with the parameters new hashes get.
const DUMMY_HASH: PasswordHash = {
  algorithm: "scrypt", ...SCRYPT_DEFAULTS, salt: "AAAAAAAAAAAAAAAAAAAAAA==", hash: Buffer.alloc(SCRYPT_DEFAULTS.keyLength).toString("base64"),
};

// ---- the first start ----

export interface FirstStartOptions extends UsersConfig {
  passwordFile?: string; // --admin-password-file: its contents, trimmed, are admin's password
}

// On a site without users: the record creating `admin` (group admin), and
// the password when it was drawn at random (to print once), or null when it
// came from the file. Resolves to null when the site has users already.
export async function firstStart(state: UsersState, options: FirstStartOptions = {}): Promise<{ record: UserRecord; password: string | null } | null> {
  if (state.users.length > 0) return null;
  const name = "admin";
  const fromFile = options.passwordFile === undefined ? null : await readPasswordFile(options.passwordFile);
  const password = fromFile === null ? generatePassword(name) : checkPassword(fromFile, name, `the admin password file ${options.passwordFile}`);
  const record: UserRecord = { type: "user.create", name, groups: ["admin"], password: await hashPassword(password, options.scrypt ?? SCRYPT_DEFAULTS), expired: false };
  return { record, password: fromFile === null ? password : null };
}

async function readPasswordFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new UserError("BAD_PASSWORD_FILE", `cannot read the admin password file ${file}: ${(cause as Error).message}`, "passwordFile");
  }
  const password = text.trim();
  if (password.length === 0) throw new UserError("BAD_PASSWORD_FILE", `the admin password file ${file} is empty`, "passwordFile");
  return password;
}
