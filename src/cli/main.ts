#!/usr/bin/env node
// The `tzero` command.
//   tzero -script FILE        run a scenario script (the DS CLI convention)
//   tzero COMMAND [ARGS...]   run one command (DS CLI single-shot mode)
//   tzero < FILE              commands piped to standard input run as a script
//   tzero                     the interactive REPL (standard input a terminal)
//   tzero bench [ARGS...]     the benchmarks
//   --state FILE              load FILE at start when it exists; save to it on exit and on `save`
// Exit codes: 0 all succeeded, 1 an assertion failed, 2 syntax or usage error,
// 6 a command failed.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Session } from "../lang/session.js";
import { LangSyntaxError, ScriptError, formatError } from "../lang/errors.js";
import { startRepl } from "./repl.js";
import { applyProfile, parseProfile, type Profile } from "../lang/profile.js";
import { CommandFailure } from "../lang/values.js";
import { errorId } from "../lang/messages.js";

const USAGE = `usage: tzero [--state FILE] [-cfg PROFILE] [-script FILE] [COMMAND ARGS...]
  tzero -script FILE     run a scenario script
  tzero COMMAND ...      run one command, e.g. tzero help mkflash
  tzero < FILE           run the commands piped to standard input
  tzero                  interactive shell (when standard input is a terminal)
  tzero bench [FILTER]   run the benchmarks
  --state FILE           load the storage images from FILE at start (when it exists),
                         save them to it on exit and on save with no FILE
  -cfg PROFILE           a DS CLI profile: devid, format, delim, banner, header, fullid
exit codes: 0 success, 1 assertion failed, 2 syntax error, 6 command failed`;

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

async function runText(source: string, file: string, settings: RunSettings): Promise<number> {
  const session = new Session({ write: (text) => process.stdout.write(`${text}\n`), ...settings });
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once("SIGINT", onInterrupt);
  let exitCode = EXIT_OK;
  try {
    await session.openState();
    if (settings.profile) applyProfile(session, settings.profile);
    await session.runSource(source, file, { signal: controller.signal });
  } catch (error) {
    exitCode = reportError(error, source);
  } finally {
    process.removeListener("SIGINT", onInterrupt);
  }
  try {
    await session.close();
  } catch (error) {
    const closeCode = reportError(error, source);
    if (exitCode === EXIT_OK) exitCode = closeCode;
  }
  return exitCode;
}

function readStdin(): string {
  return readFileSync(0, "utf8");
}

export async function main(argv: string[]): Promise<number> {
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
      source = readFileSync(values.script, "utf8");
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
      process.stderr.write(`tzero: cannot read script ${values.script}: ${reason}\n`);
      return EXIT_USAGE;
    }
    return runText(source, values.script, settings);
  }
  if (positionals.length > 0) return runText(positionals.map(quoteWord).join(" "), "<command line>", settings);
  if (!process.stdin.isTTY) return runText(readStdin(), "<stdin>", settings);
  return startRepl({ sessionOptions: { workers, stateFile: values.state }, profile: settings.profile });
}

const exitCode = await main(process.argv.slice(2));
process.exitCode = exitCode;
