// The Copy Services Server's routes for the browser console (the console
// contract, /work/shared's console-contract.md; design.md §10), as one fastify
// plugin over whichever server is current on this node:
//
//   GET    /cs/events                       the WebSocket of events and progress (event-stream.ts)
//   GET    /cs/console/events?since&limit   the event log  → {"events":[...]}
//   POST   /cs/console/run {"command"}      one DS CLI line → {"exitCode","output","errors"}
//   GET    /cs/console/tasks                → {"tasks":[{"name","kind","body","history"}]}
//   PUT    /cs/console/tasks/NAME {"kind","body"}   makes or replaces a task
//   DELETE /cs/console/tasks/NAME
//   POST   /cs/console/tasks/NAME/run       → {"runId"}; the output comes on /cs/events
//   GET    /cs/console/images | flashcopies | pprcs | paths   what the views need beyond the REST API's lists
//   GET    /cs/console/servers              → {"servers":[origin,...]}: the site's servers, this one first, for a takeover
//   POST   /cs/console/logout               ends the token's session, on every server of the site
//
// A page loaded from the site's other server may call these routes and open
// the stream (CORS and the WebSocket's Origin, site-origins.ts); a page from
// any other origin is refused.
//
// Every route needs the X-Auth-Token of a REST login (401 without one, in the
// REST API's error shape); reading needs the monitor class, saving and
// removing tasks copy services; a command or a task's run checks each of its
// calls as the user's shell would.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { RestError, restError, authError } from "../rest/errors.js";
import { failedReply } from "../rest/reply.js";
import { eventMessage } from "../console-events.js";
import type { CopyServicesServer } from "../server.js";
import { EVENTS_KEPT_MAX, TASK_BODY_LENGTH_MAX, TASK_NAME_PATTERN, type Task } from "../site-state.js";
import { isUserError } from "../user-errors.js";
import { authorize, type CommandClass } from "../users.js";
import { AuthorizedSite } from "./authorized-site.js";
import { EventStream, type EventStreamOptions } from "./event-stream.js";
import { consoleProgram, runConsoleSource } from "./run-source.js";
import { TaskRunner } from "./tasks.js";
import { consoleViews } from "./views.js";
import { corsHook, websocketOriginHook, type SiteOrigins } from "./site-origins.js";

export const EVENTS_PATH = "/cs/events";
export const CONSOLE_PATH = "/cs/console";
export const COMMAND_LENGTH_MAX = 4096;
export const OUTPUT_LINES_MAX = 20_000;
export const RUN_MS_MAX = 30 * 60 * 1000;
const EVENTS_LIMIT_DEFAULT = 200;
const TOKEN_HEADER = "x-auth-token";
const TASK_NAME = new RegExp(TASK_NAME_PATTERN);

export interface ConsoleApiOptions {
  current: () => CopyServicesServer; // throws NOT_PRIMARY while this node's server is not the primary
  stream?: Omit<EventStreamOptions, "current">;
  origins?: SiteOrigins; // the site's servers' http(s) origins, this one first; default: this one alone
}

export interface ConsoleCaller {
  server: CopyServicesServer;
  user: string;
  token: string;
}

export async function consoleApi(app: FastifyInstance, options: ConsoleApiOptions): Promise<void> {
  const stream = new EventStream({ ...options.stream, current: options.current });
  const tasks = new TaskRunner(stream);
  app.addHook("onClose", async () => {
    tasks.close();
    stream.close();
  });
  const origins = options.origins ?? (() => []);
  app.get(EVENTS_PATH, { websocket: true, preValidation: websocketOriginHook(origins) }, (socket) => stream.accept(socket));
  await app.register(async (api) => {
    api.addHook("onRequest", corsHook(origins));
    api.setErrorHandler((error, _request, reply) => sendFailure(reply, restError(error)));
    api.setNotFoundHandler((request, reply) => sendFailure(reply, new RestError(404, "NOT_FOUND", `${request.method} ${request.url.split("?")[0].slice(0, 128)} is not a console route`)));
    const caller = (request: FastifyRequest, commandClass: CommandClass | null) => identify(options.current, request, commandClass);
    eventRoutes(api, caller);
    runRoute(api, caller);
    taskRoutes(api, caller, tasks);
    consoleViews(api, caller);
    sessionRoutes(api, caller, origins);
  }, { prefix: CONSOLE_PATH });
}

export type Identify = (request: FastifyRequest, commandClass: CommandClass | null) => ConsoleCaller;

// The caller of a request from its token; `commandClass` (when given) must be one of the user's.
function identify(current: () => CopyServicesServer, request: FastifyRequest, commandClass: CommandClass | null): ConsoleCaller {
  const header = request.headers[TOKEN_HEADER];
  if (typeof header !== "string" || header === "") throw new RestError(401, "TOKEN_MISSING", "the request carries no X-Auth-Token header: log in with POST /api/v1/tokens", "X-Auth-Token");
  let server: CopyServicesServer;
  try {
    server = current();
  } catch (error) {
    throw new RestError(503, "NOT_PRIMARY", (error as Error).message);
  }
  let user: string;
  try {
    user = server.authenticate(header).user;
  } catch (error) {
    throw authError(error, "TOKEN_UNKNOWN", "X-Auth-Token");
  }
  if (commandClass !== null) {
    try {
      authorize(server.state.users, user, commandClass);
    } catch (error) {
      if (isUserError(error)) throw new RestError(403, error.code, error.message);
      throw error;
    }
  }
  return { server, user, token: header };
}

function sendFailure(reply: FastifyReply, error: RestError): FastifyReply {
  return reply.code(error.statusCode).send(failedReply(error));
}

// ---- the session and the site's servers ----

function sessionRoutes(api: FastifyInstance, caller: Identify, origins: SiteOrigins): void {
  // A preflight is answered by the CORS hook; one from this server's own page has nothing to allow.
  api.options("/*", async (_request, reply) => reply.code(204).send());
  api.get("/servers", async (request) => {
    caller(request, null);
    return { servers: origins() };
  });
  api.post("/logout", async (request) => {
    const identity = caller(request, null);
    await identity.server.logout(identity.token);
    return { loggedOut: identity.user };
  });
}

// ---- the event log ----

function eventRoutes(api: FastifyInstance, caller: Identify): void {
  api.get("/events", async (request) => {
    const { server } = caller(request, "monitor");
    const query = request.query as Record<string, unknown>;
    const extra = Object.keys(query).find((key) => key !== "since" && key !== "limit");
    if (extra !== undefined) throw new RestError(400, "BAD_REQUEST", `query parameter ${extra.slice(0, 32)} is not one this route takes (since, limit)`, extra.slice(0, 32));
    const since = wholeQuery(query.since, "since", 0, Number.MAX_SAFE_INTEGER, 0);
    const limit = wholeQuery(query.limit, "limit", 1, EVENTS_KEPT_MAX, EVENTS_LIMIT_DEFAULT);
    return { events: server.eventsSince(since, limit).map(eventMessage) };
  });
}

function wholeQuery(value: unknown, name: string, min: number, max: number, otherwise: number): number {
  if (value === undefined) return otherwise;
  const number = typeof value === "string" && /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new RestError(400, "BAD_REQUEST", `query parameter ${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value).slice(0, 32)}`, name);
  }
  return number;
}

// ---- one DS CLI line ----

// A command (mkflash -wait, sleep) runs while its caller waits, for at most
// RUN_MS_MAX; a caller that goes away cancels it, as Ctrl-C does in a shell.
function runRoute(api: FastifyInstance, caller: Identify): void {
  api.post("/run", async (request, reply) => {
    const identity = caller(request, null); // each call of the command is checked as the user's
    const command = commandOf(request.body);
    const output: string[] = [];
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`the command ran for more than ${RUN_MS_MAX / 60_000} minutes`)), RUN_MS_MAX);
    const gone = () => { if (!reply.raw.writableFinished) abort.abort(new Error("the console went away")); };
    reply.raw.once("close", gone);
    try {
      const site = new AuthorizedSite(identity.server, identity.token, identity.user, "console");
      let lines = 0;
      const write = (line: string) => { if (++lines <= OUTPUT_LINES_MAX) output.push(line); };
      const outcome = await runConsoleSource(site, command, "console", { write, signal: abort.signal });
      if (lines > OUTPUT_LINES_MAX) output.push(`(${lines - OUTPUT_LINES_MAX} more lines not sent: narrow the listing)`);
      return { exitCode: outcome.exitCode, output, errors: outcome.errors };
    } finally {
      clearTimeout(timer);
      reply.raw.off("close", gone);
    }
  });
}

function commandOf(body: unknown): string {
  const fields = body as Record<string, unknown> | null;
  if (fields === null || typeof fields !== "object" || Array.isArray(fields)) throw new RestError(400, "BAD_REQUEST", "the body must be a JSON object {\"command\": \"...\"}", "body");
  const extra = Object.keys(fields).find((key) => key !== "command");
  if (extra !== undefined) throw new RestError(400, "BAD_REQUEST", `body field ${extra.slice(0, 32)} is not a field this request takes`, extra.slice(0, 32));
  const command = fields.command;
  if (typeof command !== "string") throw new RestError(400, "BAD_REQUEST", "body field command must be a string, one DS CLI line", "command");
  if (command.trim() === "") throw new RestError(400, "BAD_REQUEST", "body field command is empty", "command");
  if (command.length > COMMAND_LENGTH_MAX) throw new RestError(400, "BAD_REQUEST", `body field command is over ${COMMAND_LENGTH_MAX} characters`, "command");
  if (/[\r\n]/.test(command)) throw new RestError(400, "BAD_REQUEST", "body field command must be one line: a task runs several (PUT /cs/console/tasks/NAME)", "command");
  return command;
}

// ---- tasks ----

function taskRoutes(api: FastifyInstance, caller: Identify, runner: TaskRunner): void {
  api.get("/tasks", async (request) => {
    const { server } = caller(request, "monitor");
    return { tasks: server.listTasks().map(taskReply) };
  });
  api.put("/tasks/:name", async (request) => {
    const identity = caller(request, "copy_services");
    const name = taskName(request);
    const { kind, body } = taskBody(request.body);
    const checked = consoleProgram(body, `task ${name}`);
    if (!("type" in checked)) throw new RestError(400, "BAD_TASK", `task ${name} cannot run: ${checked.errors.join(" ")}`, "body");
    await identity.server.saveTask({ user: identity.user, source: "console" }, { name, kind, body });
    return { task: taskReply(identity.server.task(name)!) };
  });
  api.delete("/tasks/:name", async (request) => {
    const identity = caller(request, "copy_services");
    const name = taskName(request);
    if (identity.server.task(name) === undefined) throw new RestError(404, "TASK_NOT_FOUND", `there is no task ${JSON.stringify(name)}`, "name");
    await identity.server.removeTask({ user: identity.user, source: "console" }, name);
    return { removed: name };
  });
  api.post("/tasks/:name/run", async (request) => {
    const identity = caller(request, null); // each call of the run is checked as the user's
    const name = taskName(request);
    if (request.body !== undefined && request.body !== null && (typeof request.body !== "object" || Object.keys(request.body).length > 0)) {
      throw new RestError(400, "BAD_REQUEST", "a task's run takes no body (or {})", "body");
    }
    const task = identity.server.task(name);
    if (task === undefined) throw new RestError(404, "TASK_NOT_FOUND", `there is no task ${JSON.stringify(name)}`, "name");
    const runId = runner.start(identity, task);
    if (runId === null) throw new RestError(409, "BUSY", `${runner.runCount} tasks are running: wait for one to finish`);
    return { runId };
  });
}

function taskName(request: FastifyRequest): string {
  const name = (request.params as { name?: unknown }).name;
  if (typeof name !== "string" || !TASK_NAME.test(name)) {
    throw new RestError(400, "BAD_ID", `a task name is 1 to 64 letters, digits, spaces, dots, dashes and underscores, starting with a letter or digit, not ${JSON.stringify(String(name)).slice(0, 80)}`, "name");
  }
  return name;
}

function taskBody(body: unknown): { kind: Task["kind"]; body: string } {
  const fields = body as Record<string, unknown> | null;
  if (fields === null || typeof fields !== "object" || Array.isArray(fields)) throw new RestError(400, "BAD_REQUEST", "the body must be a JSON object {\"kind\": \"actions\"|\"script\", \"body\": \"...\"}", "body");
  const extra = Object.keys(fields).find((key) => key !== "kind" && key !== "body");
  if (extra !== undefined) throw new RestError(400, "BAD_REQUEST", `body field ${extra.slice(0, 32)} is not a field this request takes`, extra.slice(0, 32));
  if (fields.kind !== "actions" && fields.kind !== "script") throw new RestError(400, "BAD_REQUEST", "body field kind must be \"actions\" or \"script\"", "kind");
  if (typeof fields.body !== "string") throw new RestError(400, "BAD_REQUEST", "body field body must be a string: the task's lines", "body");
  if (fields.body.length > TASK_BODY_LENGTH_MAX) throw new RestError(400, "BAD_REQUEST", `body field body is over ${TASK_BODY_LENGTH_MAX} characters`, "body");
  if (fields.body.trim() === "") throw new RestError(400, "BAD_REQUEST", "body field body is empty: a task needs at least one line", "body");
  return { kind: fields.kind, body: fields.body };
}

function taskReply(task: Task): object {
  return {
    name: task.name, kind: task.kind, body: task.body,
    history: task.history.map((run) => ({ started: new Date(run.startedMs).toISOString(), finished: new Date(run.finishedMs).toISOString(), exitCode: run.exitCode, user: run.user })),
  };
}
