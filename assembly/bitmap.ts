// Bitmaps: one bit per source track (control bitmaps: set while the track is
// pending, its T0 data not yet on the target; change records: set once the
// track was written). Two levels, so that a bitmap of 2^28 tracks (a 16 TiB
// volume) costs 4 KiB until its tracks are touched:
//
//   bitmap + 0   u32 track count
//   bitmap + 4   u32 chunk count = ceil(track count / CHUNK_TRACKS)
//   bitmap + 8   u32 x chunk count: summary entry of each chunk
//                  CHUNK_CLEAR (0)           every bit of the chunk clear, no leaf
//                  CHUNK_SET   (0xffffffff)  every bit set, no leaf
//                  any other value           pointer to the chunk's leaf
//   leaf         u64 x leaf_words(chunk): the chunk's bits, word w holding
//                tracks chunk * CHUNK_TRACKS + 64 w ..; the word count is even
//                so that the v128 scan never reads past the end, and bits past
//                the last track are always clear.
//
// An entry changes from CHUNK_CLEAR or CHUNK_SET to a leaf once (leaf_ensure:
// the leaf is filled to match, then published by compare-exchange, so a
// reader sees the same bits before and after), and a leaf stays until the
// bitmap is freed, which happens only with its relationship frozen and
// unlinked. The only other change of an entry is CHUNK_SET to CHUNK_CLEAR by
// chunk_settle, for a chunk nothing has materialised yet (copy.ts says when
// that is allowed). A bit is cleared or set only in a leaf, so whoever changes
// a bit first makes sure its leaf exists (outside any lock: it may allocate).
//
// Change bitmaps (a volume's, volume.ts) differ: their set bits only ask a
// save for more work, so bit_mark marks a chunk all set (CHUNK_CLEAR to
// CHUNK_SET) when its leaf cannot be allocated, and word_take gives an all-set
// chunk a leaf of set bits before it takes words out.
//
// A control bit is only ever cleared once set (by whoever copied the track,
// holding the source track's lock): readers that see it clear may use the
// target's data without a lock.

import {
  OK, E_NO_SPACE, WORD_TRACK_SHIFT, CHUNK_TRACK_SHIFT, CHUNK_TRACKS, CHUNK_WORD_SHIFT, CHUNK_WORDS,
} from "./layout";
import { alloc, alloc_failure, free } from "./alloc";

export const CHUNK_CLEAR: u32 = 0;
export const CHUNK_SET: u32 = 0xffffffff;
const B_TRACKS: usize = 0;
const B_CHUNKS: usize = 4;
const B_ENTRIES: usize = 8;

// @ts-ignore: decorator
@inline export function bitmap_tracks(bitmap: usize): u32 { return load<u32>(bitmap + B_TRACKS); }
// @ts-ignore: decorator
@inline export function bitmap_chunks(bitmap: usize): u32 { return load<u32>(bitmap + B_CHUNKS); }
// @ts-ignore: decorator
@inline function entry_at(bitmap: usize, chunk: u32): usize { return bitmap + B_ENTRIES + (<usize>chunk << 2); }
// @ts-ignore: decorator
@inline export function chunk_entry(bitmap: usize, chunk: u32): u32 { return atomic.load<u32>(entry_at(bitmap, chunk)); }

// An even number of u64 words, enough for the chunk's tracks.
export function leaf_words(bitmap: usize, chunk: u32): u32 {
  const tracks = min<u32>(CHUNK_TRACKS, bitmap_tracks(bitmap) - (chunk << CHUNK_TRACK_SHIFT));
  const words = (tracks + 63) >>> WORD_TRACK_SHIFT;
  return (words + 1) & ~1;
}

// @ts-ignore: decorator
@inline export function chunk_track_count(bitmap: usize, chunk: u32): u32 {
  return min<u32>(CHUNK_TRACKS, bitmap_tracks(bitmap) - (chunk << CHUNK_TRACK_SHIFT));
}

// A new bitmap of track_count tracks, all set or all clear; 0 when the image is
// full. Its cost is the summary's: 4 bytes per 16 GiB of source.
export function bitmap_create(track_count: u32, all_set: bool): usize {
  const chunks = (track_count + CHUNK_TRACKS - 1) >>> CHUNK_TRACK_SHIFT;
  const bitmap = alloc(<u32>B_ENTRIES + (chunks << 2));
  if (bitmap == 0) return 0;
  store<u32>(bitmap + B_TRACKS, track_count);
  store<u32>(bitmap + B_CHUNKS, chunks);
  if (all_set) memory.fill(bitmap + B_ENTRIES, 0xff, <usize>chunks << 2);
  return bitmap;
}

export function bitmap_free(bitmap: usize): void {
  if (bitmap == 0) return;
  const chunks = bitmap_chunks(bitmap);
  for (let chunk: u32 = 0; chunk < chunks; chunk++) {
    const entry = chunk_entry(bitmap, chunk);
    if (entry != CHUNK_CLEAR && entry != CHUNK_SET) free(<usize>entry, leaf_words(bitmap, chunk) << 3);
  }
  free(bitmap, <u32>B_ENTRIES + (chunks << 2));
}

// Fills a fresh leaf as the summary entry `state` says its bits are.
function leaf_fill(leaf: usize, bitmap: usize, chunk: u32, state: u32): void {
  if (state != CHUNK_SET) return; // alloc hands out zeroed blocks
  const tracks = chunk_track_count(bitmap, chunk);
  const full_words = tracks >>> WORD_TRACK_SHIFT;
  memory.fill(leaf, 0xff, <usize>full_words << 3);
  const tail_bits = tracks & 63;
  if (tail_bits != 0) store<u64>(leaf + (<usize>full_words << 3), (<u64>1 << <u64>tail_bits) - 1);
}

// A bitmap of new_track_count tracks (more than it has) holding the same
// bits, the new tracks clear; 0 when the image is full, the old one then
// unchanged. Only while no other thread can read the bitmap (its volume
// frozen); frees what the old one no longer needs.
export function bitmap_grow(old: usize, new_track_count: u32): usize {
  const fresh = bitmap_create(new_track_count, false);
  if (fresh == 0) return 0;
  const last = bitmap_chunks(old) - 1;
  const last_entry = chunk_entry(old, last);
  // The old last chunk may hold more tracks now, so its leaf grows (an all-set
  // one becomes a leaf: the new tracks are clear).
  const grows = chunk_track_count(old, last) < chunk_track_count(fresh, last) && last_entry != CHUNK_CLEAR;
  let last_leaf: usize = <usize>last_entry;
  if (grows) {
    last_leaf = alloc(leaf_words(fresh, last) << 3);
    if (last_leaf == 0) {
      bitmap_free(fresh);
      return 0;
    }
    if (last_entry == CHUNK_SET) leaf_fill(last_leaf, old, last, CHUNK_SET);
    else memory.copy(last_leaf, <usize>last_entry, <usize>leaf_words(old, last) << 3);
  }
  for (let chunk: u32 = 0; chunk < last; chunk++) store<u32>(entry_at(fresh, chunk), chunk_entry(old, chunk));
  store<u32>(entry_at(fresh, last), <u32>last_leaf);
  if (grows && last_entry != CHUNK_SET) free(<usize>last_entry, leaf_words(old, last) << 3);
  free(old, <u32>B_ENTRIES + ((last + 1) << 2));
  return fresh;
}


// A fresh leaf for a chunk whose summary entry is `state` (all set or all
// clear), filled to match; 0 when the image is full. Private to its maker
// until leaf_publish.
export function leaf_create(bitmap: usize, chunk: u32, state: u32): usize {
  const leaf = alloc(leaf_words(bitmap, chunk) << 3);
  if (leaf != 0) leaf_fill(leaf, bitmap, chunk, state);
  return leaf;
}

// Publishes a leaf made by leaf_create if the chunk's entry is still `state`;
// otherwise frees it and returns false (another thread changed the entry).
export function leaf_publish(bitmap: usize, chunk: u32, state: u32, leaf: usize): bool {
  if (atomic.cmpxchg<u32>(entry_at(bitmap, chunk), state, <u32>leaf) == state) return true;
  free(leaf, leaf_words(bitmap, chunk) << 3);
  return false;
}

// Makes sure chunk `chunk` has a leaf. Threads racing to materialise the same
// chunk settle it by compare-exchange; the loser frees its leaf.
export function leaf_ensure(bitmap: usize, chunk: u32): i32 {
  for (let attempt = 0; attempt < 3; attempt++) {
    const state = chunk_entry(bitmap, chunk);
    if (state != CHUNK_CLEAR && state != CHUNK_SET) return OK;
    const leaf = leaf_create(bitmap, chunk, state);
    if (leaf == 0) return alloc_failure();
    if (leaf_publish(bitmap, chunk, state, leaf)) return OK;
  }
  // An entry changes at most twice (set -> clear -> leaf), so a third look finds a leaf.
  const state = chunk_entry(bitmap, chunk);
  return state != CHUNK_CLEAR && state != CHUNK_SET ? OK : E_NO_SPACE;
}

// Leaves for every chunk holding tracks [first_track, last_track].
export function leaves_ensure(bitmap: usize, first_track: u32, last_track: u32): i32 {
  if (bitmap == 0) return OK;
  if (first_track >= bitmap_tracks(bitmap)) return OK;
  const last = min<u32>(last_track, bitmap_tracks(bitmap) - 1);
  for (let chunk = first_track >>> CHUNK_TRACK_SHIFT; chunk <= (last >>> CHUNK_TRACK_SHIFT); chunk++) {
    const ensured = leaf_ensure(bitmap, chunk);
    if (ensured != OK) return ensured;
  }
  return OK;
}

// Turns an untouched all-set chunk into an all-clear one; returns the tracks
// it cleared (0 when the chunk is no longer all set without a leaf).
export function chunk_settle(bitmap: usize, chunk: u32): u32 {
  if (atomic.cmpxchg<u32>(entry_at(bitmap, chunk), CHUNK_SET, CHUNK_CLEAR) != CHUNK_SET) return 0;
  return chunk_track_count(bitmap, chunk);
}

// Sets a chunk all clear or all set, freeing its leaf. Only for a bitmap that
// no other thread can read meanwhile (its relationship's volumes frozen).
export function chunk_reset(bitmap: usize, chunk: u32, state: u32): void {
  const entry = chunk_entry(bitmap, chunk);
  if (entry != CHUNK_CLEAR && entry != CHUNK_SET) free(<usize>entry, leaf_words(bitmap, chunk) << 3);
  atomic.store<u32>(entry_at(bitmap, chunk), state);
}

// Marks an all-clear chunk without a leaf all set (a restore fills a bitmap
// in this way before anybody else sees it); false when it is not all clear.
export function chunk_mark_set(bitmap: usize, chunk: u32): bool {
  return atomic.cmpxchg<u32>(entry_at(bitmap, chunk), CHUNK_CLEAR, CHUNK_SET) == CHUNK_CLEAR;
}

// @ts-ignore: decorator
@inline function tail_mask(bitmap: usize, word_index: u32): u64 {
  const first = word_index << WORD_TRACK_SHIFT;
  const tracks = bitmap_tracks(bitmap);
  if (first >= tracks) return 0;
  const left = tracks - first;
  return left >= 64 ? ~<u64>0 : (<u64>1 << <u64>left) - 1;
}

// The u64 word of tracks [64 word_index, 64 word_index + 64), whatever its chunk's state.
// @ts-ignore: decorator
@inline export function word_load(bitmap: usize, word_index: u32): u64 {
  const entry = chunk_entry(bitmap, word_index >>> CHUNK_WORD_SHIFT);
  if (entry == CHUNK_CLEAR) return 0;
  if (entry == CHUNK_SET) return tail_mask(bitmap, word_index);
  return atomic.load<u64>(<usize>entry + (<usize>(word_index & (CHUNK_WORDS - 1)) << 3));
}

// Address of the word in its leaf; the leaf must exist (leaf_ensure).
// @ts-ignore: decorator
@inline function leaf_word(bitmap: usize, word_index: u32): usize {
  const entry = chunk_entry(bitmap, word_index >>> CHUNK_WORD_SHIFT);
  assert(entry != CHUNK_SET, "a bit of an unmaterialised all-set chunk changed");
  if (entry == CHUNK_CLEAR || entry == CHUNK_SET) return 0;
  return <usize>entry + (<usize>(word_index & (CHUNK_WORDS - 1)) << 3);
}

// @ts-ignore: decorator
@inline export function bit_is_set(bitmap: usize, track: u32): bool {
  return ((word_load(bitmap, track >>> WORD_TRACK_SHIFT) >> <u64>(track & 63)) & 1) != 0;
}

// Clears the bit; returns true if this call cleared it. A chunk without a leaf
// must be all clear (the caller ensured the leaf before the bit could matter).
// @ts-ignore: decorator
@inline export function bit_clear(bitmap: usize, track: u32): bool {
  const word = leaf_word(bitmap, track >>> WORD_TRACK_SHIFT);
  if (word == 0) return false;
  const mask = <u64>1 << <u64>(track & 63);
  return (atomic.and<u64>(word, ~mask) & mask) != 0;
}

// Sets the bit; its chunk's leaf must exist unless the chunk is all set.
// @ts-ignore: decorator
@inline export function bit_set(bitmap: usize, track: u32): void {
  const entry = chunk_entry(bitmap, track >>> CHUNK_TRACK_SHIFT);
  if (entry == CHUNK_SET) return;
  assert(entry != CHUNK_CLEAR, "a bit of an unmaterialised clear chunk was set");
  if (entry == CHUNK_CLEAR) return;
  const word = <usize>entry + (<usize>((track >>> WORD_TRACK_SHIFT) & (CHUNK_WORDS - 1)) << 3);
  atomic.or<u64>(word, <u64>1 << <u64>(track & 63));
}

// Sets the bit whatever its chunk's state, for change bitmaps (volume.ts),
// whose set bits only ever ask for more work: a chunk without a leaf gets one,
// or, when none can be allocated, is marked all set. On an all-set chunk it
// still does a read-modify-write of the entry, so that the caller's data is
// ordered before it as before a bit (volume_take_changed materialises the
// chunk by compare-exchange on that entry).
export function bit_mark(bitmap: usize, track: u32): void {
  const chunk = track >>> CHUNK_TRACK_SHIFT;
  const at = entry_at(bitmap, chunk);
  for (;;) {
    const entry = atomic.load<u32>(at);
    if (entry == CHUNK_SET) {
      if (atomic.cmpxchg<u32>(at, CHUNK_SET, CHUNK_SET) == CHUNK_SET) return;
    } else if (entry == CHUNK_CLEAR) {
      if (leaf_ensure(bitmap, chunk) != OK) chunk_mark_set(bitmap, chunk);
    } else {
      const word = <usize>entry + (<usize>((track >>> WORD_TRACK_SHIFT) & (CHUNK_WORDS - 1)) << 3);
      atomic.or<u64>(word, <u64>1 << <u64>(track & 63));
      return;
    }
  }
}

// Moves word `word_index` of a change bitmap out, leaving it clear; an
// all-set chunk is first given a leaf of set bits. When that leaf cannot be
// allocated the chunk stays all set and the word is returned set: its tracks
// are read again by every later take until memory allows a leaf, never lost.
export function word_take(bitmap: usize, word_index: u32): u64 {
  const chunk = word_index >>> CHUNK_WORD_SHIFT;
  for (;;) {
    const entry = chunk_entry(bitmap, chunk);
    if (entry == CHUNK_CLEAR) return 0;
    if (entry != CHUNK_SET) {
      return atomic.xchg<u64>(<usize>entry + (<usize>(word_index & (CHUNK_WORDS - 1)) << 3), 0);
    }
    const leaf = leaf_create(bitmap, chunk, CHUNK_SET);
    if (leaf == 0) return tail_mask(bitmap, word_index);
    leaf_publish(bitmap, chunk, CHUNK_SET, leaf);
  }
  return 0; // unreachable: the loop returns
}

// Clears the bits of `mask` in word `word_index`; returns those that were set.
// @ts-ignore: decorator
@inline export function word_clear(bitmap: usize, word_index: u32, mask: u64): u64 {
  const word = leaf_word(bitmap, word_index);
  if (word == 0) return 0;
  return atomic.and<u64>(word, ~mask) & mask;
}

// Population count of a flat run of u64 words, a word at a time.
export function words_count(words: usize, word_count: u32): u32 {
  let count: u64 = 0;
  for (let index: u32 = 0; index < word_count; index++) {
    count += popcnt<u64>(atomic.load<u64>(words + (<usize>index << 3)));
  }
  return <u32>count;
}

// Set bits of the whole bitmap: all-set chunks count without a leaf.
export function bitmap_count(bitmap: usize): u32 {
  const chunks = bitmap_chunks(bitmap);
  let count: u32 = 0;
  for (let chunk: u32 = 0; chunk < chunks; chunk++) {
    const entry = chunk_entry(bitmap, chunk);
    if (entry == CHUNK_SET) count += chunk_track_count(bitmap, chunk);
    else if (entry != CHUNK_CLEAR) count += words_count(<usize>entry, leaf_words(bitmap, chunk));
  }
  return count;
}

// First set bit at or after `from_track` in a flat run of u64 words (an even
// count), or -1. Skips empty stretches 128 bits at a time with v128 loads. The
// scan reads words without atomics: a racing clear may be missed or seen, and
// either is fine for a search; the caller re-checks the bit under the track lock.
export function words_find(words: usize, word_count: u32, from_track: u32): i32 {
  let index = from_track >>> WORD_TRACK_SHIFT;
  if (index >= word_count) return -1;
  const first = load<u64>(words + (<usize>index << 3)) & (~<u64>0 << <u64>(from_track & 63));
  if (first != 0) return <i32>((index << WORD_TRACK_SHIFT) + <u32>ctz<u64>(first));
  index++;
  if ((index & 1) != 0 && index < word_count) {
    const word = load<u64>(words + (<usize>index << 3));
    if (word != 0) return <i32>((index << WORD_TRACK_SHIFT) + <u32>ctz<u64>(word));
    index++;
  }
  // index is even here and word_count is even: pairs of words fit exactly.
  while (index < word_count) {
    const pair = v128.load(words + (<usize>index << 3));
    if (v128.any_true(pair)) {
      const low = i64x2.extract_lane(pair, 0);
      if (low != 0) return <i32>((index << WORD_TRACK_SHIFT) + <u32>ctz<u64>(low));
      const high = i64x2.extract_lane(pair, 1);
      return <i32>(((index + 1) << WORD_TRACK_SHIFT) + <u32>ctz<u64>(high));
    }
    index += 2;
  }
  return -1;
}

// First set bit of the bitmap at or after `from_track`, or -1: all-clear
// chunks are skipped without a load of their bits.
export function bitmap_find(bitmap: usize, from_track: u32): i32 {
  const tracks = bitmap_tracks(bitmap);
  if (from_track >= tracks) return -1;
  const chunks = bitmap_chunks(bitmap);
  let from = from_track;
  for (let chunk = from_track >>> CHUNK_TRACK_SHIFT; chunk < chunks; chunk++) {
    const entry = chunk_entry(bitmap, chunk);
    const base_track = chunk << CHUNK_TRACK_SHIFT;
    if (entry == CHUNK_SET) return <i32>max<u32>(from, base_track);
    if (entry != CHUNK_CLEAR) {
      const within = from > base_track ? from - base_track : 0;
      const found = words_find(<usize>entry, leaf_words(bitmap, chunk), within);
      if (found >= 0) return <i32>(base_track + <u32>found);
    }
    from = base_track + CHUNK_TRACKS;
  }
  return -1;
}

// Stores the tracks of the set bits of `bits` (bit b is track base_track + b)
// from `at` on; returns the address past them. Two entries a step, whether or
// not the word has that many bits left (ctz of 0 is 64: a stale entry past
// the end, which the next word overwrites), and one step even for an empty
// word: no branch depends on which bits are set, the branches that make a
// scan slow where set bits are scattered. It writes at most 64 entries, the
// most a word can have.
// @ts-ignore: decorator
@inline function emit_word(at: usize, base_track: u32, bits: u64): usize {
  let entry = at;
  let left = bits;
  do {
    store<u32>(entry, base_track + <u32>ctz<u64>(left));
    left &= left - 1;
    store<u32>(entry, base_track + <u32>ctz<u64>(left), 4);
    left &= left - 1;
    entry += 8;
  } while (left != 0);
  return at + (<usize>popcnt<u64>(bits) << 2);
}

// Entry b of this table lists the set bits of the byte b, lowest first, then
// zeros: 256 entries of eight u32. Filled by each instance of the core before
// its first leaf walk (the values never change, so a fill racing a reader in
// another thread writes what the reader would read anyway).
const BYTE_BITS: usize = memory.data(256 * 32, 16);
let byte_bits_filled = false;

function byte_bits_fill(): void {
  for (let value: u32 = 0; value < 256; value++) {
    let entry: usize = BYTE_BITS + (<usize>value << 5);
    for (let bit: u32 = 0; bit < 8; bit++) {
      if (((value >>> bit) & 1) == 0) continue;
      store<u32>(entry, bit);
      entry += 4;
    }
  }
  byte_bits_filled = true;
}

// The tracks of the set bits of byte `byte` of `bits`, as eight entries from
// `at` of which the first popcnt are real; returns the address past those.
// @ts-ignore: decorator
@inline function emit_byte(at: usize, bits: u64, byte: u32, base: v128): usize {
  const value = <u32>(bits >>> <u64>(byte << 3)) & 0xff;
  const entry = BYTE_BITS + (<usize>value << 5);
  const byte_base = i32x4.add(base, i32x4.splat(byte << 3));
  v128.store(at, i32x4.add(v128.load(entry), byte_base));
  v128.store(at, i32x4.add(v128.load(entry, 16), byte_base), 16);
  return at + (<usize>popcnt<u32>(value) << 2);
}

// What emit_word does, for a word with many bits: a byte at a time from
// BYTE_BITS, the same work whatever the bits. emit_word's chain of
// `left &= left - 1` costs two cycles a bit, and its loop ends after a
// different count on every word. It writes at most 56 + 8 = 64 entries.
// @ts-ignore: decorator
@inline function emit_dense_word(at: usize, base_track: u32, bits: u64): usize {
  const base = i32x4.splat(base_track);
  let entry = emit_byte(at, bits, 0, base);
  entry = emit_byte(entry, bits, 1, base);
  entry = emit_byte(entry, bits, 2, base);
  entry = emit_byte(entry, bits, 3, base);
  entry = emit_byte(entry, bits, 4, base);
  entry = emit_byte(entry, bits, 5, base);
  entry = emit_byte(entry, bits, 6, base);
  return emit_byte(entry, bits, 7, base);
}

// Bits from which a word goes to emit_dense_word: emit_word's time grows
// with the bits, emit_dense_word's does not. Between 10% pending (about 6
// bits a word, where emit_word is the faster) and 50% (about 32, where
// emit_dense_word takes less than half the time); not tuned in between.
const DENSE_WORD_BITS: u32 = 16;

// Entries a scan keeps free in `out` before it starts on a leaf: room for
// the first word and the next, the most emit_word can write for two words;
// within a leaf it needs room for one word at a time (WORD_ENTRIES_MAX).
export const FIND_MANY_STEP: u32 = 128;

// Words whose non-empty flags one nonzero_words call gathers: one u64 mask.
const GROUP_WORDS: u32 = 64;
// Entries a word may take: all 64 of its tracks.
const WORD_ENTRIES_MAX: u32 = 64;

// A mask of the non-empty words among the `word_count` (at most GROUP_WORDS)
// at `words`: bit k set when word k is not zero. Sixteen words a step with
// v128 compares narrowed to one i8x16 bitmask, then eight with two i32x4
// bitmasks, then pairs, then a last odd word, so it reads no word past
// word_count. It flags the empty words (i64x2.eq is one instruction
// on x64, ne three) and inverts the mask at the end. It has no branch that
// depends on the bits, so a leaf where about half the words are empty (1% of
// tracks pending) costs no mispredictions here; the caller's walk then visits
// only the non-empty words.
// @ts-ignore: decorator
@inline function nonzero_words(words: usize, word_count: u32): u64 {
  let empty: u64 = 0;
  let index: u32 = 0;
  const zero = i64x2.splat(0);
  for (; index + 16 <= word_count; index += 16) {
    const at = words + (<usize>index << 3);
    const a = i32x4.shuffle(i64x2.eq(v128.load(at), zero), i64x2.eq(v128.load(at, 16), zero), 0, 2, 4, 6);
    const b = i32x4.shuffle(i64x2.eq(v128.load(at, 32), zero), i64x2.eq(v128.load(at, 48), zero), 0, 2, 4, 6);
    const c = i32x4.shuffle(i64x2.eq(v128.load(at, 64), zero), i64x2.eq(v128.load(at, 80), zero), 0, 2, 4, 6);
    const d = i32x4.shuffle(i64x2.eq(v128.load(at, 96), zero), i64x2.eq(v128.load(at, 112), zero), 0, 2, 4, 6);
    const flags = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d));
    empty |= <u64>i8x16.bitmask(flags) << <u64>index;
  }
  for (; index + 8 <= word_count; index += 8) {
    const at = words + (<usize>index << 3);
    // Each i64x2.eq lane is all ones or zeros; its even i32 lanes carry it, so
    // one shuffle packs four words' flags into the four lanes of one i32x4.
    const low = i32x4.shuffle(i64x2.eq(v128.load(at), zero), i64x2.eq(v128.load(at, 16), zero), 0, 2, 4, 6);
    const high = i32x4.shuffle(i64x2.eq(v128.load(at, 32), zero), i64x2.eq(v128.load(at, 48), zero), 0, 2, 4, 6);
    empty |= <u64>(i32x4.bitmask(low) | (i32x4.bitmask(high) << 4)) << <u64>index;
  }
  for (; index + 2 <= word_count; index += 2) {
    empty |= <u64>i64x2.bitmask(i64x2.eq(v128.load(words + (<usize>index << 3)), zero)) << <u64>index;
  }
  if (index < word_count && load<u64>(words + (<usize>index << 3)) == 0) empty |= <u64>1 << <u64>index;
  const all = word_count == GROUP_WORDS ? ~<u64>0 : (<u64>1 << <u64>word_count) - 1;
  return ~empty & all;
}

// Word `word` of those at `words` (tracks from base_track), in a group where
// most words have a bit or two if any (1% pending): two entries inline, the
// lowest bit and the highest (the same track for a one-bit word, which the
// next word overwrites), and only a word of three bits or more is taken
// apart again from its first bit by emit_word. The highest bit comes from
// one clz where the second lowest would take clearing the lowest and a ctz:
// the walk's time goes in such integer operations, one word after another.
// Writes at most 64 entries.
// @ts-ignore: decorator
@inline function emit_sparse_word(at: usize, words: usize, base_track: u32, word: u32): usize {
  const bits = load<u64>(words + (<usize>word << 3));
  const word_track = base_track + (word << WORD_TRACK_SHIFT);
  store<u32>(at, word_track + <u32>ctz<u64>(bits));
  store<u32>(at, word_track + 63 - <u32>clz<u64>(bits), 4);
  const count = <u32>popcnt<u64>(bits);
  if (count > 2) emit_word(at, word_track, bits);
  return at + (<usize>count << 2);
}

// The words of `group_mask` among those at `words`, by emit_sparse_word.
// @ts-ignore: decorator
@inline function walk_sparse(words: usize, base_track: u32, group_mask: u64, at: usize): usize {
  let mask = group_mask;
  let entry = at;
  // Two words a turn, so that the loop's own cost (V8 checks the stack on
  // every turn) is paid half as often.
  while (mask != 0) {
    const first = <u32>ctz<u64>(mask);
    mask &= mask - 1;
    entry = emit_sparse_word(entry, words, base_track, first);
    if (mask == 0) break;
    const second = <u32>ctz<u64>(mask);
    mask &= mask - 1;
    entry = emit_sparse_word(entry, words, base_track, second);
  }
  return entry;
}

// Every one of `word_count` words, none empty (10% pending or more), each by
// the cheaper way for its bits (a choice that mispredicts only where words
// have about DENSE_WORD_BITS bits, near 25% pending).
// @ts-ignore: decorator
@inline function walk_full(words: usize, base_track: u32, word_count: u32, at: usize): usize {
  let entry = at;
  for (let word: u32 = 0; word < word_count; word++) {
    const bits = load<u64>(words + (<usize>word << 3));
    const word_track = base_track + (word << WORD_TRACK_SHIFT);
    entry = <u32>popcnt<u64>(bits) >= DENSE_WORD_BITS ? emit_dense_word(entry, word_track, bits) : emit_word(entry, word_track, bits);
  }
  return entry;
}

// The words of `mask` while the next surely fits: a word starts only at or
// below `at_max`. For the last group of a batch.
// @ts-ignore: decorator
@inline function walk_until(words: usize, base_track: u32, group_mask: u64, at: usize, at_max: usize): usize {
  let mask = group_mask;
  let entry = at;
  while (mask != 0 && entry <= at_max) {
    const word = <u32>ctz<u64>(mask);
    mask &= mask - 1;
    entry = emit_word(entry, base_track + (word << WORD_TRACK_SHIFT), load<u64>(words + (<usize>word << 3)));
  }
  return entry;
}

// The set bits of a leaf from track `within` of its chunk on, appended to
// `out` while the next word surely fits; returns the new count, which leaves
// fewer than FIND_MANY_STEP entries free only if the leaf was not finished
// (it then stopped after a whole word, so the caller goes on from its last
// track + 1). Two passes over each group of 64 words: nonzero_words flags the
// non-empty ones without branches, then a walk emits them: only those when
// some are empty, each in turn by the cheaper way for its bits when none is.
// A group whose every non-empty word could take 64 entries without passing
// the batch's end is walked with no check per word; the one that might pass
// it, word by word with the check. Reads without atomics, as words_find does.
function leaf_find_many(leaf: usize, word_count: u32, within: u32, base_track: u32, out: usize, count: u32, count_max: u32): u32 {
  if (!byte_bits_filled) byte_bits_fill();
  let index = within >>> WORD_TRACK_SHIFT;
  if (index >= word_count || count + FIND_MANY_STEP > count_max) return count;
  const first = load<u64>(leaf + (<usize>index << 3)) & (~<u64>0 << <u64>(within & 63));
  let at = emit_word(out + (<usize>count << 2), base_track + (index << WORD_TRACK_SHIFT), first);
  index++;
  // The last address a word may start at: a word takes up to 64 entries.
  const at_max = out + (<usize>(count_max - WORD_ENTRIES_MAX) << 2);
  while (index < word_count) {
    const group_words = min<u32>(GROUP_WORDS, word_count - index);
    const words = leaf + (<usize>index << 3);
    const group_track = base_track + (index << WORD_TRACK_SHIFT);
    const mask = nonzero_words(words, group_words);
    const nonempty = <u32>popcnt<u64>(mask);
    if (nonempty != 0 && at + (<usize>(nonempty - 1) << 8) > at_max) {
      at = walk_until(words, group_track, mask, at, at_max);
      if (at > at_max) break;
    } else if (nonempty == group_words) {
      at = walk_full(words, group_track, group_words, at);
    } else {
      at = walk_sparse(words, group_track, mask, at);
    }
    index += group_words;
  }
  return <u32>((at - out) >>> 2);
}

// Tracks [from_track, end_track) of an all-set chunk, as many as fit.
function range_find_many(from_track: u32, end_track: u32, out: usize, count: u32, count_max: u32): u32 {
  const end = min<u32>(end_track, from_track + (count_max - count));
  let found = count;
  for (let track = from_track; track < end; track++) {
    store<u32>(out + (<usize>found << 2), track);
    found++;
  }
  return found;
}

// The set bits at or after `from_track`, ascending, as u32 track numbers at
// `out` (room for count_max entries); returns how many, 0 when none is left.
// In a leaf it stops before a word that might not fit, so it can
// return fewer than count_max with more bits set beyond, but then always
// with fewer than FIND_MANY_STEP entries free (every early return below
// says so): the caller goes on from its last track + 1, and a call that
// left FIND_MANY_STEP entries or more free reached the end. One call finds what
// bitmap_find finds in as many calls, so a host scan pays the JS-to-WASM call
// once per batch instead of once per track. count_max must be at least
// FIND_MANY_STEP, or a call could return none with bits set.
export function bitmap_find_many(bitmap: usize, from_track: u32, out: usize, count_max: u32): u32 {
  const tracks = bitmap_tracks(bitmap);
  const chunks = bitmap_chunks(bitmap);
  let count: u32 = 0;
  let from = from_track;
  for (let chunk = from_track >>> CHUNK_TRACK_SHIFT; chunk < chunks && from < tracks; chunk++) {
    const base_track = chunk << CHUNK_TRACK_SHIFT;
    const end_track = base_track + chunk_track_count(bitmap, chunk);
    const entry = chunk_entry(bitmap, chunk);
    if (entry == CHUNK_SET) {
      count = range_find_many(from, end_track, out, count, count_max);
      if (count == count_max) return count;
    } else if (entry != CHUNK_CLEAR) {
      count = leaf_find_many(<usize>entry, leaf_words(bitmap, chunk), from - base_track, base_track, out, count, count_max);
      // Less room than a step: the leaf may have words left.
      if (count + FIND_MANY_STEP > count_max) return count;
    }
    from = end_track;
  }
  return count;
}
