// The lexer: characters to tokens, in the mode the parser asks for.
//
// Blanks are spaces, tabs, carriage returns, `\` line continuations and `#`
// comments. A `#` starts a comment only where a token could start, so
// `-name db_#h` keeps its `#h`. Strings may span lines.
//
// Bounds, so that no input can exhaust memory or reach V8's own limits: a
// line holds at most LINE_LENGTH_MAX characters and a string at most
// TEXT_LENGTH_MAX (the bound of every text value, src/lang/values.ts). A
// script holds no control characters but tab, newline and carriage return: a
// NUL or a form feed is a binary file or a mistake, said as U+XXXX. A leading
// UTF-8 byte-order mark is skipped, as editors on Windows write one.
import { LangSyntaxError } from "./errors.js";
import {
  OPERATORS, PUNCTUATION, UNITS, WORD_BREAKING_OPERATORS, type Part, type Token, type TokenKind,
} from "./tokens.js";

export interface LexerMark {
  offset: number;
  line: number;
  col: number;
}

const NAME_START = /[A-Za-z_]/;
const NAME_PART = /[A-Za-z0-9_]/;
const DIGIT = /[0-9]/;
const HEX_ID = /^[0-9A-Fa-f]{4}(:[0-9A-Fa-f]{4})?$/;
const DECIMAL_WITH_UNIT = /^(\d+(?:\.\d+)?)([A-Za-z]*)$/;
const HEX_NUMBER = /^0[xX][0-9A-Fa-f]+$/;
// Characters that end a DS CLI word (besides blanks and word-breaking operators).
const WORD_END = new Set(["(", ")", "{", "}", ",", ";", '"', "'", "\n"]);
// Characters that are invisible or control characters are named, not printed.
const INVISIBLE = /[\u0000-\u0020\u007F-\u00A0\u00AD\u200B-\u200F\u2028-\u202F\u2060-\u206F\uFEFF]/;
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
const BYTE_ORDER_MARK = "\uFEFF";
export const LINE_LENGTH_MAX = 65_536;
export const TEXT_LENGTH_MAX = 1_048_576;
const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'", $: "$" };

export class Lexer {
  private offset = 0;
  private line = 1;
  private col = 1;

  constructor(readonly source: string, readonly file: string) {
    checkSource(source, file);
    if (source.startsWith(BYTE_ORDER_MARK)) this.offset = 1;
  }

  mark(): LexerMark {
    return { offset: this.offset, line: this.line, col: this.col };
  }

  reset(mark: LexerMark): void {
    this.offset = mark.offset;
    this.line = mark.line;
    this.col = mark.col;
  }

  error(reason: string, line: number, col: number, incomplete = false): LangSyntaxError {
    return new LangSyntaxError(reason, this.file, line, col, incomplete);
  }

  private peek(ahead = 0): string {
    return this.source[this.offset + ahead] ?? "";
  }

  private advance(): string {
    const char = this.source[this.offset++];
    if (char === "\n") {
      this.line++;
      this.col = 1;
    } else {
      this.col++;
    }
    return char;
  }

  private token(kind: TokenKind, start: LexerMark, extra: Partial<Token> = {}): Token {
    return { kind, text: this.source.slice(start.offset, this.offset), offset: start.offset, line: start.line, col: start.col, ...extra };
  }

  // Skips blanks, continuations and comments; stops before a newline.
  private skipBlank(): void {
    for (;;) {
      const char = this.peek();
      if (char === " " || char === "\t" || char === "\r") {
        this.advance();
      } else if (char === "\\" && this.isContinuation()) {
        this.skipContinuation();
      } else if (char === "#") {
        while (this.offset < this.source.length && this.peek() !== "\n") this.advance();
      } else {
        return;
      }
    }
  }

  // A `\` followed only by blanks up to the end of its line.
  private isContinuation(): boolean {
    let index = this.offset + 1;
    while (this.source[index] === " " || this.source[index] === "\t" || this.source[index] === "\r") index++;
    return index >= this.source.length || this.source[index] === "\n";
  }

  private skipContinuation(): void {
    const start = this.mark();
    this.advance();
    while (this.peek() === " " || this.peek() === "\t" || this.peek() === "\r") this.advance();
    if (this.offset >= this.source.length) {
      throw this.error("the input ends after a line continuation \\", start.line, start.col, true);
    }
    this.advance();
  }

  // Tokens shared by both modes, or null.
  private common(start: LexerMark): Token | null {
    const char = this.peek();
    if (char === "") return this.token("eof", start);
    if (char === "\n") {
      this.advance();
      return this.token("newline", start);
    }
    if (char === '"' || char === "'") return this.string(start);
    return null;
  }

  // ---- expression mode ------------------------------------------------------

  nextExpr(): Token {
    this.skipBlank();
    const start = this.mark();
    const common = this.common(start);
    if (common) return common;
    const char = this.peek();
    if (DIGIT.test(char)) return this.numeric(start);
    if (NAME_START.test(char)) return this.identifier(start);
    if (char === "$") return this.token("variable", start, { text: this.variableName() });
    const operator = OPERATORS.find((candidate) => this.source.startsWith(candidate, this.offset));
    if (operator) {
      for (let index = 0; index < operator.length; index++) this.advance();
      return this.token("op", start);
    }
    if (PUNCTUATION.includes(char)) {
      this.advance();
      return this.token("punct", start);
    }
    throw this.error(`unexpected character ${describeCharacter(char)}`, start.line, start.col);
  }

  private numeric(start: LexerMark): Token {
    this.consumeIdLike();
    const text = this.source.slice(start.offset, this.offset);
    if (HEX_NUMBER.test(text)) return this.token("number", start, { value: this.exact(parseInt(text.slice(2), 16), text, start), unit: "" });
    if (HEX_ID.test(text) && (text.includes(":") || /[A-Fa-f]/.test(text) || text.startsWith("0"))) {
      return this.token("id", start);
    }
    const match = DECIMAL_WITH_UNIT.exec(text);
    if (!match) {
      throw this.error(`${text} is not a number, a volume ID or a pair ID`, start.line, start.col);
    }
    const [, digits, unitText] = match;
    if (unitText === "") return this.token("number", start, { value: this.exact(Number(digits), text, start), unit: "" });
    const unit = UNITS[unitText.toLowerCase()];
    if (!unit) {
      throw this.error(
        `unknown unit ${unitText} in ${text} (sizes: B KiB MiB GiB TiB KB MB GB TB; durations: us ms s min h)`,
        start.line, start.col + digits.length,
      );
    }
    return this.token("number", start, { value: this.exact(Number(digits) * unit.factor, text, start), unit: unitText });
  }

  // Numbers are doubles: past 2^53 a literal would silently become another number.
  private exact(value: number, text: string, start: LexerMark): number {
    if (value <= Number.MAX_SAFE_INTEGER) return value;
    throw this.error(`${text} is larger than ${Number.MAX_SAFE_INTEGER}, the largest number held exactly`, start.line, start.col);
  }

  // Letters, digits, `_`, `.` between digits, and `:` followed by a digit or letter.
  private consumeIdLike(): void {
    for (;;) {
      const char = this.peek();
      if (NAME_PART.test(char)) this.advance();
      else if (char === "." && DIGIT.test(this.peek(1))) this.advance();
      else if (char === ":" && NAME_PART.test(this.peek(1))) this.advance();
      else return;
    }
  }

  private identifier(start: LexerMark): Token {
    while (NAME_PART.test(this.peek())) this.advance();
    const name = this.source.slice(start.offset, this.offset);
    // A bare ID that starts with a letter (A000, FE01:FE02) is an ID, not a name.
    if (/^[0-9A-Fa-f]{4}$/.test(name) && this.peek() === ":" && /^[0-9A-Fa-f]{4}/.test(this.source.slice(this.offset + 1, this.offset + 5))) {
      for (let index = 0; index < 5; index++) this.advance();
      return this.token("id", start);
    }
    return this.token("ident", start);
  }

  // `$name` or `${name}`; returns the name. The lexer stands on the `$`.
  private variableName(): string {
    const start = this.mark();
    this.advance();
    const braced = this.peek() === "{";
    if (braced) this.advance();
    const nameStart = this.offset;
    if (!NAME_START.test(this.peek())) {
      throw this.error("expected a variable name after $", start.line, start.col);
    }
    while (NAME_PART.test(this.peek())) this.advance();
    const name = this.source.slice(nameStart, this.offset);
    if (braced) {
      if (this.peek() !== "}") throw this.error(`expected } to close \${${name}`, this.line, this.col);
      this.advance();
    }
    return name;
  }

  private string(start: LexerMark): Token {
    const quote = this.advance();
    const parts: Part[] = [];
    let text = "";
    for (;;) {
      const char = this.peek();
      if (char === "") throw this.error("unterminated string", start.line, start.col, true);
      if (char === quote) {
        this.advance();
        break;
      }
      if (char === "\\") {
        const escapeStart = this.mark();
        this.advance();
        const escaped = this.peek();
        if (escaped === "") throw this.error("unterminated string", start.line, start.col, true);
        const value = quote === '"' ? ESCAPES[escaped] : escaped === "'" || escaped === "\\" ? escaped : undefined;
        if (value === undefined && quote === '"') {
          throw this.error(`unknown escape \\${escaped} in a string`, escapeStart.line, escapeStart.col);
        }
        this.advance();
        text += value ?? `\\${escaped}`;
        continue;
      }
      if (char === "$" && quote === '"' && (NAME_START.test(this.peek(1)) || this.peek(1) === "{")) {
        this.pushVariable(parts, text);
        text = "";
        continue;
      }
      text += this.advance();
      if (text.length > TEXT_LENGTH_MAX) throw this.error(`a string is longer than ${TEXT_LENGTH_MAX} characters`, start.line, start.col);
    }
    if (text || parts.length === 0) parts.push({ text });
    return this.token("string", start, { parts });
  }

  // Ends the literal text so far and adds the `$name` that starts here.
  private pushVariable(parts: Part[], text: string): void {
    if (text) parts.push({ text });
    const variableStart = this.mark();
    parts.push({ variable: this.variableName(), line: variableStart.line, col: variableStart.col });
  }

  // ---- argument mode ---------------------------------------------------------

  // A DS CLI word, a string, `(`/`)`/`{`/`}`/`,`/`;`, an operator, newline or eof.
  nextArg(): Token {
    this.skipBlank();
    const start = this.mark();
    const common = this.common(start);
    if (common) return common;
    const char = this.peek();
    if ("(){},;".includes(char)) {
      this.advance();
      return this.token("punct", start);
    }
    const operator = this.operatorAt();
    if (operator) {
      for (let index = 0; index < operator.length; index++) this.advance();
      return this.token("op", start);
    }
    if (char === "=" && this.endsChunk(1)) {
      this.advance();
      return this.token("punct", start);
    }
    return this.word(start);
  }

  // An operator that ends a command's arguments: a word-breaking one anywhere,
  // any other only standing alone.
  private operatorAt(): string | undefined {
    const breaking = WORD_BREAKING_OPERATORS.find((candidate) => this.source.startsWith(candidate, this.offset));
    if (breaking) return breaking;
    return OPERATORS.find((candidate) => this.source.startsWith(candidate, this.offset) && this.endsChunk(candidate.length));
  }

  private endsChunk(length: number): boolean {
    const after = this.peek(length);
    return after === "" || after === " " || after === "\t" || after === "\r" || after === "\n";
  }

  // DS CLI's lists are words with commas and no blanks (`-group
  // op_copy_services,monitor`): a comma between two characters of a word
  // stays in it; one that a blank, a quote or the end follows ends it.
  private commaInWord(text: string): boolean {
    const after = this.peek(1);
    return text.length > 0 && after !== "" && after !== " " && after !== "\t" && after !== "\r" && after !== "," && !WORD_END.has(after);
  }

  private word(start: LexerMark): Token {
    const parts: Part[] = [];
    let text = "";
    for (;;) {
      const char = this.peek();
      if (char === "," && this.commaInWord(text)) {
        text += this.advance();
        continue;
      }
      if (char === "" || char === " " || char === "\t" || char === "\r" || WORD_END.has(char)) break;
      if (char === "\\" && this.isContinuation()) break;
      if (WORD_BREAKING_OPERATORS.some((operator) => this.source.startsWith(operator, this.offset))) break;
      if (char === "$") {
        this.pushVariable(parts, text);
        text = "";
        continue;
      }
      text += this.advance();
    }
    if (text) parts.push({ text });
    return this.token("word", start, { parts });
  }
}

// `"x"`, or `U+0000` for a character that would not show (a NUL, a BOM, a
// non-breaking space): the message must say what is there.
export function describeCharacter(char: string): string {
  const point = char.codePointAt(0) ?? 0;
  if (INVISIBLE.test(char)) return `U+${point.toString(16).toUpperCase().padStart(4, "0")}`;
  return JSON.stringify(char);
}

// Throws the syntax error of the first forbidden character or overlong line.
export function checkSource(source: string, file: string): void {
  const forbidden = FORBIDDEN.exec(source);
  const lineEnd = firstLongLine(source, forbidden?.index ?? source.length);
  if (lineEnd !== null) {
    throw new LangSyntaxError(`line ${lineEnd.line} is longer than ${LINE_LENGTH_MAX} characters`, file, lineEnd.line, LINE_LENGTH_MAX + 1, false);
  }
  if (forbidden) {
    const at = positionOf(source, forbidden.index);
    const reason = `unexpected control character ${describeCharacter(forbidden[0])}${forbidden[0] === "\0" ? " (is this a binary file?)" : ""}`;
    throw new LangSyntaxError(reason, file, at.line, at.col, false);
  }
}

// The first line longer than LINE_LENGTH_MAX that starts before `end`, or null.
function firstLongLine(source: string, end: number): { line: number } | null {
  let line = 1;
  for (let start = 0; start < end && start <= source.length; line++) {
    const newline = source.indexOf("\n", start);
    const stop = newline < 0 ? source.length : newline;
    if (stop - start > LINE_LENGTH_MAX) return { line };
    start = stop + 1;
  }
  return null;
}

function positionOf(source: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let index = source.indexOf("\n"); index >= 0 && index < offset; index = source.indexOf("\n", index + 1)) {
    line++;
    lineStart = index + 1;
  }
  return { line, col: offset - lineStart + 1 };
}
