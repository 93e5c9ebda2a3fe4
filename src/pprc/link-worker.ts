// The sender thread of one link (primary image → secondary image, in one
// process): it drains the link's ring of mirrored writes in ticket order,
// applies each through the secondary's core and acknowledges it, and between
// them copies out-of-sync tracks of the link's pairs (Copy Pending, resync,
// Global Copy). Writes come first: a host waits for them.
//
// The worker holds two cores: one attached to the primary's memory (the ring,
// the claims of tracks to copy) and one to the secondary's (every write to a
// secondary goes through mirror_apply, the only write a secondary takes).
// Commands from the host arrive on a MessagePort read synchronously between
// steps, so a busy sender still sees them; the host rings the doorbell after
// each so that an idle one wakes.
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { CoreCode, LinkState, TRACK_SIZE } from "../core/codes.js";
import { CoreThread } from "../core/core.js";
import { EXIT_CODE_ABORTED, type LinkCommand, type LinkPair, type LinkReport, type LinkWorkerData } from "./link-messages.js";

const IDLE_WAIT_MS = 50;
const DRAIN_BATCH_MAX = 64; // ring entries applied before the sender looks at its commands again

const data = workerData as LinkWorkerData;
const primary = new CoreThread(data.primaryMemory, data.primaryThreadId, data.module);
const secondary = new CoreThread(data.secondaryMemory, data.secondaryThreadId, data.module);
const words = new Int32Array(data.primaryMemory.buffer);
const ring = data.ring;
const doorbellIndex = primary.exports.ring_doorbell_pointer(ring) >>> 2;
const linkIndex = (ring + 8) >>> 2; // assembly/mirror.ts: ring + 8 is the link state
let pairs: Array<LinkPair & { cursor: number }> = [];
let next = 0; // the pair whose tracks the next copy step tries first
let stopping = false;

function report(message: LinkReport): void {
  parentPort?.postMessage(message);
}

function linkUp(): boolean {
  return Atomics.load(words, linkIndex) === LinkState.UP;
}

// Copies `length` bytes at `pointer` of the primary's memory to the
// secondary's staging buffer and applies them there.
function applyToSecondary(secondarySlot: number, offset: number, pointer: number, length: number): number {
  secondary.staging(length).set(primary.view().subarray(pointer, pointer + length));
  return secondary.exports.mirror_apply(secondarySlot, offset, length, secondary.stagingPointer);
}

function drainRing(): number {
  const view = new DataView(data.primaryMemory.buffer);
  let applied = 0;
  while (applied < DRAIN_BATCH_MAX) {
    const entry = primary.exports.ring_take(ring);
    if (entry === 0) break;
    const slot = view.getUint32(entry + 12, true);
    const offset = Number(view.getBigUint64(entry + 16, true));
    const length = view.getUint32(entry + 24, true);
    const result = linkUp() ? applyToSecondary(slot, offset, primary.exports.ring_entry_data(ring, entry), length) : CoreCode.MIRROR_FAILED;
    primary.exports.ring_complete(ring, entry, result);
    applied++;
  }
  return applied;
}

// One out-of-sync track of the next pair that has one; 1 if a track was sent.
function copyStep(): number {
  if (!linkUp()) return 0;
  for (let tried = 0; tried < pairs.length; tried++) {
    const pair = pairs[(next + tried) % pairs.length];
    let track = primary.exports.pprc_copy_claim(pair.primarySlot, ring, pair.secondarySlot, pair.cursor);
    if (track === -1 && pair.cursor > 0) {
      pair.cursor = 0;
      track = primary.exports.pprc_copy_claim(pair.primarySlot, ring, pair.secondarySlot, 0);
    }
    if (track < -1) report({ type: "copy-failed", primarySlot: pair.primarySlot, code: track });
    if (track < 0) continue;
    const length = primary.exports.pprc_track_length(pair.primarySlot, track);
    const result = applyToSecondary(pair.secondarySlot, track * TRACK_SIZE, primary.stagingPointer, length);
    primary.exports.pprc_copy_release(pair.primarySlot, track, result);
    if (result !== CoreCode.OK) report({ type: "copy-failed", primarySlot: pair.primarySlot, code: result });
    pair.cursor = track + 1;
    next = (next + tried + 1) % pairs.length;
    return result === CoreCode.OK ? 1 : 0;
  }
  return 0;
}

function readCommands(): void {
  for (let received = receiveMessageOnPort(data.commands); received !== undefined; received = receiveMessageOnPort(data.commands)) {
    const command = received.message as LinkCommand;
    if (command.type === "stop") stopping = true;
    else pairs = command.pairs.map((pair) => ({ ...pair, cursor: pairs.find((known) => known.primarySlot === pair.primarySlot)?.cursor ?? 0 }));
  }
}

function run(): void {
  report({ type: "ready" });
  while (!stopping) {
    const bell = Atomics.load(words, doorbellIndex);
    readCommands();
    if (stopping) break;
    const applied = drainRing();
    const copied = applied === 0 ? copyStep() : 0;
    if (applied === 0 && copied === 0) Atomics.wait(words, doorbellIndex, bell, IDLE_WAIT_MS);
  }
  // The host marked the link down before it stopped this thread: writers still waiting get their failure now.
  drainRing();
}

try {
  run();
} catch (error) {
  // A trap of either core (an assertion of the debug build): this thread's instances are not to be trusted.
  report({ type: "abort", message: error instanceof Error ? error.message : String(error) });
  process.exit(EXIT_CODE_ABORTED);
}
