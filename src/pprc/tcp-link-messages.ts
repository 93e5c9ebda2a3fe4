// What a link to another node's sender thread (tcp-link-worker.ts) and its
// host (tcp-link.ts) tell each other. Kept apart from the worker, whose module
// runs its loop as soon as it is loaded.
import type { MessagePort } from "node:worker_threads";
import type { LinkPair } from "./link-messages.js";
import type { LinkEndpoint } from "./link-protocol.js";

// Host to sender. "up": false while the host has cut the link (cutlink), true again after.
// "endpoint": the secondary's node now takes links there (it was restarted on another port).
export type TcpLinkCommand = { type: "pairs"; pairs: LinkPair[] } | { type: "up"; up: boolean } | { type: "endpoint"; endpoint: LinkEndpoint } | { type: "stop" };

// Sender to host: the connection's changes, a copy the secondary refused, an abort.
// `dialed` ("HOST:PORT") marks the outcome of a dial, as against the loss of a connection.
export type TcpLinkReport =
  | { type: "ready" }
  | { type: "up"; peer: string; dialed: string }
  | { type: "down"; reason: string; dialed?: string }
  | { type: "copy-failed"; primarySlot: number; code: number }
  | { type: "abort"; message: string };

export interface TcpLinkWorkerData {
  primaryMemory: WebAssembly.Memory;
  module: WebAssembly.Module;
  primaryThreadId: number;
  ring: number;
  commands: MessagePort;
  endpoint: LinkEndpoint;
  siteKey: Uint8Array;
  nodeId: string;
  primaryImageId: string;
  secondaryImageId: string;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  gatherGapMs: number; // how long the sender waits for each next writer of a batch (tcp-link-worker.ts GATHER_GAPS_MAX)
}

// The gather gap of a link unless told (TcpLinkOptions.gatherGapMs): the writers an ack woke come back within it on 2 cores.
export const GATHER_GAP_MS_DEFAULT = 0.1;
