// The NBD protocol as the specification writes it (nbd's doc/proto.md):
// fixtures of the handshake and of replies written from the specification,
// then seeded fuzzing of handshakes and requests. Whatever a client sends,
// it gets a clear NBD error or a closed connection, the volume is unchanged,
// and the endpoint goes on serving other clients.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { Random, testSeed } from "../support/random.js";
import { RawClient, IHAVEOPT, option, request, u16, u32 } from "./raw-client.js";

const IMAGE = "IBM.2105-75TZ001";
const VOLUME_BYTES = 64 * 512 * 1024; // 32 MiB

let site: EmbeddedSite;
let port = 0;
let logs: string[] = [];

// Greeting, client flags (fixed newstyle, no zeroes), then NBD_OPT_EXPORT_NAME "1000": simple replies follow.
async function openSimple(client: RawClient): Promise<void> {
  await client.take(18);
  client.send(Buffer.concat([u32(3), option(1, Buffer.from("1000"))]));
  const reply = await client.take(10);
  assert.ok(reply, "the export was opened");
  assert.is(reply!.readBigUInt64BE(0), BigInt(VOLUME_BYTES));
}

// Greeting, client flags, NBD_OPT_STRUCTURED_REPLY (acknowledged), then NBD_OPT_GO "1000" (its two infos and the ack).
async function openStructured(): Promise<RawClient> {
  const client = new RawClient(port);
  await client.take(18);
  client.send(Buffer.concat([u32(3), option(8), option(7, Buffer.concat([u32(4), Buffer.from("1000"), u16(0)]))]));
  assert.is((await client.take(20))!.readUInt32BE(12), 1);
  await client.take(20 + 12);
  await client.take(20 + 14);
  await client.take(20);
  return client;
}

const Protocol = suite("NBD protocol");
Protocol.before(async () => {
  site = new EmbeddedSite({ workers: 0, log: (line) => logs.push(line) });
  await site.createVolumes(IMAGE, { ids: ["1000", "1001"], capacity: VOLUME_BYTES / 512, unit: "blocks" });
  await site.fill(IMAGE, "1000", { offset: 0, length: VOLUME_BYTES }, { kind: "pattern", seed: 11 });
  await site.createVolumeGroup(IMAGE, { name: "g", volumes: ["1000"] });
  const host = await site.createHostConnection(IMAGE, { name: "h", hostType: "LinuxRHEL", volumeGroup: "V0", nbd: "127.0.0.1:0" });
  port = Number(host.nbd!.split(":")[1]);
});
Protocol.after(() => site.close());
Protocol.before.each(() => { logs = []; });

Protocol("should greet with NBDMAGIC, IHAVEOPT and the fixed newstyle and no zeroes flags", async () => {
  const client = new RawClient(port);
  const greeting = await client.take(18);
  assert.equal([...greeting!], [...Buffer.from("NBDMAGICIHAVEOPT", "latin1"), 0x00, 0x03]);
  client.close();
});

Protocol("should answer NBD_OPT_LIST with one NBD_REP_SERVER per volume of the group, then NBD_REP_ACK", async () => {
  const client = new RawClient(port);
  await client.take(18);
  client.send(Buffer.concat([u32(3), option(3)]));
  const server = await client.take(20 + 4 + 4);
  // Reply magic 0x0003e889045565a9, option 3, NBD_REP_SERVER (2), length 8: name length 4, "1000", no details.
  assert.equal(server!.toString("hex"), "0003e889045565a9" + "00000003" + "00000002" + "00000008" + "00000004" + Buffer.from("1000").toString("hex"));
  const ack = await client.take(20);
  assert.equal(ack!.toString("hex"), "0003e889045565a9" + "00000003" + "00000001" + "00000000");
  client.send(option(2));
  assert.equal((await client.take(20))!.toString("hex"), "0003e889045565a9" + "00000002" + "00000001" + "00000000");
  await client.untilClosed();
});

Protocol("should answer NBD_OPT_GO for an unknown export with NBD_REP_ERR_UNKNOWN and let the client try again", async () => {
  const client = new RawClient(port);
  await client.take(18);
  const go = (name: string) => option(7, Buffer.concat([u32(name.length), Buffer.from(name), u16(0)]));
  client.send(Buffer.concat([u32(3), go("1001")]));
  const refused = await client.take(20);
  assert.is(refused!.readUInt32BE(12), 2 ** 31 + 6);
  await client.take(refused!.readUInt32BE(16));
  client.send(go(`${IMAGE}/1000`));
  // NBD_REP_INFO NBD_INFO_EXPORT: size and transmission flags.
  const info = await client.take(20 + 12);
  assert.is(info!.readUInt32BE(12), 3);
  assert.is(info!.readUInt16BE(20), 0);
  assert.is(info!.readBigUInt64BE(22), BigInt(VOLUME_BYTES));
  // HAS_FLAGS, SEND_FLUSH, SEND_FUA, SEND_TRIM, SEND_WRITE_ZEROES, SEND_DF, CAN_MULTI_CONN.
  assert.is(info!.readUInt16BE(30), 0x1 | 0x4 | 0x8 | 0x20 | 0x40 | 0x80 | 0x100);
  // NBD_REP_INFO NBD_INFO_BLOCK_SIZE: 512, 64 KiB, 32 MiB.
  const sizes = await client.take(20 + 14);
  assert.equal([sizes!.readUInt16BE(20), sizes!.readUInt32BE(22), sizes!.readUInt32BE(26), sizes!.readUInt32BE(30)], [3, 512, 65536, 32 * 1024 * 1024]);
  assert.is((await client.take(20))!.readUInt32BE(12), 1);
  client.send(request(2, 1n, 0n, 0));
  await client.untilClosed();
});

Protocol("should send structured replies once NBD_OPT_STRUCTURED_REPLY is acknowledged", async () => {
  const client = await openStructured();
  client.send(request(0, 0xabcdefn, 512n, 512));
  const chunk = await client.take(20 + 8 + 512);
  // Magic 0x668e33ef, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, the cookie, length 520, offset 512.
  assert.equal(chunk!.subarray(0, 20).toString("hex"), "668e33ef" + "0001" + "0001" + "0000000000abcdef" + "00000208");
  assert.is(chunk!.readBigUInt64BE(20), 512n);
  assert.ok(chunk!.subarray(28).equals(Buffer.from(await site.read(IMAGE, "1000", 512, 512))));
  client.send(request(0, 7n, 0n, 100));
  const error = await client.take(20);
  // NBD_REPLY_TYPE_ERROR with the DONE flag: the error number, then a message.
  assert.equal([error!.readUInt16BE(4), error!.readUInt16BE(6)], [1, 2 ** 15 + 1]);
  const body = await client.take(error!.readUInt32BE(16));
  assert.is(body!.readUInt32BE(0), 22);
  client.close();
});

// "Simple reply message": with structured replies negotiated, a simple reply
// MAY answer any request other than NBD_CMD_READ when it has no payload.
Protocol("should answer successful writes and flushes with simple replies even with structured replies negotiated", async () => {
  const client = await openStructured();
  const before = Buffer.from(await site.read(IMAGE, "1000", 4096, 512));
  client.send(Buffer.concat([request(1, 0x1234n, 4096n, 512), before, request(3, 0x5678n, 0n, 0)]));
  // Magic 0x67446698, error 0, the cookie: 16 bytes each, nothing after.
  assert.equal((await client.take(16))!.toString("hex"), "67446698" + "00000000" + "0000000000001234");
  assert.equal((await client.take(16))!.toString("hex"), "67446698" + "00000000" + "0000000000005678");
  client.send(request(0, 9n, 4096n, 512));
  const chunk = await client.take(20 + 8 + 512);
  assert.is(chunk!.readUInt32BE(0), 0x668e33ef, "a read still gets a structured chunk");
  assert.ok(chunk!.subarray(28).equals(before));
  client.close();
});

Protocol("should refuse bad requests with simple-reply errors and go on: unaligned, past the end, unknown", async () => {
  const client = new RawClient(port);
  await openSimple(client);
  const cases: Array<[Buffer, number]> = [
    [request(0, 1n, 100n, 512), 22],
    [request(0, 2n, BigInt(VOLUME_BYTES), 512), 22],
    [request(0, 3n, 2n ** 63n, 512), 22],
    [Buffer.concat([request(1, 4n, BigInt(VOLUME_BYTES - 512), 1024), Buffer.alloc(1024, 0xee)]), 28],
    [request(6, 5n, 0n, 100), 22],
    [request(4, 6n, 100n, 512), 22],
    [request(4, 9n, BigInt(VOLUME_BYTES), 512), 28],
    [request(5, 10n, 0n, 512), 22],
    [request(99, 7n, 0n, 0), 22],
  ];
  for (const [bytes, errno] of cases) {
    client.send(bytes);
    const reply = await client.take(16);
    assert.is(reply!.readUInt32BE(0), 0x67446698);
    assert.is(reply!.readUInt32BE(4), errno, `request type ${bytes.readUInt16BE(6)}`);
    assert.is(reply!.readBigUInt64BE(8), bytes.readBigUInt64BE(8));
  }
  client.send(request(0, 8n, 0n, 512));
  const reply = await client.take(16 + 512);
  assert.is(reply!.readUInt32BE(4), 0);
  assert.ok(reply!.subarray(16).equals(Buffer.from(await site.read(IMAGE, "1000", 0, 512))));
  client.close();
});

Protocol("should close a connection that sends a write over 32 MiB or a bad request magic, and say why", async () => {
  for (const bytes of [request(1, 1n, 0n, 64 * 1024 * 1024), Buffer.concat([u32(0x12345678), Buffer.alloc(24)])]) {
    const client = new RawClient(port);
    await openSimple(client);
    client.send(bytes);
    await client.untilClosed();
  }
  assert.ok(logs.some((line) => /more than 33554432/.test(line)), logs.join("\n"));
  assert.ok(logs.some((line) => /without the request magic/.test(line)), logs.join("\n"));
});

// One round of fuzz: a broken handshake, or a good one and then requests that
// are each wrong in some way (so none may change the volume).
function fuzzRound(random: Random): { handshake: Buffer; requests: Buffer[] } {
  const kind = random.int(0, 3);
  const good = Buffer.concat([u32(3), option(1, Buffer.from("1000"))]);
  if (kind === 0) return { handshake: Buffer.from(random.bytes(random.int(0, 64))), requests: [] };
  if (kind === 1) return { handshake: good.subarray(0, random.int(0, good.length - 1)), requests: [] };
  if (kind === 2) {
    const type = random.pick([0, 1, 3, 5, 6, 7, 8, 9, 10, 11, 99, 2 ** 31]);
    const length = random.pick([0, 1, 7, 8192, 8193, 2 ** 31, 2 ** 32 - 1]);
    const data = Buffer.from(random.bytes(Math.min(length, 9000)));
    return { handshake: Buffer.concat([u32(random.pick([0, 1, 3, 7])), IHAVEOPT, u32(type), u32(length), data]), requests: [] };
  }
  const requests: Buffer[] = [];
  for (let index = random.int(1, 20); index > 0; index--) requests.push(badRequest(random, BigInt(index)));
  return { handshake: good, requests };
}

function badRequest(random: Random, cookie: bigint): Buffer {
  const type = random.pick([0, 1, 3, 4, 6, 7, 8, 42, 65535]);
  const flaw = random.int(0, 2);
  const offset = flaw === 0 ? BigInt(random.int(1, 511)) : flaw === 1 ? BigInt(VOLUME_BYTES) + BigInt(random.int(1, 4)) * 512n : 2n ** 64n - 512n;
  const length = random.pick([512, 4096, 0, 1]);
  if (type === 3) return request(type, cookie, 0n, 0, 0); // FLUSH: harmless, and must be answered
  const header = request(type, cookie, offset, length, random.int(0, 7));
  return type === 1 ? Buffer.concat([header, Buffer.from(random.bytes(length))]) : header;
}

Protocol("should survive seeded random handshakes and requests: an NBD error or a closed connection, nothing changed", async () => {
  const seed = testSeed();
  console.log(`# NBD protocol fuzz seed ${seed} (TZERO_SEED=${seed} replays it)`);
  const random = new Random(seed);
  const before = await site.checksum(IMAGE, "1000", 0, VOLUME_BYTES);
  for (let round = 0; round < 60; round++) {
    const { handshake, requests } = fuzzRound(random);
    const client = new RawClient(port);
    assert.ok(await client.take(18), `seed ${seed} round ${round}: no greeting`);
    client.send(handshake);
    if (requests.length > 0) {
      assert.ok(await client.take(10), `seed ${seed} round ${round}: the export did not open`);
      for (const bytes of requests) {
        client.send(bytes);
        const reply = await client.take(16);
        if (reply === null) break; // closed: allowed
        assert.is(reply.readUInt32BE(0), 0x67446698, `seed ${seed} round ${round}: reply magic`);
        assert.is(reply.readBigUInt64BE(8), bytes.readBigUInt64BE(8), `seed ${seed} round ${round}: cookie`);
        const type = bytes.readUInt16BE(6);
        if (type === 3) assert.is(reply.readUInt32BE(4), 0, `seed ${seed} round ${round}: FLUSH`);
        else assert.ok([22, 28].includes(reply.readUInt32BE(4)), `seed ${seed} round ${round}: type ${type} answered ${reply.readUInt32BE(4)}`);
      }
    }
    client.socket.end();
    await client.untilClosed();
  }
  assert.is(await site.checksum(IMAGE, "1000", 0, VOLUME_BYTES), before, `seed ${seed}: the volume changed`);
  const good = new RawClient(port);
  await openSimple(good);
  good.send(request(0, 1n, 0n, 4096));
  assert.is((await good.take(16 + 4096))!.readUInt32BE(4), 0, `seed ${seed}: a good client after the fuzz`);
  good.close();
  const host = (await site.listHostConnections(IMAGE))[0];
  assert.ok(host.clients <= 1, `seed ${seed}: ${host.clients} clients still attached`);
});

Protocol.run();
