// The messages of the console's event stream (/cs/events) and event log
// (/cs/console/events), as the server sends them and the page reads them:
// types only, so the page's code imports them (`import type`, erased from
// its build) and the two sides cannot drift apart.
import type { EventSource } from "../site-state.js";

// One change of the site, from its event log.
export interface ConsoleEventMessage {
  type: "event";
  seq: number;
  time: string; // ISO 8601
  kind: string;
  image: string | null;
  ids: string[];
  user: string | null;
  source: EventSource;
  text: string;
}

export interface FlashProgress {
  image: string;
  id: string;
  tracksLeft: number;
  trackCount: number;
  bytesPerSecond: number;
}

export interface PprcProgress {
  image: string;
  id: string;
  outOfSyncTracks: number;
  bytesPerSecond: number;
}

// About once a second while anything copies.
export interface ProgressMessage {
  type: "progress";
  time: string;
  flash: FlashProgress[];
  pprc: PprcProgress[];
}

export type StreamMessage =
  | { type: "ready"; seq: number }
  | ConsoleEventMessage
  | ProgressMessage
  | { type: "task-output"; runId: string; line: string }
  | { type: "task-finished"; runId: string; exitCode: number };
