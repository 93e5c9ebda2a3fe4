// The engine against the reference model on volumes of one block to 16 TiB:
// sparse writes near the ends of huge volumes and across their 4 GiB
// boundaries, establish and withdraw, track copies there, background copy
// drained to the end (thin chunks settle as zeros), checksums of whole huge
// volumes and of ranges; compared after every step. fast-check prints the seed
// and the shrunk sequence of any failure; TZERO_SEED=<n> replays a run.
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { StorageImage } from "../../src/engine/image.js";
import { TRACK_SIZE, BLOCK_SIZE } from "../../src/core/codes.js";
import { ReferenceImage } from "../../src/model/reference.js";
import { testSeed } from "../support/random.js";
import { applyToBoth, compareRelationships, plain, type World } from "./support.js";

const RUNS = Number(process.env.TZERO_PROPERTY_RUNS ?? 1000) >= 1000 ? 100 : 20;
const VOLUME_IDS = ["1000", "1001", "1002", "1003"];
const TiB = 2 ** 40;
const GiB = 2 ** 30;
// Whole-volume checksums of the volumes up to 4 GiB hash their bytes (in the
// staging buffer: less than 1 MiB); the larger ones take the two-level digest.
const SIZES = [BLOCK_SIZE, TRACK_SIZE, 15 * TRACK_SIZE + 5 * BLOCK_SIZE, 4 * GiB + 3 * TRACK_SIZE, 5 * TiB + 7 * BLOCK_SIZE, 16 * TiB - BLOCK_SIZE, 16 * TiB];
const COPY_STEPS_MAX = 200_000;


// What the runs exercised, printed at the end, so that a run that tested little shows.
const exercised = { establishes: 0, writesPast4GiB: 0, drainedTracks: 0, settledTracks: 0, increments: 0, revertibles: 0 };

const both = (world: World, action: (image: StorageImage | ReferenceImage) => unknown): void => applyToBoth(world, action, compare);

// Places worth reading on a volume: its ends and both sides of each 4 GiB boundary.
function probes(sizeBytes: number): number[] {
  const places = [0, Math.max(0, sizeBytes - 3 * TRACK_SIZE)];
  for (const boundary of [2 ** 32, 2 ** 33, 2 ** 42]) if (boundary < sizeBytes) places.push(boundary - TRACK_SIZE);
  return places;
}

function compare({ engine, model }: World): void {
  compareRelationships({ engine, model });
  for (const id of model.volumeIds()) {
    const state = model.dataState(id);
    assert.is(engine.dataState(id), state, `data state of ${id}`);
    if (state !== "Normal") continue;
    const size = engine.volume(id).sizeBytes;
    for (const at of probes(size)) {
      const length = Math.min(2 * TRACK_SIZE + 100, size - at);
      assert.ok(Buffer.compare(engine.read(id, at, length), model.read(id, at, length)) === 0, `volume ${id} differs at ${at}`);
    }
    assert.is(engine.checksum(id), model.checksum(id), `checksum of volume ${id}`);
  }
}


const volumeId = fc.constantFrom(...VOLUME_IDS);
// A byte offset as a fraction of the volume's size, or near its end or a 4 GiB boundary.
const place = fc.oneof(
  fc.record({ kind: fc.constant("start" as const), delta: fc.nat({ max: 3 * TRACK_SIZE }) }),
  fc.record({ kind: fc.constant("end" as const), delta: fc.nat({ max: 3 * TRACK_SIZE }) }),
  fc.record({ kind: fc.constant("boundary" as const), delta: fc.integer({ min: -2 * TRACK_SIZE, max: 2 * TRACK_SIZE }) }),
  fc.record({ kind: fc.constant("anywhere" as const), delta: fc.double({ min: 0, max: 1, noNaN: true }) }),
);
type Place = { kind: "start" | "end" | "boundary"; delta: number } | { kind: "anywhere"; delta: number };

function offsetOf(sizeBytes: number, where: Place, length: number): number {
  const room = Math.max(0, sizeBytes - length);
  const chosen = where.kind === "start" ? where.delta
    : where.kind === "end" ? room - where.delta
    : where.kind === "boundary" ? 2 ** 32 * Math.max(1, Math.floor(sizeBytes / 2 ** 32 / 2)) + where.delta
    : Math.floor(where.delta * room);
  return Math.min(room, Math.max(0, chosen));
}

const length = fc.oneof(fc.nat({ max: 3000 }), fc.constant(TRACK_SIZE), fc.integer({ min: 1, max: 3 * TRACK_SIZE }));
const flags = fc.record({ nocopy: fc.boolean(), persist: fc.boolean(), record: fc.boolean() });
// Incremental relationships, which FlashCopy V2 needs.
const incremental = fc.record({ nocopy: fc.boolean(), persist: fc.constant(true), record: fc.constant(true) });

function drain(world: World): void {
  const exports = world.engine.core.exports;
  const copiedBefore = Number(exports.copied_bytes_total());
  let steps = 0;
  for (let copied = exports.copy_step(); copied !== 0; copied = exports.copy_step()) {
    assert.ok(copied > 0, `copy_step failed with core code ${copied}`);
    assert.ok(++steps < COPY_STEPS_MAX, "background copy ends within its bound");
  }
  let drained = 0;
  for (const id of world.model.relationshipIds()) {
    const relationship = world.engine.relationship(id);
    // A revertible increment has no background copy until it is committed.
    if (!relationship.nocopy && !world.model.isRevertible(id)) drained += world.model.copyTracks(id, 0, relationship.trackCount);
  }
  // Settled tracks are drained without adding to the bytes copied.
  exercised.drainedTracks += drained;
  exercised.settledTracks += drained - (Number(exports.copied_bytes_total()) - copiedBefore) / TRACK_SIZE;
}

// The relationship at `pick` (modulo their count), or null when there is none.
function picked(world: World, pick: number): string | null {
  const ids = world.model.relationshipIds();
  return ids.length === 0 ? null : ids[pick % ids.length];
}

const establish = fc.tuple(volumeId, volumeId, fc.oneof(flags, incremental)).map(([source, target, options]) =>
    plain(`establish ${source}:${target} ${JSON.stringify(options)}`, (world) => {
      both(world, (image) => image.establish(source, target, options));
      if (world.model.relationshipIds().includes(`${source}:${target}`)) exercised.establishes++;
    }));

const resync = fc.tuple(fc.nat(), fc.boolean()).map(([pick, record]) =>
  plain(`resync relationship #${pick} record ${record}`, (world) => {
    const id = picked(world, pick);
    if (id === null) return;
    both(world, (image) => {
      image.resync(id, { record, persist: true });
      if (image === world.model) exercised.increments++; // the model refuses before the engine runs
    });
  }));

const drainCommand = fc.constant(null).map(() => plain("drain background copies", (world) => {
  drain(world);
  both(world, () => undefined);
}));

// Twice in the list of commands (resync three times): each succeeds only on a
// relationship with change recording, so at the weight of one command some
// seeds made no increment or no revertible increment at all, and the check
// that the run exercised them failed.
const setRevertible = fc.nat().map((pick) =>
  plain(`setflashrevertible relationship #${pick}`, (world) => {
    const id = picked(world, pick);
    if (id === null) return;
    both(world, (image) => {
      image.setRevertible(id);
      if (image === world.model) exercised.revertibles++;
    });
  }));

const commands = [
  establish,
  establish,
  establish,
  fc.tuple(volumeId, volumeId).map(([source, target]) =>
    plain(`withdraw ${source}:${target}`, (world) => both(world, (image) => image.withdraw(`${source}:${target}`)))),
  fc.tuple(volumeId, place, length, fc.integer({ min: 1, max: 0xffff })).map(([id, where, count, seed]) =>
    plain(`write ${id} ${JSON.stringify(where)} +${count} seed ${seed}`, (world) => {
      const offset = offsetOf(world.engine.volume(id).sizeBytes, where, count);
      const bytes = new Uint8Array(Math.min(count, world.engine.volume(id).sizeBytes - offset));
      for (let index = 0; index < bytes.length; index++) bytes[index] = (seed * 31 + index * 7) & 0xff;
      both(world, (image) => image.write(id, offset, bytes));
      if (offset + bytes.length > 2 ** 32) exercised.writesPast4GiB++;
    })),
  fc.tuple(volumeId, place, length).map(([id, where, count]) =>
    plain(`checksum ${id} ${JSON.stringify(where)} +${count}`, (world) => {
      const offset = offsetOf(world.engine.volume(id).sizeBytes, where, count);
      const bytes = Math.min(count, world.engine.volume(id).sizeBytes - offset);
      let expected = "";
      both(world, (image) => {
        const sum = image.checksum(id, offset, bytes);
        if (image === world.model) expected = sum;
        else assert.is(sum, expected, "checksum of the range");
      });
    })),
  fc.tuple(volumeId, volumeId, place, fc.integer({ min: 1, max: 40 })).map(([source, target, where, count]) =>
    plain(`copy ${source}:${target} ${JSON.stringify(where)} +${count} tracks`, (world) => {
      const id = `${source}:${target}`;
      if (!world.model.relationshipIds().includes(id)) return;
      const first = Math.floor(offsetOf(world.engine.volume(source).sizeBytes, where, 0) / TRACK_SIZE);
      let copied = -1;
      both(world, (image) => {
        const done = image.copyTracks(id, first, count);
        if (image === world.model) copied = done;
        else assert.is(done, copied, "tracks copied");
      });
    })),
  drainCommand,
  drainCommand,
  volumeId.map((id) => plain(`reinit ${id}`, (world) => both(world, (image) => image.reinitVolume(id)))),
  // FlashCopy V2 over the two-level bitmaps: arming from the change records,
  // and revertible increments that keep and bring back the target's tracks.
  // Each picks one of the relationships there are (by index), if any.
  resync,
  resync,
  resync,
  fc.nat().map((pick) =>
    plain(`reverse relationship #${pick}`, (world) => {
      const id = picked(world, pick);
      if (id !== null) both(world, (image) => image.reverse(id, { record: true, persist: true }));
    })),
  setRevertible,
  setRevertible,
  fc.tuple(fc.nat(), fc.boolean()).map(([pick, revert]) =>
    plain(`${revert ? "revertflash" : "commitflash"} relationship #${pick}`, (world) => {
      const id = picked(world, pick);
      if (id !== null) both(world, (image) => (revert ? image.revertRevertible(id) : image.commitRevertible(id)));
    })),
];

function matchesModel(build: "release" | "debug", runs: number, seed = testSeed()): void {
  console.log(`  huge-volume property seed ${seed}, ${build} core (TZERO_SEED=${seed} replays)`);
  const engine = new StorageImage({ model: "2107", workers: 0, build });
  // The core's xxHash64 of raw memory for the model's checksums (test/core checks it on its own).
  const hash = (bytes: Uint8Array): bigint => {
    engine.core.staging().set(bytes);
    return BigInt.asUintN(64, engine.core.exports.hash_memory(engine.core.stagingPointer, bytes.length));
  };
  try {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...SIZES), { minLength: VOLUME_IDS.length, maxLength: VOLUME_IDS.length }), fc.commands(commands, { maxCommands: 40 }), (sizes, sequence) => {
        for (const relationship of engine.listRelationships()) {
          if (relationship.revertible) engine.commitRevertible(relationship.id);
          engine.withdraw(relationship.id);
        }
        for (const volume of engine.listVolumes()) engine.removeVolume(volume.id);
        const model = new ReferenceImage("2107", hash);
        VOLUME_IDS.forEach((id, index) => {
          const spec = { id, capacity: sizes[index] / BLOCK_SIZE };
          engine.createVolume(spec);
          model.createVolume(spec);
        });
        fc.modelRun(() => ({ model: { engine, model }, real: { engine, model } }), sequence);
      }),
      { seed, numRuns: runs },
    );
  } finally {
    void engine.close();
  }
}

test(`engine should match the reference model on volumes of one block to 16 TiB over ${RUNS} random sequences`, () => {
  matchesModel("release", RUNS);
});
test(`debug engine should match the reference model on volumes of one block to 16 TiB over ${Math.ceil(RUNS / 4)} random sequences`, () => {
  matchesModel("debug", Math.ceil(RUNS / 4));
});
// Which kinds of step the runs so far have not exercised at least once.
function unexercised(): string[] {
  return Object.entries(exercised).filter(([kind, count]) => kind !== "drainedTracks" && count === 0).map(([kind]) => kind);
}

// A seed whose sequences happen to miss a kind of step (one in tens of
// seeds made no revertible increment) runs more sequences from the next
// seeds, each printed, so the check below fails only when the commands
// cannot reach it at all.
test("should have exercised huge volumes", () => {
  for (let extra = 1; extra <= 4 && unexercised().length > 0; extra++) {
    console.log(`  not yet exercised: ${unexercised().join(", ")}; more sequences`);
    matchesModel("release", RUNS, (testSeed() + extra) >>> 0);
  }
  console.log(`  exercised: ${JSON.stringify(exercised)}`);
  assert.ok(exercised.establishes > 0, "some establishes succeeded");
  assert.ok(exercised.writesPast4GiB > 0, "some writes went past 4 GiB");
  assert.ok(exercised.settledTracks > 0, "some background copies settled thin chunks");
  assert.ok(exercised.increments > 0, "some resyncs succeeded");
  assert.ok(exercised.revertibles > 0, "some increments were made revertible");
});
test.run();
