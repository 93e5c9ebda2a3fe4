// kill -9 of the primary's or the secondary's node at a seeded random moment,
// during host writes in Full Duplex or during a resync (resumepprc after a
// suspend with many tracks out of sync), with real `tzero serve` processes.
// The test is the writer: it logs each write the server acknowledged, so
// that after a kill of the primary's node the secondary is checked to hold
// every write acknowledged before the kill; then the victim restarts from its
// --state (saved while running), resumepprc, and the volumes must be equal
// byte for byte. The seed picks each round's victim, phase and moment and is
// printed; TZERO_SEED replays the same choices (the processes' scheduling
// around them is the machine's).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ServeSandbox } from "../support/serve-process.js";
import { Random, testSeed } from "../support/random.js";
import {
  A, B, SUSPEND_WAIT_MS, TRACK_BYTES, WAIT_MS, mirrored, pair, restartNode, resumed, threeNodes, until, type Site3,
} from "../support/serve-pprc-site.js";

const ROUNDS = 4;
const TRACKS = 512; // 32 MiB: a resync of most of it takes long enough to be cut
const VOLUME_BYTES = TRACKS * TRACK_BYTES;
const WRITE_BYTES = 4096;
const WRITE_AREA_BYTES = 2 << 20; // the writes land in the first 2 MiB, read back whole
const RESYNC_TRACKS_MIN = 256;

interface Write {
  offset: number;
  data: Uint8Array;
}

type Victim = "a" | "b";

const Faults = suite("PPRC kill -9 at random points of writes and resyncs");

Faults("should keep every write acknowledged in Full Duplex on the secondary, and resume to equal, whichever node dies and whenever", async () => {
  const seed = testSeed();
  console.log(`# serve-pprc-faults seed ${seed} (TZERO_SEED=${seed} replays its choices)`);
  const random = new Random(seed);
  const sandbox = new ServeSandbox();
  let site: Site3 | null = null;
  try {
    site = await threeNodes(sandbox);
    await mirrored(site, seed & 0xffff, TRACKS);
    // Each node's --state holds its side of the pair before any kill (saved after the configuration change).
    await site.a.waitFor(/saved .*a\.tzs \(the configuration changed\)/, 1, WAIT_MS);
    await site.b.waitFor(/saved .*b\.tzs \(the configuration changed\)/, 1, WAIT_MS);
    for (let round = 1; round <= ROUNDS; round++) {
      const victim: Victim = random.pick(["a", "b"] as const);
      const phase = random.pick(["writes", "resync"] as const);
      const when = `round ${round}: kill -9 of node-${victim} during ${phase} (seed ${seed})`;
      console.log(`# ${when}`);
      if (phase === "writes") await killDuringWrites(site, victim, random, when);
      else await killDuringResync(site, victim, random, when);
      await restartNode(site, victim);
      await resumed(site, victim === "a" ? A : B, `after ${when}`, seed, VOLUME_BYTES);
    }
  } finally {
    await site?.shell.close();
    await sandbox.close();
  }
});

// A writer in Full Duplex, the victim killed after a seeded number of
// acknowledged writes and a seeded delay (so often with a write in flight).
async function killDuringWrites(site: Site3, victim: Victim, random: Random, when: string): Promise<void> {
  assert.is((await pair(site.shell, A, "1000:2000")).state, "Full Duplex", `Full Duplex before ${when}`);
  const acknowledged: Write[] = [];
  let inFlight: Write | null = null;
  let stop = false;
  const killAfter = random.int(5, 40);
  const delayMs = random.int(0, 20);
  const writes: Write[] = Array.from({ length: 2000 }, () => ({ offset: random.int(0, WRITE_AREA_BYTES / WRITE_BYTES - 1) * WRITE_BYTES, data: random.bytes(WRITE_BYTES) }));
  const writer = (async () => {
    for (const write of writes) {
      if (stop) return;
      inFlight = write;
      await site.shell.write(A, "1000", write.offset, write.data);
      acknowledged.push(write);
      inFlight = null;
    }
  })().catch(() => undefined); // the primary's node killed: its write in flight fails
  await until(async () => acknowledged.length >= killAfter, `${killAfter} acknowledged writes`);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  const node = victim === "a" ? site.a : site.b;
  const before = acknowledged.length;
  const pending: Write | null = inFlight;
  node.kill("SIGKILL");
  await node.exited;
  stop = true;
  await writer;
  if (victim === "a") await secondaryHolds(site, acknowledged.slice(0, before), pending, when);
  else await until(async () => (await pair(site.shell, A, "1000:2000")).state === "Suspended", `the pair to suspend at ${when}`, SUSPEND_WAIT_MS);
}

// B's volume 2000 (read with -tgtread) holds every acknowledged write: each
// block as its last acknowledged write left it, or as the write in flight at
// the kill made it (that one may or may not have reached it).
async function secondaryHolds(site: Site3, acknowledged: readonly Write[], pending: Write | null, when: string): Promise<void> {
  const secondary = await site.shell.read(B, "2000", 0, WRITE_AREA_BYTES);
  const last = new Map<number, Uint8Array>();
  for (const write of acknowledged) last.set(write.offset, write.data);
  for (const [offset, data] of last) {
    const held = secondary.subarray(offset, offset + WRITE_BYTES);
    const same = Buffer.compare(held, data) === 0;
    const overwritten = pending !== null && pending.offset === offset && Buffer.compare(held, pending.data) === 0;
    assert.ok(same || overwritten, `the secondary holds the write acknowledged at offset ${offset} (${acknowledged.length} acknowledged, ${when})`);
  }
}

// A suspend, many tracks written on the primary, resumepprc, and the victim
// killed a seeded moment into the resync it started.
async function killDuringResync(site: Site3, victim: Victim, random: Random, when: string): Promise<void> {
  assert.equal(await site.shell.changePairs(A, "pausepprc", { remoteImageId: B, ids: ["1000:2000"] }), ["1000:2000"]);
  const firstTrack = random.int(0, TRACKS - RESYNC_TRACKS_MIN);
  const trackCount = random.int(RESYNC_TRACKS_MIN, TRACKS - firstTrack);
  await site.shell.fill(A, "1000", { offset: firstTrack * TRACK_BYTES, length: trackCount * TRACK_BYTES }, { kind: "pattern", seed: random.next() & 0xffff });
  const suspended = await pair(site.shell, A, "1000:2000");
  assert.is(suspended.outOfSyncTracks, trackCount, `exactly the tracks written are out of sync before ${when}`);
  assert.equal(await site.shell.changePairs(A, "resumepprc", { remoteImageId: B, ids: ["1000:2000"], type: "mmir" }), ["1000:2000"]);
  await new Promise((resolve) => setTimeout(resolve, random.int(0, 150)));
  const node = victim === "a" ? site.a : site.b;
  node.kill("SIGKILL");
  await node.exited;
  if (victim === "b") await until(async () => (await pair(site.shell, A, "1000:2000")).state !== "Copy Pending", `the resync to stop at ${when}`, SUSPEND_WAIT_MS);
}

Faults.run();
