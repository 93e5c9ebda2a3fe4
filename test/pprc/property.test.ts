// Seeded random operations on PPRC pairs between two images, compared with
// the reference model (src/model/pprc-reference.ts) after every step: host
// writes on primaries and secondaries, pause and resume, link cuts and
// restores, failover and failback, freeze and unfreeze. Each step compares every pair's state,
// reason and exact out-of-sync count, every volume's data, and, on resume and
// failback, the exact number of tracks sent. TZERO_SEED=n replays a run.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { isSiteError } from "../../src/site/errors.js";
import { PprcModel } from "../../src/model/pprc-reference.js";
import { Random, testSeed } from "../support/random.js";
import { A, B, TRACK_BYTES, TRACK_BLOCKS, twoImages, type TwoImages } from "./support.js";

const TRACKS = 8;
const VOLUMES = 3; // 1000..1002 on A, 2000..2002 on B; 1002 and 2002 stay unpaired
const STEPS = 200;

interface Run {
  images: TwoImages;
  model: PprcModel;
  random: Random;
  log: string[];
  consistgrp: boolean; // the paths' -consistgrp: whether a freeze holds the primaries' writes
}

async function setUp(random: Random): Promise<Run> {
  const images = await twoImages();
  const { site } = images;
  const model = new PprcModel();
  const consistgrp = random.int(0, 1) === 0;
  const run: Run = { images, model, random, log: [], consistgrp };
  await makePaths(run, [A, B]);
  for (let index = 0; index < VOLUMES; index++) {
    for (const [image, lss] of [[A, "10"], [B, "20"]] as const) {
      const id = `${lss}0${index}`;
      await site.createVolumes(image, { ids: [id], capacity: TRACKS * TRACK_BLOCKS, unit: "blocks" });
      model.createVolume(image, id, TRACKS * TRACK_BYTES);
    }
  }
  for (const index of [0, 1]) {
    const type = index === 0 ? "mmir" as const : random.pick(["mmir", "gcp"] as const);
    const critmode = type === "mmir" && random.int(0, 3) === 0;
    await site.makePairs(A, { remoteImageId: B, pairs: [[`100${index}`, `200${index}`]], type, critmode });
    await site.waitForPairs(A, [`100${index}:200${index}`]);
    model.makePair(A, `100${index}`, B, `200${index}`, { type, critmode });
  }
  return run;
}

const lssOn = (image: string) => (image === A ? "10" : "20");

// mkpprcpath from each image to the other, -consistgrp as the run drew it.
async function makePaths(run: Run, from: string[]): Promise<void> {
  for (const image of from) {
    const remote = image === A ? B : A;
    const remoteWwnn = image === A ? run.images.wwnnB : run.images.wwnnA;
    const ports = [image === A ? "I0010:I0143" : "I0143:I0010"];
    await run.images.site.makePath(image, { remoteImageId: remote, remoteWwnn, sourceLss: lssOn(image), targetLss: lssOn(remote), ports, consistgrp: run.consistgrp });
    run.model.makePath(image, lssOn(image), remote, lssOn(remote), run.consistgrp);
  }
}

// Runs `engine` and `model` for one step: both succeed, or both fail with the same code.
async function both(run: Run, what: string, engine: () => Promise<unknown>, model: () => unknown): Promise<void> {
  run.log.push(what);
  let modelCode: string | null = null;
  try {
    model();
  } catch (error) {
    modelCode = (error as { code?: string }).code ?? String(error);
  }
  let engineCode: string | null = null;
  try {
    await engine();
  } catch (error) {
    if (!isSiteError(error)) throw error;
    engineCode = error.code;
  }
  assert.is(engineCode, modelCode, `${what}: engine and model disagree on failing`);
}

async function writeStep(run: Run): Promise<void> {
  const image = run.random.pick([A, A, A, B]);
  const id = `${image === A ? "10" : "20"}0${run.random.int(0, VOLUMES - 1)}`;
  const offset = run.random.int(0, TRACKS * TRACK_BYTES - 1) & ~511;
  const length = Math.min(run.random.pick([512, 4096, TRACK_BYTES, 3 * TRACK_BYTES]), TRACKS * TRACK_BYTES - offset);
  const bytes = run.random.bytes(length);
  await both(run, `write ${image} ${id} ${offset}+${length}`, () => run.images.site.write(image, id, offset, bytes), () => run.model.write(image, id, offset, bytes));
}

async function sentTracks(run: Run, imageId: string, id: string): Promise<number> {
  return (await run.images.site.listPairs(imageId)).find((pair) => pair.id === id && pair.imageId === imageId)?.sentTracks ?? 0;
}

async function pairStep(run: Run): Promise<void> {
  const pairs = run.model.pairIds();
  const pair = run.random.pick(pairs);
  const { site } = run.images;
  const choice = run.random.int(0, 12);
  const other = pair.secondaryImageId;
  if (choice >= 10) return consistencyStep(run, pair.imageId, other, choice);
  if (choice < 3) {
    await both(run, `pausepprc ${pair.imageId} ${pair.id}`, () => site.changePairs(pair.imageId, "pausepprc", { ids: [pair.id] }), () => run.model.pause(pair.imageId, pair.id));
  } else if (choice < 6) {
    const before = await sentTracks(run, pair.imageId, pair.id);
    let expected = -1;
    await both(run, `resumepprc ${pair.imageId} ${pair.id}`, async () => {
      await site.changePairs(pair.imageId, "resumepprc", { ids: [pair.id] });
      await site.waitForPairs(pair.imageId, [pair.id]);
    }, () => { expected = run.model.resume(pair.imageId, pair.id); });
    if (expected >= 0) assert.is(await sentTracks(run, pair.imageId, pair.id) - before, expected, `resume of ${pair.id} sends exactly its out-of-sync tracks`);
  } else if (choice < 8) {
    const up = run.random.int(0, 1) === 0;
    await both(run, `${up ? "restore" : "cut"} link ${pair.imageId}>${other}`, () => site.setLink(pair.imageId, other, up), () => run.model.setLink(pair.imageId, other, up));
  } else if (!pair.failedOver) {
    const [primary, secondary] = pair.id.split(":");
    await both(run, `failoverpprc ${other} ${secondary}:${primary}`, () => site.changePairs(other, "failoverpprc", { remoteImageId: pair.imageId, ids: [`${secondary}:${primary}`] }), () => run.model.failover(other, `${secondary}:${primary}`));
  } else {
    const before = await sentTracks(run, pair.imageId, pair.id);
    let expected = -1;
    await both(run, `failbackpprc ${pair.imageId} ${pair.id}`, async () => {
      await site.changePairs(pair.imageId, "failbackpprc", { remoteImageId: other, ids: [pair.id] });
      await site.waitForPairs(pair.imageId, [pair.id]);
    }, () => { expected = run.model.failback(pair.imageId, pair.id); });
    if (expected >= 0) assert.is(await sentTracks(run, pair.imageId, pair.id) - before, expected, `failback of ${pair.id} sends exactly the union of both sides' out-of-sync tracks`);
  }
}

// freezepprc of the pair's LSS pair, unfreezepprc, or mkpprcpath again after a freeze removed the path.
async function consistencyStep(run: Run, image: string, other: string, choice: number): Promise<void> {
  const { site } = run.images;
  const lssPair = `${lssOn(image)}:${lssOn(other)}`;
  if (choice === 10) {
    await both(run, `freezepprc ${image} ${lssPair}`, () => site.changePairs(image, "freezepprc", { remoteImageId: other, ids: [lssPair] }),
      () => run.model.freeze(image, lssOn(image), other, lssOn(other)));
  } else if (choice === 11) {
    await both(run, `unfreezepprc ${image} ${lssPair}`, () => site.changePairs(image, "unfreezepprc", { remoteImageId: other, ids: [lssPair] }),
      () => run.model.unfreeze(image, lssOn(image)));
  } else {
    run.log.push(`mkpprcpath ${image} ${lssPair}`);
    await makePaths(run, [image]);
  }
}

// Global Copy drains in the background: the comparison waits for it to settle.
async function settled(run: Run): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (const image of [A, B]) {
    for (;;) {
      const draining = (await run.images.site.listPairs(image)).filter((pair) => pair.role === "primary" && pair.type === "gcp" && pair.state === "Copy Pending" && pair.outOfSyncTracks > 0);
      if (draining.length === 0) break;
      if (Date.now() > deadline) throw new Error(`Global Copy ${draining[0].id} did not drain`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}

async function compare(run: Run): Promise<void> {
  await settled(run);
  const { site } = run.images;
  for (const image of [A, B]) {
    const engine = (await site.listPairs(image)).filter((pair) => pair.role === "primary")
      .map((pair) => ({ id: pair.id, state: pair.state, reason: pair.reason, outOfSyncTracks: pair.outOfSyncTracks }));
    assert.equal(engine, run.model.list(image), `pairs with primaries on ${image}`);
    for (let index = 0; index < VOLUMES; index++) {
      const id = `${image === A ? "10" : "20"}0${index}`;
      assert.is(site.engineImage(image).checksum(id), run.model.checksum(image, id), `data of ${image} ${id}`);
    }
  }
}

const Property = suite("PPRC compared with the reference model");

Property("should agree with the model after every step of a seeded run", async () => {
  const seed = testSeed();
  const random = new Random(seed);
  const run = await setUp(random);
  try {
    await compare(run);
    for (let step = 0; step < STEPS; step++) {
      if (random.int(0, 2) === 0) await pairStep(run);
      else await writeStep(run);
      await compare(run);
    }
  } catch (error) {
    console.error(`PPRC property run failed; seed ${seed} (TZERO_SEED=${seed} replays it); steps:\n  ${run.log.join("\n  ")}`);
    throw error;
  } finally {
    await run.images.site.close();
  }
  assert.equal(run.images.site.enginePprc().linkFailures, []);
});

Property.run();
