// The interpreter: runs a Program's statements in a session, stopping at the
// first failure with a ScriptError that names file, line and column.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isEngineError } from "../site/shared.js";
import { isSiteError } from "../site/errors.js";
import { CommandContext, type CommandResult, type EvaluatedOption } from "./context.js";
import { DS_COMMANDS, type CommandHandler } from "./ds-commands.js";
import { INVENTORY_COMMANDS } from "./ds-inventory.js";
import { HOST_COMMANDS } from "./host-commands.js";
import { LangSyntaxError, ScriptError } from "./errors.js";
import { errorLine } from "./messages.js";
import { parse, type Arg, type CommandNode, type Expr, type Position, type Statement, type Program, type Value } from "./parser.js";
import { SCENARIO_COMMANDS } from "./scenario-commands.js";
import { STATE_COMMANDS } from "./state-commands.js";
import { FLASH_V2_COMMANDS } from "./flash-v2-commands.js";
import { PPRC_COMMANDS } from "./pprc-commands.js";
import { USER_COMMANDS } from "./user-commands.js";
import type { Session } from "./session.js";
import type { Part } from "./tokens.js";
import {
  atArgument, checkArgumentLength, CommandFailure, formatValue, LISTING_LENGTH_MAX, TEXT_LENGTH_MAX, typeOf,
} from "./values.js";

const HANDLERS: Readonly<Record<string, CommandHandler>> = { ...DS_COMMANDS, ...FLASH_V2_COMMANDS, ...PPRC_COMMANDS, ...INVENTORY_COMMANDS, ...HOST_COMMANDS, ...SCENARIO_COMMANDS, ...STATE_COMMANDS, ...USER_COMMANDS };
const REPEAT_MAX = 1_000_000;
const SOURCE_DEPTH_MAX = 16;
const FIELD_SUFFIX = /^\.([A-Za-z_][A-Za-z0-9_]*)/;
const COMPARISONS = new Set(["==", "!=", "<", "<=", ">", ">="]);

interface Frame {
  file: string;
  source: string;
  dir: string;
  depth: number;
}

class Quit {}

export class Interpreter {
  // ScriptErrors that are mistakes in the script, which `expect error` must not swallow.
  private readonly evaluationErrors = new WeakSet<ScriptError>();

  constructor(private readonly session: Session, private readonly signal: AbortSignal) {}

  async run(program: Program): Promise<void> {
    const frame: Frame = { file: program.file, source: program.source, dir: dirname(resolve(this.session.cwd, program.file)), depth: 0 };
    try {
      await this.block(program.body, frame);
    } catch (error) {
      if (error instanceof Quit) return;
      throw error;
    }
  }

  private error(kind: ScriptError["kind"], code: string, reason: string, at: Position, frame: Frame): ScriptError {
    return new ScriptError(kind, code, reason, frame.file, at.line, at.col, frame.source);
  }

  private async block(statements: Statement[], frame: Frame): Promise<void> {
    for (const statement of statements) {
      if (this.signal.aborted) throw this.error("command", "CANCELLED", cancelledReason(this.signal), statement, frame);
      await this.statement(statement, frame);
    }
  }

  private async statement(statement: Statement, frame: Frame): Promise<void> {
    switch (statement.type) {
      case "Command":
        return this.commandStatement(statement, frame);
      case "Let":
        this.session.variables.set(statement.name, await this.evaluate(statement.value, frame));
        return;
      case "Assert":
        return this.assert(statement.test, statement.message, frame);
      case "ExpectError":
        return this.expectError(statement.code, statement.command, statement, frame);
      case "Repeat":
        return this.repeat(statement.count, statement.body, frame);
    }
  }

  private async commandStatement(node: CommandNode, frame: Frame): Promise<void> {
    if (node.name === "quit" || node.name === "exit") {
      this.session.quitRequested = true;
      throw new Quit();
    }
    if (node.name === "source") return this.sourceFile(node, frame);
    const result = await this.command(node, frame);
    for (const line of result.lines) this.session.write(line);
  }

  private async assert(test: Expr, message: Expr | undefined, frame: Frame): Promise<void> {
    let passed: Value;
    let detail = "";
    if (test.type === "Binary" && COMPARISONS.has(test.operator)) {
      const left = await this.evaluate(test.left, frame);
      const right = await this.evaluate(test.right, frame);
      passed = this.compare(test.operator, left, right, test, frame);
      detail = ` (left: ${show(left)}, right: ${show(right)})`;
    } else {
      passed = await this.evaluate(test, frame);
    }
    if (typeof passed !== "boolean") {
      throw this.evaluation("TYPE_ERROR", `assert needs true or false, not ${typeOf(passed)}`, test, frame);
    }
    if (passed) return;
    const text = message === undefined ? expressionText(frame.source, test) : formatValue(await this.evaluate(message, frame));
    throw this.error("assertion", "ASSERTION", `assertion failed: ${text}${detail}`, expressionStart(frame.source, test), frame);
  }

  private async expectError(code: string | undefined, node: CommandNode, at: Position, frame: Frame): Promise<void> {
    try {
      await this.command(node, frame);
    } catch (error) {
      if (!(error instanceof ScriptError) || error.kind !== "command" || this.evaluationErrors.has(error)) throw error;
      if (code !== undefined && error.code !== code) {
        throw this.error("assertion", "EXPECTED_ERROR", `expected ${node.name} to fail with ${code}, but it failed with ${error.code}: ${error.reason}`, at, frame);
      }
      this.session.write(error.reason);
      return;
    }
    throw this.error("assertion", "EXPECTED_ERROR", `expected ${node.name} to fail${code ? ` with ${code}` : ""}, but it succeeded`, at, frame);
  }

  private async repeat(countExpr: Expr, body: Statement[], frame: Frame): Promise<void> {
    const count = await this.evaluate(countExpr, frame);
    if (typeof count !== "number" || !Number.isInteger(count) || count < 0 || count > REPEAT_MAX) {
      throw this.evaluation("TYPE_ERROR", `repeat needs a whole number from 0 to ${REPEAT_MAX}, not ${show(count)}`, countExpr, frame);
    }
    for (let index = 0; index < count; index++) await this.block(body, frame);
  }

  private async sourceFile(node: CommandNode, frame: Frame): Promise<void> {
    const operand = node.operands[0];
    const path = resolve(frame.dir, formatValue(await this.argument(operand, frame)));
    if (frame.depth >= SOURCE_DEPTH_MAX) {
      throw this.error("command", "SOURCE_ERROR", errorLine("source", "SOURCE_ERROR", `sourcing ${path} would nest files deeper than ${SOURCE_DEPTH_MAX}`), operand, frame);
    }
    let source: string;
    try {
      source = readFileSync(path, "utf8");
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
      throw this.error("command", "FILE_ERROR", errorLine("source", "FILE_ERROR", `cannot read ${path}: ${reason}`), operand, frame);
    }
    let program: Program;
    try {
      program = parse(source, path);
    } catch (error) {
      if (error instanceof LangSyntaxError) throw new ScriptError("syntax", error.code, error.reason, error.file, error.line, error.col, source);
      throw error;
    }
    await this.block(program.body, { file: path, source, dir: dirname(path), depth: frame.depth + 1 });
  }

  // ---- commands ----------------------------------------------------------------------

  private async command(node: CommandNode, frame: Frame): Promise<CommandResult> {
    const handler = HANDLERS[node.name];
    if (!handler) throw this.evaluation("TYPE_ERROR", `${node.name} cannot be used here`, node, frame);
    const options = new Map<string, EvaluatedOption>();
    for (const option of node.options) {
      const value = option.value === undefined ? true : await this.argument(option.value, frame);
      const at = option.value ?? option;
      if (option.spec.kind === "enum" && value !== true && !option.spec.values!.includes(formatValue(value).toLowerCase())) {
        const reason = `-${option.name} must be one of ${option.spec.values!.join(", ")}, not ${formatValue(value)}`;
        throw this.error("command", "BAD_ARGUMENT", errorLine(node.name, "BAD_ARGUMENT", reason), at, frame);
      }
      options.set(option.name, { value, at });
    }
    const operands: Array<{ value: Value; at: Position }> = [];
    for (const operand of node.operands) operands.push({ value: await this.argument(operand, frame), at: operand });
    const context = new CommandContext(this.session, node, options, operands, this.signal, frame.dir);
    try {
      this.checkLengths(node, options, operands);
      return await handler(context);
    } catch (error) {
      throw this.commandError(error, node, frame);
    }
  }

  private checkLengths(node: CommandNode, options: Map<string, EvaluatedOption>, operands: Array<{ value: Value; at: Position }>): void {
    for (const option of node.options) {
      const given = options.get(option.name);
      if (option.spec.kind === undefined || given === undefined || given.value === true) continue;
      const value = given.value;
      atArgument(given.at, () => checkArgumentLength(option.spec.kind!, value, `-${option.name}`, true));
    }
    const specs = node.spec.operands;
    operands.forEach((operand, index) => {
      const spec = specs[Math.min(index, specs.length - 1)];
      if (spec !== undefined) atArgument(operand.at, () => checkArgumentLength(spec.kind, operand.value, spec.name, false));
    });
  }

  private commandError(error: unknown, node: CommandNode, frame: Frame): ScriptError {
    if (error instanceof ScriptError) return error;
    if (error instanceof CommandFailure && error.evaluation) {
      return this.evaluation(error.code, error.message, error.at ?? node, frame);
    }
    if (error instanceof CommandFailure || isEngineError(error) || isSiteError(error)) {
      const at = error instanceof CommandFailure && error.at ? error.at : node;
      const message = error.code === "CANCELLED" ? withCause(error.message, this.signal) : error.message;
      return this.error("command", error.code, errorLine(node.name, error.code, message), at, frame);
    }
    const message = error instanceof Error ? error.message : String(error);
    return this.error("command", "INTERNAL", errorLine(node.name, "INTERNAL", message), node, frame);
  }

  private evaluation(code: string, reason: string, at: Position, frame: Frame): ScriptError {
    const error = this.error("command", code, reason, at, frame);
    this.evaluationErrors.add(error);
    return error;
  }

  // A word with one $variable and nothing else keeps the variable's value;
  // any other word or string is text.
  private async argument(arg: Arg, frame: Frame): Promise<Value> {
    if (arg.kind === "expr") return this.evaluate(arg.expr, frame);
    const pieces = this.pieces(arg.parts, frame);
    if (arg.kind === "word" && pieces.length === 1) return pieces[0];
    return this.joinText(pieces.map(formatValue), arg, frame);
  }

  private interpolate(parts: Part[], at: Position, frame: Frame): string {
    return this.joinText(this.pieces(parts, frame).map(formatValue), at, frame);
  }

  // Text is bounded (TEXT_LENGTH_MAX), checked before it is built: doubling a
  // text in a loop is a script error at its statement, never V8's RangeError.
  private joinText(pieces: string[], at: Position, frame: Frame): string {
    const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
    if (length > TEXT_LENGTH_MAX) {
      throw this.evaluation("VALUE_TOO_LARGE", `the text would be ${length} characters long; a text holds at most ${TEXT_LENGTH_MAX}`, at, frame);
    }
    return pieces.join("");
  }

  // The values of a word's or string's parts. After a variable holding a
  // listing or record, `.Field` is a field (`$copy.OutOfSyncTracks`); after
  // text, it stays text (`$name.bin`).
  private pieces(parts: Part[], frame: Frame): Value[] {
    const values: Value[] = [];
    let pendingText = "";
    for (let index = 0; index < parts.length; index++) {
      const part = parts[index];
      if ("text" in part) {
        pendingText += part.text;
        continue;
      }
      if (pendingText) values.push(pendingText);
      pendingText = "";
      let value = this.variable(part.variable, part, frame);
      const next = parts[index + 1];
      if (next && "text" in next && value !== null && typeof value === "object") {
        let rest = next.text;
        for (let match = FIELD_SUFFIX.exec(rest); match; match = FIELD_SUFFIX.exec(rest)) {
          value = this.field(value, match[1], part, frame);
          rest = rest.slice(match[0].length);
          if (value === null || typeof value !== "object") break;
        }
        parts = [...parts.slice(0, index + 1), { text: rest }, ...parts.slice(index + 2)];
      }
      values.push(value);
    }
    if (pendingText) values.push(pendingText);
    return values;
  }

  private variable(name: string, at: Position, frame: Frame): Value {
    const value = this.session.variables.get(name);
    if (value === undefined) throw this.evaluation("UNDEFINED_VARIABLE", `$${name} is not set (let ${name} = ... sets it)`, at, frame);
    return value;
  }

  // ---- expressions ---------------------------------------------------------------------

  private async evaluate(expr: Expr, frame: Frame): Promise<Value> {
    switch (expr.type) {
      case "Literal":
        return expr.value;
      case "Template":
        return this.interpolate(expr.parts, expr, frame);
      case "Variable":
        return this.variable(expr.name, expr, frame);
      case "Unary":
        return this.unary(expr.operator, await this.evaluate(expr.operand, frame), expr, frame);
      case "Binary":
        return this.binary(expr, frame);
      case "Field":
        return this.field(await this.evaluate(expr.object, frame), expr.field, expr, frame);
      case "Index":
        return this.index(await this.evaluate(expr.object, frame), await this.evaluate(expr.index, frame), expr, frame);
      case "CommandValue":
        return (await this.command(expr.command, frame)).value;
    }
  }

  private unary(operator: string, value: Value, at: Position, frame: Frame): Value {
    if (operator === "!") {
      if (typeof value !== "boolean") throw this.evaluation("TYPE_ERROR", `! needs true or false, not ${typeOf(value)}`, at, frame);
      return !value;
    }
    if (typeof value !== "number") throw this.evaluation("TYPE_ERROR", `- needs a number, not ${typeOf(value)}`, at, frame);
    return -value;
  }

  private async binary(expr: Extract<Expr, { type: "Binary" }>, frame: Frame): Promise<Value> {
    const { operator } = expr;
    if (operator === "&&" || operator === "||") {
      const left = await this.evaluate(expr.left, frame);
      this.requireBoolean(operator, left, expr.left, frame);
      if (operator === "&&" ? !left : left) return left;
      const right = await this.evaluate(expr.right, frame);
      this.requireBoolean(operator, right, expr.right, frame);
      return right;
    }
    const left = await this.evaluate(expr.left, frame);
    const right = await this.evaluate(expr.right, frame);
    if (COMPARISONS.has(operator)) return this.compare(operator, left, right, expr, frame);
    return this.arithmetic(operator, left, right, expr, frame);
  }

  private requireBoolean(operator: string, value: Value, at: Position, frame: Frame): void {
    if (typeof value !== "boolean") throw this.evaluation("TYPE_ERROR", `${operator} needs true or false, not ${typeOf(value)}`, at, frame);
  }

  private compare(operator: string, left: Value, right: Value, at: Position, frame: Frame): boolean {
    if (operator === "==") return equal(left, right);
    if (operator === "!=") return !equal(left, right);
    let order: number;
    if (typeof left === "number" && typeof right === "number") order = left - right;
    else if (typeof left === "string" && typeof right === "string") order = left < right ? -1 : left > right ? 1 : 0;
    else throw this.evaluation("TYPE_ERROR", `${operator} compares two numbers or two texts, not ${typeOf(left)} and ${typeOf(right)}`, at, frame);
    switch (operator) {
      case "<": return order < 0;
      case "<=": return order <= 0;
      case ">": return order > 0;
      default: return order >= 0;
    }
  }

  private arithmetic(operator: string, left: Value, right: Value, at: Position, frame: Frame): Value {
    if (operator === "+" && Array.isArray(left) && Array.isArray(right)) {
      if (left.length + right.length > LISTING_LENGTH_MAX) {
        throw this.evaluation("VALUE_TOO_LARGE", `the listing would have ${left.length + right.length} rows; a listing holds at most ${LISTING_LENGTH_MAX}`, at, frame);
      }
      return [...left, ...right];
    }
    if (operator === "+" && (typeof left === "string" || typeof right === "string")) return this.joinText([formatValue(left), formatValue(right)], at, frame);
    if (typeof left !== "number" || typeof right !== "number") {
      throw this.evaluation("TYPE_ERROR", `${operator} needs two numbers, not ${typeOf(left)} and ${typeOf(right)}`, at, frame);
    }
    if ((operator === "/" || operator === "%") && right === 0) throw this.evaluation("TYPE_ERROR", "division by zero", at, frame);
    const result = calculate(operator, left, right);
    if (!Number.isFinite(result)) {
      throw this.evaluation("VALUE_TOO_LARGE", `${formatValue(left)} ${operator} ${formatValue(right)} is too large for a number`, at, frame);
    }
    return result;
  }

  // `.Field` of a record; of a one-row listing, its row's field; `.length` of a listing or text.
  private field(value: Value, name: string, at: Position, frame: Frame): Value {
    if ((Array.isArray(value) || typeof value === "string") && name === "length") return value.length;
    if (Array.isArray(value)) {
      if (value.length === 1) return this.field(value[0], name, at, frame);
      const reason = value.length === 0
        ? `the listing is empty: it has no ${name}`
        : `the listing has ${value.length} rows: pick one with [0] to [${value.length - 1}] before .${name}`;
      throw this.evaluation("NO_SUCH_FIELD", reason, at, frame);
    }
    if (value === null || typeof value !== "object") {
      throw this.evaluation("NO_SUCH_FIELD", `${typeOf(value)} has no field ${name}`, at, frame);
    }
    if (name in value) return value[name];
    const key = Object.keys(value).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
    if (key !== undefined) return value[key];
    // DS CLI columns with spaces (lspprc's "Out Of Sync Tracks") are reached as .OutOfSyncTracks.
    const squeezed = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, "");
    const spaced = Object.keys(value).find((candidate) => squeezed(candidate) === squeezed(name));
    if (spaced !== undefined) return value[spaced];
    throw this.evaluation("NO_SUCH_FIELD", `no field ${name}; the fields are ${Object.keys(value).join(", ")}`, at, frame);
  }

  private index(value: Value, index: Value, at: Position, frame: Frame): Value {
    if (!Array.isArray(value)) throw this.evaluation("TYPE_ERROR", `[ ] indexes a listing, not ${typeOf(value)}`, at, frame);
    if (typeof index !== "number" || !Number.isInteger(index)) {
      throw this.evaluation("TYPE_ERROR", `an index is a whole number, not ${show(index)}`, at, frame);
    }
    const position = index < 0 ? value.length + index : index;
    if (position < 0 || position >= value.length) {
      throw this.evaluation("NO_SUCH_FIELD", `index ${index} is outside the listing's ${value.length} rows`, at, frame);
    }
    return value[position];
  }
}

function calculate(operator: string, left: number, right: number): number {
  switch (operator) {
    case "+": return left + right;
    case "-": return left - right;
    case "*": return left * right;
    case "/": return left / right;
    default: return left % right;
  }
}

// What cancelled a run (the signal's reason: "SIGTERM"), for the CANCELLED message.
function cancelledReason(signal: AbortSignal): string {
  return withCause("cancelled", signal);
}

function withCause(message: string, signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (!(reason instanceof Error) || reason.name === "AbortError" || message.includes(reason.message)) return message;
  return `${message} (${reason.message})`;
}

// Equal values; a number equals the text of its digits (IDs such as 1000).
function equal(left: Value, right: Value): boolean {
  if (typeof left === "number" && typeof right === "string") return String(left) === right;
  if (typeof left === "string" && typeof right === "number") return left === String(right);
  if (left === null || right === null || typeof left !== "object" || typeof right !== "object") return left === right;
  return JSON.stringify(left) === JSON.stringify(right);
}

function show(value: Value): string {
  return typeof value === "string" ? JSON.stringify(value) : formatValue(value);
}

// The source text of an expression: from its start to the end of its line,
// less a trailing comment and a `, "message"`.
function expressionText(source: string, expr: Expr): string {
  const start = expressionStart(source, expr);
  const line = source.split(/\r?\n/)[start.line - 1] ?? "";
  return line.slice(start.col - 1).replace(/\s+#.*$/, "").trim();
}

// Where an expression starts, including the parentheses that open before its leftmost part.
function expressionStart(source: string, expr: Expr): Position {
  const start = leftmost(expr);
  const line = source.split(/\r?\n/)[start.line - 1] ?? "";
  let col = start.col;
  for (let index = col - 2; index >= 0 && (line[index] === "(" || line[index] === " "); index--) {
    if (line[index] === "(") col = index + 1;
  }
  return { line: start.line, col };
}

function leftmost(expr: Expr): Position {
  switch (expr.type) {
    case "Binary": return leftmost(expr.left);
    case "Field": case "Index": return leftmost(expr.object);
    default: return expr;
  }
}
