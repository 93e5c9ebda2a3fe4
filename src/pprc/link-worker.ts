// The sender thread of one link (primary image → secondary image, in one
// process): it drains the link's ring of mirrored writes in ticket order,
// applies each through the secondary's core and acknowledges it, and between
// them copies out-of-sync tracks of the link's pairs (Copy Pending, resync,
// Global Copy), a run of up to an extent's tracks at a time. Writes come
// first: a host waits for them.
//
// The worker holds two cores: one attached to the primary's memory (the ring,
// the claims of tracks to copy) and one to the secondary's (every write to a
// secondary goes through its mirror_apply, the only write a secondary takes,
// or its two halves: a claimed run is copied straight from the primary's
// memory into the secondary's, once, between mirror_apply_begin and _end).
// For a while after its last work the sender polls its doorbell instead of
// sleeping on it: a thread woken from sleep takes tens of µs to run (far
// more on a virtual machine whose idle CPU halted), far longer than the
// apply of a write, so a writer that follows another finds it awake.
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
import { CoreCode, EXTENT_TRACKS, LinkState, TRACK_SIZE } from "../core/codes.js";
import { CoreThread } from "../core/core.js";
import { EXIT_CODE_ABORTED, type LinkCommand, type LinkPair, type LinkReport, type LinkWorkerData } from "./link-messages.js";
import { FaultPlan, type LinkFault } from "./link-faults.js";

const IDLE_WAIT_MS = 50;
const POLL_AFTER_WORK_MS = 0.2; // how long an idle sender polls its doorbell before it sleeps
const POLLS_PER_CLOCK = 64; // doorbell polls between two looks at the clock
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

// Claims the next run of out-of-sync tracks of `pair` (its first track), wrapping round to track 0 once; -1 when none.
function claimRun(pair: LinkPair & { cursor: number }): number {
  let track = primary.exports.pprc_copy_claim_run(pair.primarySlot, ring, pair.secondarySlot, pair.cursor, EXTENT_TRACKS);
  if (track === -1 && pair.cursor > 0) {
    pair.cursor = 0;
    track = primary.exports.pprc_copy_claim_run(pair.primarySlot, ring, pair.secondarySlot, 0, EXTENT_TRACKS);
  }
  if (track < -1) report({ type: "copy-failed", primarySlot: pair.primarySlot, code: track });
  return track;
}

// The claimed run's bytes, where the primary's core left them, onto the
// secondary: straight from one memory to the other in one copy, or through
// mirror_apply where the secondary's core does not take a direct apply (a
// FlashCopy target: BAD_ARGUMENT).
function applyRun(secondarySlot: number, offset: number): number {
  const [pointer, length] = [primary.exports.pprc_run_pointer(), primary.exports.pprc_run_bytes()];
  const begun = secondary.exports.mirror_apply_begin(secondarySlot, offset, length);
  if (begun === CoreCode.BAD_ARGUMENT) return applyToSecondary(secondarySlot, offset, pointer, length);
  if (begun !== CoreCode.OK) return begun;
  // Views taken after both cores are done allocating: either memory may have grown.
  secondary.view().set(primary.view().subarray(pointer, pointer + length), secondary.exports.mirror_apply_pointer());
  secondary.exports.mirror_apply_end(secondarySlot, offset, length);
  return CoreCode.OK;
}

// One run of out-of-sync tracks (up to an extent's) of the next pair that has one; the tracks sent.
function copyStep(): number {
  if (!linkUp()) return 0;
  for (let tried = 0; tried < pairs.length; tried++) {
    const pair = pairs[(next + tried) % pairs.length];
    const track = claimRun(pair);
    if (track < 0) continue;
    const tracks = primary.exports.pprc_run_tracks();
    // A copy lost or cut on the way is not applied: its tracks stay out of sync and are sent again.
    const fault = injected();
    const result = fault === "drop" || !linkUp() ? CoreCode.MIRROR_FAILED : applyRun(pair.secondarySlot, track * TRACK_SIZE);
    primary.exports.pprc_copy_release_run(pair.primarySlot, track, tracks, result);
    if (result !== CoreCode.OK && fault === "pass") report({ type: "copy-failed", primarySlot: pair.primarySlot, code: result });
    pair.cursor = track + tracks;
    next = (next + tried + 1) % pairs.length;
    return result === CoreCode.OK ? tracks : 0;
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

// Waits for the doorbell to move from `bell`: polled until POLL_AFTER_WORK_MS after `busyAt`, then asleep.
function idle(bell: number, busyAt: number): void {
  while (performance.now() < busyAt + POLL_AFTER_WORK_MS) {
    for (let poll = 0; poll < POLLS_PER_CLOCK; poll++) if (Atomics.load(words, doorbellIndex) !== bell) return;
  }
  Atomics.wait(words, doorbellIndex, bell, IDLE_WAIT_MS);
}

function run(): void {
  primary.exports.ring_set_copier(ring);
  report({ type: "ready" });
  let busyAt = 0;
  while (!stopping) {
    const bell = Atomics.load(words, doorbellIndex);
    readCommands();
    if (stopping) break;
    const applied = drainRing();
    // A copy step every turn, writes or not: steady host writes must not
    // starve Copy Pending (a run is at most an extent, so a write waits for
    // at most one run's copy).
    const copied = copyStep();
    // Nothing followed a dropped frame: the receiver's idle check finds the gap.
    if (applied === 0 && lost.length > 0) cut(`${lost.length} frames never arrived after frame ${expectedTicket === null ? "?" : expectedTicket - 1}`);
    if (applied !== 0 || copied !== 0) busyAt = performance.now();
    else idle(bell, busyAt);
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
