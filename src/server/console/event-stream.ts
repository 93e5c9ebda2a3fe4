// GET /cs/events (the console contract): a WebSocket of the site's events
// and copy progress for browsers.
//
//   client ── {"type":"auth","token","since"?} ─▶ server     within AUTH_TIMEOUT_MS, else closed 4401
//   server ── {"type":"ready","seq"} then the logged events after `since` (a reconnect), then live:
//             {"type":"event",...}       every change, once committed (console-events.ts)
//             {"type":"progress",...}    about once a second while a FlashCopy or a PPRC pair copies
//             {"type":"task-output"|"task-finished",...}   a console task's run (tasks.ts)
//
// Close codes: 4401 no or a bad token (or it expired since), 4403 a user
// whose groups allow no listing, 4503 this node's server is not the
// primary, 1012 the server changed under the stream (a takeover): reconnect
// with `since`. A client that does not keep up (more than
// bufferedBytesMax waiting to be sent) is dropped, so that a slow browser
// costs the server a bounded amount of memory.
import type { WebSocket } from "ws";
import type { FlashInfo, PairInfo } from "../../site/types.js";
import { eventMessage } from "../console-events.js";
import type { CopyServicesServer } from "../server.js";
import { EVENTS_KEPT_MAX, type LoggedEvent } from "../site-state.js";
import { authorize } from "../users.js";
import type { FlashProgress, PprcProgress } from "./messages.js";

export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_NOT_AUTHORIZED = 4403;
export const CLOSE_NOT_PRIMARY = 4503;
export const CLOSE_SERVER_CHANGED = 1012;
const CLOSE_NORMAL = 1000;
const TRACK_BYTES = 64 * 1024;
const AUTH_MESSAGE_BYTES_MAX = 1024;

export interface EventStreamOptions {
  current: () => CopyServicesServer; // throws NOT_PRIMARY while this node's server is not the primary
  progressIntervalMs?: number; // default 1000
  authTimeoutMs?: number; // default 10 s
  tokenCheckMs?: number; // how often a connected token is checked again; default 30 s
  bufferedBytesMax?: number; // default 1 MiB
}

export type { FlashProgress, PprcProgress } from "./messages.js";

interface Client {
  socket: WebSocket;
  server: CopyServicesServer | null; // once authenticated
  token: string;
  tokenCheckedAtMs: number;
  unsubscribe: () => void;
}

export class EventStream {
  private readonly clients = new Set<Client>();
  private readonly sentTracks = new Map<string, { tracks: number; atMs: number }>(); // by image/pair: for a pair's MB/s
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private copying = false; // the last progress message listed something
  private closed = false;
  private readonly progressIntervalMs: number;
  private readonly authTimeoutMs: number;
  private readonly tokenCheckMs: number;
  private readonly bufferedBytesMax: number;

  constructor(private readonly options: EventStreamOptions) {
    this.progressIntervalMs = options.progressIntervalMs ?? 1000;
    this.authTimeoutMs = options.authTimeoutMs ?? 10_000;
    this.tokenCheckMs = options.tokenCheckMs ?? 30_000;
    this.bufferedBytesMax = options.bufferedBytesMax ?? 1024 * 1024;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  accept(socket: WebSocket): void {
    if (this.closed) {
      socket.close(CLOSE_NOT_PRIMARY, "the server is shutting down");
      return;
    }
    const client: Client = { socket, server: null, token: "", tokenCheckedAtMs: 0, unsubscribe: () => {} };
    const timeout = setTimeout(() => socket.close(CLOSE_UNAUTHENTICATED, `no auth message within ${this.authTimeoutMs} ms`), this.authTimeoutMs);
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      if (client.server === null) {
        clearTimeout(timeout);
        this.authenticate(client, data, isBinary);
      } else {
        this.send(client, { type: "error", message: "the stream takes no messages after auth" });
      }
    });
    socket.on("close", () => {
      clearTimeout(timeout);
      this.drop(client);
    });
    socket.on("error", () => this.drop(client));
  }

  // The first message: the token (and, on a reconnect, the last seq seen).
  private authenticate(client: Client, data: Buffer, isBinary: boolean): void {
    const message = authMessage(data, isBinary);
    if (typeof message === "string") {
      client.socket.close(CLOSE_UNAUTHENTICATED, message);
      return;
    }
    const server = orClose(client, CLOSE_NOT_PRIMARY, () => this.options.current());
    if (server === null) return;
    const user = orClose(client, CLOSE_UNAUTHENTICATED, () => server.authenticate(message.token).user);
    if (user === null) return;
    const authorized = orClose(client, CLOSE_NOT_AUTHORIZED, () => {
      authorize(server.state.users, user, "monitor");
      return true;
    });
    if (authorized === null) return;
    this.begin(client, server, message.token, message.since);
  }

  // Everything here runs in one turn: no event can fall between the backlog and the subscription.
  private begin(client: Client, server: CopyServicesServer, token: string, since: number | undefined): void {
    client.server = server;
    client.token = token;
    client.tokenCheckedAtMs = Date.now();
    this.send(client, { type: "ready", seq: server.lastEventSeq });
    if (since !== undefined) for (const event of server.eventsSince(since, EVENTS_KEPT_MAX)) this.send(client, eventMessage(event));
    client.unsubscribe = server.loggedEvents((event: LoggedEvent) => this.send(client, eventMessage(event)));
    this.clients.add(client);
    this.timer ??= setInterval(() => void this.tick(), this.progressIntervalMs);
    this.timer.unref();
  }

  // To every authenticated client (a task's output).
  broadcast(message: object): void {
    for (const client of this.clients) this.send(client, message);
  }

  private send(client: Client, message: object): void {
    const socket = client.socket;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > this.bufferedBytesMax) {
      // Closing politely would queue behind what it cannot take: the connection goes at once.
      socket.terminate();
      this.drop(client);
      return;
    }
    socket.send(JSON.stringify(message));
  }

  private drop(client: Client): void {
    if (!this.clients.delete(client)) return;
    client.unsubscribe();
    if (this.clients.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
      this.copying = false;
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking) return; // a slow site: the next tick comes when this one is done
    this.ticking = true;
    try {
      const server = this.checkClients();
      if (server !== null) await this.progress(server);
    } finally {
      this.ticking = false;
    }
  }

  // Closes the streams of a server that is no longer the one in charge, and
  // those whose token ended; the server in charge, or null.
  private checkClients(): CopyServicesServer | null {
    let current: CopyServicesServer | null;
    try {
      current = this.options.current();
    } catch {
      current = null;
    }
    const now = Date.now();
    for (const client of [...this.clients]) {
      if (client.server !== current) {
        client.socket.close(CLOSE_SERVER_CHANGED, "the Copy Services Server changed: reconnect with since");
        this.drop(client);
        continue;
      }
      if (now - client.tokenCheckedAtMs < this.tokenCheckMs) continue;
      client.tokenCheckedAtMs = now;
      try {
        current!.authenticate(client.token);
      } catch (error) {
        client.socket.close(CLOSE_UNAUTHENTICATED, reason(error));
        this.drop(client);
      }
    }
    return this.clients.size === 0 ? null : current;
  }

  private async progress(server: CopyServicesServer): Promise<void> {
    const flash: FlashProgress[] = [];
    const pprc: PprcProgress[] = [];
    const images = await server.listImages().catch(() => []);
    await Promise.all(images.map(async (image) => {
      const [relationships, pairs] = await Promise.all([
        server.listFlash(image.id).catch((): FlashInfo[] => []),
        server.listPairs(image.id).catch((): PairInfo[] => []),
      ]);
      for (const relationship of relationships) {
        if (relationship.nocopy || relationship.pendingTracks === 0) continue;
        flash.push({ image: image.id, id: relationship.id, tracksLeft: relationship.pendingTracks, trackCount: relationship.trackCount, bytesPerSecond: relationship.bytesPerSecond });
      }
      for (const pair of pairs) {
        if (pair.role !== "primary" || pair.state !== "Copy Pending") continue;
        pprc.push({ image: image.id, id: pair.id, outOfSyncTracks: pair.outOfSyncTracks, bytesPerSecond: this.pairRate(image.id, pair) });
      }
    }));
    const copying = flash.length > 0 || pprc.length > 0;
    // One empty message after the last copy ends, so that bars can finish.
    if (copying || this.copying) this.broadcast({ type: "progress", time: new Date().toISOString(), flash, pprc });
    this.copying = copying;
  }

  // A pair's rate from the tracks it sent since the last tick.
  private pairRate(imageId: string, pair: PairInfo): number {
    const key = `${imageId}/${pair.id}`;
    const now = Date.now();
    const last = this.sentTracks.get(key);
    this.sentTracks.set(key, { tracks: pair.sentTracks, atMs: now });
    if (last === undefined || now <= last.atMs || pair.sentTracks < last.tracks) return 0;
    return Math.round(((pair.sentTracks - last.tracks) * TRACK_BYTES * 1000) / (now - last.atMs));
  }

  close(): void {
    this.closed = true;
    for (const client of [...this.clients]) {
      client.socket.close(CLOSE_NORMAL, "the server is shutting down");
      this.drop(client);
    }
  }
}

// The auth message, or why it is not one.
function authMessage(data: Buffer, isBinary: boolean): { token: string; since?: number } | string {
  if (isBinary) return "the first message must be a JSON text {\"type\":\"auth\",\"token\":...}";
  if (data.length > AUTH_MESSAGE_BYTES_MAX) return `the auth message is over ${AUTH_MESSAGE_BYTES_MAX} bytes`;
  let value: unknown;
  try {
    value = JSON.parse(data.toString("utf8"));
  } catch {
    return "the first message is not JSON";
  }
  const message = value as { type?: unknown; token?: unknown; since?: unknown } | null;
  if (message === null || typeof message !== "object" || message.type !== "auth") return "the first message must be {\"type\":\"auth\",\"token\":...}";
  if (typeof message.token !== "string" || message.token.length === 0 || message.token.length > 256) return "auth: token must be a non-empty string";
  const extra = Object.keys(message).find((key) => key !== "type" && key !== "token" && key !== "since");
  if (extra !== undefined) return `auth: ${extra.slice(0, 32)} is not a field of the auth message`;
  if (message.since !== undefined && !(Number.isSafeInteger(message.since) && (message.since as number) >= 0)) return "auth: since must be a whole number ≥ 0";
  return { token: message.token, since: message.since as number | undefined };
}

// A close reason is at most 123 bytes.
// What `step` gives, or null once the client is closed with `code` and why `step` threw.
function orClose<T>(client: Client, code: number, step: () => T): T | null {
  try {
    return step();
  } catch (error) {
    client.socket.close(code, reason(error));
    return null;
  }
}

function reason(error: unknown): string {
  const text = error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error);
  return Buffer.from(text).subarray(0, 120).toString("utf8").replace(/\uFFFD$/, "");
}
