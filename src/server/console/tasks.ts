// The console's tasks (issue 14, as ESS Copy Services' Tasks panel had them):
// a named list of DS CLI lines ("actions") or a scenario script, kept in the
// server's journaled state (site-state.ts), run on request as the user who
// asks. A run's output goes out on the event stream, line by line, as
// {"type":"task-output","runId","line"}, and its end as
// {"type":"task-finished","runId","exitCode"}; the run is then kept in the
// task's history.
//
// Actions run one line at a time, each echoed first, and stop at the first
// that fails; a script runs as `tzero -script` would run it. Either way what
// would read or write the server's files is refused (run-source.ts).
import { randomUUID } from "node:crypto";
import type { CopyServicesServer } from "../server.js";
import type { Task } from "../site-state.js";
import { AuthorizedSite } from "./authorized-site.js";
import type { EventStream } from "./event-stream.js";
import { runConsoleSource, type RunOutcome } from "./run-source.js";

export const TASK_RUNS_MAX = 4; // at once, on one server
export const TASK_RUN_MS_MAX = 30 * 60 * 1000;
export const TASK_OUTPUT_LINES_MAX = 10_000; // a run's lines on the stream; the rest are counted
export const ACTION_PROMPT = "dscli> ";

export interface TaskCaller {
  server: CopyServicesServer;
  user: string;
  token: string;
}

export class TaskRunner {
  private readonly running = new Map<string, AbortController>(); // by run id

  constructor(private readonly stream: EventStream) {}

  get runCount(): number {
    return this.running.size;
  }

  // Starts a run of `task` and returns its id at once; null when TASK_RUNS_MAX are running.
  start(caller: TaskCaller, task: Task): string | null {
    if (this.running.size >= TASK_RUNS_MAX) return null;
    const runId = randomUUID();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`the task ran for more than ${TASK_RUN_MS_MAX / 60_000} minutes`)), TASK_RUN_MS_MAX);
    timer.unref();
    this.running.set(runId, abort);
    void this.run(caller, task, runId, abort.signal).finally(() => {
      clearTimeout(timer);
      this.running.delete(runId);
    });
    return runId;
  }

  private async run(caller: TaskCaller, task: Task, runId: string, signal: AbortSignal): Promise<void> {
    const startedMs = Date.now();
    let lines = 0;
    const write = (line: string) => {
      lines++;
      if (lines <= TASK_OUTPUT_LINES_MAX) this.stream.broadcast({ type: "task-output", runId, line });
    };
    let exitCode: number;
    try {
      const outcome = task.kind === "script" ? await this.script(caller, task, write, signal) : await this.actions(caller, task, write, signal);
      for (const line of outcome.errors) write(line);
      exitCode = outcome.exitCode;
    } catch (error) {
      write(`tzero: the task failed: ${(error as Error).message}`);
      exitCode = 1;
    }
    if (lines > TASK_OUTPUT_LINES_MAX) this.stream.broadcast({ type: "task-output", runId, line: `(${lines - TASK_OUTPUT_LINES_MAX} more lines not sent)` });
    const run = { startedMs, finishedMs: Date.now(), exitCode, user: caller.user };
    try {
      await caller.server.recordTaskRun({ user: caller.user, source: "console" }, task.name, run);
    } catch (error) {
      this.stream.broadcast({ type: "task-output", runId, line: `tzero: this run could not be kept in the task's history: ${(error as Error).message}` });
    }
    this.stream.broadcast({ type: "task-finished", runId, exitCode });
  }

  private script(caller: TaskCaller, task: Task, write: (line: string) => void, signal: AbortSignal): Promise<RunOutcome> {
    const site = new AuthorizedSite(caller.server, caller.token, caller.user, "script");
    return runConsoleSource(site, task.body, `task ${task.name}`, { write, signal });
  }

  private async actions(caller: TaskCaller, task: Task, write: (line: string) => void, signal: AbortSignal): Promise<RunOutcome> {
    const site = new AuthorizedSite(caller.server, caller.token, caller.user, "console");
    for (const line of task.body.split(/\r?\n/)) {
      if (line.trim() === "" || line.trim().startsWith("#")) continue;
      write(`${ACTION_PROMPT}${line}`);
      const outcome = await runConsoleSource(site, line, `task ${task.name}`, { write, signal });
      if (outcome.exitCode !== 0) return outcome;
    }
    return { exitCode: 0, errors: [] };
  }

  close(): void {
    for (const abort of this.running.values()) abort.abort(new Error("the server is shutting down"));
  }
}
