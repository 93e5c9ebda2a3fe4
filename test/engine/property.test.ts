// The engine against the reference model: random sequences of establish,
// withdraw, reads and writes (partial and whole-track, across track
// boundaries, on sources and targets) and background-copy steps, compared
// after every step. fast-check prints the seed and the shrunk sequence of
// any failure; TZERO_SEED=<n> replays a run.
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { StorageImage } from "../../src/engine/image.js";
import { EngineError } from "../../src/engine/errors.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import { ReferenceImage } from "../../src/model/reference.js";
import { testSeed } from "../support/random.js";

const RUNS = Number(process.env.TZERO_PROPERTY_RUNS ?? 1000);
const VOLUME_IDS = ["1000", "1001", "1002", "1003", "1100"];

interface World {
  engine: StorageImage;
  model: ReferenceImage;
}

// Runs the same operation on both; they must agree on success or on the error code.
function both(world: World, action: (image: StorageImage | ReferenceImage) => unknown): void {
  const outcome = (image: StorageImage | ReferenceImage): string => {
    try {
      action(image);
      return "ok";
    } catch (error) {
      if (error instanceof EngineError) return error.code;
      throw error;
    }
  };
  const expected = outcome(world.model);
  const actual = outcome(world.engine);
  assert.is(actual, expected, "engine and model disagree on the outcome");
  world.engine.poll();
  world.model.settle();
  compare(world);
}

function compare({ engine, model }: World): void {
  assert.equal(engine.listRelationships().map((r) => r.id), model.relationshipIds());
  for (const id of model.relationshipIds()) {
    assert.is(engine.status(id).pendingTracks, model.pendingTracks(id), `pending tracks of ${id}`);
    assert.is(engine.core.exports.rel_count_pending(engine.relationship(id).slot), model.pendingTracks(id), `bitmap population of ${id}`);
    assert.is(engine.recordedTracks(id, "source"), model.recordedTracks(id, "source"));
    assert.is(engine.recordedTracks(id, "target"), model.recordedTracks(id, "target"));
  }
  for (const id of model.volumeIds()) {
    const state = model.dataState(id);
    assert.is(engine.dataState(id), state, `data state of ${id}`);
    if (state !== "Normal") continue;
    const size = engine.volume(id).sizeBytes;
    const actual = engine.read(id, 0, size);
    const expected = model.read(id, 0, size);
    assert.ok(Buffer.compare(actual, expected) === 0, `contents of volume ${id} differ`);
  }
}

type Command = fc.Command<World, World>;
const plain = (text: string, run: (world: World) => void): Command => ({
  check: () => true,
  run: (_model, world) => run(world),
  toString: () => text,
});

const volumeId = fc.constantFrom(...VOLUME_IDS);
const span = fc.record({ offset: fc.oneof(fc.nat({ max: 5 * TRACK_SIZE }), fc.integer({ min: 14 * TRACK_SIZE, max: 20 * TRACK_SIZE })), length: fc.oneof(fc.nat({ max: 3000 }), fc.constant(TRACK_SIZE), fc.nat({ max: 3 * TRACK_SIZE })) });
const flags = fc.record({ nocopy: fc.boolean(), persist: fc.boolean(), record: fc.boolean(), tgtinhibit: fc.integer({ min: 0, max: 6 }).map((roll) => roll === 0) });

const commands = [
  fc.tuple(volumeId, volumeId, flags).map(([source, target, options]) =>
    plain(`establish ${source}:${target} ${JSON.stringify(options)}`, (world) => both(world, (image) => image.establish(source, target, options)))),
  fc.tuple(volumeId, volumeId).map(([source, target]) =>
    plain(`withdraw ${source}:${target}`, (world) => both(world, (image) => image.withdraw(`${source}:${target}`)))),
  fc.tuple(volumeId, span, fc.integer({ min: 1, max: 0xffff })).map(([id, { offset, length }, seed]) =>
    plain(`write ${id} @${offset}+${length} seed ${seed}`, (world) => {
      const bytes = new Uint8Array(length);
      for (let index = 0; index < length; index++) bytes[index] = (seed * 31 + index * 7) & 0xff;
      both(world, (image) => image.write(id, offset, bytes));
    })),
  fc.tuple(volumeId, fc.nat({ max: 2 * TRACK_SIZE }), fc.integer({ min: 0, max: 255 })).map(([id, offset, value]) =>
    plain(`fill ${id} @${offset} whole track ${value}`, (world) => {
      const aligned = Math.floor(offset / TRACK_SIZE) * TRACK_SIZE;
      both(world, (image) => image.fill(id, aligned, TRACK_SIZE, value));
    })),
  fc.tuple(volumeId, span).map(([id, { offset, length }]) =>
    plain(`read ${id} @${offset}+${length}`, (world) => {
      let expected: Uint8Array | null = null;
      let actual: Uint8Array | null = null;
      both(world, (image) => {
        const bytes = image.read(id, offset, length);
        if (image === world.model) expected = bytes;
        else actual = bytes;
      });
      if (expected) assert.ok(actual !== null && Buffer.compare(actual, expected) === 0, `read of ${id} differs`);
    })),
  fc.tuple(volumeId, volumeId, fc.oneof(fc.nat({ max: 5 }), fc.integer({ min: 12, max: 20 })), fc.integer({ min: 1, max: 24 })).map(([source, target, first, count]) =>
    plain(`copy ${source}:${target} tracks ${first}+${count}`, (world) => {
      const id = `${source}:${target}`;
      if (!world.model.relationshipIds().includes(id)) return;
      let copied = -1;
      both(world, (image) => {
        const done = image.copyTracks(id, first, count);
        if (image === world.model) copied = done;
        else assert.is(done, copied, "tracks copied");
      });
    })),
  volumeId.map((id) => plain(`reinit ${id}`, (world) => both(world, (image) => image.reinitVolume(id)))),
];

// Volume sizes: mostly 1 to 4 tracks, sometimes 17 to 20 (over a 1 MiB extent boundary),
// sometimes ending inside a track; OS types mostly equal.
const trackCounts = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 17, max: 20 }) });
const layout = fc.array(fc.record({ tracks: trackCounts, shortBlocks: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 127 })), os: fc.constantFrom("aix", "aix", "aix", "linux") }), { minLength: VOLUME_IDS.length, maxLength: VOLUME_IDS.length });

function matchesModel(build: "release" | "debug", runs: number): void {
  const seed = testSeed();
  console.log(`  property seed ${seed}, ${build} core (TZERO_SEED=${seed} replays)`);
  const engines = {
    "2105": new StorageImage({ model: "2105", workers: 0, build }),
    "2107": new StorageImage({ model: "2107", workers: 0, build }),
  };
  try {
    fc.assert(
      fc.property(fc.constantFrom("2105", "2107"), layout, fc.commands(commands, { maxCommands: 30 }), (modelName, volumes, sequence) => {
        const engine = engines[modelName as "2105" | "2107"];
        for (const relationship of engine.listRelationships()) engine.withdraw(relationship.id);
        for (const volume of engine.listVolumes()) engine.removeVolume(volume.id);
        const model = new ReferenceImage(modelName as "2105" | "2107");
        VOLUME_IDS.forEach((id, index) => {
          const spec = { id, capacity: volumes[index].tracks * 128 - volumes[index].shortBlocks, os: volumes[index].os };
          engine.createVolume(spec);
          model.createVolume(spec);
          // Initial contents: the core's pattern (tested against the TypeScript one in test/core).
          engine.writePattern(id, 0, engine.volume(id).sizeBytes, index + 1);
          model.write(id, 0, engine.read(id, 0, engine.volume(id).sizeBytes));
        });
        fc.modelRun(() => ({ model: { engine, model }, real: { engine, model } }), sequence);
      }),
      { seed, numRuns: runs },
    );
  } finally {
    void engines["2105"].close();
    void engines["2107"].close();
  }
}

test(`engine should match the reference model over ${RUNS} random sequences (2105 and 2107)`, () => {
  matchesModel("release", RUNS);
});
// The debug core checks its invariants (lock ownership, bitmap clears) with assertions.
test(`debug engine should match the reference model over ${Math.ceil(RUNS / 5)} random sequences`, () => {
  matchesModel("debug", Math.ceil(RUNS / 5));
});
test.run();
