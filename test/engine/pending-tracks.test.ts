// StorageImage.pendingTracks: the core's batched scan of a relationship's
// two-level control bitmap (rel_find_pending_many) against a plain scan of
// the same bits. The bitmaps are restored chunk by chunk, so that every kind
// of chunk (all clear, all set without a leaf, a leaf) meets every other, on
// volumes from one track to 1 TiB; scans start and batches end at word, pair,
// group (the core flags 64 words at a time, 8 a step), chunk and volume
// edges. Batches come copied (pendingTracks), as views of the core's staging
// buffer (pendingTracksView) and as counts read from its one view
// (findPendingTracks, stopping at isLastPendingBatch), each call checked to have written
// nothing past its batch's end; words of every bit count meet the
// core's ways of taking them apart at group, batch and leaf ends. Seeded:
// TZERO_SEED=<n> replays a run.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageImage, isLastPendingBatch } from "../../src/engine/image.js";
import { restoreRelationship, type BitmapChunk } from "../../src/engine/snapshot.js";
import { isEngineError } from "../../src/engine/errors.js";
import { CoreCode, CHUNK_TRACKS, TRACK_SIZE, BLOCK_SIZE, FIND_MANY_TRACKS_MAX, FIND_MANY_TRACKS_MIN } from "../../src/core/codes.js";
import type { CoreBuild } from "../../src/core/core.js";
import { Random, testSeed } from "../support/random.js";

const seed = testSeed();
// Track counts at the edges of a word (64), a v128 pair (128), a group of 8
// and of 64 words (512, 4096 tracks), a chunk, and many chunks up to a 1 TiB
// volume (64 chunks; 16 TiB makes the plain answers millions of tracks long,
// half a minute a build); each trial takes the next.
const TRACK_COUNTS = [
  1, 63, 64, 65, 127, 128, 129, 200, 64 * 9 + 5, 4096 + 64 * 3 + 7, 2 * 4096 + 64 * 7, CHUNK_TRACKS - 1, CHUNK_TRACKS, CHUNK_TRACKS + 1,
  2 * CHUNK_TRACKS + 130, 64 * CHUNK_TRACKS,
];
const TRIALS = TRACK_COUNTS.length;
// The least batch, one word's room past it (a word takes up to 64 entries), and larger ones.
const BATCHES = [FIND_MANY_TRACKS_MIN, FIND_MANY_TRACKS_MIN + 1, 191, FIND_MANY_TRACKS_MIN + 64, FIND_MANY_TRACKS_MIN + 65, 255, 4096, FIND_MANY_TRACKS_MAX];

interface Fixture {
  chunks: BitmapChunk[];
  pending: number[]; // every pending track, ascending: the plain scan's answer
}

function leafBytes(trackCount: number, chunk: number): number {
  const tracks = Math.min(CHUNK_TRACKS, trackCount - chunk * CHUNK_TRACKS);
  const words = Math.ceil(tracks / 64);
  return (words + (words & 1)) * 8;
}

// A leaf of random bits at a random density, with runs at word and pair edges.
function randomLeaf(random: Random, trackCount: number, chunk: number): Uint8Array {
  const bytes = new Uint8Array(leafBytes(trackCount, chunk));
  const tracks = Math.min(CHUNK_TRACKS, trackCount - chunk * CHUNK_TRACKS);
  const density = random.pick([0, 0.001, 0.01, 0.1, 0.5, 0.99, 1]);
  const setBit = (track: number) => { bytes[track >>> 3] |= 1 << (track & 7); };
  const sampled = Math.min(tracks, 4096);
  for (let index = 0; index < sampled; index++) {
    const track = sampled === tracks ? index : random.int(0, tracks - 1);
    if (random.next() / 2 ** 32 < density) setBit(track);
  }
  for (const edge of [0, 63, 64, 127, 128, 129, tracks - 1]) if (edge < tracks && random.int(0, 1) === 1) setBit(edge);
  return bytes;
}

// Bit counts where the core's ways of taking a word apart meet: two entries
// a step, a third bit, eight bits a byte, and the byte table from 16 bits.
const WORD_BIT_COUNTS = [1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 56, 57, 63, 64];

// A leaf whose groups of 64 words take turns: every word with bits (the
// core's full walk), every other word empty (its sparse walk), and at
// random. Each word with bits has a count from WORD_BIT_COUNTS at random
// places; a partial last word keeps only its tracks' bits.
function bitCountLeaf(random: Random, trackCount: number, chunk: number): Uint8Array {
  const bytes = new Uint8Array(leafBytes(trackCount, chunk));
  const tracks = Math.min(CHUNK_TRACKS, trackCount - chunk * CHUNK_TRACKS);
  const words = Math.ceil(tracks / 64);
  for (let word = 0; word < words; word++) {
    const kind = (word >>> 6) % 3;
    const empty = kind === 1 ? word % 2 === 1 : kind === 2 && random.int(0, 2) === 0;
    if (empty) continue;
    const positions = Array.from({ length: 64 }, (_, bit) => bit);
    const count = WORD_BIT_COUNTS[(word + random.int(0, 1)) % WORD_BIT_COUNTS.length];
    for (let taken = 0; taken < count; taken++) {
      const pick = random.int(taken, 63);
      [positions[taken], positions[pick]] = [positions[pick], positions[taken]];
      const track = word * 64 + positions[taken];
      if (track < tracks) bytes[track >>> 3] |= 1 << (track & 7);
    }
  }
  return bytes;
}

// The plain scan: every set bit of every chunk, one at a time.
function plainPending(chunks: readonly BitmapChunk[], trackCount: number): number[] {
  const pending: number[] = [];
  chunks.forEach((chunk, index) => {
    const base = index * CHUNK_TRACKS;
    const tracks = Math.min(CHUNK_TRACKS, trackCount - base);
    if (chunk === "clear") return;
    for (let track = 0; track < tracks; track++) {
      if (chunk === "set" || (chunk[track >>> 3] & (1 << (track & 7))) !== 0) pending.push(base + track);
    }
  });
  return pending;
}

function randomFixture(random: Random, trackCount: number): Fixture {
  const count = Math.ceil(trackCount / CHUNK_TRACKS);
  // On volumes of many chunks most stay clear, so that the answer stays small.
  const clearPercent = count > 8 ? 97 : 30;
  const chunks: BitmapChunk[] = [];
  for (let chunk = 0; chunk < count; chunk++) {
    const roll = random.int(0, 99);
    chunks.push(roll < clearPercent ? "clear" : roll < clearPercent + (100 - clearPercent) / 3 ? "set" : randomLeaf(random, trackCount, chunk));
  }
  return { chunks, pending: plainPending(chunks, trackCount) };
}

// A nocopy relationship whose control bitmap is exactly the fixture's chunks.
function restorePair(image: StorageImage, trackCount: number, chunks: BitmapChunk[]): string {
  const blocks = (trackCount * TRACK_SIZE) / BLOCK_SIZE;
  const source = image.createVolume({ id: "1000", capacity: blocks, unit: "blocks" });
  const target = image.createVolume({ id: "1001", capacity: blocks, unit: "blocks" });
  const { relationship } = restoreRelationship(image, {
    sourceId: source.id, targetId: target.id, slot: 7, nocopy: true, persist: true, record: false, tgtinhibit: false, seqnum: 0,
    createdAt: new Date(0), syncedAt: null, copiedBytes: 0, bitmap: { trackCount, chunks }, recordSource: null, recordTarget: null,
  });
  return relationship.id;
}

function removePair(image: StorageImage, pair: string): void {
  image.withdraw(pair);
  image.removeVolume("1000");
  image.removeVolume("1001");
}

// Every pending track from `from` on, in batches of `batch`, checked batch by batch.
function scanFrom(image: StorageImage, pair: string, from: number, batch: number, context: string): number[] {
  const into = new Uint32Array(batch);
  const tracks: number[] = [];
  for (let next = from, found = image.pendingTracks(pair, next, into); found > 0; found = image.pendingTracks(pair, next, into)) {
    assert.ok(found <= batch, `a batch of ${found} fits ${batch} (${context})`);
    for (let index = 0; index < found; index++) tracks.push(into[index]);
    next = into[found - 1] + 1;
  }
  return tracks;
}

// An entry the scan never writes, in the staging buffer past a batch's end.
const CANARY = 0xdeadbeef;

// Runs one call of a scan with CANARY in a word's room (64 entries) past the
// batch's end in the staging buffer, and checks that the call wrote nothing
// there: a write there would land past the staging buffer in a batch of the
// most tracks.
function unwrittenPastBatch<T>(image: StorageImage, batch: number, where: string, call: () => T): T {
  const entries = image.stagedTracks;
  const guardEnd = Math.min(entries.length, batch + 64);
  entries.fill(CANARY, batch, guardEnd);
  const result = call();
  const overwritten = entries.subarray(batch, guardEnd).findIndex((entry) => entry !== CANARY);
  assert.is(overwritten, -1, `nothing written past the batch's end (${where})`);
  return result;
}

// The same scan through views of the staging buffer, each read before the
// next call, each call checked to have written nothing past its batch.
function scanViewsFrom(image: StorageImage, pair: string, from: number, batch: number, context: string): number[] {
  const tracks: number[] = [];
  for (let next = from; ;) {
    const view = unwrittenPastBatch(image, batch, `${context}, from ${next}`, () => image.pendingTracksView(pair, next, batch));
    if (view.length === 0) return tracks;
    assert.ok(view.length <= batch, `a view of ${view.length} fits ${batch} (${context})`);
    for (const track of view) tracks.push(track);
    next = tracks[tracks.length - 1] + 1;
  }
}

// The same scan through findPendingTracks, reading each batch from the one
// view of the staging buffer (stagedTracks) and stopping at the batch that
// isLastPendingBatch calls the last, as the bench's sweep does. After that
// batch it asks once more and checks that nothing is left: a batch the rule
// calls the last while tracks remain beyond it would lose them. Each call
// is checked, as in scanViewsFrom, to have written nothing past its batch.
function scanStagedFrom(image: StorageImage, pair: string, from: number, batch: number, context: string): number[] {
  const staged = image.stagedTracks;
  const tracks: number[] = [];
  for (let next = from; ;) {
    const found = unwrittenPastBatch(image, batch, `${context}, from ${next}`, () => image.findPendingTracks(pair, next, batch));
    assert.ok(found <= batch, `a batch of ${found} fits ${batch} (${context})`);
    for (let index = 0; index < found; index++) tracks.push(staged[index]);
    if (isLastPendingBatch(found, batch)) {
      const after = found > 0 ? staged[found - 1] + 1 : next;
      assert.is(image.findPendingTracks(pair, after, batch), 0, `nothing pending after the batch called the last (${context}, from ${after})`);
      return tracks;
    }
    assert.ok(found > 0, `a batch not called the last has tracks (${context}, from ${next})`);
    next = staged[found - 1] + 1;
  }
}

// Where scans start: the ends and the edges of words, pairs, groups and chunks, and a few at random.
function starts(random: Random, trackCount: number): number[] {
  const edges = [0, 1, 63, 64, 65, 127, 128, 129, 511, 512, 4095, 4096, 4097, 4159, CHUNK_TRACKS - 1, CHUNK_TRACKS, CHUNK_TRACKS + 1, trackCount - 1, trackCount];
  for (let index = 0; index < 4; index++) edges.push(random.int(0, trackCount));
  return edges.filter((track) => track <= trackCount);
}

// The plain answer from `from` on: the pending tracks at or after it.
function pendingFrom(pending: readonly number[], from: number): number[] {
  let low = 0;
  let high = pending.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (pending[middle] < from) low = middle + 1;
    else high = middle;
  }
  return pending.slice(low);
}

for (const build of ["release", "debug"] as CoreBuild[]) {
  const Scan = suite(`pending-track scan (${build} core)`);

  Scan(`should list the same pending tracks as a plain scan, in batches, from any track (seed ${seed})`, async () => {
    const random = new Random(seed ^ (build === "debug" ? 0x5ca7 : 0));
    const image = new StorageImage({ workers: 0, build, model: "2107" });
    try {
      for (let trial = 0; trial < TRIALS; trial++) {
        const trackCount = trial < TRACK_COUNTS.length ? TRACK_COUNTS[trial] : random.pick(TRACK_COUNTS);
        const fixture = randomFixture(random, trackCount);
        const pair = restorePair(image, trackCount, fixture.chunks);
        assert.is(image.status(pair).pendingTracks, fixture.pending.length, `pending count (seed ${seed}, ${trackCount} tracks)`);
        for (const from of starts(random, trackCount)) {
          const batch = random.pick(BATCHES);
          const context = `seed ${seed}, ${trackCount} tracks, from ${from}, batches of ${batch}`;
          const expected = pendingFrom(fixture.pending, from);
          assert.equal(scanFrom(image, pair, from, batch, context), expected, context);
          assert.equal(scanViewsFrom(image, pair, from, batch, `${context}, as views`), expected, `${context}, as views`);
          assert.equal(scanStagedFrom(image, pair, from, batch, `${context}, staged`), expected, `${context}, staged`);
        }
        removePair(image, pair);
      }
    } finally {
      await image.close();
    }
  });

  Scan(`should list every pending track of a whole leaf at 1%, 10% and 50% pending, as the bench's bitmaps have them (seed ${seed})`, async () => {
    const random = new Random(seed ^ (build === "debug" ? 0x1eaf : 0x1ea));
    const image = new StorageImage({ workers: 0, build, model: "2107" });
    try {
      for (const density of [0.01, 0.1, 0.5]) {
        // Bits at random over the whole chunk: about half the words empty at 1%, none at 50%.
        const leaf = new Uint8Array(leafBytes(CHUNK_TRACKS + 100, 0));
        for (let track = 0; track < CHUNK_TRACKS; track++) if (random.next() / 2 ** 32 < density) leaf[track >>> 3] |= 1 << (track & 7);
        const trackCount = CHUNK_TRACKS + 100;
        const chunks: BitmapChunk[] = [leaf, "set"];
        const pending = plainPending(chunks, trackCount);
        const pair = restorePair(image, trackCount, chunks);
        for (const batch of [FIND_MANY_TRACKS_MIN, FIND_MANY_TRACKS_MIN + 64, 16_384]) {
          for (const from of [0, 4095, 4097, random.int(0, CHUNK_TRACKS)]) {
            const context = `seed ${seed}, ${density * 100}% pending, from ${from}, batches of ${batch}`;
            assert.equal(scanViewsFrom(image, pair, from, batch, context), pendingFrom(pending, from), context);
            assert.equal(scanStagedFrom(image, pair, from, batch, context), pendingFrom(pending, from), `${context}, staged`);
          }
        }
        removePair(image, pair);
      }
    } finally {
      await image.close();
    }
  });

  Scan(`should take apart words of every bit count at group, batch and leaf ends, from inside a word (seed ${seed})`, async () => {
    const random = new Random(seed ^ (build === "debug" ? 0xb175 : 0xb17));
    const image = new StorageImage({ workers: 0, build, model: "2107" });
    try {
      // A full leaf and one of 70 words and a 37-track tail, so that the last
      // group is short and the last word partial.
      const trackCount = CHUNK_TRACKS + 64 * 70 + 37;
      const chunks: BitmapChunk[] = [bitCountLeaf(random, trackCount, 0), bitCountLeaf(random, trackCount, 1)];
      const pending = plainPending(chunks, trackCount);
      const pair = restorePair(image, trackCount, chunks);
      const lastWord = CHUNK_TRACKS + 64 * 70;
      const froms = [0, 1, 7, 8, 9, 63, 4096 + 1, 4096 + 9, 3 * 4096 + 33, CHUNK_TRACKS - 1, CHUNK_TRACKS + 8, lastWord, lastWord + 36, random.int(0, trackCount)];
      for (const batch of [FIND_MANY_TRACKS_MIN, FIND_MANY_TRACKS_MIN + 1, 191, 193, 255, 4097, 16_384]) {
        for (const from of froms) {
          const context = `seed ${seed}, from ${from}, batches of ${batch}`;
          assert.equal(scanViewsFrom(image, pair, from, batch, context), pendingFrom(pending, from), context);
          assert.equal(scanStagedFrom(image, pair, from, batch, context), pendingFrom(pending, from), `${context}, staged`);
        }
      }
      removePair(image, pair);
    } finally {
      await image.close();
    }
  });

  Scan("should write nothing past a batch's end where its last word has all 64 bits and the group has empty words", async () => {
    const image = new StorageImage({ workers: 0, build, model: "2107" });
    try {
      const trackCount = CHUNK_TRACKS;
      for (const fullWords of [2, 3, 7]) {
        // Word 0 empty, words 1 to fullWords full, the rest of their group
        // empty: the group's sparse walk, whose last word starts exactly where
        // a batch of 64 entries a word leaves room for one more word.
        const leaf = new Uint8Array(leafBytes(trackCount, 0));
        leaf.fill(0xff, 8, 8 * (fullWords + 1));
        const chunks: BitmapChunk[] = [leaf];
        const pair = restorePair(image, trackCount, chunks);
        const batch = 64 * fullWords;
        const context = `${fullWords} full words, batches of ${batch}`;
        assert.equal(scanViewsFrom(image, pair, 0, batch, context), plainPending(chunks, trackCount), context);
        assert.equal(scanStagedFrom(image, pair, 0, batch, context), plainPending(chunks, trackCount), `${context}, staged`);
        removePair(image, pair);
      }
    } finally {
      await image.close();
    }
  });

  Scan("should return a full batch where every track is pending, even on a chunk without a leaf", async () => {
    const image = new StorageImage({ workers: 0, build, model: "2107" });
    try {
      const trackCount = 2 * CHUNK_TRACKS;
      const pair = restorePair(image, trackCount, ["set", "set"]);
      const into = new Uint32Array(FIND_MANY_TRACKS_MIN);
      assert.is(image.pendingTracks(pair, CHUNK_TRACKS - 5, into), FIND_MANY_TRACKS_MIN);
      assert.equal([...into], Array.from({ length: FIND_MANY_TRACKS_MIN }, (_, index) => CHUNK_TRACKS - 5 + index));
      assert.is(image.pendingTracks(pair, trackCount, into), 0, "nothing pending at the volume's end");
      removePair(image, pair);
    } finally {
      await image.close();
    }
  });

  Scan("should refuse a bad batch, a bad track and an unknown pair with a clear error", async () => {
    const image = new StorageImage({ workers: 0, build, model: "2107" });
    try {
      const pair = restorePair(image, 300, ["set"]);
      const refuses = (action: () => unknown, code: string, text: string) => {
        try {
          action();
        } catch (error) {
          assert.ok(isEngineError(error), "an EngineError");
          assert.is(error.code, code);
          assert.ok(error.message.includes(text), `"${error.message}" names ${text}`);
          return;
        }
        assert.unreachable(`should have refused (${text})`);
      };
      refuses(() => image.pendingTracks(pair, 0, new Uint32Array(FIND_MANY_TRACKS_MIN - 1)), "BAD_ARGUMENT", `not ${FIND_MANY_TRACKS_MIN - 1}`);
      refuses(() => image.pendingTracks(pair, 0, new Uint32Array(FIND_MANY_TRACKS_MAX + 1)), "BAD_ARGUMENT", `not ${FIND_MANY_TRACKS_MAX + 1}`);
      for (const track of [-1, 1.5, 301, Number.NaN]) refuses(() => image.pendingTracks(pair, track, new Uint32Array(200)), "BAD_ARGUMENT", `track ${track}`);
      refuses(() => image.pendingTracks("1000:1002", 0, new Uint32Array(200)), "RELATIONSHIP_NOT_FOUND", "1000:1002");
      refuses(() => image.pendingTracksView(pair, 0, 200.5), "BAD_ARGUMENT", "not 200.5");
      refuses(() => image.pendingTracksView(pair, 0, FIND_MANY_TRACKS_MAX + 1), "BAD_ARGUMENT", `not ${FIND_MANY_TRACKS_MAX + 1}`);
      refuses(() => image.pendingTracksView(pair, 302, 200), "BAD_ARGUMENT", "track 302");
      refuses(() => image.findPendingTracks(pair, 0, FIND_MANY_TRACKS_MIN - 1), "BAD_ARGUMENT", `not ${FIND_MANY_TRACKS_MIN - 1}`);
      refuses(() => image.findPendingTracks(pair, -1, 200), "BAD_ARGUMENT", "track -1");
      refuses(() => image.findPendingTracks("1000:1002", 0, 200), "RELATIONSHIP_NOT_FOUND", "1000:1002");
      assert.is(image.status(pair).pendingTracks, 300, "nothing changed");
      const exports = image.core.exports;
      const slot = image.relationship(pair).slot;
      assert.is(exports.rel_find_pending_many(slot, 0, FIND_MANY_TRACKS_MIN - 1), CoreCode.BAD_ARGUMENT, "the core refuses a batch too small itself");
      assert.is(exports.rel_find_pending_many(slot, 0, FIND_MANY_TRACKS_MAX + 1), CoreCode.BAD_ARGUMENT, "and one larger than the staging buffer");
      assert.is(exports.rel_find_pending_many(slot + 1, 0, 200), CoreCode.BAD_ARGUMENT, "and a slot with no relationship");
      removePair(image, pair);
    } finally {
      await image.close();
    }
  });

  Scan.run();
}
