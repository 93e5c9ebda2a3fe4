// The server's event stream, /cs/events (console-contract.md): authenticates
// with the first message, then hands every message on. A lost connection is
// reported and dialled again, with a delay that doubles up to a bound, from
// the last sequence number seen, so the server resends what was missed
// (also after it restarted, or after the backup took over). Each retry goes
// to the next of the site's servers (Api.nextServer): the primary that went
// away, or the backup that says 4503 until it has taken over, is left for the other.

export type StreamState = "connecting" | "open" | "lost";

import type { StreamMessage } from "../../src/server/console/messages.js";

// The server's own message types (erased from the page's build).
export type { ProgressMessage, StreamMessage } from "../../src/server/console/messages.js";

export interface StreamHandlers {
  message(message: StreamMessage): void;
  state(state: StreamState, detail: string): void;
  refused(): void; // the server closed with 4401: the token is not (or no longer) good
}

// What the stream needs of the Api: the token, and which of the site's servers to dial.
export interface StreamServer {
  readonly token: string | null;
  readonly server: string;
  nextServer(): string;
}

const RECONNECT_MS_MIN = 250;
const RECONNECT_MS_MAX = 4000;
const UNAUTHORIZED = 4401;

export class EventStream {
  private socket: WebSocket | null = null;
  private lastSeq: number | null = null;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(private readonly api: StreamServer, private readonly handlers: StreamHandlers) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.socket?.close(1000, "signed out");
    this.socket = null;
  }

  private connect(): void {
    const token = this.api.token;
    if (token === null || this.stopped) return;
    const server = this.api.server;
    this.handlers.state("connecting", this.failures === 0 ? "connecting" : `reconnecting to ${server} (attempt ${this.failures + 1})`);
    const socket = new WebSocket(`${server.replace(/^http/, "ws")}/cs/events`);
    this.socket = socket;
    socket.onopen = () => {
      const auth: Record<string, unknown> = { type: "auth", token };
      if (this.lastSeq !== null) auth.since = this.lastSeq;
      socket.send(JSON.stringify(auth));
    };
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (close.code === UNAUTHORIZED) {
        this.handlers.refused();
        return;
      }
      if (!this.stopped) this.retry(close.reason || `connection closed (${close.code})`);
    };
  }

  private receive(data: unknown): void {
    if (typeof data !== "string") return;
    let message: StreamMessage;
    try {
      message = JSON.parse(data) as StreamMessage;
    } catch {
      return;
    }
    if (message.type === "ready") {
      this.failures = 0;
      this.lastSeq ??= message.seq;
      this.handlers.state("open", "live");
    } else if (message.type === "event") {
      this.lastSeq = Math.max(this.lastSeq ?? 0, message.seq);
    }
    this.handlers.message(message);
  }

  private retry(detail: string): void {
    const delayMs = Math.min(RECONNECT_MS_MAX, RECONNECT_MS_MIN * 2 ** this.failures);
    this.failures++;
    const next = this.api.nextServer();
    this.handlers.state("lost", `${detail}; retrying at ${next} in ${(delayMs / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delayMs);
  }
}
