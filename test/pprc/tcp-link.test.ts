// A link to another process: the primary image here, its sender thread
// sending over loopback TCP to a receiver in a child process that hosts the
// secondary (fixtures/link-peer.ts). Copy Pending to Full Duplex, every
// acknowledged write on the secondary, the peer killed (kill -9) or stopped
// (SIGSTOP) under writes, resume, -critmode, and the link port fuzzed.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { Worker } from "node:worker_threads";
import { CoreCode, MirrorMode, PprcFlag, SuspendCause, TRACK_SIZE } from "../../src/core/codes.js";
import { StorageImage } from "../../src/engine/image.js";
import { TcpLink } from "../../src/pprc/tcp-link.js";
import { linkToPeer, PeerProcess } from "../../bench/harness/peer-process.js";
import { linkMessages, LINK_HEARTBEAT_TIMEOUT_MS } from "../../src/pprc/link-protocol.js";
import { connectTcp, FrameEncoder, PROTOCOL_VERSION } from "../../src/wire/index.js";
import { Random, testSeed } from "../support/random.js";
import type { MirrorWriterData } from "../../bench/workers/mirror-writer.js";

const PEER = fileURLToPath(new URL("./fixtures/link-peer.js", import.meta.url));
const WRITER = new URL("../../bench/workers/mirror-writer.js", import.meta.url);
const SITE_KEY = new Uint8Array(randomBytes(32));
const OTHER_KEY = new Uint8Array(randomBytes(32));
const PRIMARY_ID = "IBM.2107-75LINKA";
const SECONDARY_ID = "IBM.2107-75LINKB";
const TRACKS = 16;
const BLOCKS = (TRACKS * TRACK_SIZE) / 512;
// Loose on purpose: the machine is shared; the bound itself is the heartbeat timeout.
const SUSPEND_WAIT_MS = LINK_HEARTBEAT_TIMEOUT_MS + 15_000;
const TEST_ACK_TIMEOUT_MS = 30_000;

type Peer = PeerProcess<{ port: number }>;

function startPeer(port?: number): Promise<Peer> {
  return PeerProcess.start(PEER, [Buffer.from(SITE_KEY).toString("hex"), SECONDARY_ID, ...(port === undefined ? [] : [String(port)])], "ignore");
}

interface Mirror {
  image: StorageImage;
  link: TcpLink;
  peer: Peer;
  slot: number;
  remoteSlot: number;
  failures: string[];
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function mirror(flags = 0, gatherGapMs?: number): Promise<Mirror> {
  const peer = await startPeer();
  const image = new StorageImage({ model: "2107", serial: "75LINKA", workers: 0 });
  const volume = image.createVolume({ id: "1000", capacity: BLOCKS, unit: "blocks" });
  image.writePattern("1000", 0, TRACKS * TRACK_SIZE, 7);
  const { slot: remoteSlot } = await peer.ask<{ slot: number }>({ op: "secondary", id: "2000", blocks: BLOCKS });
  const { link, failures } = await linkToPeer(image, { port: peer.hello.port, siteKey: SITE_KEY, nodeId: "test-primary", secondaryImageId: SECONDARY_ID, ackTimeoutMs: TEST_ACK_TIMEOUT_MS, gatherGapMs });
  assert.is(image.core.exports.pprc_make_primary(volume.slot, link.ring, remoteSlot, MirrorMode.SYNC, flags, 1), CoreCode.OK);
  link.setPairs([{ primarySlot: volume.slot, secondarySlot: remoteSlot }]);
  return { image, link, peer, slot: volume.slot, remoteSlot, failures };
}

async function closeMirror(mirrored: Mirror): Promise<void> {
  await mirrored.link.close();
  await mirrored.image.close();
  if (mirrored.peer.alive) await mirrored.peer.kill();
}

const outOfSync = (mirrored: Mirror) => mirrored.image.core.exports.pprc_out_of_sync(mirrored.slot);
const mode = (mirrored: Mirror) => mirrored.image.core.exports.pprc_mode(mirrored.slot);

async function sameOnBothSides(mirrored: Mirror): Promise<boolean> {
  const { checksum } = await mirrored.peer.ask<{ checksum: string }>({ op: "checksum", id: "2000" });
  return checksum === mirrored.image.checksum("1000");
}

// A seeded 4 KiB-ish write anywhere in the volume, sometimes across a track boundary.
function randomWrite(image: StorageImage, random: Random): void {
  const length = random.pick([512, 4096, 4096, 8192]);
  const offset = random.int(0, (TRACKS * TRACK_SIZE - length) / 512) * 512;
  image.write("1000", offset, random.bytes(length));
}

async function rejected(promise: Promise<unknown>): Promise<void> {
  const outcome = await promise.then(() => "resolved", () => "rejected");
  assert.is(outcome, "rejected");
}

const Link = suite("PPRC link over TCP to another process");

Link("should copy every track (Copy Pending), then mirror each acknowledged write, leaving both volumes equal byte for byte", async () => {
  const seed = testSeed();
  console.log(`# tcp-link seed ${seed} (TZERO_SEED=${seed} replays it)`);
  const random = new Random(seed);
  const mirrored = await mirror();
  try {
    assert.is(outOfSync(mirrored) > 0 || mirrored.image.core.exports.pprc_sent_tracks(mirrored.slot) > 0, true);
    await until(() => outOfSync(mirrored) === 0, "the initial copy");
    assert.is(mirrored.image.core.exports.pprc_sent_tracks(mirrored.slot), TRACKS, "Copy Pending sent each track once");
    assert.ok(await sameOnBothSides(mirrored), "equal after Copy Pending");
    for (let index = 0; index < 200; index++) {
      randomWrite(mirrored.image, random);
      // Full Duplex: the write returned only once the secondary had applied it.
      assert.is(outOfSync(mirrored), 0, `write ${index} was acknowledged (seed ${seed})`);
    }
    assert.is(mode(mirrored), MirrorMode.SYNC);
    assert.ok(await sameOnBothSides(mirrored), `equal after the writes (seed ${seed})`);
    assert.equal(mirrored.failures, []);
  } finally {
    await closeMirror(mirrored);
  }
});

// A -tgtpprc FlashCopy onto the primary leaves every track owed by FlashCopy:
// the sender stages each (its bytes are the source's) and claims it alone,
// many staged runs to a frame, each copied out of the staging buffer the
// next claim reuses (the other runs go out as views of the primary's memory).
Link("should send a -tgtpprc FlashCopy's image to the secondary, tracks FlashCopy still owes staged one by one", async () => {
  const mirrored = await mirror();
  try {
    await until(() => outOfSync(mirrored) === 0, "the initial copy");
    mirrored.image.createVolume({ id: "1001", capacity: BLOCKS, unit: "blocks" });
    mirrored.image.writePattern("1001", 0, TRACKS * TRACK_SIZE, 8);
    const t0 = mirrored.image.checksum("1001");
    assert.is.not(t0, mirrored.image.checksum("1000"));
    mirrored.image.establish("1001", "1000", { tgtpprc: true, nocopy: true });
    await until(() => outOfSync(mirrored) === 0, "the copy of the FlashCopy's image");
    assert.is(mirrored.image.checksum("1000"), t0, "the primary reads as the source at T0");
    assert.ok(await sameOnBothSides(mirrored), "the secondary holds the source's image at T0");
    assert.is(mode(mirrored), MirrorMode.SYNC);
    assert.equal(mirrored.failures, []);
  } finally {
    await closeMirror(mirrored);
  }
});

// `writers` threads writing `count` 4 KiB blocks each into 1000 at once
// (bench/workers/mirror-writer.ts), each in tracks of its own (a writer
// never waits for another's track lock): the writes that failed.
async function concurrentWrites(mirrored: Mirror, writers: number, count: number, seed: number): Promise<number> {
  const start = new Int32Array(new SharedArrayBuffer(8));
  const threadIds = Array.from({ length: writers }, () => mirrored.image.threadIds.take());
  try {
    const workers = threadIds.map((threadId, index) => new Worker(WRITER, {
      workerData: {
        memory: mirrored.image.memory, module: mirrored.image.core.module, threadId, slot: mirrored.slot, count, seed: seed + index,
        blockSlots: (TRACKS * TRACK_SIZE) / 4096 / writers, firstBlock: (index * TRACKS * TRACK_SIZE) / 4096 / writers, start,
      } satisfies MirrorWriterData,
    }));
    const results = workers.map((worker) => new Promise<{ failed: number }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    }));
    await until(() => Atomics.load(start, 1) === writers, "every writer ready");
    Atomics.store(start, 0, 1);
    Atomics.notify(start, 0);
    const done = await Promise.all(results);
    Atomics.store(start, 0, 2);
    Atomics.notify(start, 0);
    await Promise.all(workers.map((worker) => worker.terminate()));
    return done.reduce((sum, result) => sum + result.failed, 0);
  } finally {
    for (const id of threadIds) {
      mirrored.image.core.exports.reap_thread(id);
      mirrored.image.threadIds.release(id);
    }
  }
}

Link("should send the writes of concurrent writers together: the entries an ack completed go out in one frame once their writers are back", async () => {
  const [writers, count] = [4, 40];
  // A gather gap far above any writer's way back, so that the count of frames depends on the sender alone.
  const mirrored = await mirror(0, 250);
  try {
    await until(() => outOfSync(mirrored) === 0, "the initial copy");
    const before = await mirrored.peer.ask<{ applied: number }>({ op: "counts" });
    assert.is(await concurrentWrites(mirrored, writers, count, testSeed()), 0, "no write failed");
    const frames = (await mirrored.peer.ask<{ applied: number }>({ op: "counts" })).applied - before.applied;
    // Each writer has one write in flight at a time, so a frame holds at most
    // `writers` entries, and `count` frames is the least. Without the gather
    // the frames alternated between the first writer back alone and the
    // others: about twice that.
    assert.ok(frames <= count + 2 * writers, `${writers} writers × ${count} writes went out in ${frames} frames, at most ${count + 2 * writers} expected`);
    assert.is(outOfSync(mirrored), 0);
    assert.ok(await sameOnBothSides(mirrored), "every write is on the secondary");
    assert.equal(mirrored.failures, []);
  } finally {
    await closeMirror(mirrored);
  }
});

Link("should refuse a gather gap that is not a positive number of milliseconds, before it starts a sender", () => {
  const image = new StorageImage({ model: "2107", serial: "75LINKC", workers: 0 });
  try {
    for (const gatherGapMs of [0, -1, Number.NaN, 5000]) {
      assert.throws(() => new TcpLink(image, { endpoint: { host: "127.0.0.1", port: 1 }, siteKey: SITE_KEY, nodeId: "n", secondaryImageId: SECONDARY_ID, gatherGapMs }, { copyFailed() {}, failed() {} }),
        /gatherGapMs .* is not a number of milliseconds/);
    }
  } finally {
    void image.close();
  }
});

Link("should suspend the pair when the secondary's process is killed, and go on writing locally with the tracks marked", async () => {
  const seed = testSeed();
  console.log(`# tcp-link kill seed ${seed}`);
  const random = new Random(seed);
  const mirrored = await mirror();
  try {
    await until(() => outOfSync(mirrored) === 0, "the initial copy");
    for (let index = 0; index < 20; index++) randomWrite(mirrored.image, random);
    await mirrored.peer.kill("SIGKILL");
    await until(() => !mirrored.link.isUp, "the path to fail", SUSPEND_WAIT_MS);
    assert.ok(mirrored.link.failure !== null && mirrored.link.failure.length > 0, "the failed path says why");
    mirrored.image.write("1000", 3 * TRACK_SIZE + 512, new Uint8Array(4096).fill(9));
    assert.is(mode(mirrored), MirrorMode.SUSPENDED, "the write suspended the pair");
    assert.is(mirrored.image.core.exports.pprc_cause(mirrored.slot), SuspendCause.LINK);
    assert.ok(outOfSync(mirrored) >= 1, "the written track is out of sync");
    for (let index = 0; index < 20; index++) randomWrite(mirrored.image, random);
    assert.ok(mirrored.failures.some((failure) => failure.includes("was lost")), `the host heard the link was lost: ${mirrored.failures.join("; ")}`);
  } finally {
    await closeMirror(mirrored);
  }
});

Link("should fail writes of a -critmode pair once the secondary's process is gone", async () => {
  const mirrored = await mirror(PprcFlag.CRITMODE);
  try {
    await until(() => outOfSync(mirrored) === 0, "the initial copy");
    await mirrored.peer.kill("SIGKILL");
    await until(() => !mirrored.link.isUp, "the path to fail", SUSPEND_WAIT_MS);
    assert.throws(() => mirrored.image.write("1000", 0, new Uint8Array(4096).fill(1)));
    assert.throws(() => mirrored.image.write("1000", TRACK_SIZE, new Uint8Array(4096).fill(1)), "later writes fail too");
  } finally {
    await closeMirror(mirrored);
  }
});

Link("should fail a silent (stopped) secondary within the heartbeat bound, reconnect when it wakes, and resync exactly the marked tracks", async () => {
  const seed = testSeed();
  console.log(`# tcp-link stop seed ${seed}`);
  const random = new Random(seed);
  const mirrored = await mirror();
  try {
    await until(() => outOfSync(mirrored) === 0, "the initial copy");
    mirrored.peer.child.kill("SIGSTOP");
    await until(() => !mirrored.link.isUp, "the heartbeat timeout", SUSPEND_WAIT_MS);
    mirrored.image.write("1000", 0, new Uint8Array(4096).fill(3));
    for (let index = 0; index < 10; index++) randomWrite(mirrored.image, random);
    assert.is(mode(mirrored), MirrorMode.SUSPENDED);
    const marked = outOfSync(mirrored);
    assert.ok(marked >= 1);
    mirrored.peer.child.kill("SIGCONT");
    await until(() => mirrored.link.isUp, "the sender to dial again", SUSPEND_WAIT_MS);
    const sentBefore = mirrored.image.core.exports.pprc_sent_tracks(mirrored.slot);
    assert.is(mirrored.image.core.exports.pprc_set_mode(mirrored.slot, MirrorMode.SYNC), CoreCode.OK);
    mirrored.link.setPairs([{ primarySlot: mirrored.slot, secondarySlot: mirrored.remoteSlot }]);
    await until(() => outOfSync(mirrored) === 0, "the resync");
    assert.is(mirrored.image.core.exports.pprc_sent_tracks(mirrored.slot) - sentBefore, marked, "the resync sent exactly the marked tracks");
    assert.ok(await sameOnBothSides(mirrored), `equal after the resync (seed ${seed})`);
  } finally {
    await closeMirror(mirrored);
  }
});

// A secondary's node restarted on another port (tzero serve without a fixed
// --link-listen): told the new address (mkpprcpath again, or the server at the
// node's registration), the link dials it at once, without waiting out its
// redial delay, and a resync of every track makes the volumes equal.
Link("should dial a secondary's new address as soon as it is told it, and resync to equal there", async () => {
  const seed = testSeed();
  console.log(`# tcp-link new address seed ${seed}`);
  const random = new Random(seed);
  const mirrored = await mirror();
  try {
    await until(() => outOfSync(mirrored) === 0, "the initial copy");
    await mirrored.peer.kill("SIGKILL");
    await until(() => !mirrored.link.isUp, "the path to fail", SUSPEND_WAIT_MS);
    for (let index = 0; index < 10; index++) randomWrite(mirrored.image, random);
    assert.is(mode(mirrored), MirrorMode.SUSPENDED);
    const restarted = await startPeer();
    mirrored.peer = restarted;
    const { slot } = await restarted.ask<{ slot: number }>({ op: "secondary", id: "2000", blocks: BLOCKS });
    assert.is(slot, mirrored.remoteSlot, "the restarted secondary is in the same slot");
    mirrored.link.setEndpoint({ host: "127.0.0.1", port: restarted.hello.port });
    await mirrored.link.connectedOnce();
    assert.ok(mirrored.link.isUp, `up once its first dial to the new address settled (${mirrored.link.failure})`);
    // The restarted secondary has lost its data: every track goes again.
    for (let track = 0; track < TRACKS; track++) assert.is(mirrored.image.core.exports.pprc_mark_out_of_sync(mirrored.slot, track), CoreCode.OK);
    assert.is(mirrored.image.core.exports.pprc_set_mode(mirrored.slot, MirrorMode.SYNC), CoreCode.OK);
    mirrored.link.setPairs([{ primarySlot: mirrored.slot, secondarySlot: mirrored.remoteSlot }]);
    await until(() => outOfSync(mirrored) === 0, "the resync");
    assert.ok(await sameOnBothSides(mirrored), `equal after the resync at the new address (seed ${seed})`);
  } finally {
    await closeMirror(mirrored);
  }
});

// Sends `bytes` on a raw socket and resolves once the peer has closed it.
function rawExchange(port: number, chunks: Uint8Array[]): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port }, () => { for (const chunk of chunks) socket.write(chunk); });
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    socket.on("close", () => resolve());
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
}

Link("should refuse random bytes, malformed frames, a wrong site key and bad link frames on its port, changing nothing and serving on", async () => {
  const seed = testSeed();
  console.log(`# tcp-link fuzz seed ${seed}`);
  const random = new Random(seed);
  const mirrored = await mirror();
  try {
    await until(() => outOfSync(mirrored) === 0, "the initial copy");
    const { checksum: before } = await mirrored.peer.ask<{ checksum: string }>({ op: "checksum", id: "2000" });
    const { applied } = await mirrored.peer.ask<{ applied: number }>({ op: "counts" });
    const encoder = new FrameEncoder();
    for (let round = 0; round < 12; round++) {
      const garbage = random.bytes(random.int(1, 2048));
      const frames = encoder.encode({ type: "link.apply", body: { sequence: 1, entries: [{ slot: mirrored.remoteSlot, offset: 0, length: 512 }] } }, [random.bytes(512)]);
      const hello = [...encoder.encode({ type: "wire.hello", body: { version: PROTOCOL_VERSION, node_id: "intruder", role: "link", nonce: random.bytes(32) } }), ...encoder.encode({ type: "wire.proof", body: { mac: random.bytes(32) } })];
      await rawExchange(mirrored.peer.hello.port, random.pick([[garbage], frames, hello, [...hello, ...frames]]));
    }
    await rejected(connectTcp({ port: mirrored.peer.hello.port, siteKey: OTHER_KEY, nodeId: "other-site", role: "link", messages: linkMessages }));
    const entry = (offset: number, length = 512, slot = mirrored.remoteSlot) => ({ slot, offset, length });
    const badFrames = [
      { attach: false, entries: [entry(0)], raw: 512, sequence: 1 },
      { attach: true, entries: [entry(0)], raw: 512, sequence: 2 },
      { attach: true, entries: [entry(0), entry(0, 512, 4000)], raw: 1024, sequence: 1 },
      { attach: true, entries: [entry(TRACKS * TRACK_SIZE - 256)], raw: 512, sequence: 1 },
      // The raw bytes and the entries' lengths disagree, either way.
      { attach: true, entries: [entry(0), entry(4096)], raw: 1023, sequence: 1 },
      { attach: true, entries: [entry(0)], raw: 513, sequence: 1 },
    ];
    for (const bad of badFrames) {
      const connection = await connectTcp({ port: mirrored.peer.hello.port, siteKey: SITE_KEY, nodeId: "fuzzer", role: "link", messages: linkMessages });
      if (bad.attach) await connection.request("link.attach", { primary_image_id: PRIMARY_ID, secondary_image_id: SECONDARY_ID });
      connection.send("link.apply", { sequence: bad.sequence, entries: bad.entries }, [new Uint8Array(bad.raw).fill(1)]);
      const cause = await connection.closed;
      assert.is(cause.code, "PEER_CLOSED", `the receiver closed the connection (${cause.message})`);
    }
    const attachOther = await connectTcp({ port: mirrored.peer.hello.port, siteKey: SITE_KEY, nodeId: "fuzzer", role: "link", messages: linkMessages });
    await rejected(attachOther.request("link.attach", { primary_image_id: PRIMARY_ID, secondary_image_id: "IBM.2107-75NOSUCH" }));
    await attachOther.close();
    const { checksum: after } = await mirrored.peer.ask<{ checksum: string }>({ op: "checksum", id: "2000" });
    assert.is(after, before, `nothing changed on the secondary (seed ${seed})`);
    assert.is((await mirrored.peer.ask<{ applied: number }>({ op: "counts" })).applied, applied, "no frame was applied");
    // The real link was never disturbed: it still mirrors.
    mirrored.image.write("1000", 5 * TRACK_SIZE, new Uint8Array(4096).fill(5));
    assert.is(outOfSync(mirrored), 0);
    assert.ok(await sameOnBothSides(mirrored));
  } finally {
    await closeMirror(mirrored);
  }
});

Link.run();
