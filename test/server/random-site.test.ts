// Seeded random command sequences through a Copy Services Server over three
// in-process nodes give the same answers, step by step, as the same commands
// on one embedded site; the catalog the server records is what the nodes
// list; and a restart of the server from its state directory brings the same
// SiteState back. TZERO_SEED=<n> replays a run.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { CopyServicesServer } from "../../src/server/server.js";
import { ServerStore } from "../../src/server/store.js";
import { readCatalog, TOUCHES_ALL } from "../../src/server/catalog.js";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { SiteError } from "../../src/site/errors.js";
import type { Site } from "../../src/site/site.js";
import type { ModelName } from "../../src/site/types.js";
import { Random, testSeed } from "../support/random.js";
import { temporaryDirectory } from "../store/support.js";
import { config } from "./support.js";

const seed = testSeed();
console.log(`random site seed: ${seed} (replay with TZERO_SEED=${seed})`);

const STEPS = 160;
const NODE_IDS = ["n1", "n2", "n3"];
const BOGUS_IMAGE = "IBM.2107-75NOPE01";
// Fields that say when or how fast, not what: they differ between any two runs.
const TIME_FIELDS = new Set(["createdAtMs", "syncedAtMs", "bytesPerSecond"]);

interface Side {
  site: Site;
  addImage(request: { model?: ModelName; id?: string }, requestId: string): Promise<unknown>;
}

// An answer as plain comparable data: the result with its time fields left out, or the error's data.
async function answer(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: withoutTimes(await call()) };
  } catch (error) {
    if (error instanceof SiteError) return { error: error.toData() };
    throw error;
  }
}

function withoutTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimes);
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !TIME_FIELDS.has(key)).map(([key, item]) => [key, withoutTimes(item)]));
}

type Step = { name: string; mutating: boolean; run: (side: Side, site: Site, requestId: string) => Promise<unknown> };

// The next step, drawn from what the reference site holds now.
async function drawStep(random: Random, reference: EmbeddedSite): Promise<Step> {
  const images = (await reference.listImages()).map((image) => image.id);
  const image = images.length === 0 || random.int(0, 19) === 0 ? BOGUS_IMAGE : random.pick(images);
  const volumeIds = image === BOGUS_IMAGE ? [] : (await reference.listVolumes(image)).map((volume) => volume.id);
  const flashIds = image === BOGUS_IMAGE ? [] : (await reference.listFlash(image)).map((flash) => flash.id);
  const someVolume = () => (volumeIds.length > 0 && random.int(0, 4) > 0 ? random.pick(volumeIds) : `${random.pick(["10", "11"])}0${random.int(0, 7)}`);
  const kind = images.length < 2 || random.int(0, 39) === 0 ? 0 : random.int(1, 13);
  switch (kind) {
    case 0: {
      const model = random.pick(["2105", "2107"] as const);
      const request = random.int(0, 5) === 0 && images.length > 0 ? { id: random.pick(images) } : { model };
      return { name: `addImage ${JSON.stringify(request)}`, mutating: true, run: (side, _, requestId) => side.addImage(request, requestId) };
    }
    case 1: {
      const request = { name: `pool${random.int(0, 3)}`, rankGroup: random.int(0, 1) as 0 | 1, capacityGiB: random.pick([1, 2, 4]) };
      return { name: `createPool ${image} ${JSON.stringify(request)}`, mutating: true, run: (_, site) => site.createPool(image, request) };
    }
    case 2:
    case 3: {
      const lss = random.pick(["10", "11"]);
      const start = random.int(0, 6);
      const ids = Array.from({ length: random.int(1, 3) }, (_, index) => `${lss}0${Math.min(start + index, 9)}`);
      const request = { ids, capacity: random.pick([128, 256, 512]), unit: "blocks" as const, ...(random.int(0, 2) === 0 ? { nameTemplate: "v#h" } : {}) };
      return { name: `createVolumes ${image} ${JSON.stringify(request)}`, mutating: true, run: (_, site) => site.createVolumes(image, request) };
    }
    case 4: {
      const ids = [someVolume(), ...(random.int(0, 2) === 0 ? [someVolume()] : [])];
      return { name: `removeVolumes ${image} ${ids}`, mutating: true, run: (_, site) => site.removeVolumes(image, ids) };
    }
    case 5: {
      const request = random.int(0, 1) === 0 ? { ids: [someVolume()], nameTemplate: `c${random.int(0, 9)}#h` } : { ids: [someVolume()], capacity: random.pick([256, 1024]), unit: "blocks" as const };
      return { name: `changeVolumes ${image} ${JSON.stringify(request)}`, mutating: true, run: (_, site) => site.changeVolumes(image, request) };
    }
    case 6:
    case 7: {
      const pairs: Array<[string, string]> = Array.from({ length: random.int(1, 2) }, () => [someVolume(), someVolume()]);
      const options = { nocopy: true, record: random.int(0, 1) === 0, persist: random.int(0, 1) === 0, tgtinhibit: random.int(0, 3) === 0 };
      return { name: `establishFlash ${image} ${JSON.stringify(pairs)} ${JSON.stringify(options)}`, mutating: true, run: (_, site) => site.establishFlash(image, { pairs, options }) };
    }
    case 8: {
      const ids = flashIds.length > 0 && random.int(0, 3) > 0 ? [random.pick(flashIds)] : [`${someVolume()}:${someVolume()}`];
      return { name: `withdrawFlash ${image} ${ids}`, mutating: true, run: (_, site) => site.withdrawFlash(image, ids) };
    }
    case 9:
      return { name: `listVolumes ${image}`, mutating: false, run: (_, site) => site.listVolumes(image) };
    case 10:
      return { name: `listFlash ${image}`, mutating: false, run: (_, site) => site.listFlash(image) };
    case 11:
      return { name: `listPools ${image}`, mutating: false, run: (_, site) => site.listPools(image) };
    case 12: {
      const id = someVolume();
      return { name: `volume ${image} ${id}`, mutating: false, run: (_, site) => site.volume(image, id) };
    }
    default:
      return { name: "listImages", mutating: false, run: (_, site) => site.listImages() };
  }
}

const Commands = suite("random commands through a server over three nodes");

Commands("should answer as one embedded site does, record what the nodes hold, and restart to the same state", async () => {
  const random = new Random(seed);
  const folder = temporaryDirectory();
  const directory = join(folder.path, "server-state");
  const reference = new EmbeddedSite({ workers: 0, images: [] });
  const nodes = NODE_IDS.map(() => new EmbeddedSite({ workers: 0, images: [] }));
  let server = new CopyServicesServer({ store: await ServerStore.open(directory, { snapshotEveryAppends: 25 }), nodeId: "n1", users: config });
  try {
    for (const [index, nodeId] of NODE_IDS.entries()) await server.registerNode(nodeId, `http://127.0.0.1:${8452 + index}`, nodes[index]);
    const referenceSide: Side = { site: reference, addImage: (request) => reference.addImage(request) };
    // The server's side draws the node from its own stream, so both sides draw the same steps.
    const placement = new Random(seed ^ 0x5eed);
    const serverSide: Side = { site: server, addImage: (request, requestId) => server.addImageOn(placement.pick(NODE_IDS), request, { user: "admin", requestId }) };
    let retries = 0;
    let changed = 0; // mutating steps that succeeded: the run did something
    for (let step = 0; step < STEPS; step++) {
      const drawn = await drawStep(random, reference);
      const where = `step ${step}: ${drawn.name} (seed ${seed})`;
      const requestId = `req-${step}`;
      const expected = await answer(() => drawn.run(referenceSide, reference, requestId));
      const view = server.forCaller({ user: "admin", requestId });
      const actual = await answer(() => drawn.run(serverSide, view, requestId));
      assert.equal(actual, expected, where);
      if (drawn.mutating && "ok" in (actual as object)) changed++;
      if (drawn.mutating && random.int(0, 3) === 0) {
        // A shell retrying after a failover: the same request id gets the same answer, not a second run.
        const retryView = server.forCaller({ user: "admin", requestId });
        const retried = await answer(() => drawn.run({ ...serverSide, addImage: (request) => retryView.addImage(request) }, retryView, requestId));
        assert.equal(retried, actual, `${where}, retried`);
        retries++;
      }
    }
    for (const entry of server.state.images) {
      const node = nodes[NODE_IDS.indexOf(entry.nodeId)];
      assert.equal(await readCatalog(node, entry.info.id, TOUCHES_ALL, entry.catalog), entry.catalog, `the catalog of ${entry.info.id} (seed ${seed})`);
    }
    const state = server.state;
    await server.close();
    server = new CopyServicesServer({ store: await ServerStore.open(directory), nodeId: "n1", users: config });
    assert.equal(server.state, state, `the state after a restart (seed ${seed})`);
    assert.ok(changed >= STEPS / 10, `only ${changed} commands changed something (seed ${seed})`);
    console.log(`random site: ${STEPS} steps (${changed} changed something), ${state.images.length} images on ${NODE_IDS.length} nodes, ${retries} retries, ${state.requests.length} request ids kept`);
  } finally {
    await server.close();
    for (const site of [reference, ...nodes]) await site.close();
    folder.remove();
  }
});

Commands.run();
