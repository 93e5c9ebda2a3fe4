// NBD I/O of host connections in the live views: rates between two samples
// of a host's totals, over a real endpoint driven by a raw NBD client.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { hostIoSampler, ratesBetween } from "../../src/lang/host-io.js";
import { hostIoLine } from "../../src/lang/plain-presenter.js";
import { RawClient, option, request, u32 } from "../hosts/raw-client.js";

const IMAGE = "IBM.2105-75TZ001";

const Rates = suite("host I/O rates");

Rates("should give IOPS, bytes per second and the mean time in the server over the interval", () => {
  const rates = ratesBetween({ ios: 100, bytes: 409_600, busyNs: 1_000_000, atMs: 1000 }, { ios: 1100, bytes: 4_505_600, busyNs: 301_000_000, atMs: 1500 });
  assert.equal(rates, { iops: 2000, bytesPerSecond: 8_192_000, meanMicros: 300 });
  assert.is(ratesBetween({ ios: 1, bytes: 1, busyNs: 1, atMs: 5 }, { ios: 1, bytes: 1, busyNs: 1, atMs: 5 }), null, "no time passed");
  assert.is(ratesBetween({ ios: 1, bytes: 0, busyNs: 9, atMs: 0 }, { ios: 1, bytes: 0, busyNs: 9, atMs: 1000 })!.meanMicros, 0, "no request, no mean");
});

Rates("should write a host's line as the plain presenter shows it", () => {
  assert.is(hostIoLine({ name: "prod", nbd: "/tmp/p.sock", clients: 1, iops: 1234.4, bytesPerSecond: 5_000_000, meanMicros: 87.25 }),
    "nbd host prod (/tmp/p.sock, 1 client): 1234 IOPS, 5.0 MB/s, mean 87.3 us in the server");
});

Rates("should sample a real endpoint: a host shows once a client is attached, with the writes it served", async () => {
  const site = new EmbeddedSite({ workers: 0, log: () => undefined });
  try {
    await site.createVolumes(IMAGE, { ids: ["1000"], capacity: 2048, unit: "blocks" });
    await site.createVolumeGroup(IMAGE, { name: "g", volumes: ["1000"] });
    const host = await site.createHostConnection(IMAGE, { name: "prod", hostType: "LinuxRHEL", volumeGroup: "V0", nbd: "127.0.0.1:0" });
    await site.createHostConnection(IMAGE, { name: "idle", hostType: "LinuxRHEL", volumeGroup: "V0" });
    let clock = 0;
    const sample = hostIoSampler(site, IMAGE, () => clock);
    assert.equal(await sample(), [], "the first sample only takes the totals");
    const client = new RawClient(Number(host.nbd!.split(":")[1]));
    await client.take(18);
    client.send(Buffer.concat([u32(3), option(1, Buffer.from("1000"))]));
    await client.take(10);
    for (let cookie = 1n; cookie <= 10n; cookie++) client.send(Buffer.concat([request(1, cookie, 0n, 4096), Buffer.alloc(4096, 7)]));
    for (let index = 0; index < 10; index++) assert.is((await client.take(16))!.readUInt32BE(4), 0);
    clock += 2000;
    const [row, ...others] = await sample();
    assert.equal(others, [], "the host without an endpoint, and none attached, is not shown");
    assert.is(row.name, "prod");
    assert.is(row.clients, 1);
    assert.is(row.iops, 5, "10 writes in 2 s");
    assert.is(row.bytesPerSecond, 20_480);
    assert.ok(row.meanMicros > 0, "the writes spent time in the server");
    client.close();
  } finally {
    await site.close();
  }
});

Rates.run();
