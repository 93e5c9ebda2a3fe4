// Host objects in state files: volume groups and host connections, with the
// NBD endpoint each was given, saved and loaded with their image; a hosts
// record that is damaged or names what the image does not hold is refused,
// naming the field, and the running site is left as it was.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { isSiteError } from "../../src/site/errors.js";
import { temporaryDirectory, editRecord, frameOfType } from "./support.js";
import { RawClient, option, u32 } from "../hosts/raw-client.js";

const IMAGE = "IBM.2105-75TZ001";

let folder: ReturnType<typeof temporaryDirectory>;
let good: Uint8Array;

async function newSite(): Promise<EmbeddedSite> {
  const site = new EmbeddedSite({ workers: 0, log: () => undefined });
  await site.createVolumes(IMAGE, { ids: ["1000", "1001", "1002"], capacity: 2048, unit: "blocks" });
  return site;
}

const Hosts = suite("hosts in state files");
Hosts.before(async () => {
  folder = temporaryDirectory();
  const site = await newSite();
  await site.createVolumeGroup(IMAGE, { name: "prod", volumes: ["1000", "1001"] });
  await site.createVolumeGroup(IMAGE, { name: "backup", type: "scsimap256", volumes: ["1002"] });
  await site.createHostConnection(IMAGE, { name: "prod", hostType: "LinuxRHEL", volumeGroup: "V0", wwpn: "10000000C9A1B2C3", nbd: "127.0.0.1:0" });
  await site.createHostConnection(IMAGE, { name: "backup", hostType: "pSeries", volumeGroup: "V1" });
  const file = join(folder.path, "good.tzs");
  await site.save(file);
  await site.close();
  good = new Uint8Array(readFileSync(file));
});
Hosts.after(() => folder.remove());

Hosts("should load volume groups and host connections as saved, and listen again on the -nbd endpoint", async () => {
  const file = join(folder.path, "load.tzs");
  writeFileSync(file, good);
  const site = await newSite();
  try {
    await site.load(file);
    assert.equal((await site.listVolumeGroups(IMAGE)).map((group) => [group.id, group.name, group.type, group.volumes]), [
      ["V0", "prod", "scsimask", ["1000", "1001"]], ["V1", "backup", "scsimap256", ["1002"]],
    ]);
    const hosts = await site.listHostConnections(IMAGE);
    assert.equal(hosts.map((host) => [host.id, host.name, host.hostType, host.wwpn, host.volumeGroup]), [
      ["0000", "prod", "LinuxRHEL", "10000000C9A1B2C3", "V0"], ["0001", "backup", "pSeries", null, "V1"],
    ]);
    assert.is(hosts[1].nbd, null, "a host saved without an endpoint has none");
    const client = new RawClient(Number(hosts[0].nbd!.split(":")[1]));
    await client.take(18);
    client.send(Buffer.concat([u32(3), option(1, Buffer.from("1001"))]));
    assert.is((await client.take(10))!.readBigUInt64BE(0), 2048n * 512n, "the loaded endpoint serves the host's volume");
    client.close();
  } finally {
    await site.close();
  }
});

for (const [what, change, field] of [
  ["a group's volume the image does not hold", (record: Record<string, unknown>) => { (record.groups as Array<{ volumes: string[] }>)[0].volumes.push("10FF"); }, "groups[0].volumes"],
  ["a connection's group the record does not hold", (record: Record<string, unknown>) => { (record.connections as Array<{ volumeGroup: string }>)[1].volumeGroup = "V9"; }, "connections[1].volumeGroup"],
  ["a connection's name with a space", (record: Record<string, unknown>) => { (record.connections as Array<{ name: string }>)[0].name = "two words"; }, "connections[0].name"],
  ["groups that are not an array", (record: Record<string, unknown>) => { record.groups = "V0"; }, "groups"],
  ["a group of an unknown type", (record: Record<string, unknown>) => { (record.groups as Array<{ groupType: string }>)[1].groupType = "fcmap"; }, "groups[1].groupType"],
] as const) {
  Hosts(`should refuse a hosts record with ${what}, naming ${field}, and change nothing`, async () => {
    const file = join(folder.path, "bad.tzs");
    writeFileSync(file, editRecord(good, frameOfType(good, "hosts"), change));
    const site = await newSite();
    try {
      await site.createVolumeGroup(IMAGE, { name: "keep", volumes: ["1002"] });
      const refused = await site.load(file).then(() => null, (error: unknown) => error);
      assert.ok(isSiteError(refused), "the load is refused");
      assert.ok((refused as Error).message.includes(field), (refused as Error).message);
      assert.equal((await site.listVolumeGroups(IMAGE)).map((group) => group.name), ["keep"], "the running site is unchanged");
      assert.equal(await site.listHostConnections(IMAGE), []);
    } finally {
      await site.close();
    }
  });
}

Hosts.run();
