// Helpers for engine tests: a fingerprint of everything observable in an
// image, to check that a refused command changed nothing.
import * as assert from "uvu/assert";
import { StorageImage } from "../../src/engine/image.js";
import { EngineError, isEngineError, type EngineErrorCode } from "../../src/engine/errors.js";
import type { ReferenceImage } from "../../src/model/reference.js";
import type * as fc from "fast-check";
import { rejectsWithCode } from "../support/coded-errors.js";

// "CODE: message" of the engine error `body` throws, or "no error".
export function engineFailure(body: () => unknown): string {
  try {
    body();
  } catch (error) {
    if (isEngineError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "no error";
}

export function fingerprint(image: StorageImage): string {
  const volumes = image.listVolumes().map((volume) => {
    const state = image.dataState(volume.id);
    const sum = state === "Normal" ? image.checksum(volume.id) : "unusable";
    return `${volume.id}/${volume.blocks}/${volume.os}/${volume.name}/${volume.pool}/${volume.sam}/${state}/${sum}`;
  });
  const pools = image.pools.list().map((pool) => {
    const usage = image.pools.usage(pool);
    return `${pool.id}/${pool.name}/${pool.rankGroup}/${usage.capacityExtents}/${usage.allocatedExtents}`;
  });
  const relationships = image.listRelationships().map((relationship) => {
    const status = image.status(relationship.id);
    const v2 = `${status.record}/${status.revertible}/${status.writesHeld}/${status.seqnum}/${image.recordedTracks(status.id, "source")}/${image.recordedTracks(status.id, "target")}`;
    return `${status.id}/${status.pendingTracks}/${status.nocopy}/${status.persist}/${status.tgtinhibit}/${v2}`;
  });
  return JSON.stringify({ volumes, relationships, pools });
}

// Runs `action`, which must throw an EngineError with `code` whose message
// names every string of `mentions`, and leave the image as it was.
export function refuses(image: StorageImage, code: EngineErrorCode, mentions: string[], action: () => unknown): EngineError {
  const before = fingerprint(image);
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  assert.instance(caught, EngineError, `expected EngineError ${code}, got ${String(caught)}`);
  const error = caught as EngineError;
  assert.is(error.code, code, error.message);
  for (const mention of mentions) assert.ok(error.message.includes(mention), `"${error.message}" should name ${mention}`);
  assert.is(fingerprint(image), before, "a refused command must change nothing");
  return error;
}

export function rejectsWith(promise: Promise<unknown>, code: EngineErrorCode): Promise<EngineError> {
  return rejectsWithCode(promise, EngineError, code);
}

// The engine and the reference model, driven through the same methods.
export interface World {
  engine: StorageImage;
  model: ReferenceImage;
}

// Runs the same operation on both; they must agree on success or on the error
// code, and then, settled, on everything `compare` looks at.
export function applyToBoth(world: World, action: (image: StorageImage | ReferenceImage) => unknown, compare: (world: World) => void): void {
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

// A fast-check command that always applies: the world itself is the model.
export type Command = fc.Command<World, World>;
export const plain = (text: string, run: (world: World) => void): Command => ({
  check: () => true,
  run: (_model, world) => run(world),
  toString: () => text,
});

// The engine's relationships against the model's: which there are, and each
// one's pending tracks (as the engine reports them and as its bitmap counts
// them), change records and revertible state (in the engine and in its core).
export function compareRelationships({ engine, model }: World): void {
  assert.equal(engine.listRelationships().map((r) => r.id), model.relationshipIds());
  for (const id of model.relationshipIds()) {
    assert.is(engine.status(id).pendingTracks, model.pendingTracks(id), `pending tracks of ${id}`);
    assert.is(engine.core.exports.rel_count_pending(engine.relationship(id).slot), model.pendingTracks(id), `bitmap population of ${id}`);
    assert.is(engine.recordedTracks(id, "source"), model.recordedTracks(id, "source"));
    assert.is(engine.recordedTracks(id, "target"), model.recordedTracks(id, "target"));
    const revertible = model.isRevertible(id);
    assert.is(engine.relationship(id).revertible, revertible, `revertible state of ${id}`);
    assert.is(engine.core.exports.rel_revertible(engine.relationship(id).slot), revertible ? 1 : 0, `core revertible state of ${id}`);
  }
}
