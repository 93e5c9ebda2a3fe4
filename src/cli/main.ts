#!/usr/bin/env node
// The `tzero` command.
//   tzero -script FILE        run a scenario script (the DS CLI convention)
//   tzero COMMAND [ARGS...]   run one command (DS CLI single-shot mode)
//   tzero < FILE              commands piped to standard input run as a script
//   tzero                     the interactive REPL (standard input a terminal)
//   tzero bench [ARGS...]     the benchmarks
//   tzero serve [ARGS...]     a node of a site as a service (src/cli/serve.ts)
//   --state FILE              load FILE at start when it exists; save to it on exit and on `save`
// Exit codes: 0 all succeeded, 1 an assertion failed, 2 syntax or usage error,
// 6 a command failed.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Session } from "../lang/session.js";
import { LangSyntaxError, ScriptError, formatError } from "../lang/errors.js";
import { Lifetime } from "./lifetime.js";
import { readScript, readScriptFile } from "./script-input.js";
import { applyProfile, parseProfile, type Profile } from "../lang/profile.js";
import { CommandFailure } from "../lang/values.js";
import { errorId } from "../lang/messages.js";

const USAGE = `usage: tzero [--state FILE] [-cfg PROFILE] [-script FILE] [COMMAND ARGS...]
  tzero -script FILE     run a scenario script
  tzero COMMAND ...      run one command, e.g. tzero help mkflash
  tzero < FILE           run the commands piped to standard input
  tzero                  interactive shell (when standard input is a terminal)
  tzero bench [FILTER]   run the benchmarks
  tzero serve ...        run a node of a site (tzero serve --help)
  --state FILE           load the storage images from FILE at start (when it exists),
                         save them to it on exit and on save with no FILE
  -cfg PROFILE           a DS CLI profile: devid, format, delim, banner, header, fullid
exit codes: 0 success, 1 assertion failed, 2 syntax error, 6 command failed`;

const READ_REASONS: Record<string, string> = { ENOENT: "no such file", EISDIR: "it is a folder, not a file", EACCES: "permission denied" };

export const EXIT_OK = 0;
export const EXIT_USAGE = 2;
export const EXIT_FAILED = 6;

// DS CLI options have one dash (`-script`); node's parser wants two. Options
// before the first plain word are normalised (with the values of those that
// take one); from that word on, everything is the command and its arguments.
const LONG_OPTIONS = new Set(["script", "help", "version", "workers", "state", "cfg"]);
const VALUE_OPTIONS = new Set(["script", "workers", "state", "cfg"]);

function normalise(argv: string[]): string[] {
  const result: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    // "--" ends option parsing: the command's own options (lsflash -l) are its arguments.
    if (!argument.startsWith("-")) return result.concat("--", argv.slice(index));
    const name = argument.replace(/^--?/, "");
    result.push(LONG_OPTIONS.has(name) ? `--${name}` : argument);
    if (VALUE_OPTIONS.has(name) && index + 1 < argv.length) result.push(argv[++index]);
  }
  return result;
}

function quoteWord(word: string): string {
  return /^[^\s"'#(){},;$]+$/.test(word) ? word : JSON.stringify(word);
}

interface RunSettings {
  workers: number | undefined;
  stateFile: string | undefined;
  profile?: Profile;
}

function reportError(error: unknown, source: string): number {
  if (error instanceof ScriptError || error instanceof LangSyntaxError) {
    process.stderr.write(`${formatError(error, source)}\n`);
    return error instanceof ScriptError ? error.exitCode : EXIT_USAGE;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") throw error;
  process.stderr.write(`tzero: ${code}: ${(error as Error).message}\n`);
  return EXIT_FAILED;
}

// Runs a script to its end, or until a signal or a closed stdout cancels it;
// then closes the session (the exit save) under the same Lifetime.
async function runText(source: string | Promise<string>, file: string, settings: RunSettings): Promise<number> {
  // Read errors are reported below, once the state is open; not as unhandled.
  if (typeof source !== "string") source.catch(() => undefined);
  const lifetime = new Lifetime();
  let session: Session;
  try {
    session = new Session({ write: (text) => lifetime.write(`${text}\n`), ...settings });
  } catch (error) {
    return reportError(error, "");
  }
  lifetime.install();
  let exitCode = EXIT_OK;
  let text = "";
  try {
    await session.openState();
    text = await source;
    if (settings.profile) await applyProfile(session, settings.profile);
    await session.runSource(text, file, { signal: lifetime.run.signal });
  } catch (error) {
    // A reader that went away asked for no more: that is not a failure.
    if (!lifetime.stdoutClosed) exitCode = reportError(error, text);
  }
  lifetime.closing();
  let saveFailed = false;
  try {
    await session.close(lifetime.save.signal);
  } catch (error) {
    saveFailed = true;
    const closeCode = reportError(error, text);
    if (exitCode === EXIT_OK) exitCode = closeCode;
  }
  const late = lifetime.signalledWhileClosing;
  if (late !== null && !saveFailed && settings.stateFile !== undefined) {
    process.stderr.write(`tzero: ${late} came during the exit save, which finished first: ${settings.stateFile} holds the new state\n`);
  }
  lifetime.dispose();
  return exitCode;
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "serve") {
    const { runServe } = await import("./serve.js");
    return runServe(argv.slice(1));
  }
  if (argv[0] === "bench") {
    const benchPath = "../../bench/run.js"; // a variable: the benchmarks are built separately
    const bench = (await import(benchPath)) as { runBench(argv: string[]): Promise<number> };
    return bench.runBench(argv.slice(1));
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: normalise(argv),
      options: {
        script: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
        workers: { type: "string" },
        state: { type: "string" },
        cfg: { type: "string" },
      },
      allowPositionals: true,
    });
  } catch (error) {
    process.stderr.write(`tzero: ${(error as Error).message}\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  if (values.version) {
    process.stdout.write("tzero 0.1.0\n");
    return EXIT_OK;
  }
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 0 || workers > 32)) {
    process.stderr.write(`tzero: -workers ${values.workers} is not a whole number from 0 to 32\n`);
    return EXIT_USAGE;
  }
  const settings: RunSettings = { workers, stateFile: values.state };
  if (values.cfg !== undefined) {
    try {
      settings.profile = parseProfile(readFileSync(values.cfg, "utf8"), values.cfg);
    } catch (error) {
      const reason = error instanceof CommandFailure ? `${errorId(error.code)} ${error.message}` : `cannot read profile ${values.cfg}: ${(error as Error).message}`;
      process.stderr.write(`tzero: ${reason}\n`);
      return EXIT_USAGE;
    }
  }
  if (values.script !== undefined) {
    if (positionals.length > 0) {
      process.stderr.write(`tzero: -script runs a file; unexpected ${positionals.join(" ")}\n${USAGE}\n`);
      return EXIT_USAGE;
    }
    let source: string;
    try {
      source = await readScriptFile(values.script);
    } catch (error) {
      if (error instanceof LangSyntaxError) return reportError(error, "");
      const code = (error as NodeJS.ErrnoException).code ?? "";
      const reason = READ_REASONS[code] ?? (error as Error).message;
      process.stderr.write(`tzero: cannot read script ${values.script}: ${reason}\n`);
      return EXIT_USAGE;
    }
    return runText(source, values.script, settings);
  }
  if (positionals.length > 0) return runText(positionals.map(quoteWord).join(" "), "<command line>", settings);
  if (!process.stdin.isTTY) return runText(readScript(process.stdin, "<stdin>"), "<stdin>", settings);
  return openShell(settings);
}

// The shell and its live views (ink, and yoga's WebAssembly) load only when a
// shell opens: a script needs neither, and a process short of memory then
// fails at its storage image with a clear message, not inside a library.
async function openShell(settings: RunSettings): Promise<number> {
  const { startRepl } = await import("./repl.js");
  try {
    return await startRepl({ sessionOptions: { workers: settings.workers, stateFile: settings.stateFile }, profile: settings.profile });
  } catch (error) {
    return reportError(error, "");
  }
}

const exitCode = await main(process.argv.slice(2));
process.exitCode = exitCode;
