// The parser: the shapes it builds, and its syntax errors pinned to exact
// messages, positions and the `incomplete` flag a REPL acts on.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { parse, type CommandNode, type Expr, type Statement } from "../../src/lang/parser.js";
import { LangSyntaxError, formatError } from "../../src/lang/errors.js";

function syntaxError(source: string): LangSyntaxError {
  try {
    parse(source, "t.tzs");
  } catch (error) {
    assert.instance(error, LangSyntaxError);
    return error as LangSyntaxError;
  }
  assert.unreachable(`expected a syntax error for ${JSON.stringify(source)}`);
  throw new Error("unreachable");
}

function only(source: string): Statement {
  const program = parse(source, "t.tzs");
  assert.is(program.body.length, 1);
  return program.body[0];
}

function command(source: string): CommandNode {
  const statement = only(source);
  assert.is(statement.type, "Command");
  return statement as CommandNode;
}

const Commands = suite("commands");

Commands("should read options, their values and operands", () => {
  const node = command("mkfbvol -cap 1 -os aix -name db_#h 1000-1003");
  assert.is(node.name, "mkfbvol");
  assert.equal(node.options.map((option) => [option.name, option.value?.text]), [["cap", "1"], ["os", "aix"], ["name", "db_#h"]]);
  assert.equal(node.operands.map((operand) => operand.text), ["1000-1003"]);
});

Commands("should keep pairs, pair ranges and image IDs as single words", () => {
  const node = command("mkflash -nocp -dev IBM.2105-75TZ001 1000:1001 1000-1001:1002-1003");
  assert.equal(node.options.map((option) => option.name), ["nocp", "dev"]);
  assert.is(node.options[1].value?.text, "IBM.2105-75TZ001");
  assert.equal(node.operands.map((operand) => operand.text), ["1000:1001", "1000-1001:1002-1003"]);
});

Commands("should join lines ended by a backslash and skip comments", () => {
  const program = parse("# a comment\nmkfbvol -cap 1 \\\n  -os linux 1000   # trailing\n", "t.tzs");
  assert.is(program.body.length, 1);
  const node = program.body[0] as CommandNode;
  assert.equal(node.options.map((option) => option.value?.text), ["1", "linux"]);
  assert.is(node.line, 2);
});

Commands("should read subcommands as one command name", () => {
  const node = command("workload start oltp -vol 1000 -rw write -pattern random -bs 4KiB");
  assert.is(node.name, "workload start");
  assert.is(node.spec.parent, "workload");
  assert.is(command("wait flash 1000:1001 -timeout 2s").name, "wait flash");
});

Commands("should keep $variables inside words", () => {
  const node = command("mkflash $source:$target");
  assert.equal(node.operands[0].kind === "word" && node.operands[0].parts, [
    { variable: "source", line: 1, col: 9 }, { text: ":" }, { variable: "target", line: 1, col: 17 },
  ]);
});

Commands("should separate statements with ; and newlines", () => {
  assert.is(parse("lsflash; lsfbvol\nlssi", "t.tzs").body.length, 3);
});

const Expressions = suite("expressions");

function expression(source: string): Expr {
  const statement = only(`let x = ${source}`);
  assert.is(statement.type, "Let");
  return (statement as Extract<Statement, { type: "Let" }>).value;
}

Expressions("should apply units to numbers", () => {
  assert.equal(expression("4KiB"), { type: "Literal", value: 4096, unit: "KiB", line: 1, col: 9 });
  assert.is((expression("1GiB") as { value: number }).value, 2 ** 30);
  assert.is((expression("500ms") as { value: number }).value, 500);
  assert.is((expression("2s") as { value: number }).value, 2000);
  assert.is((expression("0xff") as { value: number }).value, 255);
  assert.is((expression("1.5MB") as { value: number }).value, 1.5e6);
});

Expressions("should read bare volume and pair IDs as text", () => {
  assert.is((expression("0100") as { value: string }).value, "0100");
  assert.is((expression("10a0") as { value: string }).value, "10A0");
  assert.is((expression("1000:1001") as { value: string }).value, "1000:1001");
  assert.is((expression("FE01") as { value: string }).value, "FE01");
});

Expressions("should give * precedence over + and + over ==", () => {
  const tree = expression("1 + 2 * 3 == 7 && true");
  assert.is(tree.type, "Binary");
  const and = tree as Extract<Expr, { type: "Binary" }>;
  assert.is(and.operator, "&&");
  const equals = and.left as Extract<Expr, { type: "Binary" }>;
  assert.is(equals.operator, "==");
  const plus = equals.left as Extract<Expr, { type: "Binary" }>;
  assert.is(plus.operator, "+");
  assert.is((plus.right as Extract<Expr, { type: "Binary" }>).operator, "*");
});

Expressions("should take a command as a value, ended by an operator", () => {
  const statement = only("assert checksum 1001 == $t0") as Extract<Statement, { type: "Assert" }>;
  const test = statement.test as Extract<Expr, { type: "Binary" }>;
  assert.is(test.left.type, "CommandValue");
  assert.is(test.right.type, "Variable");
});

Expressions("should read a field of a parenthesised listing", () => {
  const tree = expression("(lsflash -l 1000:1001).OutOfSyncTracks");
  assert.is(tree.type, "Field");
  const field = tree as Extract<Expr, { type: "Field" }>;
  assert.is(field.field, "OutOfSyncTracks");
  assert.is(field.object.type, "CommandValue");
});

Expressions("should parse assert with a message and expect error with a code", () => {
  const assertion = only('assert $a != "x", "a is x"') as Extract<Statement, { type: "Assert" }>;
  assert.ok(assertion.message);
  const expectation = only("expect error LSS_MISMATCH mkflash 1000:1101") as Extract<Statement, { type: "ExpectError" }>;
  assert.is(expectation.code, "LSS_MISMATCH");
  assert.is(expectation.command.name, "mkflash");
});

Expressions("should parse repeat blocks, nested", () => {
  const statement = only("repeat 2 {\n  repeat 3 { echo hi }\n}") as Extract<Statement, { type: "Repeat" }>;
  assert.is(statement.body.length, 1);
  assert.is(statement.body[0].type, "Repeat");
});

Expressions("should interpolate variables in double-quoted strings only", () => {
  const double = expression('"t0 is $t0!"') as Extract<Expr, { type: "Template" }>;
  assert.equal(double.parts, [{ text: "t0 is " }, { variable: "t0", line: 1, col: 16 }, { text: "!" }]);
  const single = expression("'$t0'") as Extract<Expr, { type: "Template" }>;
  assert.equal(single.parts, [{ text: "$t0" }]);
});

const Errors = suite("syntax errors");

const CASES: Array<[string, string, number, number, boolean]> = [
  ["mkflsh 1000:1001", "unknown command mkflsh (did you mean mkflash?); type help for the list", 1, 1, false],
  ["lsflash\nmkflash -nocp -foo 1000:1001", "mkflash: unknown option -foo (options: -cp -nocp -persist -record -tgtinhibit -seqnum -freeze -tgtpprc -wait -dev)", 2, 15, false],
  ["mkfbvol -cap 1000", "mkfbvol: expected VOLUME_ID (volume IDs LLVV, or ranges 1000-1003); usage: mkfbvol -cap N [-type ds|ess|blocks] [-name NAME] [-os OS] [-extpool P] [-sam ese|standard|tse] [-eam ...] [-dev IMAGE] VOLUME_ID[-VOLUME_ID]...", 1, 1, false],
  ["mkfbvol 1000", "mkfbvol: option -cap is required (a number)", 1, 1, false],
  ["mkfbvol -cap", "mkfbvol: option -cap needs a value (a number)", 1, 13, false],
  ["mkfbvol -cap 1 -type gib 1000", "mkfbvol: -type must be ds, ess or blocks, not gib", 1, 22, false],
  ["mkflash -nocp -nocp 1000:1001", "mkflash: option -nocp given twice", 1, 15, false],
  ["showfbvol 1000 1001", "showfbvol: unexpected operand 1001; usage: showfbvol [-fmt ...] [-fullid] [-dev IMAGE] VOLUME_ID", 1, 16, false],
  ["workload go x", "workload: expected start, stop or wait, found go", 1, 10, false],
  ["mkextpool -rankgrp 2 -stgtype fb gold", "mkextpool: -rankgrp must be 0 or 1, not 2", 1, 20, false],
  ["mkextpool -rankgrp 0 -stgtype ckd gold", "mkextpool: -stgtype must be fb, not ckd", 1, 31, false],
  ["mkextpool -stgtype fb gold", "mkextpool: option -rankgrp is required (0 or 1)", 1, 1, false],
  ["mkfbvol -cap 1 -sam thin 1000", "mkfbvol: -sam must be ese, standard or tse, not thin", 1, 21, false],
  ["lsflash -state broken", "lsflash: -state must be valid, invalid, validation_required or tgt_failed, not broken", 1, 16, false],
  ["setenv -fullid yes", "setenv: -fullid must be on or off, not yes", 1, 16, false],
  ["lsextpool -volgrp V1", "lsextpool: unknown option -volgrp (options: -l -s -stgtype -rankgrp -fmt -delim -hdr -bnr -fullid -p -r -dev)", 1, 11, false],
  ["let = 3", "expected a variable name after let, found =", 1, 5, false],
  ["let $x = 3", "write let x = ..., without the $", 1, 5, false],
  ["let x 3", "expected = after let x, found 3", 1, 7, false],
  ["let x = ", "expected a value, found the end of the input", 1, 9, false],
  ["let x = 1 +", "expected a value, found the end of the input", 1, 12, false],
  ["let x = 1 +\n2", "expected a value, found the end of the line", 1, 12, false],
  ["repeat 2 {\n  echo \"a\n", "unterminated string", 2, 8, true],
  ["repeat 2 {\n  repeat 3 {\n  }\n", "expected } to close the block opened at 1:10", 4, 1, true],
  ["let x = 1 < 2 < 3", "comparisons do not chain: put parentheses around one side of <", 1, 15, false],
  ["let x = (1 + 2", "expected ) to close the ( at 1:9, found the end of the input", 1, 15, false],
  ["let x = foo", 'unknown name foo: write a variable as $foo, text in quotes "foo"', 1, 9, false],
  ["let x = 4XB", "unknown unit XB in 4XB (sizes: B KiB MiB GiB TiB KB MB GB TB; durations: us ms s min h)", 1, 10, false],
  ["let x = 12z3", "12z3 is not a number, a volume ID or a pair ID", 1, 9, false],
  ["let x = 3 @", 'unexpected character "@"', 1, 11, false],
  ['echo "abc', "unterminated string", 1, 6, true],
  ['echo "a\\qb"', "unknown escape \\q in a string", 1, 8, false],
  ["repeat 3 {\n  lsflash\n", "expected } to close the block opened at 1:10", 3, 1, true],
  ["repeat 3 lsflash", "expected { after repeat 3, found lsflash", 1, 10, false],
  ["}", "unexpected } with no block open", 1, 1, false],
  ["lsflash \\", "the input ends after a line continuation \\", 1, 9, true],
  ["expect error mkflash", "mkflash: expected SOURCE:TARGET (pairs, or pair ranges 1000-1001:1002-1003); usage: mkflash [-cp | -nocp] [-persist] [-record] [-tgtinhibit] [-seqnum N] [-freeze] [-tgtpprc] [-wait] [-dev IMAGE] SOURCE:TARGET...", 1, 14, false],
  ["expect lsflash", "expected error after expect, found lsflash", 1, 8, false],
  ["expect error BAD_THING", "expected a command after expect error BAD_THING, found the end of the input", 1, 23, false],
  ["expect error let x = 1", "expected a command after expect error, found let", 1, 14, false],
  ["assert 1 == 1 2", "unexpected 2 after the end of the statement", 1, 15, false],
  ["1000", "expected a command or statement, found 1000", 1, 1, false],
  ["echo $", "expected a variable name after $", 1, 6, false],
  ["echo ${x", "expected } to close ${x", 1, 9, false],
  // Invisible characters are named, control characters refused wherever they are.
  ["\u00a0echo x", "unexpected character U+00A0", 1, 1, false],
  ["echo ok\nlet x = 1 \u200b+ 2", "unexpected character U+200B", 2, 11, false],
  ["echo ok\necho \"a\u0000b\"", "unexpected control character U+0000 (is this a binary file?)", 2, 8, false],
  ["# \u000c in a comment", "unexpected control character U+000C", 1, 3, false],
  [`echo ${"x".repeat(65_536)}`, "line 1 is longer than 65536 characters", 1, 65_537, false],
  ["echo (18446744073709551617)", "18446744073709551617 is larger than 9007199254740991, the largest number held exactly", 1, 7, false],
  ["echo (0x20000000000000)", "0x20000000000000 is larger than 9007199254740991, the largest number held exactly", 1, 7, false],
];

for (const [source, reason, line, col, incomplete] of CASES) {
  Errors(`should report ${JSON.stringify(source)} as ${line}:${col} ${reason}`, () => {
    const error = syntaxError(source);
    assert.is(error.reason, reason);
    assert.is(error.line, line, "line");
    assert.is(error.col, col, "col");
    assert.is(error.incomplete, incomplete, "incomplete");
    assert.is(error.code, "SYNTAX");
    assert.is(error.file, "t.tzs");
    assert.is(error.message, `t.tzs:${line}:${col}: ${reason}`);
  });
}

Errors("should format file:line:col, the line and a caret under the culprit", () => {
  const source = "lsflash\nmkflash -nocp -foo 1000:1001\n";
  assert.is(
    formatError(syntaxError(source), source),
    "t.tzs:2:15: mkflash: unknown option -foo (options: -cp -nocp -persist -record -tgtinhibit -seqnum -freeze -tgtpprc -wait -dev)\n"
      + "mkflash -nocp -foo 1000:1001\n"
      + "              ^",
  );
});

Errors("should skip a UTF-8 byte-order mark at the start of a script, and only there", () => {
  assert.is(command("\ufeffecho hi").name, "echo");
  assert.is(syntaxError("echo hi\n\ufeffecho").reason, "unexpected character U+FEFF");
});

Errors("should bound a string literal at TEXT_LENGTH_MAX characters", () => {
  const lines = Array.from({ length: 20 }, () => "y".repeat(60_000)).join("\n");
  const error = syntaxError(`let a = "${lines}"`);
  assert.is(error.reason, "a string is longer than 1048576 characters");
  assert.is(`${error.line}:${error.col}`, "1:9");
});

Errors("should show control characters in the quoted line as visible symbols, the caret in place", () => {
  const source = "echo \"\u0001\"; \u0000";
  assert.is(
    formatError(syntaxError(source), source),
    "t.tzs:1:7: unexpected control character U+0001\necho \"\u2401\"; \u2400\n      ^",
  );
});

Commands.run();
Expressions.run();
Errors.run();
