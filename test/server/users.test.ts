// The site's users: mkuser, chuser, rmuser and lsuser as DS CLI has them,
// refusing every bad input with a clear error and nothing changed; what each
// group may run; logins, wrong passwords and lockout; and the first start.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  mkuser, chuser, rmuser, lsuser, authenticate, authorize, applyUserRecord, firstStart, emptyUsers, findUser,
  USER_GROUPS, USERS_HELP, type UsersState, type UserGroup, type CommandClass, type UserRecord,
} from "../../src/server/users.js";
import { verifyPassword } from "../../src/server/passwords.js";
import { temporaryDirectory } from "../store/support.js";
import { applyAll, config, deepFreeze, rejectsWithUser, siteWithAdmin, throwsUser } from "./support.js";

let state: UsersState;
let adminPassword: string;

// `name` in `groups` with a password of its own (not expired).
async function withUser(site: UsersState, name: string, groups: string, password = "Tzero7abc"): Promise<UsersState> {
  const created = applyUserRecord(site, await mkuser(site, "admin", { name, password: "Temp0rary", groups }, config));
  const own = await chuser(created, name, { name, password }, config);
  return applyAll(created, own);
}

const Commands = suite("mkuser, chuser, rmuser, lsuser");
Commands.before.each(async () => {
  ({ state, adminPassword } = await siteWithAdmin());
  deepFreeze(state);
});

Commands("should create a user whose temporary password must be changed, and list it", async () => {
  const record = await mkuser(state, "admin", { name: "cs_op", password: "Temp0rary", groups: "op_copy_services,service" }, config);
  assert.is(record.type, "user.create");
  const after = applyUserRecord(state, record);
  assert.equal(lsuser(after, "admin"), [
    { Name: "admin", Group: "admin", State: "active" },
    { Name: "cs_op", Group: "op_copy_services,service", State: "active" },
  ]);
  const user = findUser(after, "cs_op")!;
  assert.ok(user.passwordExpired, "a password an administrator set is temporary");
  assert.ok(await verifyPassword("Temp0rary", user.password));
  throwsUser(() => authorize(after, "cs_op", "copy_services"), "PASSWORD_EXPIRED");
  const changed = applyAll(after, await chuser(after, "cs_op", { name: "cs_op", password: "Mine4ever" }, config));
  assert.is(authorize(changed, "cs_op", "copy_services").name, "cs_op");
  assert.not.ok(findUser(changed, "cs_op")!.passwordExpired);
});

Commands("should refuse every bad mkuser input with an error naming it, and produce nothing", async () => {
  const before = structuredClone(state);
  const watched = await withUser(state, "watcher", "monitor");
  const site = applyUserRecord(watched, await mkuser(watched, "admin", { name: "newadmin", password: "Temp0rary", groups: "admin" }, config));
  const cases: [Parameters<typeof mkuser>[2], string, Parameters<typeof rejectsWithUser>[1], RegExp][] = [
    [{ name: "", password: "Temp0rary", groups: "monitor" }, "admin", "BAD_NAME", /user name is required/],
    [{ name: "seventeen_chars_x", password: "Temp0rary", groups: "monitor" }, "admin", "BAD_NAME", /17 characters/],
    [{ name: "9lives", password: "Temp0rary", groups: "monitor" }, "admin", "BAD_NAME", /not allowed/],
    [{ name: "bob", password: "Temp0rary", groups: "" }, "admin", "BAD_GROUP", /-group needs/],
    [{ name: "bob", password: "Temp0rary", groups: "operators" }, "admin", "BAD_GROUP", /"operators" is not a user group/],
    [{ name: "bob", password: "Temp0rary", groups: "monitor,monitor" }, "admin", "BAD_GROUP", /given twice/],
    [{ name: "bob", password: "Temp0rary", groups: "no_access,monitor" }, "admin", "BAD_GROUP", /no_access with other groups/],
    [{ name: "bob", password: "short1", groups: "monitor" }, "admin", "BAD_PASSWORD", /too weak/],
    [{ name: "bob", password: "xbob1abcd", groups: "monitor" }, "admin", "BAD_PASSWORD", /contains the user name/],
    [{ name: "admin", password: "Temp0rary", groups: "monitor" }, "admin", "USER_EXISTS", /exists already/],
    [{ name: "bob", password: "Temp0rary", groups: "monitor" }, "watcher", "NOT_AUTHORIZED", /may not run security commands/],
    [{ name: "bob", password: "Temp0rary", groups: "monitor" }, "nobody", "NO_SUCH_USER", /no user named "nobody"/],
    [{ name: "bob", password: "Temp0rary", groups: "monitor" }, "newadmin", "PASSWORD_EXPIRED", /set a new one with chuser -pw/],
  ];
  for (const [input, actor, code, message] of cases) {
    const error = await rejectsWithUser(mkuser(site, actor, input, config), code);
    assert.match(error.message, message);
  }
  assert.equal(state, before, "nothing changed");
});

Commands("should let every user change their own password, and only admin change others'", async () => {
  let site = await withUser(state, "vol", "op_volume");
  site = await withUser(site, "noone", "no_access");
  const own = await chuser(site, "noone", { name: "noone", password: "Newpass5word" }, config);
  assert.equal(own.map((record) => record.type), ["user.password"]);
  assert.is((own[0] as Extract<UserRecord, { type: "user.password" }>).expired, false);
  await rejectsWithUser(chuser(site, "vol", { name: "noone", password: "Other5word" }, config), "NOT_AUTHORIZED");
  await rejectsWithUser(chuser(site, "vol", { name: "vol", groups: "admin" }, config), "NOT_AUTHORIZED");
  await rejectsWithUser(chuser(site, "vol", { name: "vol", unlock: true }, config), "NOT_AUTHORIZED");
  const reset = await chuser(site, "admin", { name: "vol", password: "Reset5word" }, config);
  assert.is((reset[0] as Extract<UserRecord, { type: "user.password" }>).expired, true, "a password set by admin for another is temporary");
});

Commands("should change groups, lock and unlock, and refuse what makes no sense", async () => {
  const site = await withUser(state, "op", "monitor");
  const records = await chuser(site, "admin", { name: "op", groups: "op_storage", lock: true }, config);
  const after = applyAll(site, records);
  assert.equal(lsuser(after, "admin")[1], { Name: "op", Group: "op_storage", State: "locked" });
  throwsUser(() => authorize(after, "op", "monitor"), "ACCOUNT_LOCKED");
  const unlocked = applyAll(after, await chuser(after, "admin", { name: "op", unlock: true }, config));
  assert.is(authorize(unlocked, "op", "storage").name, "op");
  const before = structuredClone(site);
  assert.match((await rejectsWithUser(chuser(site, "admin", { name: "op" }, config), "BAD_ARGUMENT")).message, /give -pw, -group, -lock or -unlock/);
  assert.match((await rejectsWithUser(chuser(site, "admin", { name: "op", lock: true, unlock: true }, config), "BAD_ARGUMENT")).message, /exclude each other/);
  await rejectsWithUser(chuser(site, "admin", { name: "ghost", lock: true }, config), "NO_SUCH_USER");
  await rejectsWithUser(chuser(site, "admin", { name: "op", groups: "root" }, config), "BAD_GROUP");
  await rejectsWithUser(chuser(site, "admin", { name: "op", password: "weak" }, config), "BAD_PASSWORD");
  assert.equal(site, before, "nothing changed");
});

Commands("should refuse any of the user's last four passwords, and allow the fifth back", async () => {
  const passwords = ["Firstpw1a", "Secondpw2b", "Thirdpw3c", "Fourthpw4d"];
  let site = await withUser(state, "op", "monitor", passwords[0]);
  for (const password of passwords.slice(1)) site = applyAll(site, await chuser(site, "op", { name: "op", password }, config));
  for (const password of passwords) {
    const error = await rejectsWithUser(chuser(site, "op", { name: "op", password }, config), "PASSWORD_REUSED");
    assert.match(error.message, /last 4/);
  }
  site = applyAll(site, await chuser(site, "op", { name: "op", password: "Fifthpw5e" }, config));
  const again = await chuser(site, "op", { name: "op", password: passwords[0] }, config);
  assert.is(again.length, 1, "the oldest of five may be used again");
});

Commands("should never leave the site without an unlocked admin", async () => {
  const site = await withUser(state, "op", "op_storage");
  assert.match((await rejectsWithUser(chuser(site, "admin", { name: "admin", lock: true }, config), "LAST_ADMIN")).message, /no unlocked user in the admin group/);
  await rejectsWithUser(chuser(site, "admin", { name: "admin", groups: "monitor" }, config), "LAST_ADMIN");
  throwsUser(() => rmuser(site, "admin", "admin"), "LAST_ADMIN");
  const second = await withUser(site, "admin2", "admin");
  const removed = applyUserRecord(second, rmuser(second, "admin2", "admin"));
  assert.equal(lsuser(removed, "admin2").map((row) => row.Name), ["admin2", "op"]);
});

Commands("should remove a user, and refuse to remove one who does not exist or without authority", async () => {
  const site = await withUser(state, "op", "op_copy_services");
  const after = applyUserRecord(site, rmuser(site, "admin", "op"));
  assert.equal(lsuser(after, "admin").map((row) => row.Name), ["admin"]);
  throwsUser(() => authorize(after, "op", "monitor"), "NO_SUCH_USER");
  throwsUser(() => rmuser(site, "admin", "ghost"), "NO_SUCH_USER");
  throwsUser(() => rmuser(site, "op", "admin"), "NOT_AUTHORIZED");
  throwsUser(() => rmuser(site, "admin", "bad name"), "BAD_NAME");
  throwsUser(() => lsuser(site, "op"), "NOT_AUTHORIZED");
});

const Authority = suite("what each group may run");

Authority("should allow each group exactly its command classes", async () => {
  const expected: Record<UserGroup, CommandClass[]> = {
    admin: ["monitor", "copy_services", "volume", "storage", "service", "security"],
    op_storage: ["monitor", "copy_services", "storage"],
    op_volume: ["monitor", "volume"],
    op_copy_services: ["monitor", "copy_services"],
    service: ["monitor", "service"],
    monitor: ["monitor"],
    no_access: [],
  };
  const classes: CommandClass[] = ["monitor", "copy_services", "volume", "storage", "service", "security"];
  let site = (await siteWithAdmin()).state;
  for (const group of Object.keys(USER_GROUPS) as UserGroup[]) if (group !== "admin") site = await withUser(site, `u_${group}`.slice(0, 16), group);
  for (const group of Object.keys(USER_GROUPS) as UserGroup[]) {
    const name = group === "admin" ? "admin" : `u_${group}`.slice(0, 16);
    for (const commandClass of classes) {
      const allowed = expected[group].includes(commandClass);
      if (allowed) assert.is(authorize(site, name, commandClass).name, name);
      else assert.match(throwsUser(() => authorize(site, name, commandClass), "NOT_AUTHORIZED").message, new RegExp(`group ${group}`));
    }
  }
});

Authority("should state the rules and the groups in help", () => {
  assert.match(USERS_HELP.mkuser, /6 to 16 characters/);
  assert.match(USERS_HELP.mkuser, /op_copy_services/);
  assert.match(USERS_HELP.chuser, /last 4 passwords/);
});

const Logins = suite("logins and lockout");
Logins.before.each(async () => {
  ({ state, adminPassword } = await siteWithAdmin());
  state = await withUser(state, "op", "op_copy_services", "Tzero7abc");
});

Logins("should log in with the right password and fail alike on a wrong one or an unknown name", async () => {
  const right = await authenticate(state, "op", "Tzero7abc", config);
  assert.equal(right, { ok: true, name: "op", passwordExpired: false, record: null });
  const wrong = await authenticate(state, "op", "Tzero7abC", config);
  assert.is(wrong.ok, false);
  const unknown = await authenticate(state, "ghost", "Tzero7abc", config);
  assert.is(unknown.ok, false);
  if (wrong.ok || unknown.ok) return;
  assert.is(wrong.error.code, "AUTHENTICATION_FAILED");
  assert.is(unknown.error.message, wrong.error.message, "the messages do not tell a wrong name from a wrong password");
  assert.equal(wrong.record, { type: "user.login-failed", name: "op" });
  assert.is(unknown.record, null);
  assert.ok((await authenticate(state, "admin", adminPassword, config)).ok);
});

Logins("should lock an account after three failed logins in a row, until an administrator unlocks it", async () => {
  let site = state;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const outcome = await authenticate(site, "op", "Wrongpass1x", config);
    assert.is(outcome.ok, false);
    site = applyUserRecord(site, outcome.record!);
    assert.is(findUser(site, "op")!.locked, attempt === 3, `after ${attempt} failures`);
  }
  const locked = await authenticate(site, "op", "Tzero7abc", config);
  assert.is(locked.ok, false);
  if (!locked.ok) assert.is(locked.error.code, "ACCOUNT_LOCKED", "even the right password is refused");
  assert.equal(lsuser(site, "admin")[1].State, "locked");
  site = applyAll(site, await chuser(site, "admin", { name: "op", unlock: true }, config));
  assert.ok((await authenticate(site, "op", "Tzero7abc", config)).ok);
});

Logins("should count only failures in a row: a success resets the count", async () => {
  let site = state;
  for (let attempt = 0; attempt < 2; attempt++) site = applyUserRecord(site, (await authenticate(site, "op", "Wrongpass1x", config)).record!);
  const success = await authenticate(site, "op", "Tzero7abc", config);
  assert.equal(success.ok && success.record, { type: "user.login-succeeded", name: "op" });
  site = applyUserRecord(site, success.record!);
  for (let attempt = 0; attempt < 2; attempt++) site = applyUserRecord(site, (await authenticate(site, "op", "Wrongpass1x", config)).record!);
  assert.not.ok(findUser(site, "op")!.locked);
});

Logins("should follow a configured lockout threshold, and never lock at 0", async () => {
  const never = { ...state, failedLoginsMax: 0 };
  let site: UsersState = never;
  for (let attempt = 0; attempt < 10; attempt++) site = applyUserRecord(site, { type: "user.login-failed", name: "op" });
  assert.not.ok(findUser(site, "op")!.locked);
  site = applyUserRecord({ ...state, failedLoginsMax: 1 }, { type: "user.login-failed", name: "op" });
  assert.ok(findUser(site, "op")!.locked);
});

const Records = suite("users records");

Records("should apply records purely, leaving the state it was given alone", async () => {
  const { state: site } = await siteWithAdmin();
  deepFreeze(site);
  const record = await mkuser(site, "admin", { name: "op", password: "Temp0rary", groups: "monitor" }, config);
  const after = applyAll(site, [record, { type: "user.lock", name: "op" }, { type: "user.login-failed", name: "admin" }, { type: "user.unlock", name: "op" }, { type: "user.remove", name: "op" }]);
  assert.equal(after.users.map((user) => [user.name, user.failedLogins]), [["admin", 1]]);
  assert.is(site.users[0].failedLogins, 0);
});

Records("should refuse a malformed record or one that does not fit the state", async () => {
  const { state: site } = await siteWithAdmin();
  const hash = findUser(site, "admin")!.password;
  const bad: [unknown, RegExp][] = [
    [{ type: "user.explode", name: "admin" }, /no known type/],
    [null, /no known type/],
    [{ type: "user.lock", name: "bad name" }, /not allowed/],
    [{ type: "user.create", name: "op", groups: ["root"], password: hash, expired: true }, /unknown group/],
    [{ type: "user.create", name: "op", groups: ["monitor"], password: { ...hash, N: 3 }, expired: true }, /power of two/],
    [{ type: "user.create", name: "op", groups: ["monitor"], password: hash, expired: "yes" }, /expired is not true or false/],
    [{ type: "user.create", name: "admin", groups: ["monitor"], password: hash, expired: false }, /exists already/],
    [{ type: "user.remove", name: "ghost" }, /no user ghost/],
  ];
  for (const [record, message] of bad) assert.match(throwsUser(() => applyUserRecord(site, record as UserRecord), "BAD_RECORD").message, message);
});

const FirstStart = suite("the first start");
let folder: ReturnType<typeof temporaryDirectory>;
FirstStart.before.each(() => { folder = temporaryDirectory(); });
FirstStart.after.each(() => folder.remove());

FirstStart("should create admin with a random password to print once", async () => {
  const start = await firstStart(emptyUsers(), config);
  assert.ok(start !== null && start.password !== null);
  const site = applyUserRecord(emptyUsers(), start.record);
  assert.equal(lsuser(site, "admin"), [{ Name: "admin", Group: "admin", State: "active" }]);
  assert.ok((await authenticate(site, "admin", start.password, config)).ok);
  assert.not.ok(findUser(site, "admin")!.passwordExpired, "the printed password is the operator's to use");
  assert.is(await firstStart(site, config), null, "a site with users is left alone");
});

FirstStart("should take admin's password from a file, trimmed", async () => {
  const file = join(folder.path, "admin.pw");
  writeFileSync(file, "  Secret9pass\n");
  const start = await firstStart(emptyUsers(), { ...config, passwordFile: file });
  assert.ok(start !== null);
  assert.is(start.password, null, "nothing to print");
  assert.ok((await authenticate(applyUserRecord(emptyUsers(), start.record), "admin", "Secret9pass", config)).ok);
});

FirstStart("should refuse a missing, empty or weak password file, naming it", async () => {
  const file = join(folder.path, "admin.pw");
  assert.match((await rejectsWithUser(firstStart(emptyUsers(), { ...config, passwordFile: file }), "BAD_PASSWORD_FILE")).message, /cannot read the admin password file/);
  writeFileSync(file, " \n\t\n");
  assert.match((await rejectsWithUser(firstStart(emptyUsers(), { ...config, passwordFile: file }), "BAD_PASSWORD_FILE")).message, new RegExp(`${file} is empty`));
  writeFileSync(file, "password\n");
  const weak = await rejectsWithUser(firstStart(emptyUsers(), { ...config, passwordFile: file }), "BAD_PASSWORD");
  assert.ok(weak.message.includes(file), weak.message);
  writeFileSync(file, "Admin5istrator\n");
  assert.match((await rejectsWithUser(firstStart(emptyUsers(), { ...config, passwordFile: file }), "BAD_PASSWORD")).message, /contains the user name/);
});

Commands.run();
Authority.run();
Logins.run();
Records.run();
FirstStart.run();
