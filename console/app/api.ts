// The console's one way to the server (console-contract.md): REST login for a
// token, kept in sessionStorage and sent as X-Auth-Token on every request
// (no cookies, so no CSRF surface); DS CLI lines through POST
// /cs/console/run; the event log and tasks under /cs/console. A 401 anywhere
// forgets the token and sends the page back to its login.
//
// The site has two servers, the primary and its backup, each at its own
// origin; the page asks for both (/cs/console/servers) and, when the one it
// talks to stops answering or no longer leads, the event stream moves it to
// the other (nextServer). Sessions are journaled and replicated, so the same
// token is good there; the other server lets this page's origin in (CORS).

const TOKEN_KEY = "tzero.console.token";
const USER_KEY = "tzero.console.user";
const SERVER_KEY = "tzero.console.server";
const SERVERS_KEY = "tzero.console.servers";
const SERVERS_MAX = 8;

export interface RunResult {
  exitCode: number;
  output: string[];
  errors: string[];
}

export type Row = Record<string, string>;

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

// A DS CLI command that failed: its exit code and its CMUN/CMUC lines.
export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(readonly command: string, readonly result: RunResult) {
    super(result.errors.join("\n") || `${command}: exit code ${result.exitCode}`);
  }
}

export interface TaskRecord {
  name: string;
  kind: "actions" | "script";
  body: string;
  history: Array<{ started: string; finished: string | null; exitCode: number | null; user: string }>;
}

// The server's own message types: the page and the server cannot drift apart.
export type { ConsoleEventMessage as ConsoleEvent } from "../../src/server/console/messages.js";
import type { ConsoleEventMessage as ConsoleEvent } from "../../src/server/console/messages.js";

async function failureOf(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`;
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json() as { server?: { code?: string; message?: string } };
    code = body.server?.code ?? code;
    message = body.server?.message ?? message;
  } catch {
    // Not the REST error shape: the status line says what happened.
  }
  return new ApiError(response.status, code, message);
}

export class Api {
  private listeners: Array<(reason: string | null) => void> = [];

  get token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  get user(): string | null {
    return sessionStorage.getItem(USER_KEY);
  }

  // The origin of the server the page talks to now: the page's own until a takeover moves it.
  get server(): string {
    return sessionStorage.getItem(SERVER_KEY) ?? location.origin;
  }

  // The site's servers, as the last one reached listed them.
  get servers(): string[] {
    try {
      const listed = JSON.parse(sessionStorage.getItem(SERVERS_KEY) ?? "[]") as unknown;
      if (Array.isArray(listed) && listed.length > 0 && listed.every((origin) => typeof origin === "string")) return listed as string[];
    } catch {
      // Not a list the page wrote: the page's own server alone.
    }
    return [location.origin];
  }

  // Moves to the server after the current one in the site's list (the same one when it has no other); returns it.
  nextServer(): string {
    const servers = this.servers;
    const next = servers[(servers.indexOf(this.server) + 1) % servers.length];
    sessionStorage.setItem(SERVER_KEY, next);
    return next;
  }

  // Asks the server the page reached for the site's servers, for the next takeover.
  async loadServers(): Promise<void> {
    const reply = await this.request<{ servers: unknown }>("GET", "/cs/console/servers");
    const listed = Array.isArray(reply.servers) ? reply.servers.filter((origin): origin is string => typeof origin === "string" && /^https?:\/\/[^/\s]+$/.test(origin)) : [];
    const servers = [...new Set([this.server, ...listed])].slice(0, SERVERS_MAX);
    sessionStorage.setItem(SERVERS_KEY, JSON.stringify(servers));
  }

  // Called when the token is gone: a logout (no reason), or the server refused it.
  onSignedOut(listener: (reason: string | null) => void): void {
    this.listeners.push(listener);
  }

  async login(user: string, password: string): Promise<void> {
    const response = await fetch("/api/v1/tokens", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ request: { params: { username: user, password } } }),
    });
    if (!response.ok) throw await failureOf(response);
    const body = await response.json() as { token: { token: string } };
    sessionStorage.setItem(TOKEN_KEY, body.token.token);
    sessionStorage.setItem(USER_KEY, user);
    sessionStorage.removeItem(SERVER_KEY);
  }

  // Ends the session on the server (on every server of the site), then here.
  // A server that cannot be reached now is told nothing: the page forgets the
  // token anyway, and the session idles out there.
  async logout(): Promise<void> {
    const ended = await this.request("POST", "/cs/console/logout", {}).then(() => null, (error: Error) => error.message);
    this.signOut(ended === null ? null : `logged out here; the server was not told (${ended}): the session idles out there`);
  }

  signOut(reason: string | null = null): void {
    for (const key of [TOKEN_KEY, USER_KEY, SERVER_KEY, SERVERS_KEY]) sessionStorage.removeItem(key);
    for (const listener of this.listeners) listener(reason);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { "x-auth-token": this.token ?? "" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${this.server}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (response.status === 401) {
      const failure = await failureOf(response);
      this.signOut(`${failure.code}: ${failure.message}`);
      throw failure;
    }
    if (!response.ok) throw await failureOf(response);
    return await response.json() as T;
  }

  run(command: string): Promise<RunResult> {
    return this.request<RunResult>("POST", "/cs/console/run", { command });
  }

  // The rows of a DS CLI listing, from its -fmt json output; none when the
  // command says there is nothing (CMUC00234I), an error when it failed.
  async list(command: string): Promise<Row[]> {
    const name = command.split(" ")[0];
    const result = await this.run(`${name} -fmt json -bnr off${command.slice(name.length)}`);
    if (result.exitCode !== 0) throw new CommandError(command, result);
    const json = result.output.find((line) => line.startsWith("{"));
    if (json === undefined) return [];
    const parsed = JSON.parse(json) as { data?: Record<string, Row[]> };
    return parsed.data?.[name] ?? [];
  }

  async events(since: number, limit: number): Promise<ConsoleEvent[]> {
    const reply = await this.request<{ events: ConsoleEvent[] }>("GET", `/cs/console/events?since=${since}&limit=${limit}`);
    return reply.events;
  }

  async tasks(): Promise<TaskRecord[]> {
    return (await this.request<{ tasks: TaskRecord[] }>("GET", "/cs/console/tasks")).tasks;
  }

  saveTask(name: string, kind: TaskRecord["kind"], body: string): Promise<unknown> {
    return this.request("PUT", `/cs/console/tasks/${encodeURIComponent(name)}`, { kind, body });
  }

  removeTask(name: string): Promise<unknown> {
    return this.request("DELETE", `/cs/console/tasks/${encodeURIComponent(name)}`);
  }

  async runTask(name: string): Promise<string> {
    return (await this.request<{ runId: string }>("POST", `/cs/console/tasks/${encodeURIComponent(name)}/run`)).runId;
  }
}
