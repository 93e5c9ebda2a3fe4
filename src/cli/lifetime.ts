// How a tzero process ends, whatever ends it.
//
// SIGINT, SIGTERM and SIGHUP are treated alike: the first cancels what runs
// (the statement's AbortSignal), after which the session closes as at any
// end, saving the --state file. A further signal, before or while that exit
// save runs, aborts the save (its AbortSignal): the save then finishes or is abandoned
// whole, the old file is kept, no temporary file is left, and `settled` says
// which. A signal never kills the process midway, as Node's default action
// would, which is what left half-written temporary files behind.
//
// A closed standard output (a reader such as `head -1` that has gone) ends
// the run quietly: the error is absorbed, the run is cancelled, and nothing
// more is written to it.

export const END_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
export type EndSignal = (typeof END_SIGNALS)[number];

export type Phase = "running" | "closing" | "closed";

export class Lifetime {
  // Aborted by the first signal or a closed stdout: cancels the statements.
  readonly run = new AbortController();
  // Aborted by a signal that arrives while the session closes.
  readonly save = new AbortController();
  private phase: Phase = "running";
  private firstSignal: EndSignal | null = null;
  private closingSignal: EndSignal | null = null;
  private outputClosed = false;
  private readonly handlers = new Map<EndSignal, () => void>();
  private readonly onOutputError = (error: NodeJS.ErrnoException) => this.outputError(error);

  // `output`: the stream whose closing ends the run (null: none is watched).
  // `intercept`: takes a signal that means something else first (the shell's
  // Ctrl-C without a terminal cancels a statement); true when it took it.
  constructor(
    private readonly output: NodeJS.WritableStream | null = process.stdout,
    private readonly intercept: (name: EndSignal) => boolean = () => false,
  ) {}

  install(): this {
    for (const name of END_SIGNALS) {
      const handler = () => {
        if (!this.intercept(name)) this.signal(name);
      };
      this.handlers.set(name, handler);
      process.on(name, handler);
    }
    this.output?.on("error", this.onOutputError);
    return this;
  }

  dispose(): void {
    this.phase = "closed";
    for (const [name, handler] of this.handlers) process.removeListener(name, handler);
    this.handlers.clear();
    // Writes still buffered when the run ends may fail later, once their
    // reader has gone: that EPIPE must not crash the exit either.
    this.output?.removeListener("error", this.onOutputError);
    this.output?.on("error", ignoreClosedOutput);
  }

  // The statements are done (or cancelled); the session's close() comes next.
  closing(): void {
    if (this.phase === "running") this.phase = "closing";
  }

  get signalled(): EndSignal | null {
    return this.firstSignal;
  }

  // A signal after the first (for the exit save), if any.
  get signalledWhileClosing(): EndSignal | null {
    return this.closingSignal;
  }

  get stdoutClosed(): boolean {
    return this.outputClosed;
  }

  // Writes a line to the output unless its reader has gone.
  write(text: string): void {
    if (this.outputClosed) return;
    (this.output ?? process.stdout).write(text);
  }

  // The first signal cancels the run; any later one, even one that comes
  // before the run has wound down, is for the exit save.
  signal(name: EndSignal): void {
    if (this.phase === "closed") return;
    if (this.phase === "running" && this.firstSignal === null) {
      this.firstSignal = name;
      this.run.abort(new Error(name));
    } else if (this.closingSignal === null) {
      this.closingSignal = name;
      this.save.abort(new Error(`exit save interrupted by ${name}`));
    }
  }

  private outputError(error: NodeJS.ErrnoException): void {
    ignoreClosedOutput(error);
    this.outputClosed = true;
    this.run.abort(new Error("standard output was closed"));
  }
}

function ignoreClosedOutput(error: NodeJS.ErrnoException): void {
  if (error.code !== "EPIPE" && error.code !== "ERR_STREAM_DESTROYED") throw error;
}
