// The interactive shell: node:repl over the scenario language, on the
// session's storage images (design.md §7).
//
// Each line (or block, while the parser says the input is incomplete) is
// parsed and run by one Session, exactly as a script would run it, so
// messages, formats and errors are the same. While a statement runs, the
// KeyGate holds the keys: Ctrl-C aborts the statement's AbortSignal, a y/n
// question is read at the prompt, and a live view gets the raw input.
import repl, { type REPLServer } from "node:repl";
import { homedir } from "node:os";
import { join } from "node:path";
import { formatError, LangSyntaxError, parse, ScriptError, Session, type Program, type SessionOptions } from "../lang/index.js";
import { complete, type CompletionContext } from "./repl-completion.js";
import { KeyGate } from "./repl-keys.js";
import { InkPresenter } from "./views/ink-presenter.js";
import { applyProfile, type Profile } from "../lang/profile.js";

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
  // For the session the shell creates (ignored with `session`).
  sessionOptions?: Pick<SessionOptions, "workers" | "refreshMs" | "cwd" | "stateFile">;
  // A DS CLI profile (tzero -cfg), applied once the state is loaded.
  profile?: Profile;
}

// The file name errors of typed lines carry: `repl:1:9: ...`.
export const REPL_FILE = "repl";
const HISTORY_FILE = ".tzero_history";
const HISTORY_SIZE = 1000;
const LIVE_REFRESH_MS = 200;

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
  private readonly onInterrupt = () => this.interrupt();

  constructor(private readonly options: ReplOptions) {
    this.input = options.input ?? process.stdin;
    this.output = options.output ?? process.stdout;
    this.terminal = options.terminal ?? (this.output as TtyStream).isTTY === true;
    this.gate = new KeyGate(this.input, this.onInterrupt);
    this.session = options.session ?? this.createSession();
  }

  private createSession(): Session {
    const live = this.terminal && (this.output as TtyStream).isTTY === true;
    const presenter = live
      ? new InkPresenter({
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
    this.output.write(banner(this.session.currentImage.id, this.session.currentImage.model));
    const server = repl.start({
      prompt: promptFor(this.session.currentImage.id),
      input: this.input,
      output: this.output,
      terminal: this.terminal,
      eval: (code, _context, _file, callback) => this.evaluate(code, callback),
      completer: (line: string) => complete(line, this.completionContext()),
      ignoreUndefined: true,
      // Passed on to readline by REPLServer; the REPL default keeps only 30 lines.
      ...{ historySize: HISTORY_SIZE },
    });
    this.server = server;
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
      if (this.options.profile) applyProfile(this.session, this.options.profile);
      return 0;
    } catch (error) {
      this.report(error, "");
      this.gate.dispose();
      await this.session.close();
      return 6;
    }
  }

  private completionContext(): CompletionContext {
    return {
      image: () => this.session.currentImage,
      imageIds: () => this.session.images.map((image) => image.id),
      workloadNames: () => this.session.workloads.list().map((workload) => workload.spec.name),
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
      if (outcome === "quit") {
        this.server?.close();
        return;
      }
      if (outcome instanceof repl.Recoverable) {
        callback(outcome, undefined);
      } else {
        this.server?.setPrompt(promptFor(this.session.currentImage.id));
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
    // Without a terminal, Ctrl-C arrives as the signal itself.
    if (!this.terminal && this.input === process.stdin) process.on("SIGINT", this.onInterrupt);
  }

  private endStatement(controller: AbortController): void {
    this.running = null;
    process.off("SIGINT", this.onInterrupt);
    const server = this.server;
    if (server) {
      server.removeListener("SIGINT", this.onInterrupt);
      for (const listener of this.savedSigint) server.on("SIGINT", listener);
      this.savedSigint = [];
    }
    if (controller.signal.aborted) this.interrupted = true;
  }

  private interrupt(): void {
    const controller = this.running;
    if (!controller || controller.signal.aborted) return;
    controller.abort();
  }

  // After a live view, ink has turned raw mode off and unreferenced the input:
  // readline needs both back to go on editing lines.
  private reclaimTerminal(): void {
    const input = this.input as NodeJS.ReadableStream & { setRawMode?: (mode: boolean) => unknown; ref?: () => unknown; isTTY?: boolean };
    if (this.terminal && input.isTTY === true && typeof input.setRawMode === "function") input.setRawMode(true);
    if (typeof input.ref === "function") input.ref();
    this.gate.reclaim();
  }

  // A y/n question asked at the prompt, as DS CLI asks before rmflash and rmfbvol.
  private confirm(question: string): Promise<boolean> {
    const server = this.server;
    const signal = this.running?.signal;
    if (!server || signal?.aborted) return Promise.resolve(false);
    const query = /\[y\/n\]/i.test(question) ? `${question.trimEnd()} ` : `${question.trimEnd()} [y/n]: `;
    return new Promise((resolve) => {
      // The answer is no command: keep it out of the history.
      const forgetAnswer = (history: string[]) => {
        history.shift();
      };
      const settle = (answer: boolean) => {
        signal?.removeEventListener("abort", onAbort);
        server.removeListener("history", forgetAnswer);
        this.gate.answered();
        resolve(answer);
      };
      const onAbort = () => {
        this.output.write("\n");
        settle(false);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      server.prependListener("history", forgetAnswer);
      this.gate.ask();
      const options = signal ? { signal } : {};
      server.question(query, options, (answer) => settle(/^y(es)?$/i.test(answer.trim())));
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

  private async leave(): Promise<number> {
    this.running?.abort();
    await this.queue;
    this.gate.dispose();
    try {
      await this.session.close();
      return 0;
    } catch (error) {
      this.report(error, "");
      return 1;
    }
  }
}

function banner(imageId: string, model: string): string {
  return [
    `tzero Copy Services shell on storage image ${imageId} (model ${model})`,
    "Type help for the commands, help CMD for one of them. Tab completes; quit or Ctrl-D leaves.",
    "",
  ].join("\n");
}
