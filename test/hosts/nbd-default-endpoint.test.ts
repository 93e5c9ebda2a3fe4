// The default NBD endpoint (tzero serve --nbd): host connections made
// without -nbd are reached there, each host's exports named HOST/VOLUME, and
// lshostconnect shows where and how many clients are attached.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { ServeSandbox } from "../support/serve-process.js";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RawClient, option, u16, u32 } from "./raw-client.js";

const IMAGE = "IBM.2105-75TZ001";
const VOLUME_BYTES = 4 * 1024 * 1024;
const NBD_OPT_LIST = 3;
const NBD_OPT_GO = 7;
const NBD_REP_SERVER = 2;
const NBD_REP_ERR_UNKNOWN = 2 ** 31 + 6;

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
  const address = await site.startDefaultNbd(IMAGE, "127.0.0.1:0");
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

Default("should listen again as asked after a load, with the loaded hosts", async () => {
  const file = join(tmpdir(), `tzero-default-${process.pid}.tzs`);
  try {
    await site.save(file);
    await site.load(file);
    // Port 0 was asked for: the endpoint listens on a free port again, which lshostconnect shows.
    const [prod] = await site.listHostConnections(IMAGE);
    port = Number(/^127\.0\.0\.1:(\d+)\/prod$/.exec(prod.nbd ?? "")![1]);
    const lister = new RawClient(port);
    assert.equal(await listNames(lister), ["prod/1000", "prod/1001"]);
    lister.close();
  } finally {
    rmSync(file, { force: true });
  }
});

Default("should refuse a second default endpoint on the same image", async () => {
  const refused = await site.startDefaultNbd(IMAGE, "127.0.0.1:0").then(() => null, (error: Error) => error);
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
