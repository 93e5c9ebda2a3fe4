#!/usr/bin/env node
// The `tzero` command.
//   tzero -script FILE        run a scenario script (the DS CLI convention)
//   tzero COMMAND [ARGS...]   run one command (DS CLI single-shot mode)
//   tzero < FILE              commands piped to standard input run as a script
//   tzero                     the interactive REPL (standard input a terminal)
//   tzero bench [ARGS...]     the benchmarks
//   tzero serve [ARGS...]     a node of a site as a service (src/cli/serve.ts)
//   --state FILE              load FILE at start when it exists; save to it on exit and on `save`
//   -hmc1 HOST[:PORT] [-hmc2 HOST[:PORT]] -user NAME (-passwd P | -pwfile FILE)
//                             the same against a Copy Services Server (its /cs/shell endpoint)
// Exit codes (DS CLI's, plus 1): 0 all succeeded, 1 an assertion failed, 2
// syntax or usage error, 3 connection error, 5 authentication error, 6 a
// command failed.
import { readFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { parseArgs } from "node:util";
import { Session } from "../lang/session.js";
import { LangSyntaxError, ScriptError, formatError } from "../lang/errors.js";
import { Lifetime } from "./lifetime.js";
import { readScript, readScriptFile } from "./script-input.js";
import { applyProfile, parseProfile, type Profile } from "../lang/profile.js";
import { CommandFailure } from "../lang/values.js";
import { errorId } from "../lang/messages.js";
import { AUTHENTICATION_CODES, CONNECTION_CODES, RemoteSite, parseServerAddress } from "../site/remote.js";
import { SiteError } from "../site/errors.js";

const USAGE = `usage: tzero [--state FILE | -hmc1 HOST[:PORT] [-hmc2 HOST[:PORT]] -user NAME (-passwd P | -pwfile FILE)]
             [-cfg PROFILE] [-script FILE] [COMMAND ARGS...]
  tzero -script FILE     run a scenario script
  tzero COMMAND ...      run one command, e.g. tzero help mkflash
  tzero < FILE           run the commands piped to standard input
  tzero                  interactive shell (when standard input is a terminal)
  tzero bench [FILTER]   run the benchmarks
  tzero serve ...        run a node of a site (tzero serve --help)
  --state FILE           load the storage images from FILE at start (when it exists),
                         save them to it on exit and on save with no FILE
  -cfg PROFILE           a DS CLI profile: devid, format, delim, banner, header, fullid
  -hmc1 HOST[:PORT]      run against the Copy Services Server at HOST (port 8452 unless given);
  -hmc2 HOST[:PORT]      on a connection error, against this one instead (the backup server)
  -user NAME             log in as NAME, with -passwd PASSWORD or -pwfile FILE (its first line
                         is the password; the file must not be readable by group or others)
exit codes: 0 success, 1 assertion failed, 2 syntax error, 3 connection error,
            5 authentication error, 6 command failed`;

const READ_REASONS: Record<string, string> = { ENOENT: "no such file", EISDIR: "it is a folder, not a file", EACCES: "permission denied" };

export const EXIT_OK = 0;
export const EXIT_USAGE = 2;
export const EXIT_CONNECTION = 3;
export const EXIT_AUTHENTICATION = 5;
export const EXIT_FAILED = 6;

// DS CLI options have one dash (`-script`); node's parser wants two. Options
// before the first plain word are normalised (with the values of those that
// take one); from that word on, everything is the command and its arguments.
const SERVER_OPTIONS = ["hmc1", "hmc2", "user", "passwd", "pwfile"] as const;
const LONG_OPTIONS = new Set(["script", "help", "version", "workers", "state", "cfg", ...SERVER_OPTIONS]);
const VALUE_OPTIONS = new Set(["script", "workers", "state", "cfg", ...SERVER_OPTIONS]);

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
  site?: RemoteSite; // -hmc1: the Copy Services Server's site, shared with every other shell
}

// DS CLI's exit code for a failure of this code: 3 and 5 for the server's connection and login.
function exitCodeOf(code: string, otherwise: number): number {
  if (CONNECTION_CODES.has(code)) return EXIT_CONNECTION;
  if (AUTHENTICATION_CODES.has(code)) return EXIT_AUTHENTICATION;
  return otherwise;
}

function reportError(error: unknown, source: string): number {
  if (error instanceof ScriptError || error instanceof LangSyntaxError) {
    process.stderr.write(`${formatError(error, source)}\n`);
    return error instanceof ScriptError ? exitCodeOf(error.code, error.exitCode) : EXIT_USAGE;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") throw error;
  process.stderr.write(`tzero: ${code}: ${(error as Error).message}\n`);
  return exitCodeOf(code, EXIT_FAILED);
}

// Runs a script to its end, or until a signal or a closed stdout cancels it;
// then closes the session (the exit save) under the same Lifetime.
async function runText(source: string | Promise<string>, file: string, settings: RunSettings): Promise<number> {
  // Read errors are reported below, once the state is open; not as unhandled.
  if (typeof source !== "string") source.catch(() => undefined);
  const lifetime = new Lifetime();
  let session: Session;
  try {
    session = new Session({ write: (text) => lifetime.write(`${text}\n`), ...settings, siteShared: settings.site !== undefined });
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
        ...Object.fromEntries(SERVER_OPTIONS.map((name) => [name, { type: "string" as const }])),
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
  // The server's event log says whether a change came from a shell's prompt or a script.
  const mode = values.script !== undefined || (positionals.length === 0 && !process.stdin.isTTY) ? "script" : "shell";
  const server = await connectServer(values, mode);
  if (typeof server === "number") return server;
  if (server !== null) settings.site = server;
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
    const sessionOptions = { workers: settings.workers, stateFile: settings.stateFile, site: settings.site, siteShared: settings.site !== undefined };
    return await startRepl({ sessionOptions, profile: settings.profile });
  } catch (error) {
    return reportError(error, "");
  }
}

// -hmc1 and its companions: the remote site, logged in; null without -hmc1;
// or the exit code of what went wrong (2 usage, 3 no server, 5 login refused).
async function connectServer(values: Partial<Record<(typeof SERVER_OPTIONS)[number] | "state" | "workers", string>>, mode: "shell" | "script"): Promise<RemoteSite | null | number> {
  const given = SERVER_OPTIONS.filter((name) => values[name] !== undefined);
  if (given.length === 0) return null;
  const usage = (reason: string) => {
    process.stderr.write(`tzero: ${reason}\n${USAGE}\n`);
    return EXIT_USAGE;
  };
  if (values.hmc1 === undefined) return usage(`-${given[0]} needs -hmc1 HOST[:PORT], the Copy Services Server`);
  if (values.user === undefined) return usage("-hmc1 needs -user NAME");
  if ((values.passwd === undefined) === (values.pwfile === undefined)) return usage("-hmc1 needs one of -passwd PASSWORD and -pwfile FILE");
  if (values.state !== undefined) return usage("--state saves this process's storage images; with -hmc1 they are the server's, which keeps its own state");
  if (values.workers !== undefined) return usage("-workers sets this process's copy workers; with -hmc1 the server's nodes run them");
  try {
    const servers = [values.hmc1, values.hmc2].filter((text) => text !== undefined).map((text, index) => parseServerAddress(text!, `-hmc${index + 1}`));
    const password = values.passwd ?? (await readPasswordFile(values.pwfile!));
    return await RemoteSite.connect({ servers, user: values.user, password, mode });
  } catch (error) {
    if ((error as { code?: unknown }).code === "BAD_ARGUMENT") return usage((error as Error).message);
    return reportError(error, "");
  }
}

// -pwfile: the password is the file's first line. Like an ssh key, the file
// is refused when its group or others may read it.
async function readPasswordFile(file: string): Promise<string> {
  let text: string;
  try {
    const info = await stat(file);
    if (process.platform !== "win32" && (info.mode & 0o077) !== 0) {
      throw new SiteError({ code: "BAD_ARGUMENT", message: `-pwfile ${file} may be read by others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 ${file}` });
    }
    text = await readFile(file, "utf8");
  } catch (error) {
    if (error instanceof SiteError) throw error;
    const reason = READ_REASONS[(error as NodeJS.ErrnoException).code ?? ""] ?? (error as Error).message;
    throw new SiteError({ code: "BAD_ARGUMENT", message: `cannot read -pwfile ${file}: ${reason}` });
  }
  const password = text.split(/\r?\n/)[0];
  if (password.length === 0) throw new SiteError({ code: "BAD_ARGUMENT", message: `-pwfile ${file}: its first line, the password, is empty` });
  return password;
}

const exitCode = await main(process.argv.slice(2));
process.exitCode = exitCode;
