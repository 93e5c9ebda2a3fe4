// The interactive shell: node:repl over the scenario language, on the
// session's storage images (design.md §7).
//
// Each line (or block, while the parser says the input is incomplete) is
// parsed and run by one Session, exactly as a script would run it, so
// messages, formats and errors are the same. While a statement runs, the
// KeyGate holds the keys: Ctrl-C aborts the statement's AbortSignal, a y/n
// question is read at the prompt, and a live view gets the raw input.
//
// Only the language is spoken at the prompt: node:repl's dot-commands are
// gone (`.exit` is `quit`; any other `.word` is a syntax error of the
// language), and Ctrl-C at the prompt clears the line with tzero's own hint.
// On the process's own terminal, SIGTERM, SIGHUP and SIGINT end the shell as
// quit does, saving the --state file (src/cli/lifetime.ts).
import repl, { type REPLServer } from "node:repl";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  formatError, LangSyntaxError, parse, ScriptError, Session, type Program, type ProgressPresenter, type SessionOptions, type WatchRequest,
} from "../lang/index.js";
import { complete, inventoryOf, type Completion, type CompletionContext } from "./repl-completion.js";
import { Lifetime, type EndSignal } from "./lifetime.js";
import { KeyGate } from "./repl-keys.js";
import type { InkPresenter, InkPresenterOptions } from "./views/ink-presenter.js";
import { applyProfile, type Profile } from "../lang/profile.js";
import { PASSWORD_OPTION } from "../lang/errors.js";

export interface ReplOptions {
  // Runs statements; by default a new Session on one embedded 2105 image, whose
  // confirmations are asked at this prompt and whose live views are drawn with ink.
  session?: Session;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  // Default: $TZERO_HISTORY, else ~/.tzero_history.
  historyFile?: string;
  // Line editing, completion and history; default: whether output is a TTY.
  terminal?: boolean;
  // End the shell on SIGTERM, SIGHUP and SIGINT; default: whether input is process.stdin.
  signals?: boolean;
  // For the session the shell creates (ignored with `session`).
  sessionOptions?: Pick<SessionOptions, "workers" | "refreshMs" | "cwd" | "stateFile" | "site" | "siteShared">;
  // A DS CLI profile (tzero -cfg), applied once the state is loaded.
  profile?: Profile;
}

// A line that sets a password (mkuser -pw, chuser -pw) stays out of the
// history, and so out of the history file.
function forgetPasswords(history: string[]): void {
  if (PASSWORD_OPTION.test(history[0] ?? "")) history.shift();
}

// The file name errors of typed lines carry: `repl:1:9: ...`.
export const REPL_FILE = "repl";
const HISTORY_FILE = ".tzero_history";
const HISTORY_SIZE = 1000;
const LIVE_REFRESH_MS = 200;
const EXIT_FAILED = 6;
const TERMINAL_GONE = new Set(["EIO", "EPIPE", "ENXIO", "ERR_STREAM_DESTROYED"]);
// A line that node:repl would take as one of its own commands.
const DOT_COMMAND = /^\s*\.[^.\s]/;

type TtyStream = { isTTY?: boolean };

export function historyPath(options: Pick<ReplOptions, "historyFile"> = {}): string {
  return options.historyFile ?? process.env.TZERO_HISTORY ?? join(homedir(), HISTORY_FILE);
}

export function promptFor(imageId: string): string {
  return `dscli ${imageId}> `;
}

// Resolves with the exit status once the user leaves (Ctrl-D, quit, exit) and the session is closed.
export function startRepl(options: ReplOptions = {}): Promise<number> {
  return new Shell(options).run();
}

class Shell {
  private readonly input: NodeJS.ReadableStream;
  private readonly output: NodeJS.WritableStream;
  private readonly terminal: boolean;
  private readonly session: Session;
  private readonly gate: KeyGate;
  private server: REPLServer | null = null;
  private running: AbortController | null = null;
  private interrupted = false;
  private queue: Promise<void> = Promise.resolve();
  private savedSigint: Array<(...args: unknown[]) => void> = [];
  private leaving = false;
  private terminalGone = false;
  // A terminal that goes away (its window closed: SIGHUP, then EIO on each
  // read, write and mode change) must not crash the shell before its exit save.
  private readonly onTerminalError = (error: NodeJS.ErrnoException) => {
    if (!TERMINAL_GONE.has(error.code ?? "")) throw error;
    this.terminalGone = true;
    if (this.leaving) return;
    this.leaving = true;
    this.interrupt(new Error("the terminal went away"));
    if (this.running === null) this.server?.close();
  };
  private readonly lifetime: Lifetime | null;
  private readonly onInterrupt = () => this.interrupt();

  constructor(private readonly options: ReplOptions) {
    this.input = options.input ?? process.stdin;
    this.output = options.output ?? process.stdout;
    this.terminal = options.terminal ?? (this.output as TtyStream).isTTY === true;
    this.gate = new KeyGate(this.input, this.onInterrupt);
    this.session = options.session ?? this.createSession();
    const signals = options.signals ?? this.input === process.stdin;
    this.lifetime = signals ? new Lifetime(null, (name) => this.interceptSignal(name)) : null;
  }

  private createSession(): Session {
    const live = this.terminal && (this.output as TtyStream).isTTY === true;
    const presenter = live
      ? new DeferredInkPresenter({
        stdout: this.output, stdin: this.input, onInterrupt: this.onInterrupt,
        takeTerminal: () => this.gate.lend(), releaseTerminal: () => this.reclaimTerminal(),
      })
      : undefined;
    return new Session({
      // A live view redraws several times a second; plain lines keep the session's steady interval.
      ...(live ? { refreshMs: LIVE_REFRESH_MS } : {}),
      ...this.options.sessionOptions,
      write: (line) => this.output.write(`${line}\n`),
      confirm: (question) => this.confirm(question),
      presenter,
    });
  }

  async run(): Promise<number> {
    const opened = await this.openState();
    if (opened !== 0) return opened;
    if (this.session.presenter instanceof DeferredInkPresenter) await this.session.presenter.load();
    const current = await this.session.currentImage();
    this.output.write(banner(current.id, current.model));
    const server = repl.start({
      prompt: promptFor(current.id),
      input: this.input,
      output: this.output,
      terminal: this.terminal,
      eval: (code, _context, _file, callback) => this.evaluate(code, callback),
      completer: (line: string, callback: (error: Error | null, completion?: Completion) => void) => {
        this.completionContext().then((context) => callback(null, complete(line, context)), (error: Error) => callback(error));
      },
      ignoreUndefined: true,
      // Passed on to readline by REPLServer; the REPL default keeps only 30 lines.
      ...{ historySize: HISTORY_SIZE },
    });
    this.server = server;
    server.on("error", this.onTerminalError);
    this.input.on("error", this.onTerminalError);
    this.output.on("error", this.onTerminalError);
    this.speakOnlyTheLanguage(server);
    server.prependListener("history", forgetPasswords);
    this.lifetime?.install();
    this.lifetime?.run.signal.addEventListener("abort", () => this.endBySignal(), { once: true });
    const exited = new Promise<void>((resolve) => server.once("exit", resolve));
    await new Promise<void>((resolve) => {
      server.setupHistory(historyPath(this.options), (error) => {
        if (error) this.output.write(`tzero: history is not kept: ${error.message}\n`);
        resolve();
      });
    });
    await exited;
    return this.leave();
  }

  // Loads the --state file before the first prompt; a file that cannot be
  // loaded ends the shell (exit 6) rather than be overwritten at exit.
  private async openState(): Promise<number> {
    try {
      if (await this.session.openState() === "loaded") {
        this.output.write(`CMUC09041I load: storage images loaded from ${this.session.stateFilePath}.\n`);
      }
      if (this.options.profile) await applyProfile(this.session, this.options.profile);
      return 0;
    } catch (error) {
      this.report(error, "");
      this.gate.dispose();
      await this.session.close();
      return 6;
    }
  }

  // A snapshot of what completion offers, taken from the site at each Tab.
  private async completionContext(): Promise<CompletionContext> {
    const site = this.session.site;
    const [inventory, images, workloads] = await Promise.all([
      inventoryOf(site, this.session.currentImageId).catch(() => undefined), site.listImages(), site.listWorkloads(),
    ]);
    return {
      image: () => inventory,
      imageIds: () => images.map((image) => image.id),
      workloadNames: () => workloads.map((workload) => workload.spec.name),
      cwd: () => this.session.cwd,
    };
  }

  // Statements run one at a time, in the order they were entered. The keys are
  // held from the Enter that ends an entry (keys pasted after it wait their
  // turn) until the next prompt is shown.
  private evaluate(code: string, callback: (error: Error | null, result: unknown) => void): void {
    this.gate.hold();
    this.queue = this.queue.then(async () => {
      let outcome: Awaited<ReturnType<Shell["runEntry"]>>;
      try {
        outcome = await this.runEntry(code);
      } catch (error) {
        // A fault of the shell itself: said, and the shell goes on.
        this.report(error, code);
        outcome = "done";
      }
      if (outcome === "quit" || this.leaving) {
        this.server?.close();
        return;
      }
      if (outcome instanceof repl.Recoverable) {
        callback(outcome, undefined);
      } else {
        this.server?.setPrompt(promptFor(this.session.currentImageId));
        callback(null, undefined);
      }
      this.gate.release(!this.interrupted);
      this.interrupted = false;
    });
  }

  private async runEntry(code: string): Promise<"done" | "quit" | repl.Recoverable> {
    const source = code.endsWith("\n") ? code.slice(0, -1) : code;
    if (source.trim() === "") return "done";
    let program: Program;
    try {
      // With its newline: Enter ended the line, so only an open block, a trailing
      // backslash or an open string leaves it incomplete, not a missing option value.
      program = parse(code, REPL_FILE);
    } catch (error) {
      // node:repl keeps the lines and asks for more: `repeat 3 {` goes on at `...`.
      if (error instanceof LangSyntaxError && error.incomplete) return new repl.Recoverable(error);
      this.report(error, source);
      return "done";
    }
    const controller = new AbortController();
    this.beginStatement(controller);
    try {
      await this.session.run(program, { signal: controller.signal });
    } catch (error) {
      this.report(error, source);
    } finally {
      this.endStatement(controller);
    }
    return this.session.quitRequested ? "quit" : "done";
  }

  private beginStatement(controller: AbortController): void {
    this.running = controller;
    const server = this.server;
    if (server) {
      // Ctrl-C at a y/n question reaches readline, which emits SIGINT: it cancels the statement.
      this.savedSigint = server.listeners("SIGINT") as Array<(...args: unknown[]) => void>;
      server.removeAllListeners("SIGINT");
      server.on("SIGINT", this.onInterrupt);
    }
  }

  private endStatement(controller: AbortController): void {
    this.running = null;
    const server = this.server;
    if (server) {
      server.removeListener("SIGINT", this.onInterrupt);
      for (const listener of this.savedSigint) server.on("SIGINT", listener);
      this.savedSigint = [];
    }
    if (controller.signal.aborted) this.interrupted = true;
  }

  // Without a terminal, Ctrl-C arrives as SIGINT itself: while a statement
  // runs it cancels the statement, not the shell.
  private interceptSignal(name: EndSignal): boolean {
    if (name !== "SIGINT" || this.terminal || this.running === null) return false;
    this.interrupt();
    return true;
  }

  // SIGTERM, SIGHUP or SIGINT: the running statement is cancelled and the shell leaves, saving.
  private endBySignal(): void {
    this.leaving = true;
    const name = this.lifetime?.signalled ?? "signal";
    this.output.write(`\ntzero: ${name}: leaving the shell\n`);
    this.interrupt(new Error(name));
    if (this.running === null) this.server?.close();
  }

  private interrupt(reason?: Error): void {
    const controller = this.running;
    if (!controller || controller.signal.aborted) return;
    controller.abort(reason);
  }

  // After a live view, ink has turned raw mode off and unreferenced the input:
  // readline needs both back to go on editing lines.
  private reclaimTerminal(): void {
    const input = this.input as NodeJS.ReadableStream & { setRawMode?: (mode: boolean) => unknown; ref?: () => unknown; isTTY?: boolean };
    if (this.terminal && input.isTTY === true && typeof input.setRawMode === "function") input.setRawMode(true);
    if (typeof input.ref === "function") input.ref();
    this.gate.reclaim();
  }

  // A y/n question asked at the prompt, as DS CLI asks before rmflash and
  // rmfbvol. Ctrl-D on an empty answer is "no" (the gate keeps it from
  // readline, which would end the shell's input while the statement runs).
  private confirm(question: string): Promise<boolean> {
    const server = this.server;
    const signal = this.running?.signal;
    if (!server || signal?.aborted) return Promise.resolve(false);
    const query = /\[y\/n\]/i.test(question) ? `${question.trimEnd()} ` : `${question.trimEnd()} [y/n]: `;
    const asked = new AbortController();
    return new Promise((resolve) => {
      // The answer is no command: keep it out of the history.
      const forgetAnswer = (history: string[]) => {
        history.shift();
      };
      const settle = (answer: boolean) => {
        signal?.removeEventListener("abort", onAbort);
        if (!asked.signal.aborted) asked.abort();
        server.removeListener("history", forgetAnswer);
        this.gate.answered();
        resolve(answer);
      };
      const onAbort = () => {
        this.output.write("\n");
        settle(false);
      };
      const onEndOfInput = () => {
        if ((server as unknown as { line: string }).line.length > 0) return false;
        // Shown as the answer it stands for; the cancelled question ends the line.
        this.output.write("n");
        settle(false);
        return true;
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      server.prependListener("history", forgetAnswer);
      this.gate.ask(onEndOfInput);
      server.question(query, { signal: asked.signal }, (answer) => settle(/^y(es)?$/i.test(answer.trim())));
    });
  }

  private report(error: unknown, source: string): void {
    if (error instanceof LangSyntaxError || error instanceof ScriptError) {
      this.output.write(`${formatError(error, source)}\n`);
      return;
    }
    const code = (error as { code?: unknown } | null)?.code;
    const message = error instanceof Error ? error.message : String(error);
    this.output.write(`tzero: ${typeof code === "string" ? `${code}: ` : ""}${message}\n`);
  }

  // A signal during the exit save abandons it (src/cli/lifetime.ts); either
  // way the shell says what became of the --state file.
  private async leave(): Promise<number> {
    this.running?.abort();
    await this.queue;
    this.gate.dispose();
    this.lifetime?.closing();
    try {
      await this.session.close(this.lifetime?.save.signal);
      const late = this.lifetime?.signalledWhileClosing ?? null;
      if (late !== null && this.session.stateFilePath !== undefined) {
        this.output.write(`tzero: ${late} came during the exit save, which finished first: ${this.session.stateFilePath} holds the new state\n`);
      }
      return 0;
    } catch (error) {
      this.report(error, "");
      return EXIT_FAILED;
    } finally {
      this.lifetime?.dispose();
      this.endWithTerminal();
    }
  }

  // With its terminal gone, the process ends as SIGHUP ends one, once the
  // state is saved: Node's own exit would try to restore the vanished
  // terminal's modes and abort on the error.
  private endWithTerminal(): void {
    if (!this.terminalGone || this.input !== process.stdin || this.lifetime === null) return;
    process.kill(process.pid, "SIGHUP");
  }

  // node:repl's dot-commands and its Ctrl-C hint are not tzero's: see the header.
  private speakOnlyTheLanguage(server: REPLServer): void {
    const commands = server.commands as Record<string, unknown>;
    for (const name of Object.keys(commands)) delete commands[name];
    const lineListeners = server.listeners("line") as Array<(line: string) => void>;
    server.removeAllListeners("line");
    server.on("line", (line: string) => {
      if (!DOT_COMMAND.test(line)) {
        for (const listener of lineListeners) listener.call(server, line);
        return;
      }
      server.clearBufferedCommand();
      if (line.trim() === ".exit") {
        for (const listener of lineListeners) listener.call(server, "quit");
        return;
      }
      this.evaluate(line, () => server.displayPrompt());
    });
    server.removeAllListeners("SIGINT");
    server.on("SIGINT", () => this.clearEntry(server));
  }

  // Ctrl-C at the prompt drops what was typed, as a shell's does; it never leaves.
  private clearEntry(server: REPLServer): void {
    const editor = server as unknown as { line: string; clearLine(): void };
    const empty = editor.line.length === 0;
    editor.clearLine();
    server.clearBufferedCommand();
    if (empty) this.output.write("(quit or Ctrl-D leaves the shell)\n");
    server.displayPrompt();
  }
}

// ink, and yoga's WebAssembly under it, load once the session's storage
// image exists: a process short of memory then fails at the image, with its
// clear message, rather than inside a library at import.
class DeferredInkPresenter implements ProgressPresenter {
  private presenter: InkPresenter | null = null;

  constructor(private readonly options: InkPresenterOptions) {}

  async load(): Promise<InkPresenter> {
    if (this.presenter === null) {
      const { InkPresenter } = await import("./views/ink-presenter.js");
      this.presenter = new InkPresenter(this.options);
    }
    return this.presenter;
  }

  async watch(request: WatchRequest): Promise<void> {
    return (await this.load()).watch(request);
  }
}

function banner(imageId: string, model: string): string {
  return [
    `tzero Copy Services shell on storage image ${imageId} (model ${model})`,
    "Type help for the commands, help CMD for one of them. Tab completes; quit or Ctrl-D leaves.",
    "",
  ].join("\n");
}
