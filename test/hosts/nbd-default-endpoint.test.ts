// The default NBD endpoint (tzero serve --nbd): host connections made
// without -nbd, on every image of the node, are reached there, each host's
// exports named HOST/VOLUME on the first image and HOST/IMAGE/VOLUME on any,
// and lshostconnect shows where and how many clients are attached.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { ServeSandbox } from "../support/serve-process.js";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RawClient, option, request, u16, u32 } from "./raw-client.js";

const IMAGE = "IBM.2105-75TZ001";
const OTHER_IMAGE = "IBM.2107-75SITEB"; // added once the endpoint listens, as mksi does
const VOLUME_BYTES = 4 * 1024 * 1024;
const NBD_OPT_LIST = 3;
const NBD_OPT_GO = 7;
const NBD_REP_SERVER = 2;
const NBD_REP_ERR_UNKNOWN = 2 ** 31 + 6;
const NBD_CMD_WRITE = 1;

let site: EmbeddedSite;
let port = 0;

// NBD_OPT_LIST: the names of every NBD_REP_SERVER before the ACK.
async function listNames(client: RawClient): Promise<string[]> {
  await client.take(18);
  client.send(Buffer.concat([u32(3), option(NBD_OPT_LIST)]));
  const names: string[] = [];
  for (;;) {
    const header = (await client.take(20))!;
    const body = (await client.take(header.readUInt32BE(16)))!;
    if (header.readUInt32BE(12) !== NBD_REP_SERVER) return names;
    names.push(body.subarray(4, 4 + body.readUInt32BE(0)).toString("utf8"));
  }
}

// NBD_OPT_GO for `name`: the reply type of its first reply (NBD_REP_INFO = 3, or an error).
async function go(client: RawClient, name: string): Promise<number> {
  client.send(option(NBD_OPT_GO, Buffer.concat([u32(name.length), Buffer.from(name), u16(0)])));
  const header = (await client.take(20))!;
  await client.take(header.readUInt32BE(16));
  return header.readUInt32BE(12);
}

const Default = suite("NBD default endpoint");
Default.before(async () => {
  site = new EmbeddedSite({ workers: 0, log: () => undefined });
  await site.createVolumes(IMAGE, { ids: ["1000", "1001", "1002"], capacity: VOLUME_BYTES / 512, unit: "blocks" });
  await site.createVolumeGroup(IMAGE, { name: "prod", volumes: ["1000", "1001"] });
  await site.createVolumeGroup(IMAGE, { name: "backup", volumes: ["1002"] });
  const address = await site.startDefaultNbd("127.0.0.1:0");
  port = Number(address.split(":")[1]);
  await site.createHostConnection(IMAGE, { name: "prod", hostType: "LinuxRHEL", volumeGroup: "V0" });
});
Default.after(() => site.close());

Default("should list each host's volumes as HOST/VOLUME, and show the endpoint in lshostconnect", async () => {
  const client = new RawClient(port);
  assert.equal(await listNames(client), ["prod/1000", "prod/1001"]);
  client.close();
  const [prod] = await site.listHostConnections(IMAGE);
  assert.is(prod.nbd, `127.0.0.1:${port}/prod`);
});

Default("should open a host's volume by HOST/VOLUME and count the client on that host", async () => {
  const client = new RawClient(port);
  await client.take(18);
  client.send(u32(3));
  assert.is(await go(client, "prod/1001"), 3, "NBD_REP_INFO for prod/1001");
  await client.take(20 + 14 + 20); // NBD_INFO_BLOCK_SIZE, then the ACK
  const started = Date.now();
  while ((await site.listHostConnections(IMAGE))[0].clients !== 1) {
    assert.ok(Date.now() - started < 20_000, "the client is counted on prod within 20 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  client.close();
});

Default("should offer a host made later, and refuse a volume outside the host's group or a bare volume ID", async () => {
  await site.createHostConnection(IMAGE, { name: "backup", hostType: "LinuxRHEL", volumeGroup: "V1" });
  const lister = new RawClient(port);
  assert.equal(await listNames(lister), ["prod/1000", "prod/1001", "backup/1002"]);
  lister.close();
  const client = new RawClient(port);
  await client.take(18);
  client.send(u32(3));
  assert.is(await go(client, "backup/1000"), NBD_REP_ERR_UNKNOWN, "1000 is not in backup's group");
  assert.is(await go(client, "1002"), NBD_REP_ERR_UNKNOWN, "a bare volume ID names no host");
  client.close();
  await site.removeHostConnections(IMAGE, ["0001"]);
  const after = new RawClient(port);
  assert.equal(await listNames(after), ["prod/1000", "prod/1001"], "a removed host's exports are gone");
  after.close();
});

// NBD_OPT_GO for `name` and the rest of its replies (NBD_INFO_BLOCK_SIZE, the ACK): then the transmission phase.
async function open(client: RawClient, name: string): Promise<void> {
  await client.take(18);
  client.send(u32(3));
  assert.is(await go(client, name), 3, `NBD_REP_INFO for ${name}`);
  await client.take(20 + 14 + 20);
}

Default("should serve a host of an image added later as HOST/IMAGE/VOLUME, beside a same-named host of the first image", async () => {
  await site.addImage({ id: OTHER_IMAGE });
  await site.createVolumes(OTHER_IMAGE, { ids: ["1000"], capacity: VOLUME_BYTES / 512, unit: "blocks" });
  await site.createVolumeGroup(OTHER_IMAGE, { name: "prod", volumes: ["1000"] });
  await site.createHostConnection(OTHER_IMAGE, { name: "prod", hostType: "LinuxRHEL", volumeGroup: "V0" });
  const lister = new RawClient(port);
  assert.equal(await listNames(lister), ["prod/1000", "prod/1001", `prod/${OTHER_IMAGE}/1000`]);
  lister.close();
  assert.is((await site.listHostConnections(OTHER_IMAGE))[0].nbd, `127.0.0.1:${port}/prod/${OTHER_IMAGE}`);
  const client = new RawClient(port);
  await open(client, `prod/${OTHER_IMAGE}/1000`);
  client.send(Buffer.concat([request(NBD_CMD_WRITE, 7n, 0n, 4096), Buffer.alloc(4096, 0xab)]));
  const reply = (await client.take(16))!;
  assert.is(reply.readUInt32BE(4), 0, "the write succeeded");
  client.close();
  assert.ok((await site.read(OTHER_IMAGE, "1000", 0, 4096)).every((byte) => byte === 0xab), "the write reached the added image's volume 1000");
  assert.ok((await site.read(IMAGE, "1000", 0, 4096)).every((byte) => byte === 0), "and not the first image's volume 1000");
});

Default("should open a first-image volume by HOST/IMAGE/VOLUME too", async () => {
  const client = new RawClient(port);
  await open(client, `prod/${IMAGE}/1001`);
  client.send(Buffer.concat([request(NBD_CMD_WRITE, 8n, 4096n, 512), Buffer.alloc(512, 0xcd)]));
  assert.is((await client.take(16))!.readUInt32BE(4), 0, "the write succeeded");
  client.close();
  assert.ok((await site.read(IMAGE, "1001", 4096, 512)).every((byte) => byte === 0xcd));
});

Default("should listen again as asked after a load, with the loaded hosts", async () => {
  const file = join(tmpdir(), `tzero-default-${process.pid}.tzs`);
  try {
    await site.save(file);
    await site.load(file);
    // Port 0 was asked for: the endpoint listens on a free port again, which lshostconnect shows.
    const [prod] = await site.listHostConnections(IMAGE);
    port = Number(/^127\.0\.0\.1:(\d+)\/prod$/.exec(prod.nbd ?? "")![1]);
    const lister = new RawClient(port);
    assert.equal(await listNames(lister), ["prod/1000", "prod/1001", `prod/${OTHER_IMAGE}/1000`]);
    lister.close();
  } finally {
    rmSync(file, { force: true });
  }
});

Default("should refuse a second default endpoint on the same node", async () => {
  const refused = await site.startDefaultNbd("127.0.0.1:0").then(() => null, (error: Error) => error);
  assert.ok(refused !== null);
  assert.match(refused!.message, /already has a default NBD endpoint/);
});

Default.run();

const Serve = suite("tzero serve --nbd");

Serve("should listen for NBD where --nbd says and greet a client there", async () => {
  const sandbox = new ServeSandbox();
  try {
    const child = sandbox.start("--nbd", "127.0.0.1:0", "--server-state", sandbox.path("s"));
    const line = await child.waitFor(/NBD endpoint for host connections/);
    const address = /at (127\.0\.0\.1:\d+)/.exec(line)![1];
    const client = new RawClient(Number(address.split(":")[1]));
    assert.equal((await client.take(18))!.subarray(0, 16).toString("latin1"), "NBDMAGICIHAVEOPT");
    client.close();
  } finally {
    await sandbox.close();
  }
});

Serve.run();
