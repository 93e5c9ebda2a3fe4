// The NBD transmission phase over a raw socket: pipelined requests split at
// any byte are served in order (FLUSH after every write before it), and TRIM
// and WRITE_ZEROES make their range read as zeros while giving whole extents
// back to the pool, with a FlashCopy source's T0 data kept for its target.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type Socket } from "node:net";
import { EmbeddedSite } from "../../src/site/embedded.js";
import type { NbdExport } from "../../src/hosts/nbd-handshake.js";
import { Transmission as NbdTransmission, type TransmissionCounters, type VolumeIo } from "../../src/hosts/nbd-transmission.js";
import { SocketReader } from "../../src/hosts/socket-reader.js";
import { Random, testSeed } from "../support/random.js";
import { RawClient, checkReplies, openExport, request } from "./raw-client.js";
import { NBD_CMD_READ, NBD_CMD_WRITE, NBD_CMD_FLUSH, NBD_CMD_TRIM, NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_NO_HOLE } from "../../src/hosts/nbd-constants.js";

const IMAGE = "IBM.2105-75TZ001";
const MIB = 1024 * 1024;
const VOLUME_BYTES = 8 * MIB;

let site: EmbeddedSite;
let port = 0;

const open = (volume: string) => openExport(port, volume);

const write = (cookie: bigint, offset: number, bytes: Buffer) => Buffer.concat([request(NBD_CMD_WRITE, cookie, BigInt(offset), bytes.length), bytes]);
const command = (type: number, cookie: bigint, offset: number, length: number, flags = 0) => request(type, cookie, BigInt(offset), length, flags);

// The next simple reply: its error and cookie.
async function reply(client: RawClient): Promise<{ error: number; cookie: bigint }> {
  const bytes = await client.take(16);
  assert.ok(bytes, "a reply before the connection closed");
  assert.is(bytes!.readUInt32BE(0), 0x67446698, "simple reply magic");
  return { error: bytes!.readUInt32BE(4), cookie: bytes!.readBigUInt64BE(8) };
}

async function allocated(volume: string): Promise<{ volume: number; pool: number }> {
  const detail = await site.volume(IMAGE, volume);
  const pool = (await site.listPools(IMAGE)).find((candidate) => candidate.id === detail.pool)!;
  return { volume: detail.allocatedBytes, pool: pool.allocatedExtents };
}

const Transmission = suite("NBD transmission");
Transmission.before(async () => {
  site = new EmbeddedSite({ workers: 0 });
  await site.createVolumes(IMAGE, { ids: ["1000", "1001", "1002"], capacity: VOLUME_BYTES / 512, unit: "blocks" });
  await site.createVolumeGroup(IMAGE, { name: "g", volumes: ["1000", "1001", "1002"] });
  const host = await site.createHostConnection(IMAGE, { name: "h", hostType: "LinuxRHEL", volumeGroup: "V0", nbd: "127.0.0.1:0" });
  port = Number(host.nbd!.split(":")[1]);
});
Transmission.after(() => site.close());

Transmission("should serve pipelined requests split at random bytes in order, FLUSH after the writes before it", async () => {
  const seed = testSeed();
  console.log(`# NBD split requests seed ${seed} (TZERO_SEED=${seed} replays it)`);
  const random = new Random(seed);
  const client = await open("1000");
  const first = Buffer.from(random.bytes(4096));
  const second = Buffer.from(random.bytes(70_000 - 70_000 % 512));
  // Larger than the payload buffer a connection keeps for split writes: one of its own.
  const third = Buffer.from(random.bytes(300 * 1024));
  const stream = Buffer.concat([
    write(1n, 0, first), write(2n, MIB - 4096, second), command(NBD_CMD_FLUSH, 3n, 0, 0),
    command(NBD_CMD_READ, 4n, MIB - 4096, second.length), command(NBD_CMD_READ, 5n, 0, 4096),
    write(6n, 3 * MIB, third), write(7n, 4096, second), command(NBD_CMD_READ, 8n, 3 * MIB, third.length), command(NBD_CMD_READ, 9n, 4096, second.length),
  ]);
  // Slices of 1 byte to 100 KiB, each sent on its own: headers and payloads split anywhere.
  for (let at = 0; at < stream.length;) {
    const count = Math.min(stream.length - at, random.pick([1, 3, 27, 28, 29, 4096, 65536, 100_000]));
    client.send(stream.subarray(at, at + count));
    at += count;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(await reply(client), { error: 0, cookie: 1n }, `seed ${seed}: the first write's reply comes first`);
  assert.equal(await reply(client), { error: 0, cookie: 2n }, `seed ${seed}: then the second write's`);
  assert.equal(await reply(client), { error: 0, cookie: 3n }, `seed ${seed}: then the FLUSH, after both writes`);
  assert.ok(Buffer.from(await site.read(IMAGE, "1000", 0, 4096)).equals(first), `seed ${seed}: the first write is in the volume once FLUSH is answered`);
  assert.ok(Buffer.from(await site.read(IMAGE, "1000", MIB - 4096, second.length)).equals(second), `seed ${seed}: and the second`);
  assert.equal(await reply(client), { error: 0, cookie: 4n });
  assert.ok((await client.take(second.length))!.equals(second), `seed ${seed}: the read after the FLUSH returns the second write`);
  assert.equal(await reply(client), { error: 0, cookie: 5n });
  assert.ok((await client.take(4096))!.equals(first), `seed ${seed}: the read returns the first write`);
  assert.equal(await reply(client), { error: 0, cookie: 6n });
  assert.equal(await reply(client), { error: 0, cookie: 7n });
  assert.equal(await reply(client), { error: 0, cookie: 8n });
  assert.ok((await client.take(third.length))!.equals(third), `seed ${seed}: a split write larger than the kept payload buffer reads back`);
  assert.equal(await reply(client), { error: 0, cookie: 9n });
  assert.ok((await client.take(second.length))!.equals(second), `seed ${seed}: and the split write after it, through the kept buffer again`);
  client.close();
});

// One endpoint thread reads every connection into the same receive buffer:
// what one chunk leaves split (a header, a payload) must be the connection's
// own copy before the other connection's next read lands there.
Transmission("should serve two connections' pipelined requests, split at random bytes and interleaved, each in order", async () => {
  const seed = testSeed();
  console.log(`# NBD interleaved connections seed ${seed} (TZERO_SEED=${seed} replays it)`);
  const random = new Random(seed);
  const clients = [await open("1000"), await open("1002")];
  // Per connection: 64 writes of 4 KiB to 64 KiB, then one 2 MiB read of them (larger than the core's part of staging) and one more write.
  const expected = clients.map(() => Buffer.from(random.bytes(2 * MIB)));
  const streams = expected.map((bytes) => {
    const requests: Buffer[] = [];
    for (let at = 0, cookie = 1; at < bytes.length; cookie++) {
      const length = Math.min(bytes.length - at, 4096 * random.int(1, 16));
      requests.push(write(BigInt(cookie), at, bytes.subarray(at, at + length)));
      at += length;
    }
    requests.push(command(NBD_CMD_READ, 1000n, 0, bytes.length), write(1001n, 4 * MIB, bytes.subarray(0, 4096)));
    return { bytes: Buffer.concat(requests), sent: 0, replies: requests.length };
  });
  while (streams.some((stream) => stream.sent < stream.bytes.length)) {
    const index = random.int(0, 1);
    const stream = streams[index];
    const count = Math.min(stream.bytes.length - stream.sent, random.pick([1, 13, 28, 100, 4096, 40_000]));
    clients[index].send(stream.bytes.subarray(stream.sent, stream.sent + count));
    stream.sent += count;
    if (random.int(0, 3) === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  for (const [index, client] of clients.entries()) {
    for (let cookie = 1; cookie < streams[index].replies - 1; cookie++) {
      assert.equal(await reply(client), { error: 0, cookie: BigInt(cookie) }, `seed ${seed}: connection ${index}'s write ${cookie}`);
    }
    assert.equal(await reply(client), { error: 0, cookie: 1000n }, `seed ${seed}: connection ${index}'s read`);
    assert.ok((await client.take(2 * MIB))!.equals(expected[index]), `seed ${seed}: connection ${index} reads back what it wrote`);
    assert.equal(await reply(client), { error: 0, cookie: 1001n }, `seed ${seed}: connection ${index}'s write after the read`);
    client.close();
  }
  assert.ok(Buffer.from(await site.read(IMAGE, "1000", 0, 2 * MIB)).equals(expected[0]), `seed ${seed}: volume 1000 holds the first connection's bytes`);
  assert.ok(Buffer.from(await site.read(IMAGE, "1002", 4 * MIB, 4096)).equals(expected[1].subarray(0, 4096)), `seed ${seed}: volume 1002 the second's`);
});

Transmission("should release whole extents on TRIM, lowering the pool's allocation, and zero the partial ones", async () => {
  await site.fill(IMAGE, "1001", { offset: 0, length: VOLUME_BYTES }, { kind: "byte", value: 0x5a });
  const before = await allocated("1001");
  assert.is(before.volume, VOLUME_BYTES);
  const client = await open("1001");
  // From 512 KiB to 3.5 MiB: extents 1 and 2 are whole, 0 and 3 are half trimmed.
  client.send(command(NBD_CMD_TRIM, 1n, MIB / 2, 3 * MIB));
  assert.equal(await reply(client), { error: 0, cookie: 1n });
  const after = await allocated("1001");
  assert.is(after.volume, VOLUME_BYTES - 2 * MIB, "two whole extents released");
  assert.is(after.pool, before.pool - 2, "the pool's allocation went down by two extents");
  const data = Buffer.from(await site.read(IMAGE, "1001", 0, 4 * MIB));
  assert.ok(data.subarray(0, MIB / 2).every((byte) => byte === 0x5a), "the bytes before the range are kept");
  assert.ok(data.subarray(MIB / 2, 3.5 * MIB).every((byte) => byte === 0), "the range reads as zeros");
  assert.ok(data.subarray(3.5 * MIB).every((byte) => byte === 0x5a), "the bytes after the range are kept");
  client.close();
});

Transmission("should release on WRITE_ZEROES, and keep the allocation with NO_HOLE", async () => {
  await site.fill(IMAGE, "1001", { offset: 0, length: VOLUME_BYTES }, { kind: "byte", value: 0x33 });
  const client = await open("1001");
  client.send(command(NBD_CMD_WRITE_ZEROES, 1n, 4 * MIB, 2 * MIB, NBD_CMD_FLAG_NO_HOLE));
  assert.equal(await reply(client), { error: 0, cookie: 1n });
  assert.is((await allocated("1001")).volume, VOLUME_BYTES, "NO_HOLE: nothing released");
  client.send(command(NBD_CMD_WRITE_ZEROES, 2n, 0, 2 * MIB));
  assert.equal(await reply(client), { error: 0, cookie: 2n });
  assert.is((await allocated("1001")).volume, VOLUME_BYTES - 2 * MIB, "without NO_HOLE: two extents released");
  const data = Buffer.from(await site.read(IMAGE, "1001", 0, VOLUME_BYTES));
  assert.ok(data.subarray(0, 2 * MIB).every((byte) => byte === 0));
  assert.ok(data.subarray(2 * MIB, 4 * MIB).every((byte) => byte === 0x33));
  assert.ok(data.subarray(4 * MIB, 6 * MIB).every((byte) => byte === 0));
  assert.ok(data.subarray(6 * MIB).every((byte) => byte === 0x33));
  client.close();
});

Transmission("should copy a -nocp source's T0 data to its target before a TRIM releases it", async () => {
  await site.fill(IMAGE, "1000", { offset: 0, length: VOLUME_BYTES }, { kind: "pattern", seed: 21 });
  const t0 = await site.checksum(IMAGE, "1000", 0, VOLUME_BYTES);
  await site.establishFlash(IMAGE, { pairs: [["1000", "1002"]], options: { nocopy: true } });
  const client = await open("1000");
  client.send(command(NBD_CMD_TRIM, 1n, 0, VOLUME_BYTES));
  assert.equal(await reply(client), { error: 0, cookie: 1n });
  assert.is((await allocated("1000")).volume, 0, "every extent of the source released");
  assert.is(await site.checksum(IMAGE, "1002", 0, VOLUME_BYTES), t0, "the target still reads as the source at T0");
  assert.is((await site.listFlash(IMAGE))[0].pendingTracks, 0, "every track was copied before its release");
  assert.ok((await site.read(IMAGE, "1000", 0, VOLUME_BYTES)).every((byte) => byte === 0), "the source reads as zeros");
  // A trim of the target: its own bytes are released, and it reads as zeros.
  const target = await open("1002");
  target.send(command(NBD_CMD_TRIM, 2n, 0, VOLUME_BYTES));
  assert.equal(await reply(target), { error: 0, cookie: 2n });
  assert.is((await allocated("1002")).volume, 0, "every extent of the target released");
  assert.ok((await site.read(IMAGE, "1002", 0, VOLUME_BYTES)).every((byte) => byte === 0), "the target reads as zeros");
  await site.withdrawFlash(IMAGE, ["1000:1002"]);
  client.close();
  target.close();
});

Transmission("should refuse a TRIM of a -tgtinhibit target with EPERM, changing nothing", async () => {
  await site.fill(IMAGE, "1001", { offset: 0, length: VOLUME_BYTES }, { kind: "byte", value: 0x44 });
  await site.establishFlash(IMAGE, { pairs: [["1001", "1002"]], options: { nocopy: true, tgtinhibit: true } });
  const client = await open("1002");
  client.send(command(NBD_CMD_TRIM, 1n, 0, VOLUME_BYTES));
  assert.equal(await reply(client), { error: 1, cookie: 1n });
  assert.is((await site.listFlash(IMAGE))[0].pendingTracks, VOLUME_BYTES / 65536, "no pending track settled");
  assert.ok((await site.read(IMAGE, "1002", 0, VOLUME_BYTES)).every((byte) => byte === 0x44), "the target still reads the source's T0 data");
  await site.withdrawFlash(IMAGE, ["1001:1002"]);
  client.close();
});

Transmission.run();

// The transmission alone, over a loopback socket, on a volume in a Buffer:
// once reading 'data' events (no receive buffer) and once into a small
// receive buffer of its own, which most requests overrun, so that headers and
// payloads split across reads must be kept before the next read lands.
const VOLUME: NbdExport = { name: "1000", fullName: "IBM.2105-75TZ001/1000", imageId: IMAGE, description: "", slot: 0, sizeBytes: MIB, readOnly: false, stats: new SharedArrayBuffer(48) };

function bufferIo(receiveBuffer: Buffer | null): VolumeIo & { bytes: Buffer } {
  const bytes = Buffer.alloc(VOLUME.sizeBytes);
  return {
    bytes, receiveBuffer,
    read: (_volume, offset, length, into) => { bytes.copy(into, 0, offset, offset + length); return 0; },
    write: (_volume, offset, data) => { data.copy(bytes, offset); return 0; },
    zero: (_volume, offset, length) => { bytes.fill(0, offset, offset + length); return 0; },
    trim: (_volume, offset, length) => { bytes.fill(0, offset, offset + length); return 0; },
    errorOf: () => 5,
  };
}

// A server whose one connection is served by a Transmission on `io`; `served` settles as serve() does.
async function serveOne(
  io: VolumeIo, counters: TransmissionCounters = { served: () => undefined, queued: () => undefined }, queuedReplyBytesMax?: number,
): Promise<{ client: RawClient; served: Promise<Error | null>; close: () => void }> {
  let settle: (outcome: Error | null) => void = () => undefined;
  const served = new Promise<Error | null>((resolve) => { settle = resolve; });
  const server = createServer((socket: Socket) => {
    const reader = new SocketReader(socket, 64 * MIB);
    const transmission = new NbdTransmission(socket, reader, { volume: VOLUME, structured: false, noZeroes: true }, io, counters, queuedReplyBytesMax);
    transmission.serve().then(() => settle(null), (error: Error) => settle(error)).finally(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = new RawClient((server.address() as { port: number }).port);
  return { client, served, close: () => server.close() };
}

const Receive = suite("NBD transmission receive paths");
for (const [mode, receiveBuffer] of [["'data' events", null], ["a 6000-byte receive buffer", Buffer.alloc(6000)]] as const) {
  Receive(`should answer many requests of one chunk and requests split across chunks in order, reading ${mode}`, async () => {
    const seed = testSeed();
    console.log(`# NBD receive paths (${mode}) seed ${seed} (TZERO_SEED=${seed} replays it)`);
    const random = new Random(seed);
    const io = bufferIo(receiveBuffer);
    const { client, served, close } = await serveOne(io);
    const expected = Buffer.alloc(VOLUME.sizeBytes);
    const requests: Buffer[] = [];
    const reads: Array<{ cookie: bigint; bytes: Buffer }> = [];
    for (let cookie = 1n; cookie <= 200n; cookie++) {
      const offset = 512 * random.int(0, VOLUME.sizeBytes / 512 - 32);
      const length = 512 * random.int(1, 32);
      if (random.int(0, 4) === 0) {
        requests.push(command(NBD_CMD_READ, cookie, offset, length));
        reads.push({ cookie, bytes: Buffer.from(expected.subarray(offset, offset + length)) });
      } else {
        const bytes = Buffer.from(random.bytes(length));
        requests.push(write(cookie, offset, bytes));
        bytes.copy(expected, offset);
      }
    }
    // Tiny pieces, whole requests and runs of many at once.
    const stream = Buffer.concat([...requests, command(2, 0n, 0, 0)]);
    for (let at = 0; at < stream.length;) {
      const count = Math.min(stream.length - at, random.pick([1, 27, 29, 600, 5000, 40_000]));
      client.send(stream.subarray(at, at + count));
      at += count;
      if (random.int(0, 2) === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    for (let cookie = 1n; cookie <= 200n; cookie++) {
      assert.equal(await reply(client), { error: 0, cookie }, `seed ${seed}: reply ${cookie} in order`);
      const read = reads.find((candidate) => candidate.cookie === cookie);
      if (read !== undefined) assert.ok((await client.take(read.bytes.length))!.equals(read.bytes), `seed ${seed}: read ${cookie} returns the writes before it`);
    }
    assert.is(await served, null, "NBD_CMD_DISC ends the transmission");
    assert.ok(io.bytes.equals(expected), `seed ${seed}: the volume holds every write`);
    close();
  });
}

// A client that sends reads and does not read their replies: the replies
// queued for it stay under the bound, or at one reply larger than the bound
// (served alone), and the requests behind them wait; once it reads, every
// reply comes, in order, with its bytes.
for (const [mode, receiveBuffer] of [["'data' events", null], ["a 6000-byte receive buffer", Buffer.alloc(6000)]] as const) {
  Receive(`should bound the replies queued for a client that does not read them, a read larger than the bound served alone, reading ${mode}`, async () => {
    const bound = 256 * 1024;
    const io = bufferIo(receiveBuffer);
    for (let at = 0; at < io.bytes.length; at += 4) io.bytes.writeUInt32BE(at, at);
    let peak = 0;
    let servedRequests = 0;
    const { client, served, close } = await serveOne(io, { served: (requests) => { servedRequests += requests; }, queued: (bytes) => { peak = bytes; } }, bound);
    try {
      await new Promise((resolve) => client.socket.once("connect", resolve));
      const socket = client.release();
      // Per round: three 64 KiB reads (three fit under the bound), a read of the whole 1 MiB volume (larger than it), a 4 KiB write.
      const requests: Buffer[] = [];
      const expected: Array<{ cookie: bigint; data: Buffer | null }> = [];
      for (let round = 0, cookie = 1n; round < 16; round++) {
        for (const [offset, length] of [[round * 65536, 65536], [0, 65536], [512 * 1024, 65536], [0, MIB]]) {
          requests.push(command(NBD_CMD_READ, cookie, offset, length));
          expected.push({ cookie: cookie++, data: io.bytes.subarray(offset, offset + length) });
        }
        const bytes = Buffer.from(io.bytes.subarray(MIB - 4096));
        requests.push(write(cookie, MIB - 4096, bytes));
        expected.push({ cookie: cookie++, data: null });
      }
      const total = expected.length;
      const replyBytes = expected.reduce((sum, reply) => sum + 16 + (reply.data?.length ?? 0), 0);
      socket.write(Buffer.concat(requests));
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.ok(servedRequests < total, `${servedRequests} of ${total} requests served while the client read nothing: the rest wait`);
      assert.ok(peak > 0 && peak <= 16 + MIB, `at most one 1 MiB reply (or ${bound} bytes of smaller ones) queued, not ${peak} of the ${replyBytes} asked`);
      await checkReplies(socket, expected);
      assert.is(servedRequests, total, "every request served once the client read");
      assert.ok(peak <= 16 + MIB, `at most one 1 MiB reply queued while the client read, not ${peak}`);
      socket.end(command(2, 0n, 0, 0));
      assert.is(await served, null, "NBD_CMD_DISC ends the transmission");
    } finally {
      client.close();
      close();
    }
  });
}

Receive("should read a large write's payload straight into its buffer, past the receive buffer, and write it whole", async () => {
  const receiveBuffer = Buffer.alloc(6000);
  const io = bufferIo(receiveBuffer);
  const { client, close } = await serveOne(io);
  try {
    const payload = Buffer.alloc(MIB - 64 * 1024);
    for (let at = 0; at < payload.length; at += 4) payload.writeUInt32BE(at ^ 0x5a5a5a5a, at);
    client.send(write(1n, 64 * 1024, payload));
    assert.equal(await reply(client), { error: 0, cookie: 1n });
    assert.ok(io.bytes.subarray(64 * 1024).equals(payload), "the volume holds the payload");
    // Gathered from chunks, the payload's last bytes would be the receive buffer's last read.
    assert.is(receiveBuffer.indexOf(payload.subarray(payload.length - 512)), -1, "the payload's end never passed through the receive buffer");
    assert.is(receiveBuffer.indexOf(payload.subarray(0, 64)), 28, "its start did, after the header, in the first read");
  } finally {
    client.close();
    close();
  }
});

Receive("should stop at a disconnect in the middle of a batch, having served a prefix of its writes in order", async () => {
  const io = bufferIo(Buffer.alloc(64 * 1024));
  const { client, served, close } = await serveOne(io);
  const requests: Buffer[] = [];
  for (let index = 0; index < 500; index++) requests.push(write(BigInt(index), 512 * index, Buffer.alloc(512, (index % 255) + 1)));
  // Connected first: a client destroyed before that would never reach the server.
  await new Promise((resolve) => client.socket.once("connect", resolve));
  client.send(Buffer.concat(requests));
  client.close();
  const outcome = await served;
  assert.instance(outcome, Error);
  assert.is((outcome as Error & { code?: string }).code, "CONNECTION_CLOSED");
  // Every block is either its write's byte or, after the first one not yet served, zero.
  let prefix = 0;
  while (prefix < 500 && io.bytes[512 * prefix] === (prefix % 255) + 1) prefix++;
  for (let index = prefix; index < 500; index++) assert.is(io.bytes[512 * index], 0, `block ${index} after the served prefix of ${prefix} is untouched`);
  close();
});

Receive.run();
