// The engine against the reference model: random sequences of establish,
// withdraw, reads and writes (partial and whole-track, across track
// boundaries, on sources and targets), trims (releasing whole extents),
// background-copy steps and the
// FlashCopy V2 operations (resync, reverse, revertible increments with commit
// and revert, -freeze with unfreeze), compared after every step. fast-check prints the seed and the shrunk sequence of
// any failure; TZERO_SEED=<n> replays a run.
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { StorageImage } from "../../src/engine/image.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import { ReferenceImage } from "../../src/model/reference.js";
import { testSeed } from "../support/random.js";
import { applyToBoth, compareRelationships, plain, type Command, type World } from "./support.js";

const RUNS = Number(process.env.TZERO_PROPERTY_RUNS ?? 1000);
const VOLUME_IDS = ["1000", "1001", "1002", "1003", "1100"];


const both = (world: World, action: (image: StorageImage | ReferenceImage) => unknown): void => applyToBoth(world, action, compare);

function compare({ engine, model }: World): void {
  compareRelationships({ engine, model });
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


const volumeId = fc.constantFrom(...VOLUME_IDS);
const span = fc.record({ offset: fc.oneof(fc.nat({ max: 5 * TRACK_SIZE }), fc.integer({ min: 14 * TRACK_SIZE, max: 20 * TRACK_SIZE })), length: fc.oneof(fc.nat({ max: 3000 }), fc.constant(TRACK_SIZE), fc.nat({ max: 3 * TRACK_SIZE })) });
const rarely = (sides: number) => fc.integer({ min: 0, max: sides }).map((roll) => roll === 0);
const flags = fc.record({
  nocopy: fc.boolean(), persist: fc.boolean(), record: fc.boolean(), tgtinhibit: rarely(6), freeze: rarely(8), tgtpprc: rarely(8),
});
// Increments mostly keep -record -persist, as scripts write them.
const mostly = (sides: number) => rarely(sides).map((roll) => !roll);
const incrementFlags = fc.record({ record: mostly(6), persist: mostly(6), tgtinhibit: rarely(8), freeze: rarely(6) });
const reverseFlags = fc.record({ record: mostly(4), persist: fc.boolean(), fast: fc.boolean() });
// V2 operations mostly pick an existing relationship (by index, at run time), sometimes any pair.
const pairOf = fc.oneof(
  { weight: 3, arbitrary: fc.nat({ max: 11 }).map((index) => ({ index, given: null as string | null })) },
  { weight: 1, arbitrary: fc.tuple(volumeId, volumeId).map(([source, target]) => ({ index: 0, given: `${source}:${target}` as string | null })) },
);
const chosen = (world: World, pick: { index: number; given: string | null }): string => {
  const ids = world.model.relationshipIds();
  if (pick.given !== null || ids.length === 0) return pick.given ?? "1000:1001";
  return ids[pick.index % ids.length];
};

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
  // Trims over the first extent's edges and whole (volumes of 17 to 20 tracks hold one whole extent), or to the volume's end.
  fc.tuple(volumeId, fc.oneof(fc.constant(0), fc.nat({ max: 3 * TRACK_SIZE })), fc.oneof(fc.constant(16 * TRACK_SIZE), fc.integer({ min: 16 * TRACK_SIZE, max: 20 * TRACK_SIZE }), fc.nat({ max: 2 * TRACK_SIZE }), fc.constant(-1))).map(([id, offset, given]) =>
    plain(`trim ${id} @${offset}+${given < 0 ? "end" : given}`, (world) => {
      const length = given < 0 ? Math.max(0, world.engine.volume(id).sizeBytes - offset) : given;
      both(world, (image) => image.trim(id, offset, length));
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
      const ids = world.model.relationshipIds();
      // The pair drawn, or else an existing one chosen by it, so copies finish and reverses can run.
      const id = ids.includes(`${source}:${target}`) ? `${source}:${target}` : ids[(parseInt(source, 16) + first) % Math.max(ids.length, 1)];
      if (id === undefined) return;
      let copied = -1;
      both(world, (image) => {
        const done = image.copyTracks(id, first, count);
        if (image === world.model) copied = done;
        else assert.is(done, copied, "tracks copied");
      });
    })),
  volumeId.map((id) => plain(`reinit ${id}`, (world) => both(world, (image) => image.reinitVolume(id)))),
  fc.tuple(pairOf, incrementFlags).map(([pick, options]) =>
    plain(`resync #${pick.index}/${pick.given} ${JSON.stringify(options)}`, (world) => {
      const id = chosen(world, pick);
      both(world, (image) => image.resync(id, options));
    })),
  fc.tuple(pairOf, reverseFlags).map(([pick, options]) =>
    plain(`reverse #${pick.index}/${pick.given} ${JSON.stringify(options)}`, (world) => {
      const id = chosen(world, pick);
      both(world, (image) => image.reverse(id, options));
    })),
  pairOf.map((pick) => plain(`setrevertible #${pick.index}/${pick.given}`, (world) => {
    const id = chosen(world, pick);
    both(world, (image) => image.setRevertible(id));
  })),
  pairOf.map((pick) => plain(`commit #${pick.index}/${pick.given}`, (world) => {
    const id = chosen(world, pick);
    both(world, (image) => image.commitRevertible(id));
  })),
  pairOf.map((pick) => plain(`revert #${pick.index}/${pick.given}`, (world) => {
    const id = chosen(world, pick);
    both(world, (image) => image.revertRevertible(id));
  })),
  fc.constantFrom("10", "11").map((lss) => plain(`unfreeze ${lss}`, (world) => both(world, (image) => image.unfreeze(lss)))),
];

// Volume sizes: mostly 1 to 4 tracks, sometimes 17 to 20 (over a 1 MiB extent boundary),
// sometimes ending inside a track; OS types mostly equal.
const trackCounts = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 17, max: 20 }) });
const layout = fc.array(fc.record({ tracks: trackCounts, shortBlocks: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 127 })), os: fc.constantFrom("aix", "aix", "aix", "linux") }), { minLength: VOLUME_IDS.length, maxLength: VOLUME_IDS.length });

interface Scenario {
  models: ReadonlyArray<"2105" | "2107">;
  layout: fc.Arbitrary<Array<{ tracks: number; shortBlocks: number; os: string }>>;
  commands: Array<fc.Arbitrary<Command>>;
  // Relationships made before the commands run (engine and model alike).
  initial: fc.Arbitrary<Array<{ source: string; target: string; nocopy: boolean }>>;
}

const MIXED: Scenario = { models: ["2105", "2107"], layout, commands, initial: fc.constant([]) };

// FlashCopy V2 on a 2107: volumes of one size, incremental pairs made at the
// start, and the V2 operations drawn three times as often.
const sameSize = fc.record({ tracks: trackCounts, shortBlocks: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 127 })) })
  .map((size) => VOLUME_IDS.map(() => ({ ...size, os: "aix" })));
const v2Operations = commands.slice(-7, -1); // resync to revert; unfreeze stays as common as the rest
const copyAll = pairOf.map((pick) => plain(`copy all #${pick.index}/${pick.given}`, (world) => {
  const id = chosen(world, pick);
  if (!world.model.relationshipIds().includes(id)) return;
  both(world, (image) => image.copyTracks(id, 0, 64));
}));
const V2_COMMANDS = [...commands, ...v2Operations, ...v2Operations, copyAll, copyAll];
const V2: Scenario = {
  models: ["2107"], layout: sameSize, commands: V2_COMMANDS,
  initial: fc.tuple(fc.boolean(), fc.boolean()).map(([first, second]) => [
    { source: "1000", target: "1001", nocopy: first },
    { source: "1002", target: "1100", nocopy: second },
  ]),
};

function matchesModel(build: "release" | "debug", runs: number, scenario: Scenario = MIXED): void {
  const seed = testSeed();
  console.log(`  property seed ${seed}, ${build} core (TZERO_SEED=${seed} replays)`);
  const engines = {
    "2105": new StorageImage({ model: "2105", workers: 0, build }),
    "2107": new StorageImage({ model: "2107", workers: 0, build }),
  };
  try {
    fc.assert(
      fc.property(fc.constantFrom(...scenario.models), scenario.layout, scenario.initial, fc.commands(scenario.commands, { maxCommands: 30 }), (modelName, volumes, initial, sequence) => {
        const engine = engines[modelName];
        for (const relationship of engine.listRelationships()) {
          if (relationship.revertible) engine.commitRevertible(relationship.id);
          engine.withdraw(relationship.id);
        }
        for (const volume of engine.listVolumes()) engine.removeVolume(volume.id);
        const model = new ReferenceImage(modelName);
        VOLUME_IDS.forEach((id, index) => {
          const spec = { id, capacity: volumes[index].tracks * 128 - volumes[index].shortBlocks, os: volumes[index].os };
          engine.createVolume(spec);
          model.createVolume(spec);
          // Initial contents: the core's pattern (tested against the TypeScript one in test/core).
          engine.writePattern(id, 0, engine.volume(id).sizeBytes, index + 1);
          model.write(id, 0, engine.read(id, 0, engine.volume(id).sizeBytes));
        });
        for (const { source, target, nocopy } of initial) {
          for (const image of [engine, model]) image.establish(source, target, { nocopy, record: true, persist: true });
        }
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
// Fewer runs: every step of these compares whole volumes that are all in relationships.
test(`engine should match the reference model over ${Math.ceil(RUNS / 5)} random FlashCopy V2 sequences (2107)`, () => {
  matchesModel("release", Math.ceil(RUNS / 5), V2);
});
test(`debug engine should match the reference model over ${Math.ceil(RUNS / 25)} random FlashCopy V2 sequences`, () => {
  matchesModel("debug", Math.ceil(RUNS / 25), V2);
});
test.run();
