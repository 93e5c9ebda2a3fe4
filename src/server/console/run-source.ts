// Runs console input through the same interpreter as a shell or a script
// (src/lang), on the site as the console user reaches it: one DS CLI line
// (POST /cs/console/run), or a task's lines or script. Output comes back as
// lines; a failure as its error lines (the CMUN message, with the file, line
// and caret of a script) and DS CLI's exit code.
//
// The console runs on the server, so what reads or writes the server's own
// files (source, save, load, import, export) is refused before anything runs.
import { LangSyntaxError, ScriptError, formatError } from "../../lang/errors.js";
import { errorLine } from "../../lang/messages.js";
import { parse, type Arg, type CommandNode, type Expr, type Program, type Statement } from "../../lang/parser.js";
import { Session } from "../../lang/session.js";
import { AUTHENTICATION_CODES, CONNECTION_CODES } from "../../site/remote.js";
import type { Site } from "../../site/site.js";

export const EXIT_OK = 0;
export const EXIT_SYNTAX = 2;
export const EXIT_CONNECTION = 3;
export const EXIT_AUTHENTICATION = 5;
export const EXIT_FAILED = 6;
export const FILE_COMMANDS: ReadonlySet<string> = new Set(["source", "save", "load", "import", "export"]);

export interface RunOutcome {
  exitCode: number;
  errors: string[];
}

export interface RunOptions {
  write: (line: string) => void; // one line of output
  signal?: AbortSignal;
}

// The program of `source`, or the error lines of why it cannot run in the console.
export function consoleProgram(source: string, file: string): Program | RunOutcome {
  let program: Program;
  try {
    program = parse(source, file);
  } catch (error) {
    if (error instanceof LangSyntaxError) return { exitCode: EXIT_SYNTAX, errors: lines(formatError(error, source)) };
    throw error;
  }
  const refused = commandsOf(program.body).find((command) => FILE_COMMANDS.has(command.name));
  if (refused === undefined) return program;
  const message = errorLine(refused.name, "NOT_IN_CONSOLE", `${refused.name} reads or writes the server's files, which the console does not allow; run it from a shell`);
  return { exitCode: EXIT_FAILED, errors: [`${file}:${refused.line}:${refused.col}: ${message}`] };
}

// Runs `source` in a fresh session over `site` (the current image: the site's first).
export async function runConsoleSource(site: Site, source: string, file: string, options: RunOptions): Promise<RunOutcome> {
  const program = consoleProgram(source, file);
  if (!("type" in program)) return program;
  const images = await site.listImages().catch(() => []);
  const session = new Session({ write: (text) => { for (const line of lines(text)) options.write(line); }, site, siteShared: true, imageId: images[0]?.id });
  try {
    await session.run(program, { signal: options.signal });
    return { exitCode: EXIT_OK, errors: [] };
  } catch (error) {
    return failure(error, source);
  } finally {
    await session.close().catch(() => undefined);
  }
}

function failure(error: unknown, source: string): RunOutcome {
  if (error instanceof ScriptError) return { exitCode: exitCodeOf(error.code, error.exitCode), errors: lines(formatError(error, source)) };
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") throw error;
  return { exitCode: exitCodeOf(code, EXIT_FAILED), errors: [`tzero: ${code}: ${(error as Error).message}`] };
}

// DS CLI's exit code for a failure of this code (as src/cli/main.ts gives it).
function exitCodeOf(code: string, otherwise: number): number {
  if (CONNECTION_CODES.has(code)) return EXIT_CONNECTION;
  if (AUTHENTICATION_CODES.has(code)) return EXIT_AUTHENTICATION;
  return otherwise;
}

function lines(text: string): string[] {
  return text.split(/\r?\n/);
}

// Every command a program would run, in statements, nested blocks and expressions.
function commandsOf(statements: readonly Statement[]): CommandNode[] {
  const found: CommandNode[] = [];
  const expression = (expr: Expr | undefined): void => {
    if (expr === undefined) return;
    switch (expr.type) {
      case "CommandValue": command(expr.command); return;
      case "Unary": expression(expr.operand); return;
      case "Binary": expression(expr.left); expression(expr.right); return;
      case "Field": expression(expr.object); return;
      case "Index": expression(expr.object); expression(expr.index); return;
      default: return;
    }
  };
  const argument = (arg: Arg | undefined): void => {
    if (arg?.kind === "expr") expression(arg.expr);
  };
  const command = (node: CommandNode): void => {
    found.push(node);
    for (const operand of node.operands) argument(operand);
    for (const option of node.options) argument(option.value);
  };
  const statement = (each: Statement): void => {
    switch (each.type) {
      case "Command": command(each); return;
      case "Let": expression(each.value); return;
      case "Assert": expression(each.test); expression(each.message); return;
      case "ExpectError": command(each.command); return;
      case "Repeat": expression(each.count); each.body.forEach(statement); return;
    }
  };
  statements.forEach(statement);
  return found;
}
