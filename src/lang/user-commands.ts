// The DS CLI commands of a Copy Services Server's users: mkuser, lsuser,
// showuser, chuser, rmuser. The server checks the names, passwords, groups
// and the caller's authority (src/server/users.ts); these commands turn the
// options into one Site call and print DS CLI's messages. An embedded site
// has no users and refuses every one of them.
import type { UserInfo } from "../site/types.js";
import { EngineError } from "../site/shared.js";
import type { CommandContext, CommandResult } from "./context.js";
import { confirmed, type CommandHandler } from "./ds-commands.js";
import { INFO, infoLine } from "./messages.js";
import { CommandFailure, formatValue, type ValueRecord } from "./values.js";
import { isSiteError } from "../site/errors.js";

function userName(context: CommandContext): string {
  return context.operand(0, (value) => formatValue(value));
}

function textOption(context: CommandContext, name: string): string | undefined {
  return context.convert(name, (value) => formatValue(value));
}

// Awaits a users call: a refusal that names an option (-pw, -group) is
// raised at that option's value, any other at the user's name.
async function callUsers<T>(context: CommandContext, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (!isSiteError(error)) throw error;
    const at = error.option !== undefined ? context.options.get(error.option)?.at : context.operands[0]?.at;
    throw new CommandFailure(error.code, error.message, at ?? context.operands[0]?.at);
  }
}

function userRecord(user: UserInfo): ValueRecord {
  return { Name: user.name, Group: user.groups.join(","), State: user.state, FailedLogin: user.failedLogins };
}

// DS8000 users may be limited to a resource scope; tzero does not model
// scopes, so only the scope of every resource, *, is taken (any other would
// grant more than was asked).
function checkScope(context: CommandContext): void {
  const scope = textOption(context, "scope");
  if (scope !== undefined && scope !== "*") {
    throw new EngineError("NOT_SUPPORTED", `-scope ${scope}: tzero does not model resource scopes; give -scope * (every resource) or leave it out`);
  }
}

async function mkuser(context: CommandContext): Promise<CommandResult> {
  checkScope(context);
  const name = userName(context);
  const request = { name, password: textOption(context, "pw")!, groups: textOption(context, "group")! };
  const user = await callUsers(context, context.site.createUser(request));
  return { lines: [infoLine(INFO.userCreated, "mkuser", `User ${user.name} successfully created.`)], value: userRecord(user) };
}

async function lsuser(context: CommandContext): Promise<CommandResult> {
  const users = await callUsers(context, context.site.listUsers());
  const rows = users.map(userRecord);
  return context.listing({ command: "lsuser", columns: ["Name", "Group", "State"], rows }, null, infoLine(INFO.nothingFound, "lsuser", "No user found."));
}

async function showuser(context: CommandContext): Promise<CommandResult> {
  const user = await callUsers(context, context.site.user(userName(context)));
  const record = userRecord(user);
  const lines = context.listing({ command: "showuser", columns: ["Name", "Group", "State", "FailedLogin"], rows: [record] }, null, "", "stanza").lines;
  return { lines, value: record };
}

async function chuser(context: CommandContext): Promise<CommandResult> {
  const name = userName(context);
  const request = {
    name,
    password: textOption(context, "pw"),
    groups: textOption(context, "group"),
    lock: context.flag("lock") || undefined,
    unlock: context.flag("unlock") || undefined,
  };
  const user = await callUsers(context, context.site.changeUser(request));
  return { lines: [infoLine(INFO.userModified, "chuser", `User ${user.name} successfully modified.`)], value: userRecord(user) };
}

async function rmuser(context: CommandContext): Promise<CommandResult> {
  const name = userName(context);
  const lines: string[] = [];
  const question = infoLine(INFO.userRemoveQuestion, "rmuser", `Are you sure you want to delete user ${name}? [y/n]:`);
  if (!(await confirmed(context, question, lines, `user ${name} not deleted`))) return { lines, value: null };
  await callUsers(context, context.site.removeUser(name));
  return { lines: [infoLine(INFO.userRemoved, "rmuser", `User ${name} successfully deleted.`)], value: name };
}

export const USER_COMMANDS: Readonly<Record<string, CommandHandler>> = { mkuser, lsuser, showuser, chuser, rmuser };
