// What a copy worker (copy-worker.ts) tells its pool (copy-pool.ts). Kept
// apart from the worker, whose module runs its loop as soon as it is loaded.

// A copy step failed with a core code; the relationship it worked on, and
// the work epoch the worker read before that step (so the host can tell a
// failure that began before it released the copy or freed space).
export interface CopyFaultMessage {
  type: "fault";
  code: number;
  relSlot: number; // -1 when the worker had not yet picked a relationship
  generation: number;
  epoch: number;
}

// The core trapped (a failed assertion of the debug build, unreachable).
export interface CopyAbortMessage {
  type: "abort";
  message: string;
  relSlot: number;
  generation: number;
}

export interface CopyReadyMessage {
  type: "ready";
  threadId: number;
}

export type CopyWorkerMessage = CopyFaultMessage | CopyAbortMessage | CopyReadyMessage;

// The exit code of a worker that ended because its core aborted.
export const EXIT_CODE_ABORTED = 70;
