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
//
// The receiving side applies frames (ring entries) in ticket order only, and
// checks it: a frame that does not carry the next ticket, or any frame while
// an earlier one is missing, is not applied; the link is cut and the host
// told, so the writes fail, their tracks stay out of sync and the pairs
// suspend. Tests inject seeded faults here (link-faults.ts).
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { CoreCode, LinkState, TRACK_SIZE } from "../core/codes.js";
import { CoreThread } from "../core/core.js";
import { EXIT_CODE_ABORTED, type LinkCommand, type LinkPair, type LinkReport, type LinkWorkerData } from "./link-messages.js";
import { FaultPlan, type LinkFault } from "./link-faults.js";

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
const faults = data.faults === null ? null : new FaultPlan(data.faults);
const sleeper = new Int32Array(new SharedArrayBuffer(4)); // a delayed frame waits on it
// The ticket of the next frame the receiver may apply; null once the link was down (a new sequence starts).
let expectedTicket: number | null = null;
const lost: number[] = []; // ring entries of frames dropped on the way (faults), failed once the gap shows

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

// The link is down from here on: the frames lost before it fail, and the host is told why.
function cut(reason: string): void {
  primary.exports.ring_set_link(ring, LinkState.DOWN);
  expectedTicket = null;
  for (const entry of lost.splice(0)) primary.exports.ring_complete(ring, entry, CoreCode.MIRROR_FAILED);
  report({ type: "cut", reason });
}

// The seeded fault of the next frame, if the link has a plan: delays wait here, cuts cut.
function injected(): LinkFault {
  if (faults === null) return "pass";
  const { frame, fault, delayMs } = faults.next();
  if (fault === "pass") return fault;
  report({ type: "fault", fault, frame });
  if (fault === "delay") Atomics.wait(sleeper, 0, 0, delayMs);
  if (fault === "cut") cut(`seeded fault: the link was cut at frame ${frame}`);
  return fault;
}

// The receiver's side of one frame: applied only in sequence, on a link that is up.
function receive(view: DataView, entry: number): number {
  const ticket = view.getInt32(entry + 28, true);
  if (!linkUp()) {
    expectedTicket = null;
    return CoreCode.MIRROR_FAILED;
  }
  if (lost.length > 0 || (expectedTicket !== null && ticket !== expectedTicket)) {
    cut(`frame ${ticket} came out of sequence (expected ${expectedTicket}, ${lost.length} missing): it was not applied`);
    return CoreCode.MIRROR_FAILED;
  }
  expectedTicket = ticket + 1;
  const slot = view.getUint32(entry + 12, true);
  const offset = Number(view.getBigUint64(entry + 16, true));
  const length = view.getUint32(entry + 24, true);
  return applyToSecondary(slot, offset, primary.exports.ring_entry_data(ring, entry), length);
}

function drainRing(): number {
  const view = new DataView(data.primaryMemory.buffer);
  let applied = 0;
  while (applied < DRAIN_BATCH_MAX) {
    const entry = primary.exports.ring_take(ring);
    if (entry === 0) break;
    applied++;
    if (injected() === "drop") {
      lost.push(entry);
      continue;
    }
    primary.exports.ring_complete(ring, entry, receive(view, entry));
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
    // A copy lost or cut on the way is not applied: its track stays out of sync and is sent again.
    const fault = injected();
    const result = fault === "drop" || !linkUp() ? CoreCode.MIRROR_FAILED : applyToSecondary(pair.secondarySlot, track * TRACK_SIZE, primary.stagingPointer, length);
    primary.exports.pprc_copy_release(pair.primarySlot, track, result);
    if (result !== CoreCode.OK && fault === "pass") report({ type: "copy-failed", primarySlot: pair.primarySlot, code: result });
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
    // Nothing followed a dropped frame: the receiver's idle check finds the gap.
    if (applied === 0 && lost.length > 0) cut(`${lost.length} frames never arrived after frame ${expectedTicket === null ? "?" : expectedTicket - 1}`);
    if (applied === 0 && copied === 0) Atomics.wait(words, doorbellIndex, bell, IDLE_WAIT_MS);
  }
  // The host marked the link down before it stopped this thread: writers still waiting get their failure now.
  drainRing();
  for (const entry of lost.splice(0)) primary.exports.ring_complete(ring, entry, CoreCode.MIRROR_FAILED);
}

try {
  run();
} catch (error) {
  // A trap of either core (an assertion of the debug build): this thread's instances are not to be trusted.
  report({ type: "abort", message: error instanceof Error ? error.message : String(error) });
  process.exit(EXIT_CODE_ABORTED);
}
