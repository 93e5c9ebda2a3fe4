// The sender thread of a link to another node (tcp-link.ts): the same ring as
// an in-process link (assembly/mirror.ts), drained in ticket order, but each
// batch of ring entries goes out as one link.apply frame over TCP to the
// secondary's node (link-receiver.ts), and its entries complete when the
// receiver's link.ack comes back, which wakes the writers. Between batches it
// sends out-of-sync tracks of the link's pairs (Copy Pending, resync, Global
// Copy), several frames in flight, each track held claimed until acknowledged.
//
// Writers batch themselves: every entry published while a frame is on the wire
// goes in the next one. All network I/O is on this thread's event loop, never
// on the main thread's. When the connection is lost (the peer killed, a
// heartbeat timeout, a bad frame) every entry in flight fails, the link is
// marked down so that writers fail fast, and the thread dials again with a
// bounded backoff; the host suspends the link's pairs.
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { CoreCode, EXTENT_TRACKS, LinkState, TRACK_SIZE } from "../core/codes.js";
import { CoreThread } from "../core/core.js";
import { connectTcp, type Connection } from "../wire/index.js";
import { EXIT_CODE_ABORTED, type LinkPair } from "./link-messages.js";
import { linkMessages, LINK_ENTRIES_MAX, LINK_FRAME_BYTES_MAX, LINK_ROLE, type AckBody, type LinkEndpoint, type LinkMessages } from "./link-protocol.js";
import type { TcpLinkCommand, TcpLinkReport, TcpLinkWorkerData } from "./tcp-link-messages.js";

// While nothing is in flight the sender blocks on the doorbell (Atomics.wait:
// a writer's publish wakes it at once) for at most this long, then lets its
// event loop run (heartbeats, a closed socket) before it blocks again.
// Atomics.waitAsync is not used: in this Node a notify from the core often
// left its promise unresolved until its timeout, so that a write waited the
// whole idle wait (50 ms) for the sender to notice it.
const IDLE_SLICE_MS = 5;
// A doorbell that rang while the sender blocked on it is served at once,
// without a turn of the event loop first (a turn costs a poll of the
// sockets, tens of µs on a loaded machine), at most this many times in a
// row, so that timers (heartbeats) and socket events still get their turns.
const RINGS_WITHOUT_TURN_MAX = 4;
// While frames are in flight the sender waits on its event loop for their
// acks, and looks at the ring again after this long at the latest.
const IN_FLIGHT_POLL_MS = 1;
// Gathering. The writers an ack completed come back with their next writes one after
// another (each is woken, scheduled, and publishes): a frame that went out
// with the first of them alone left the others waiting a whole round trip
// for its ack, and the frames alternated between one entry and the rest
// (16 writers: two frames in three carried one entry). So when nothing is
// in flight, the sender that has taken an entry waits on the doorbell for
// as many more as the last ack completed, each at most the gap
// (TcpLinkWorkerData.gatherGapMs, GATHER_GAP_MS_DEFAULT unless told) after the one before
// and all within GATHER_GAPS_MAX gaps: a writer that does not come back
// costs that once. One writer is not delayed at all (its ack completed one).
const GATHER_GAPS_MAX = 10;
// 4 MiB frames, three in flight: against 1 MiB frames, four in flight, they
// took about a quarter less CPU time per MiB in both processes together
// (fewer frames, acks and wake-ups), for as much in flight.
const COPY_TRACKS_PER_FRAME = LINK_ENTRIES_MAX;
const COPY_FRAMES_IN_FLIGHT = 3;
const REDIAL_DELAY_MS_MIN = 100;
const REDIAL_DELAY_MS_MAX = 1_000;
// A redial's delay is waited in slices this long, the host's commands read
// between them: a new endpoint or a stop ends the wait.
const REDIAL_SLICE_MS = 20;

// A copy frame's claimed runs: each run's tracks are entries `entry` to
// `entry + tracks - 1` of the frame, and are released together.
type CopyRun = { primarySlot: number; track: number; tracks: number; entry: number };
type Batch =
  | { kind: "ring"; entries: number[] }
  | { kind: "copy"; runs: CopyRun[]; entries: number };

const data = workerData as TcpLinkWorkerData;
const primary = new CoreThread(data.primaryMemory, data.primaryThreadId, data.module);
const words = new Int32Array(data.primaryMemory.buffer);
const ring = data.ring;
const doorbellIndex = primary.exports.ring_doorbell_pointer(ring) >>> 2;
const linkIndex = (ring + 8) >>> 2; // assembly/mirror.ts: ring + 8 is the link state
const view = new DataView(data.primaryMemory.buffer);

let pairs: Array<LinkPair & { cursor: number }> = [];
let nextPair = 0;
let stopping = false;
let hostUp = true; // false while the host has cut the link (cutlink, a failed path)
let connection: Connection<LinkMessages> | null = null;
let endpoint: LinkEndpoint = data.endpoint; // where the secondary's node takes links
let redialNow = false; // a new endpoint: dial it without waiting out the redial delay
let sequence = 0;
const inFlight = new Map<number, Batch>();
let copyFramesInFlight = 0;
let wake: (() => void) | null = null;
let ringsWithoutTurn = 0;
// Entries taken from the ring when a ring ack came, before its writers were
// woken: they go out first in the next frame, which then waits for as many
// more as that ack completed (`returning`, see GATHER_GAPS_MAX).
const held: number[] = [];
let returning = 0;

function report(message: TcpLinkReport): void {
  parentPort?.postMessage(message);
}

function connected(): boolean {
  return connection !== null && connection.isOpen;
}

// The ring's link state is the host's wish and the connection's fact together.
function publishLinkState(): void {
  const state = hostUp && connected() ? LinkState.UP : LinkState.DOWN;
  if (Atomics.load(words, linkIndex) !== state) primary.exports.ring_set_link(ring, state);
}

function kick(): void {
  wake?.();
}

function readCommands(): void {
  for (let received = receiveMessageOnPort(data.commands); received !== undefined; received = receiveMessageOnPort(data.commands)) {
    const command = received.message as TcpLinkCommand;
    if (command.type === "stop") stopping = true;
    else if (command.type === "up") hostUp = command.up;
    else if (command.type === "endpoint") retarget(command.endpoint);
    else pairs = command.pairs.map((pair) => ({ ...pair, cursor: pairs.find((known) => known.primarySlot === pair.primarySlot)?.cursor ?? 0 }));
  }
  publishLinkState();
}

// The secondary's node takes links elsewhere now: a connection to the old
// address is given up (what it had in flight fails, as at any loss), and the
// next dial goes to the new one at once.
function retarget(next: LinkEndpoint): void {
  if (next.host === endpoint.host && next.port === endpoint.port) return;
  endpoint = next;
  redialNow = true;
  const old = connection;
  if (old === null) return;
  lost(`the secondary's node takes links at ${endpointName()} now`);
  void old.close(`the secondary's node takes links at ${endpointName()} now`);
}

function endpointName(): string {
  return `${endpoint.host}:${endpoint.port}`;
}

// Fails entries nobody can send now (the link down): their writers suspend.
function failReadyEntries(): number {
  let failed = held.length;
  for (const entry of held.splice(0)) primary.exports.ring_complete(ring, entry, CoreCode.MIRROR_FAILED);
  for (let entry = primary.exports.ring_take(ring); entry !== 0; entry = primary.exports.ring_take(ring)) {
    primary.exports.ring_complete(ring, entry, CoreCode.MIRROR_FAILED);
    failed++;
  }
  return failed;
}

// Every ring entry ready now, in ticket order, as one frame. Its raw bytes
// are the entries' bytes copied into a buffer of the frame's own, not views
// of the ring: an entry's bytes are the next write's once it completes, and
// the connection's loss completes it while the closing socket may still be
// writing them, which would put another write's bytes at its offset.
function sendRingBatch(open: Connection<LinkMessages>): boolean {
  const entries = held.splice(0);
  const want = entries.length + returning;
  takeReady(entries);
  if (entries.length === 0) return false;
  returning = 0;
  if (inFlight.size === 0) gather(entries, Math.min(want, LINK_ENTRIES_MAX));
  const bodies: Array<{ slot: number; offset: number; length: number }> = [];
  const pointers: number[] = [];
  let total = 0;
  for (const entry of entries) {
    const length = view.getUint32(entry + 24, true);
    pointers.push(primary.exports.ring_entry_data(ring, entry));
    bodies.push({ slot: view.getUint32(entry + 12, true), offset: Number(view.getBigUint64(entry + 16, true)), length });
    total += length;
  }
  const memory = primary.view();
  const raw = new Uint8Array(total);
  let at = 0;
  bodies.forEach(({ length }, index) => {
    raw.set(memory.subarray(pointers[index], pointers[index] + length), at);
    at += length;
  });
  inFlight.set(++sequence, { kind: "ring", entries });
  open.send("link.apply", { sequence, entries: bodies }, [raw]);
  return true;
}

// Takes the ring's ready entries, in ticket order, onto `entries` (at most LINK_ENTRIES_MAX in all).
function takeReady(entries: number[]): void {
  while (entries.length < LINK_ENTRIES_MAX) {
    const entry = primary.exports.ring_take(ring);
    if (entry === 0) return;
    entries.push(entry);
  }
}

// Waits on the doorbell until `entries` holds `want` entries, each next one
// at most the gather gap after the one before, all within GATHER_GAPS_MAX
// gaps (see GATHER_GAPS_MAX). The event loop does not run meanwhile: nothing
// is in flight, so no ack is owed.
function gather(entries: number[], want: number): void {
  const gap = data.gatherGapMs;
  const deadline = performance.now() + GATHER_GAPS_MAX * gap;
  while (entries.length < want) {
    const bell = Atomics.load(words, doorbellIndex);
    const had = entries.length;
    takeReady(entries);
    if (entries.length > had) continue;
    const left = Math.min(gap, deadline - performance.now());
    if (left <= 0 || Atomics.wait(words, doorbellIndex, bell, left) === "timed-out") {
      takeReady(entries);
      return;
    }
  }
}

// Up to COPY_TRACKS_PER_FRAME out-of-sync tracks of the link's pairs, claimed
// in runs (pprc_copy_claim_run: each run where it lies in the primary's
// memory, within one extent) and sent as the frame's raw bytes, one entry per
// track. A run's bytes go out as a view of the primary's memory, not copied:
// the claim holds every track lock of the run and its volume's gate until the
// run is released (settle), so no write changes them and the volume stays.
// Released on the frame's ack, once the peer has every byte; released on the
// connection's loss only after the socket was aborted (lost), so that it
// writes none of them after. A run staged in this thread's staging buffer (a
// FlashCopy target's track FlashCopy still owes) is copied out of it, as the
// next claim reuses that buffer. At most COPY_FRAMES_IN_FLIGHT frames are in
// flight: that bounds what is queued, not the socket's writability (a frame
// is always above its high-water mark, and waiting for each drain left one
// frame in flight).
function sendCopyBatch(open: Connection<LinkMessages>): boolean {
  if (pairs.length === 0 || copyFramesInFlight >= COPY_FRAMES_IN_FLIGHT) return false;
  const runs: CopyRun[] = [];
  const raw: Uint8Array[] = [];
  const bodies: Array<{ slot: number; offset: number; length: number }> = [];
  for (let tried = 0; tried < pairs.length && bodies.length < COPY_TRACKS_PER_FRAME; tried++) {
    const pair = pairs[(nextPair + tried) % pairs.length];
    while (bodies.length < COPY_TRACKS_PER_FRAME) {
      const track = claimRun(pair, Math.min(EXTENT_TRACKS, COPY_TRACKS_PER_FRAME - bodies.length));
      if (track < 0) break;
      const tracks = primary.exports.pprc_run_tracks();
      raw.push(claimedBytes(primary.exports.pprc_run_pointer(), primary.exports.pprc_run_bytes()));
      runs.push({ primarySlot: pair.primarySlot, track, tracks, entry: bodies.length });
      for (let index = 0; index < tracks; index++) {
        const length = Math.min(TRACK_SIZE, raw[raw.length - 1].byteLength - index * TRACK_SIZE);
        bodies.push({ slot: pair.secondarySlot, offset: (track + index) * TRACK_SIZE, length });
      }
      pair.cursor = track + tracks;
    }
  }
  nextPair = (nextPair + 1) % Math.max(1, pairs.length);
  if (runs.length === 0) return false;
  copyFramesInFlight++;
  inFlight.set(++sequence, { kind: "copy", runs, entries: bodies.length });
  open.send("link.apply", { sequence, entries: bodies }, raw);
  return true;
}

// The claimed run's `bytes` bytes at `pointer`: a view of the primary's
// memory where they lie, or a copy where they are staged.
function claimedBytes(pointer: number, bytes: number): Uint8Array {
  const memory = primary.view().subarray(pointer, pointer + bytes);
  return pointer === primary.stagingPointer ? memory.slice() : memory;
}

// The pair's next run of out-of-sync tracks from its cursor (at most
// `trackCountMax`), wrapping once: its first track, -1 when none is free now.
function claimRun(pair: LinkPair & { cursor: number }, trackCountMax: number): number {
  let track = primary.exports.pprc_copy_claim_run(pair.primarySlot, ring, pair.secondarySlot, pair.cursor, trackCountMax);
  if (track === -1 && pair.cursor > 0) {
    pair.cursor = 0;
    track = primary.exports.pprc_copy_claim_run(pair.primarySlot, ring, pair.secondarySlot, 0, trackCountMax);
  }
  if (track < -1) report({ type: "copy-failed", primarySlot: pair.primarySlot, code: track });
  return track < 0 ? -1 : track;
}

function settle(batch: Batch, results: readonly number[] | null): void {
  if (batch.kind === "ring") {
    batch.entries.forEach((entry, index) => primary.exports.ring_complete(ring, entry, results?.[index] ?? CoreCode.MIRROR_FAILED));
    return;
  }
  copyFramesInFlight--;
  for (const run of batch.runs) {
    // A run is in sync only when the secondary applied every one of its tracks.
    const failed = results?.slice(run.entry, run.entry + run.tracks).find((result) => result !== CoreCode.OK);
    const result = results === null ? CoreCode.MIRROR_FAILED : failed ?? CoreCode.OK;
    primary.exports.pprc_copy_release_run(run.primarySlot, run.track, run.tracks, result);
    // A copy lost with the connection is not the secondary's failure: the link's loss suspends the pairs.
    if (results !== null && result !== CoreCode.OK) report({ type: "copy-failed", primarySlot: run.primarySlot, code: result });
  }
}

function onAck(ack: AckBody): void {
  const batch = inFlight.get(ack.sequence);
  const expected = batch?.kind === "ring" ? batch.entries.length : batch?.entries;
  if (batch === undefined || expected !== ack.results.length || ack.sequence !== inFlight.keys().next().value) {
    void connection?.close(`link.ack ${ack.sequence} with ${ack.results.length} results matches no frame in flight in order`);
    return;
  }
  inFlight.delete(ack.sequence);
  if (batch.kind === "ring") {
    // The entries ready before this ack wakes its writers are other writers'.
    takeReady(held);
    returning = batch.entries.length;
  }
  settle(batch, ack.results);
  kick();
}

// The connection is gone: the link is down first (writers then fail fast and
// suspend with the link as cause), then everything in flight fails. With copy
// frames in flight the socket is aborted first, not left to flush: their raw
// bytes are views of tracks that writers may change once released.
function lost(reason: string): void {
  const gone = connection;
  connection = null;
  publishLinkState();
  if (copyFramesInFlight > 0) gone?.abort(reason);
  for (const batch of inFlight.values()) settle(batch, null);
  inFlight.clear();
  failReadyEntries();
  report({ type: "down", reason });
  kick();
}

async function dial(): Promise<boolean> {
  const dialed = endpointName();
  try {
    const opened = await connectTcp({
      host: endpoint.host, port: endpoint.port, siteKey: data.siteKey, nodeId: data.nodeId, role: LINK_ROLE, messages: linkMessages,
      frameBytesMax: LINK_FRAME_BYTES_MAX, heartbeatIntervalMs: data.heartbeatIntervalMs, heartbeatTimeoutMs: data.heartbeatTimeoutMs,
    });
    await opened.request("link.attach", { primary_image_id: data.primaryImageId, secondary_image_id: data.secondaryImageId });
    opened.on("message", (type: string, body: unknown) => {
      if (type === "link.ack") onAck(body as AckBody);
    });
    opened.on("drain", kick);
    void opened.closed.then((cause) => { if (connection === opened) lost(cause.message); });
    if (!opened.isOpen) return false;
    connection = opened;
    sequence = 0;
    publishLinkState();
    report({ type: "up", peer: opened.peer!.nodeId, dialed });
    return true;
  } catch (error) {
    report({ type: "down", reason: `cannot reach ${dialed}: ${(error as Error).message}`, dialed });
    return false;
  }
}

// Waits `ms` (0: one turn of the event loop), or less when an ack or a drain kicks.
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = ms === 0 ? setImmediate(done) : setTimeout(done, ms);
    function done() {
      if (ms === 0) clearImmediate(timer as NodeJS.Immediate);
      else clearTimeout(timer as NodeJS.Timeout);
      wake = null;
      ringsWithoutTurn = 0;
      resolve();
    }
    wake = done;
  });
}

// The delay before the next dial, cut short by a new endpoint or a stop;
// at most ms / REDIAL_SLICE_MS + 1 slices.
async function redialPause(ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (let slice = 0; slice <= ms / REDIAL_SLICE_MS; slice++) {
    readCommands();
    if (stopping || redialNow || Date.now() >= deadline) break;
    await pause(Math.min(REDIAL_SLICE_MS, deadline - Date.now()));
  }
  redialNow = false;
}

// Nothing was sent: with frames in flight, waits for an ack (or a short
// poll); with none, blocks on the doorbell `bell` for a slice, then yields
// one turn of the event loop, unless the doorbell rang (see RINGS_WITHOUT_TURN_MAX).
function idle(bell: number): Promise<void> {
  if (inFlight.size > 0) return pause(IN_FLIGHT_POLL_MS);
  const rang = Atomics.wait(words, doorbellIndex, bell, IDLE_SLICE_MS) !== "timed-out";
  if (rang && ringsWithoutTurn < RINGS_WITHOUT_TURN_MAX) {
    ringsWithoutTurn++;
    return Promise.resolve();
  }
  return pause(0);
}

async function run(): Promise<void> {
  report({ type: "ready" });
  let delayMs = REDIAL_DELAY_MS_MIN;
  while (!stopping) {
    const bell = Atomics.load(words, doorbellIndex);
    readCommands();
    if (stopping) break;
    const open = connection;
    if (open === null || !open.isOpen) {
      failReadyEntries();
      redialNow = false; // this dial goes to the newest endpoint already
      if (!hostUp || await dial()) delayMs = REDIAL_DELAY_MS_MIN;
      else {
        await redialPause(delayMs);
        delayMs = Math.min(REDIAL_DELAY_MS_MAX, delayMs * 2);
      }
      continue;
    }
    if (!hostUp) {
      failReadyEntries();
      await idle(bell);
      continue;
    }
    const sent = sendRingBatch(open);
    const copied = sendCopyBatch(open);
    // A ring batch alone waits for its ack on the event loop at once: entries
    // published meanwhile go in the next frame. Copy frames yield one turn,
    // so that up to COPY_FRAMES_IN_FLIGHT of them go out back to back.
    await (copied ? pause(0) : sent ? pause(IN_FLIGHT_POLL_MS) : idle(bell));
  }
  hostUp = false;
  await connection?.close("the link is stopping");
  lost("the link stopped");
}

run().then(() => process.exit(0), (error: unknown) => {
  // A trap of the core (an assertion of the debug build): this thread's instance is not to be trusted.
  report({ type: "abort", message: error instanceof Error ? error.message : String(error) });
  process.exit(EXIT_CODE_ABORTED);
});
