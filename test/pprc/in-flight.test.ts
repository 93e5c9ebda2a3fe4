// A Metro Mirror write in flight holds its track's out-of-sync bit, but that
// bit is no backlog (assembly/mirror.ts): the core counts such writes apart,
// and pprc_backlog (lspprc's Out Of Sync Tracks) leaves them out. Here the
// test thread is the link's sender itself (ring_take, ring_complete), so a
// writer thread's write stays in flight exactly as long as the test wants,
// and each way a write ends is seen: acknowledged, refused by the secondary,
// never acknowledged (the ack bound), a track already out of sync, Global
// Copy. Both cores: the debug one asserts that the count never goes negative.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CoreCode, MirrorMode, SuspendCause, TRACK_SIZE } from "../../src/core/codes.js";
import type { CoreBuild } from "../../src/core/core.js";
import { StorageImage } from "../../src/engine/image.js";
import { startWriters, until, type Writers } from "../engine/writers.js";
import { testSeed } from "../support/random.js";

const TRACKS = 8;
const seed = testSeed();

interface Primary {
  image: StorageImage;
  slot: number;
  ring: number;
}

// A primary whose ring has no sender but the test; the secondary's slot is never looked at.
function primary(build: CoreBuild, mode: number, allOutOfSync: boolean, ackTimeoutMs = 60_000): Primary {
  const image = new StorageImage({ model: "2107", serial: "75FLITE", workers: 0, build });
  const volume = image.createVolume({ id: "1000", capacity: (TRACKS * TRACK_SIZE) / 512, unit: "blocks" });
  const exports = image.core.exports;
  const ring = exports.ring_create();
  assert.ok(ring !== 0);
  exports.ring_set_ack_timeout(ring, ackTimeoutMs);
  assert.is(exports.pprc_make_primary(volume.slot, ring, 7, mode, 0, allOutOfSync ? 1 : 0), CoreCode.OK);
  return { image, slot: volume.slot, ring };
}

// One write of `length` bytes at `offset` by a writer thread of `build`.
function oneWrite(build: CoreBuild, { image, slot }: Primary, offset: number, length: number): Writers {
  return startWriters(image, build, [{ jobs: [{ slot, regionStart: offset, regionEnd: offset + length }], mode: "overwrite", data: "pattern", seed, lengthMin: length, lengthMax: length }], 1);
}

const figures = ({ image, slot }: Primary) => ({
  outOfSync: image.core.exports.pprc_out_of_sync(slot),
  backlog: image.core.exports.pprc_backlog(slot),
  inFlight: image.core.exports.pprc_sync_writes_in_flight(slot),
});

// Waits for the writer's next ring entry, as the sender would.
async function taken(mirror: Primary): Promise<number> {
  let entry = 0;
  await until(() => (entry = mirror.image.core.exports.ring_take(mirror.ring)) !== 0, "the writer's ring entry");
  return entry;
}

for (const build of ["release", "debug"] as CoreBuild[]) {
  const InFlight = suite(`Metro Mirror writes in flight apart from the backlog (${build} core)`);

  InFlight("should count a synchronous write's bit in flight, not as backlog, until it is acknowledged", async () => {
    const mirror = primary(build, MirrorMode.SYNC, false);
    try {
      // Across a track boundary: two tracks, one after the other, each in flight while its entry waits.
      const writers = oneWrite(build, mirror, 2 * TRACK_SIZE - 4096, 8192);
      for (const track of [1, 2]) {
        const entry = await taken(mirror);
        assert.equal(figures(mirror), { outOfSync: 1, backlog: 0, inFlight: 1 }, `track ${track} in flight`);
        assert.is(mirror.image.core.exports.pprc_next_out_of_sync(mirror.slot, 0), track, "the bit the copy and resync go by is set");
        mirror.image.core.exports.ring_complete(mirror.ring, entry, CoreCode.OK);
      }
      const [result] = await writers.done;
      assert.is(result.log.length, 1);
      assert.equal(figures(mirror), { outOfSync: 0, backlog: 0, inFlight: 0 });
      assert.is(mirror.image.core.exports.pprc_mode(mirror.slot), MirrorMode.SYNC);
    } finally {
      await mirror.image.close();
    }
  });

  InFlight("should leave a write the secondary refused as backlog, exactly its tracks, the pair suspended", async () => {
    const mirror = primary(build, MirrorMode.SYNC, false);
    try {
      const writers = oneWrite(build, mirror, 3 * TRACK_SIZE - 512, 1024 + TRACK_SIZE);
      const entry = await taken(mirror);
      assert.equal(figures(mirror), { outOfSync: 1, backlog: 0, inFlight: 1 });
      mirror.image.core.exports.ring_complete(mirror.ring, entry, CoreCode.RANGE);
      await writers.done;
      // Track 2 was refused; tracks 3 and 4 came after the suspension: all three are backlog, none in flight.
      assert.equal(figures(mirror), { outOfSync: 3, backlog: 3, inFlight: 0 });
      assert.is(mirror.image.core.exports.pprc_mode(mirror.slot), MirrorMode.SUSPENDED);
      assert.is(mirror.image.core.exports.pprc_cause(mirror.slot), SuspendCause.TIMEOUT);
      assert.is(mirror.image.core.exports.ring_take(mirror.ring), 0, "nothing was sent after the suspension");
    } finally {
      await mirror.image.close();
    }
  });

  InFlight("should turn a write never acknowledged into backlog once its wait for the ack runs out", async () => {
    const mirror = primary(build, MirrorMode.SYNC, false, 1500);
    try {
      const writers = oneWrite(build, mirror, 5 * TRACK_SIZE + 512, 4096);
      await taken(mirror); // taken and never completed: the secondary never answers
      assert.equal(figures(mirror), { outOfSync: 1, backlog: 0, inFlight: 1 });
      await writers.done;
      assert.equal(figures(mirror), { outOfSync: 1, backlog: 1, inFlight: 0 });
      assert.is(mirror.image.core.exports.pprc_mode(mirror.slot), MirrorMode.SUSPENDED);
      assert.is(mirror.image.core.exports.pprc_next_out_of_sync(mirror.slot, 0), 5);
    } finally {
      await mirror.image.close();
    }
  });

  InFlight("should count nothing in flight for a write to tracks already out of sync, nor under Global Copy", async () => {
    for (const [mode, allOutOfSync, expected] of [[MirrorMode.SYNC, true, TRACKS], [MirrorMode.ASYNC, false, 2]] as const) {
      const mirror = primary(build, mode, allOutOfSync);
      try {
        const writers = oneWrite(build, mirror, TRACK_SIZE - 512, 1024);
        await writers.done;
        assert.equal(figures(mirror), { outOfSync: expected, backlog: expected, inFlight: 0 }, `mode ${mode}`);
        assert.is(mirror.image.core.exports.ring_take(mirror.ring), 0, "the writer sent nothing: the copy sends those tracks");
      } finally {
        await mirror.image.close();
      }
    }
  });

  InFlight("should start a pair again with nothing in flight after rmpprc and mkpprc", async () => {
    const mirror = primary(build, MirrorMode.SYNC, false, 1000);
    try {
      const writers = oneWrite(build, mirror, 0, 4096);
      await taken(mirror);
      await writers.done; // suspended by its ack's bound, the bit left as backlog
      const exports = mirror.image.core.exports;
      assert.is(exports.pprc_clear(mirror.slot), CoreCode.OK);
      assert.is(exports.pprc_make_primary(mirror.slot, mirror.ring, 7, MirrorMode.SYNC, 0, 0), CoreCode.OK);
      assert.equal(figures(mirror), { outOfSync: 0, backlog: 0, inFlight: 0 });
    } finally {
      await mirror.image.close();
    }
  });

  InFlight.run();
}
