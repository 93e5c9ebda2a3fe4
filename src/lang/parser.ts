// The parser: tokens to a Program. Commands are checked against the command
// table here (unknown commands and options, missing values, operand counts,
// literal enum values), so a script with such a mistake runs nothing.
import { Lexer } from "./lexer.js";
import { LangSyntaxError } from "./errors.js";
import {
  commandName, findCommand, findOption, findSubcommand, suggestCommand, type CommandSpec, type OptionSpec,
} from "./commands.js";
import { BINARY_PRECEDENCE, UNARY_OPERATORS, type Part, type Token } from "./tokens.js";

export interface Position {
  line: number;
  col: number;
}

export type Value = number | string | boolean | Value[] | { [field: string]: Value } | null;

export type Expr =
  | ({ type: "Literal"; value: Value; unit: string } & Position)
  | ({ type: "Template"; parts: Part[] } & Position)
  | ({ type: "Variable"; name: string } & Position)
  | ({ type: "Unary"; operator: string; operand: Expr } & Position)
  | ({ type: "Binary"; operator: string; left: Expr; right: Expr } & Position)
  | ({ type: "Field"; object: Expr; field: string } & Position)
  | ({ type: "Index"; object: Expr; index: Expr } & Position)
  | ({ type: "CommandValue"; command: CommandNode } & Position);

// A command argument: a DS CLI word (maybe with $variables in it), a string, or (EXPR).
export type Arg =
  | ({ kind: "word"; text: string; parts: Part[] } & Position)
  | ({ kind: "string"; text: string; parts: Part[] } & Position)
  | ({ kind: "expr"; text: string; expr: Expr } & Position);

export interface OptionNode extends Position {
  name: string;
  spec: OptionSpec;
  value?: Arg;
}

export interface CommandNode extends Position {
  type: "Command";
  name: string; // "mkflash", "workload start"
  spec: CommandSpec;
  options: OptionNode[];
  operands: Arg[];
}

export type Statement =
  | CommandNode
  | ({ type: "Let"; name: string; value: Expr } & Position)
  | ({ type: "Assert"; test: Expr; message?: Expr } & Position)
  | ({ type: "ExpectError"; code?: string; command: CommandNode } & Position)
  | ({ type: "Repeat"; count: Expr; body: Statement[] } & Position);

export interface Program {
  type: "Program";
  file: string;
  source: string;
  body: Statement[];
}

const ERROR_CODE = /^[A-Z][A-Z0-9_]*$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEX_WORD = /^[0-9A-Fa-f]{4}$/;
const NESTING_MAX = 64; // blocks and parentheses: deeper is a mistake, not a scenario
const OPERATORS_MAX = 1000; // binary operators in one statement: the interpreter evaluates them recursively

export function parse(source: string, file: string): Program {
  return new Parser(source, file).program();
}

class Parser {
  private readonly lexer: Lexer;
  private depth = 0;
  private operatorCount = 0; // binary operators in the current statement

  constructor(private readonly source: string, private readonly file: string) {
    this.lexer = new Lexer(source, file);
  }

  program(): Program {
    const body = this.statements(null);
    return { type: "Program", file: this.file, source: this.source, body };
  }

  private fail(reason: string, at: Position, incomplete = false): never {
    throw new LangSyntaxError(reason, this.file, at.line, at.col, incomplete);
  }

  private peekExpr(): Token {
    const mark = this.lexer.mark();
    const token = this.lexer.nextExpr();
    this.lexer.reset(mark);
    return token;
  }

  private peekArg(): Token {
    const mark = this.lexer.mark();
    const token = this.lexer.nextArg();
    this.lexer.reset(mark);
    return token;
  }

  private enter(at: Position): void {
    if (++this.depth > NESTING_MAX) this.fail(`nesting deeper than ${NESTING_MAX} levels`, at);
  }

  // ---- statements ---------------------------------------------------------------

  // Statements up to the end of input, or up to the `}` closing `open`.
  private statements(open: Position | null): Statement[] {
    const body: Statement[] = [];
    for (;;) {
      const token = this.lexer.nextExpr();
      if (token.kind === "newline" || (token.kind === "punct" && token.text === ";")) continue;
      if (token.kind === "eof") {
        if (open) this.fail(`expected } to close the block opened at ${open.line}:${open.col}`, token, true);
        return body;
      }
      if (token.kind === "punct" && token.text === "}") {
        if (open) return body;
        this.fail("unexpected } with no block open", token);
      }
      this.operatorCount = 0;
      body.push(this.statement(token));
      this.endOfStatement();
    }
  }

  private endOfStatement(): void {
    const token = this.peekArg();
    if (token.kind === "newline" || token.kind === "eof") return;
    if (token.kind === "punct" && (token.text === ";" || token.text === "}")) return;
    this.fail(`unexpected ${describe(token)} after the end of the statement`, token);
  }

  private statement(token: Token): Statement {
    if (token.kind !== "ident") {
      this.fail(`expected a command or statement, found ${describe(token)}`, token);
    }
    switch (token.text) {
      case "let": return this.letStatement(token);
      case "assert": return this.assertStatement(token);
      case "expect": return this.expectStatement(token);
      case "repeat": return this.repeatStatement(token);
      default: return this.command(token);
    }
  }

  private letStatement(start: Token): Statement {
    const name = this.lexer.nextExpr();
    if (name.kind === "variable") this.fail(`write let ${name.text} = ..., without the $`, name);
    if (name.kind !== "ident" || !NAME.test(name.text)) this.fail(`expected a variable name after let, found ${describe(name)}`, name);
    const equals = this.lexer.nextExpr();
    if (!(equals.kind === "punct" && equals.text === "=")) this.fail(`expected = after let ${name.text}, found ${describe(equals)}`, equals);
    const value = this.expression();
    return { type: "Let", name: name.text, value, line: start.line, col: start.col };
  }

  private assertStatement(start: Token): Statement {
    const test = this.expression();
    const comma = this.peekExpr();
    let message: Expr | undefined;
    if (comma.kind === "punct" && comma.text === ",") {
      this.lexer.nextExpr();
      message = this.expression();
    }
    return { type: "Assert", test, message, line: start.line, col: start.col };
  }

  private expectStatement(start: Token): Statement {
    const word = this.lexer.nextExpr();
    if (!(word.kind === "ident" && word.text === "error")) this.fail(`expected error after expect, found ${describe(word)}`, word);
    let next = this.lexer.nextExpr();
    let code: string | undefined;
    if (next.kind === "ident" && ERROR_CODE.test(next.text) && !findCommand(next.text)) {
      code = next.text;
      next = this.lexer.nextExpr();
    }
    if (next.kind !== "ident" || !findCommand(next.text) || findCommand(next.text)?.statement) {
      this.fail(`expected a command after expect error${code ? ` ${code}` : ""}, found ${describe(next)}`, next);
    }
    const command = this.command(next);
    return { type: "ExpectError", code, command, line: start.line, col: start.col };
  }

  private repeatStatement(start: Token): Statement {
    const count = this.expression();
    const open = this.lexer.nextExpr();
    if (!(open.kind === "punct" && open.text === "{")) {
      this.fail(`expected { after repeat ${this.source.slice(offsetOf(this.source, count), open.offset).trim()}, found ${describe(open)}`, open);
    }
    this.enter(open);
    const body = this.statements(open);
    this.depth--;
    return { type: "Repeat", count, body, line: start.line, col: start.col };
  }

  // ---- commands -------------------------------------------------------------------

  private command(nameToken: Token): CommandNode {
    let spec = findCommand(nameToken.text);
    if (!spec || spec.statement) {
      const suggestion = suggestCommand(nameToken.text);
      this.fail(`unknown command ${nameToken.text}${suggestion ? ` (did you mean ${suggestion}?)` : ""}; type help for the list`, nameToken);
    }
    if (spec.subcommands) {
      const subToken = this.lexer.nextArg();
      const sub = subToken.kind === "word" ? findSubcommand(spec, subToken.text) : undefined;
      if (!sub) {
        const names = spec.subcommands.map((candidate) => candidate.name);
        this.fail(`${spec.name}: expected ${listWords(names)}, found ${describe(subToken)}`, subToken);
      }
      spec = sub;
    }
    const node: CommandNode = {
      type: "Command", name: commandName(spec), spec, options: [], operands: [], line: nameToken.line, col: nameToken.col,
    };
    for (;;) {
      const mark = this.lexer.mark();
      const token = this.lexer.nextArg();
      if (isArgEnd(token)) {
        this.lexer.reset(mark);
        break;
      }
      if (token.kind === "word" && /^-[A-Za-z]/.test(token.text) && "text" in token.parts![0]) {
        node.options.push(this.option(node, token));
      } else {
        node.operands.push(this.argument(token, node.name));
      }
    }
    this.checkCommand(node, nameToken);
    return node;
  }

  private option(node: CommandNode, token: Token): OptionNode {
    const name = token.text.slice(1);
    const spec = findOption(node.spec, name);
    if (!spec) {
      const known = node.spec.options.map((option) => `-${option.name}`);
      this.fail(`${node.name}: unknown option -${name}${known.length ? ` (options: ${known.join(" ")})` : " (it takes no options)"}`, token);
    }
    if (node.options.some((option) => option.name === spec.name)) this.fail(`${node.name}: option -${spec.name} given twice`, token);
    const option: OptionNode = { name: spec.name, spec, line: token.line, col: token.col };
    if (spec.kind === undefined) return option;
    const mark = this.lexer.mark();
    let valueToken = this.lexer.nextArg();
    if (spec.kind === "text" && valueToken.kind === "punct" && valueToken.text === ",") {
      valueToken = { ...valueToken, kind: "word", parts: [{ text: "," }] };
    }
    const isOption = valueToken.kind === "word" && /^-[A-Za-z]/.test(valueToken.text) && spec.kind !== "text";
    if (isArgEnd(valueToken) || isOption) {
      this.lexer.reset(mark);
      this.fail(`${node.name}: option -${spec.name} needs a value (${valueHint(spec)})`, valueToken);
    }
    option.value = this.argument(valueToken, node.name);
    if (spec.kind === "enum" && option.value.kind !== "expr" && isLiteral(option.value.parts)) {
      const text = option.value.text.toLowerCase();
      if (!spec.values!.includes(text)) {
        this.fail(`${node.name}: -${spec.name} must be ${listWords(spec.values!)}, not ${option.value.text}`, option.value);
      }
    }
    return option;
  }

  private argument(token: Token, commandText: string): Arg {
    const at = { line: token.line, col: token.col };
    if (token.kind === "word") return { kind: "word", text: token.text, parts: token.parts!, ...at };
    if (token.kind === "string") return { kind: "string", text: token.text, parts: token.parts!, ...at };
    if (token.kind === "punct" && token.text === "(") {
      const expr = this.postfix(this.parenthesised(token));
      return { kind: "expr", text: this.source.slice(token.offset, this.lexer.mark().offset), expr, ...at };
    }
    this.fail(`${commandText}: unexpected ${describe(token)}`, token);
  }

  private checkCommand(node: CommandNode, at: Position): void {
    const spec = node.spec;
    for (const option of spec.options) {
      if (option.required && !node.options.some((given) => given.name === option.name)) {
        this.fail(`${node.name}: option -${option.name} is required (${valueHint(option)})`, at);
      }
    }
    const required = spec.operands.filter((operand) => !operand.optional).length;
    const repeats = spec.operands.some((operand) => operand.repeat);
    if (node.operands.length < required) {
      const missing = spec.operands[node.operands.length];
      this.fail(`${node.name}: expected ${missing.name} (${missing.summary}); usage: ${spec.usage}`, at);
    }
    if (!repeats && node.operands.length > spec.operands.length) {
      const extra = node.operands[spec.operands.length];
      this.fail(`${node.name}: unexpected operand ${extra.text}; usage: ${spec.usage}`, extra);
    }
  }

  // ---- expressions ----------------------------------------------------------------

  private expression(): Expr {
    return this.binary(1);
  }

  private binary(precedenceMin: number): Expr {
    let left = this.unary();
    for (;;) {
      const token = this.peekExpr();
      const precedence = token.kind === "op" ? BINARY_PRECEDENCE[token.text] : undefined;
      if (precedence === undefined || precedence < precedenceMin) return left;
      this.lexer.nextExpr();
      if (++this.operatorCount > OPERATORS_MAX) this.fail(`more than ${OPERATORS_MAX} operators in one statement`, token);
      const right = this.binary(precedence + 1);
      left = { type: "Binary", operator: token.text, left, right, line: token.line, col: token.col };
      const after = this.peekExpr();
      if (precedence === 3 && after.kind === "op" && BINARY_PRECEDENCE[after.text] === 3) {
        this.fail(`comparisons do not chain: put parentheses around one side of ${after.text}`, after);
      }
    }
  }

  private unary(): Expr {
    const token = this.peekExpr();
    if (token.kind === "op" && UNARY_OPERATORS.includes(token.text)) {
      this.lexer.nextExpr();
      this.enter(token);
      const operand = this.unary();
      this.depth--;
      return { type: "Unary", operator: token.text, operand, line: token.line, col: token.col };
    }
    return this.postfix(this.primary());
  }

  private postfix(object: Expr): Expr {
    let result = object;
    for (;;) {
      const mark = this.lexer.mark();
      const token = this.lexer.nextExpr();
      if (token.kind === "punct" && token.text === ".") {
        const field = this.lexer.nextExpr();
        if (field.kind !== "ident") this.fail(`expected a field name after ., found ${describe(field)}`, field);
        result = { type: "Field", object: result, field: field.text, line: field.line, col: field.col };
      } else if (token.kind === "punct" && token.text === "[") {
        const index = this.expression();
        const close = this.lexer.nextExpr();
        if (!(close.kind === "punct" && close.text === "]")) this.fail(`expected ] to close the index, found ${describe(close)}`, close);
        result = { type: "Index", object: result, index, line: token.line, col: token.col };
      } else {
        this.lexer.reset(mark);
        return result;
      }
    }
  }

  private primary(): Expr {
    const token = this.lexer.nextExpr();
    const at = { line: token.line, col: token.col };
    switch (token.kind) {
      case "number":
        return { type: "Literal", value: token.value!, unit: token.unit!, ...at };
      case "id":
        return { type: "Literal", value: token.text.toUpperCase(), unit: "", ...at };
      case "string":
        return { type: "Template", parts: token.parts!, ...at };
      case "variable":
        return { type: "Variable", name: token.text.replace(/^\$\{?/, "").replace(/\}$/, ""), ...at };
      case "ident":
        return this.named(token);
      case "punct":
        if (token.text === "(") return this.parenthesised(token);
        break;
      default:
        break;
    }
    this.fail(`expected a value, found ${describe(token)}`, token);
  }

  private named(token: Token): Expr {
    const at = { line: token.line, col: token.col };
    if (token.text === "true" || token.text === "false") return { type: "Literal", value: token.text === "true", unit: "", ...at };
    const spec = findCommand(token.text);
    if (spec && !spec.statement) return { type: "CommandValue", command: this.command(token), ...at };
    if (HEX_WORD.test(token.text)) return { type: "Literal", value: token.text.toUpperCase(), unit: "", ...at };
    this.fail(`unknown name ${token.text}: write a variable as $${token.text}, text in quotes "${token.text}"`, token);
  }

  // The lexer has consumed `(`: an expression or a command, then `)`.
  private parenthesised(open: Token): Expr {
    this.enter(open);
    const expr = this.expression();
    const close = this.lexer.nextExpr();
    if (!(close.kind === "punct" && close.text === ")")) {
      this.fail(`expected ) to close the ( at ${open.line}:${open.col}, found ${describe(close)}`, close);
    }
    this.depth--;
    return expr;
  }
}

function isArgEnd(token: Token): boolean {
  if (token.kind === "newline" || token.kind === "eof" || token.kind === "op") return true;
  return token.kind === "punct" && token.text !== "(";
}

function isLiteral(parts: Part[]): boolean {
  return parts.every((part) => "text" in part);
}

function listWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

function valueHint(option: OptionSpec): string {
  if (option.kind === "enum") return listWords(option.values!);
  const hints: Partial<Record<string, string>> = {
    size: "a size such as 4096 or 4KiB", duration: "a duration such as 500ms or 2s", number: "a number",
    volume: "a volume ID such as 1000", image: "a storage image ID such as IBM.2105-75TZ001", pattern: "0xNN or random",
    lss: "an LSS such as 10", text: "text", file: "a file name",
  };
  return hints[option.kind ?? ""] ?? option.kind ?? "";
}

function describe(token: Token): string {
  switch (token.kind) {
    case "eof": return "the end of the input";
    case "newline": return "the end of the line";
    case "string": return `string ${token.text}`;
    default: return token.text;
  }
}

// The source offset of an expression's first character (for messages).
function offsetOf(source: string, at: Position): number {
  let line = 1;
  let index = 0;
  while (line < at.line && index < source.length) {
    if (source[index] === "\n") line++;
    index++;
  }
  return index + at.col - 1;
}
