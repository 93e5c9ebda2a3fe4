// The replies an NBD endpoint queues for a client that sends many large
// READs (32 MiB each, the advertised maximum) and reads nothing: they stay
// under the endpoint's bound (QUEUED_REPLY_BYTES_MAX) instead of growing with
// the requests, the endpoint stops reading that connection meanwhile, another
// connection is served as usual, and once the client reads, every reply comes
// in order with its bytes.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { QUEUED_REPLY_BYTES_MAX } from "../../src/hosts/nbd-transmission.js";
import { PAYLOAD_MAX_BYTES, NBD_CMD_READ, NBD_CMD_WRITE } from "../../src/hosts/nbd-constants.js";
import { checkReplies, openExport, request } from "./raw-client.js";

const IMAGE = "IBM.2105-75TZ001";
const MIB = 1024 * 1024;
// 768 MiB of replies asked at once: twelve times the bound.
const READS = 24;
const CHECK_TIMEOUT_MS = 120_000;

let site: EmbeddedSite;
let port = 0;

const open = (volume: string) => openExport(port, volume);

async function host(): Promise<{ ios: number; queuedPeakBytes: number }> {
  return (await site.listHostConnections(IMAGE))[0];
}

const Bounded = suite("NBD replies queued for a client that does not read");
Bounded.before(async () => {
  site = new EmbeddedSite({ workers: 0 });
  await site.createVolumes(IMAGE, { ids: ["1000", "1001"], capacity: PAYLOAD_MAX_BYTES / 512, unit: "blocks" });
  await site.createVolumeGroup(IMAGE, { name: "g", volumes: ["1000", "1001"] });
  const created = await site.createHostConnection(IMAGE, { name: "h", hostType: "LinuxRHEL", volumeGroup: "V0", nbd: "127.0.0.1:0" });
  port = Number(created.nbd!.split(":")[1]);
});
Bounded.after(() => site.close());

Bounded(`should keep at most two 32 MiB replies queued for ${READS} READs of 32 MiB not read, serve another connection meanwhile, then send them all`, async () => {
  await site.fill(IMAGE, "1000", { offset: 0, length: PAYLOAD_MAX_BYTES }, { kind: "pattern", seed: 15 });
  const volume = Buffer.from(await site.read(IMAGE, "1000", 0, PAYLOAD_MAX_BYTES));
  const reader = await open("1000");
  const other = await open("1001");
  const socket = reader.release();
  try {
    const expected = Array.from({ length: READS }, (_, index) => ({ cookie: BigInt(index + 1), data: volume }));
    socket.write(Buffer.concat(expected.map(({ cookie }) => request(NBD_CMD_READ, cookie, 0n, PAYLOAD_MAX_BYTES))));
    // Until the endpoint stops taking them (the kernel's socket buffers hold a few MiB of what it sent).
    let before = -1;
    for (let polls = 0; polls < 100; polls++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const { ios } = await host();
      if (ios > 0 && ios === before) break;
      before = ios;
    }
    const stuck = await host();
    console.log(`# ${stuck.ios} of ${READS} READs served, ${stuck.queuedPeakBytes} reply bytes queued at most`);
    assert.ok(stuck.ios < READS, `${stuck.ios} of ${READS} READs served while the client read nothing`);
    assert.ok(stuck.queuedPeakBytes > 0 && stuck.queuedPeakBytes <= QUEUED_REPLY_BYTES_MAX, `${stuck.queuedPeakBytes} reply bytes queued at most, under ${QUEUED_REPLY_BYTES_MAX}`);
    // The endpoint's thread still serves the other connection.
    const bytes = Buffer.alloc(4096, 0x6e);
    other.send(Buffer.concat([request(NBD_CMD_WRITE, 1n, 0n, bytes.length), bytes, request(NBD_CMD_READ, 2n, 0n, bytes.length)]));
    await checkReplies(other.release(), [{ cookie: 1n, data: null }, { cookie: 2n, data: bytes }]);
    assert.ok((await host()).ios < READS + 2, "the stuck connection is still stuck");
    await checkReplies(socket, expected, CHECK_TIMEOUT_MS);
    const after = await host();
    assert.is(after.ios, READS + 2, "every READ served once the client read, and the other connection's two requests");
    assert.ok(after.queuedPeakBytes <= QUEUED_REPLY_BYTES_MAX, `${after.queuedPeakBytes} reply bytes queued at most while the client read`);
  } finally {
    reader.close();
    other.close();
  }
});

Bounded.run();
