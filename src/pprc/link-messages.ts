// What a link's sender thread (link-worker.ts) and its host (link.ts) tell
// each other. Kept apart from the worker, whose module runs its loop as soon
// as it is loaded.

import type { MessagePort } from "node:worker_threads";
import type { LinkFault, LinkFaults } from "./link-faults.js";

// A pair whose out-of-sync tracks the sender copies (Copy Pending, resync, Global Copy).
export interface LinkPair {
  primarySlot: number;
  secondarySlot: number;
}

// Host to sender, through the MessagePort of the worker's data.
export type LinkCommand = { type: "pairs"; pairs: LinkPair[] } | { type: "stop" };

// Sender to host: a copy that failed on the secondary, or an abort of a core.
export type LinkReport =
  | { type: "ready" }
  | { type: "copy-failed"; primarySlot: number; code: number }
  | { type: "abort"; message: string }
  | { type: "cut"; reason: string } // the receiver found a gap in the sequence, or a seeded fault cut the link
  | { type: "fault"; fault: Exclude<LinkFault, "pass">; frame: number }; // a seeded fault, for the test that set them

export interface LinkWorkerData {
  primaryMemory: WebAssembly.Memory;
  secondaryMemory: WebAssembly.Memory;
  module: WebAssembly.Module;
  primaryThreadId: number;
  secondaryThreadId: number;
  ring: number;
  commands: MessagePort;
  faults: LinkFaults | null; // seeded faults (tests), or none
}

export const EXIT_CODE_ABORTED = 70;
