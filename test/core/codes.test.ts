// src/core/codes.ts is the host's copy of the core's constants: each must
// equal what the core itself exports, so a hand-kept copy cannot drift.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { coreConstants, coreModule, type CoreBuild } from "../../src/core/core.js";
import {
  CoreCode, TRACK_SIZE, BLOCK_SIZE, EXTENT_SIZE, VOLUME_SLOT_MAX, REL_SLOT_MAX, THREAD_MAX, STAGING_SIZE,
  VOLUME_SIZE_MAX, MEMORY_PAGES_MAX, INITIAL_PAGES, VolumeState, RelFlag, WAIT_TIMEOUTS_MS, FIND_MANY_TRACKS_MAX,
  FIND_MANY_TRACKS_MIN,
} from "../../src/core/codes.js";

const BUILDS: CoreBuild[] = ["release", "debug"];

for (const build of BUILDS) {
  const constants = coreConstants(coreModule(build));
  const exported = (name: string) => {
    assert.ok(constants.has(name), `the ${build} core should export ${name}`);
    return Number(constants.get(name));
  };

  test(`every result code of codes.ts should be the core's (${build})`, () => {
    for (const [name, value] of Object.entries(CoreCode)) {
      assert.is(exported(name === "OK" ? "OK" : `E_${name}`), value, `CoreCode.${name}`);
    }
  });

  test(`every result code the core exports should be in codes.ts (${build})`, () => {
    const mirrored = new Set(Object.keys(CoreCode).map((name) => (name === "OK" ? "OK" : `E_${name}`)));
    for (const name of constants.keys()) {
      if (name.startsWith("E_")) assert.ok(mirrored.has(name), `${name} of the core is missing from CoreCode`);
    }
    const values = Object.values(CoreCode);
    assert.is(new Set(values).size, values.length, "no two codes share a value");
  });

  test(`sizes, limits, states, flags and wait bounds should be the core's (${build})`, () => {
    const expected: Record<string, number> = {
      TRACK_SIZE, BLOCK_SIZE, EXTENT_SIZE, VOLUME_SLOT_MAX, REL_SLOT_MAX, THREAD_MAX, STAGING_SIZE, VOLUME_SIZE_MAX, MEMORY_PAGES_MAX,
      VOLUME_FREE: VolumeState.FREE, VOLUME_NORMAL: VolumeState.NORMAL, VOLUME_UNUSABLE: VolumeState.UNUSABLE,
      REL_BACKGROUND: RelFlag.BACKGROUND, REL_TGTINHIBIT: RelFlag.TGTINHIBIT, REL_RECORD: RelFlag.RECORD, REL_PERSIST: RelFlag.PERSIST,
      REL_HOLD_WRITES: RelFlag.HOLD_WRITES, REL_REVERTIBLE: RelFlag.REVERTIBLE,
      LOCK_TIMEOUT_MS: WAIT_TIMEOUTS_MS.lock, ALLOC_TIMEOUT_MS: WAIT_TIMEOUTS_MS.alloc,
      GATE_TIMEOUT_MS: WAIT_TIMEOUTS_MS.gate, DRAIN_TIMEOUT_MS: WAIT_TIMEOUTS_MS.drain,
      FIND_MANY_TRACKS_MAX, FIND_MANY_TRACKS_MIN,
    };
    for (const [name, value] of Object.entries(expected)) assert.is(exported(name), value, name);
  });
}

test("INITIAL_PAGES should be asconfig.json's initialMemory", () => {
  const config = JSON.parse(readFileSync(new URL("../../../asconfig.json", import.meta.url), "utf8")) as { options: { initialMemory: number; maximumMemory: number } };
  assert.is(INITIAL_PAGES, config.options.initialMemory);
  assert.is(MEMORY_PAGES_MAX, config.options.maximumMemory);
});

test.run();
