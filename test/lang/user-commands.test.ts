// mkuser, lsuser, showuser, chuser and rmuser: DS CLI's messages and
// listings through a Copy Services Server (the "remote" site), the refusals
// at the option or name that was wrong, and the embedded shell's refusal of
// every one of them (it has no users).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { SITE_FACTORIES } from "../support/sites.js";
import { recordedSession, run, runOk, sessionFingerprint, type Recorded } from "./support.js";

const remote = SITE_FACTORIES.find((factory) => factory.name === "remote")!;
let recorded: Recorded;

const Users = suite("user commands through a Copy Services Server");
Users.before.each(() => {
  recorded = recordedSession({}, remote);
});
Users.after.each(async () => {
  await recorded.session.close();
});

Users("should create, list, show, change and remove a user with DS CLI's messages", async () => {
  assert.equal(await runOk(recorded, "mkuser -pw ab1cdefg -group op_copy_services,monitor cody"), ["CMUC00133I mkuser: User cody successfully created."]);
  assert.equal(await runOk(recorded, "lsuser -bnr off"), [
    "Name  Group                    State",
    "=====================================",
    "admin admin                    active",
    "cody  op_copy_services,monitor active",
  ]);
  assert.equal(await runOk(recorded, "showuser -bnr off cody"), [
    "Name        cody",
    "Group       op_copy_services,monitor",
    "State       active",
    "FailedLogin 0",
  ]);
  assert.equal(await runOk(recorded, "chuser -group monitor -lock cody"), ["CMUC00134I chuser: User cody successfully modified."]);
  assert.equal(await runOk(recorded, "lsuser -bnr off -fmt delim -hdr off"), ["admin,admin,active", "cody,monitor,locked"]);
  assert.equal(await runOk(recorded, "rmuser -quiet cody"), ["CMUC00136I rmuser: User cody successfully deleted."]);
  assert.equal(await runOk(recorded, "lsuser -bnr off -fmt delim -hdr off"), ["admin,admin,active"]);
});

Users("should ask before rmuser, and keep the user when nobody can answer", async () => {
  await runOk(recorded, "mkuser -pw ab1cdefg -group monitor cody");
  const lines = await runOk(recorded, "rmuser cody");
  assert.equal(lines, ['CMUC09002W rmuser: user cody not deleted: nobody can answer "CMUC00135W rmuser: Are you sure you want to delete user cody? [y/n]:" here, so the answer is n; use -quiet.']);
  assert.equal(await runOk(recorded, "lsuser -bnr off -fmt delim -hdr off"), ["admin,admin,active", "cody,monitor,active"]);
});

Users("should refuse a bad group at -group's value, a taken name at the name, and a weak password at -pw", async () => {
  const badGroup = await run(recorded.session, "mkuser -pw ab1cdefg -group op_copy,monitor cody");
  assert.is(badGroup?.code, "BAD_GROUP");
  assert.is(badGroup?.col, 28);
  assert.match(badGroup!.reason, /^CMUN04004E mkuser: -group: "op_copy" is not a user group/);
  await runOk(recorded, "mkuser -pw ab1cdefg -group monitor cody");
  const taken = await run(recorded.session, "mkuser -pw ab1cdefg -group monitor cody");
  assert.is(taken?.code, "USER_EXISTS");
  assert.is(taken?.col, 36);
  const weak = await run(recorded.session, "chuser -pw short cody");
  assert.is(weak?.code, "BAD_PASSWORD");
  assert.is(weak?.col, 12);
  const missing = await run(recorded.session, "showuser nobody");
  assert.is(missing?.code, "NO_SUCH_USER");
  assert.is(missing?.col, 10);
  assert.equal(await runOk(recorded, "lsuser -bnr off -fmt delim -hdr off"), ["admin,admin,active", "cody,monitor,active"]);
});

Users("should take -scope * and refuse any other scope by name, creating nothing", async () => {
  assert.equal(await runOk(recorded, 'mkuser -pw ab1cdefg -group monitor -scope "*" cody'), ["CMUC00133I mkuser: User cody successfully created."]);
  const scoped = await run(recorded.session, "mkuser -pw ab1cdefg -group monitor -scope pool1 dana");
  assert.is(scoped?.code, "NOT_SUPPORTED");
  assert.match(scoped!.reason, /-scope pool1: tzero does not model resource scopes/);
  assert.equal(await runOk(recorded, "lsuser -bnr off -fmt delim -hdr off"), ["admin,admin,active", "cody,monitor,active"]);
});

const Embedded = suite("user commands on the embedded shell");

Embedded("should refuse every user command with NO_USERS, saying users live on a Copy Services Server, and change nothing", async () => {
  const embedded = recordedSession();
  const before = await sessionFingerprint(embedded.session);
  for (const line of ["mkuser -pw ab1cdefg -group monitor cody", "lsuser", "showuser cody", "chuser -pw ab1cdefg cody", "rmuser -quiet cody"]) {
    const error = await run(embedded.session, line);
    assert.is(error?.code, "NO_USERS", line);
    assert.match(error!.reason, /users live on a Copy Services Server, and this embedded shell has none; connect to one with tzero -hmc1/);
  }
  assert.is(await sessionFingerprint(embedded.session), before);
  await embedded.session.close();
});

Embedded("should keep a DS CLI list with commas as one word, and still end a word at a comma before a blank", async () => {
  const embedded = recordedSession();
  const error = await run(embedded.session, "mkuser -pw ab1cdefg -group a,b,c cody");
  assert.is(error?.code, "NO_USERS", "parsed as one -group value and one operand");
  assert.equal(await runOk(embedded, 'let x = 2\nassert $x > 1, "x is small"'), []);
  await embedded.session.close();
});

Users.run();
Embedded.run();
