// The Site interface's own promises, on every kind of site: a command of
// several items is one call, checked whole (a refusal names the item and
// changes nothing); what crosses is plain data; events arrive as records.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { SiteError } from "../../src/site/errors.js";
import { refusal } from "../support/refusal.js";
import { checkPlain } from "../../src/site/serialized.js";
import { EMBEDDED_IMAGE_ID } from "../../src/site/embedded.js";
import type { Site } from "../../src/site/site.js";
import type { SiteEvent } from "../../src/site/types.js";
import { SITE_FACTORIES, makeSite } from "../support/sites.js";

const IMAGE = EMBEDDED_IMAGE_ID;
const TRACK_BLOCKS = 128;

async function withVolumes(site: Site, ids: string[]): Promise<void> {
  await site.createVolumes(IMAGE, { ids, capacity: 4 * TRACK_BLOCKS, unit: "blocks" });
}

for (const factory of SITE_FACTORIES) {
  const Whole = suite(`${factory.name} site: a command is one call`);
  let site: Site;
  Whole.before.each(async () => {
    site = await makeSite(factory, { workers: 0 });
  });
  Whole.after.each(() => site.close());

  Whole("should refuse a mkflash whose second pair breaks a rule, naming that pair, and establish neither", async () => {
    await withVolumes(site, ["1000", "1001", "1002"]);
    const error = await refusal(site.establishFlash(IMAGE, { pairs: [["1000", "1001"], ["1002", "1002"]], options: {} }));
    assert.is(error.code, "SOURCE_EQUALS_TARGET");
    assert.is(error.item, 1);
    assert.equal(await site.listFlash(IMAGE), []);
  });

  Whole("should count the pairs before it in the same command against a 2105's one-relationship rule", async () => {
    await withVolumes(site, ["1000", "1001", "1002"]);
    const error = await refusal(site.establishFlash(IMAGE, { pairs: [["1000", "1001"], ["1000", "1002"]], options: {} }));
    assert.is(error.code, "VOLUME_IN_RELATIONSHIP");
    assert.is(error.item, 1);
    assert.equal(await site.listFlash(IMAGE), []);
  });

  Whole("should refuse a volume given twice in one mkfbvol and create none", async () => {
    const error = await refusal(site.createVolumes(IMAGE, { ids: ["1000", "1001", "1000"], capacity: 1, unit: "ds" }));
    assert.is(error.code, "VOLUME_EXISTS");
    assert.is(error.item, 2);
    assert.equal(await site.listVolumes(IMAGE), []);
  });

  Whole("should blame an unknown -extpool on the option", async () => {
    const error = await refusal(site.createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "ds", pool: "P9" }));
    assert.is(error.option, "extpool");
    assert.is(error.item, undefined);
  });

  Whole("should withdraw no pair of an rmflash that names one that does not exist", async () => {
    await withVolumes(site, ["1000", "1001", "1002", "1003"]);
    await site.establishFlash(IMAGE, { pairs: [["1000", "1001"]], options: { nocopy: true } });
    const error = await refusal(site.withdrawFlash(IMAGE, ["1000:1001", "1002:1003"]));
    assert.is(error.code, "RELATIONSHIP_NOT_FOUND");
    assert.is(error.item, 1);
    assert.equal((await site.listFlash(IMAGE)).map((relationship) => relationship.id), ["1000:1001"]);
  });

  Whole("should give back the bytes written, as bytes", async () => {
    await withVolumes(site, ["1000"]);
    await site.write(IMAGE, "1000", 512, new Uint8Array([1, 2, 3]));
    const bytes = await site.read(IMAGE, "1000", 511, 5);
    assert.ok(bytes instanceof Uint8Array);
    assert.equal([...bytes], [0, 1, 2, 3, 0]);
  });

  Whole("should carry a volume's records as plain data", async () => {
    await withVolumes(site, ["1000"]);
    const [volume] = await site.listVolumes(IMAGE);
    checkPlain(volume);
    assert.is(volume.id, "1000");
    assert.is(typeof volume.createdAtMs, "number");
  });
  Whole.run();

  const Events = suite(`${factory.name} site: events`);
  Events("should tell a subscriber that a background copy completed, in a plain record", async () => {
    const copying = await makeSite(factory, { workers: 1 });
    const events: SiteEvent[] = [];
    const unsubscribe = copying.events((event) => events.push(event));
    try {
      await withVolumes(copying, ["1000", "1001"]);
      await copying.establishFlash(IMAGE, { pairs: [["1000", "1001"]], options: {} });
      await copying.waitForCopy(IMAGE, ["1000:1001"], { timeoutMs: 60_000 });
      const copied = events.find((event) => event.type === "flash-copied");
      assert.ok(copied, JSON.stringify(events));
      assert.equal({ ...copied, createdAtMs: 0, syncedAtMs: 0 }, {
        type: "flash-copied", imageId: IMAGE, id: "1000:1001", trackCount: 4, createdAtMs: 0, syncedAtMs: 0,
      });
      for (const event of events) checkPlain(event);
    } finally {
      unsubscribe();
      await copying.close();
    }
  });
  Events.run();
}

const Plain = suite("plain data");
Plain("should accept records, lists, text, numbers, booleans, null and bytes", () => {
  checkPlain({ id: "1000", sizes: [1, 2 ** 53 - 1], ok: true, none: null, gone: undefined, bytes: new Uint8Array(2), nested: { deep: [{}] } });
});
Plain("should refuse what would not cross a wire as it is, naming where it is", () => {
  assert.throws(() => checkPlain({ volume: { createdAt: new Date(0) } }), /value\.volume\.createdAt is a Date, not plain data/);
  assert.throws(() => checkPlain([new Map()]), /value\[0\] is a Map/);
  assert.throws(() => checkPlain({ call: () => 1 }), /value\.call is a function/);
  assert.throws(() => checkPlain({ rate: Number.NaN }), /value\.rate is NaN, not a finite number/);
  assert.throws(() => checkPlain(new SiteError({ code: "X", message: "m" })), /is a SiteError/);
});
Plain("should rebuild a SiteError from its data alone", () => {
  const error = new SiteError({ code: "VOLUME_EXISTS", message: "volume 1000 is given twice", item: 2, option: "extpool" });
  const rebuilt = new SiteError(JSON.parse(JSON.stringify(error.toData())));
  assert.equal(rebuilt.toData(), error.toData());
  assert.is(rebuilt.message, error.message);
});
Plain.run();
