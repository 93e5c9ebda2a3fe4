// The command table as `help` and the parser see it: the help text of every
// command and subcommand, and each one's options and operands field by field,
// compared with test/lang/command-specs.golden. Shared spec pieces in
// src/lang/commands.ts may be rearranged freely; what a user can type and
// read must not move unless the golden file is rewritten on purpose.
// TZERO_UPDATE_GOLDEN=1 rewrites the golden file instead of comparing; read its diff before committing.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS, commandHelp, commandName, helpText, type CommandSpec } from "../../src/lang/commands.js";

const golden = join(process.cwd(), "test", "lang", "command-specs.golden");
const update = process.env.TZERO_UPDATE_GOLDEN === "1";

// One line per field set; a flag that is false reads as absent, as the parser and completion treat it.
function fields(value: object): string {
  const set = Object.entries(value).filter(([, field]) => field !== undefined && field !== false);
  return JSON.stringify(Object.fromEntries(set.sort(([a], [b]) => a.localeCompare(b))));
}

function describe(spec: CommandSpec): string[] {
  const header = { group: spec.group, parent: spec.parent, statement: spec.statement, summary: spec.summary, usage: spec.usage };
  return [
    `== ${commandName(spec)} ${fields(header)}`,
    ...spec.options.map((option) => `option ${fields(option)}`),
    ...spec.operands.map((operand) => `operand ${fields(operand)}`),
    ...(spec.subcommands ?? []).flatMap(describe),
  ];
}

export function commandTable(): string {
  const sections = [helpText(), ...COMMANDS.map((spec) => `${describe(spec).join("\n")}\n${commandHelp(spec)}`)];
  return `${sections.join("\n\n")}\n`;
}

const Specs = suite("command table");

Specs("should describe every command, option and operand as the golden file does", () => {
  const table = commandTable();
  if (update) writeFileSync(golden, table);
  assert.fixture(table, readFileSync(golden, "utf8"));
});

Specs("should give no command the same option or subcommand twice", () => {
  const specs = COMMANDS.flatMap((spec) => [spec, ...(spec.subcommands ?? [])]);
  for (const spec of specs) {
    const names = spec.options.map((option) => option.name);
    assert.equal(names.length, new Set(names).size, `${commandName(spec)} options ${names.join(" ")}`);
  }
  const commands = COMMANDS.map((spec) => spec.name);
  assert.equal(commands.length, new Set(commands).size, commands.join(" "));
});

Specs.run();
