// Errors of the scenario language: one class for syntax, one for a failed
// run, and the `file:line:col` rendering with a caret under the culprit.

export class LangSyntaxError extends Error {
  override readonly name = "LangSyntaxError";
  readonly code = "SYNTAX";
  constructor(
    readonly reason: string, // the message without its position
    readonly file: string,
    readonly line: number, // 1-based
    readonly col: number, // 1-based
    readonly incomplete: boolean, // input ended inside {, after \, or inside a string
  ) {
    super(`${file}:${line}:${col}: ${reason}`);
  }
}

export type ScriptErrorKind = "assertion" | "command" | "syntax";

const EXIT_CODES: Record<ScriptErrorKind, number> = { assertion: 1, syntax: 2, command: 6 };

export class ScriptError extends Error {
  override readonly name = "ScriptError";
  readonly exitCode: number;
  constructor(
    readonly kind: ScriptErrorKind,
    readonly code: string, // stable: SYNTAX, ASSERTION, or the failing command's error code
    readonly reason: string, // the message without its position
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly sourceText?: string, // the text of `file`, for formatError
  ) {
    super(`${file}:${line}:${col}: ${reason}`);
    this.exitCode = EXIT_CODES[kind];
  }
}

export function isScriptError(error: unknown): error is ScriptError {
  return error instanceof ScriptError;
}

// Options whose value is a password (mkuser -pw, chuser -pw): an echoed line
// shows it as stars of the same length, so the caret keeps its column.
export const PASSWORD_OPTION = /(^|\s)-pw(\s|$)/i;
const PASSWORD_VALUE = /((?:^|\s)-pw\s+)("(?:[^"\\]|\\.)*"?|'[^']*'?|\S+)/gi;
export function maskPasswords(line: string): string {
  return line.replace(PASSWORD_VALUE, (_, option: string, value: string) => option + "*".repeat(value.length));
}

// `file:line:col: message`, the source line, and a caret under the column.
// The error's own source text wins (an error in a sourced file carries it).
export function formatError(error: LangSyntaxError | ScriptError, source?: string): string {
  const text = (error instanceof ScriptError ? error.sourceText : undefined) ?? source ?? "";
  const header = `${error.file}:${error.line}:${error.col}: ${error.reason}`;
  const lineText = text === "" ? undefined : text.split(/\r?\n/)[error.line - 1];
  if (lineText === undefined) return header;
  // One visible character for each invisible one, so the caret stays under its column.
  const visible = maskPasswords(lineText).replace(/\t/g, " ").replace(/[\u0000-\u001F]/g, (char) => String.fromCharCode(0x2400 + char.charCodeAt(0))).replace(/\u007F/g, "\u2421");
  const caret = `${" ".repeat(Math.max(0, Math.min(error.col - 1, visible.length)))}^`;
  return `${header}\n${visible}\n${caret}`;
}
