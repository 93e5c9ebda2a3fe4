// Control bitmaps: one bit per source track, set while the track is pending
// (its T0 data not yet on the target). Words are u64, the word count is even
// so that the v128 scan never reads past the end, and bits past the last
// track are always clear. A bit is only ever cleared once set (by whoever
// copied the track, holding the source track's lock): readers that see it
// clear may use the target's data without a lock.

import { WORD_TRACK_SHIFT } from "./layout";

export function bitmap_word_count(track_count: u32): u32 {
  const words = (track_count + 63) >>> WORD_TRACK_SHIFT;
  return (words + 1) & ~1;
}

export function bitmap_set_all(bitmap: usize, track_count: u32): void {
  const full_words = track_count >>> WORD_TRACK_SHIFT;
  memory.fill(bitmap, 0xff, <usize>full_words << 3);
  const tail_bits = track_count & 63;
  if (tail_bits != 0) store<u64>(bitmap + (<usize>full_words << 3), (<u64>1 << <u64>tail_bits) - 1);
}

// @ts-ignore: decorator
@inline export function bit_is_set(bitmap: usize, track: u32): bool {
  const word = atomic.load<u64>(bitmap + (<usize>(track >>> WORD_TRACK_SHIFT) << 3));
  return ((word >> <u64>(track & 63)) & 1) != 0;
}

// Clears the bit; returns true if this call cleared it.
// @ts-ignore: decorator
@inline export function bit_clear(bitmap: usize, track: u32): bool {
  const mask = <u64>1 << <u64>(track & 63);
  const old = atomic.and<u64>(bitmap + (<usize>(track >>> WORD_TRACK_SHIFT) << 3), ~mask);
  return (old & mask) != 0;
}

// @ts-ignore: decorator
@inline export function bit_set(bitmap: usize, track: u32): void {
  atomic.or<u64>(bitmap + (<usize>(track >>> WORD_TRACK_SHIFT) << 3), <u64>1 << <u64>(track & 63));
}

// Clears the bits of `mask` in word `word_index`; returns those that were set.
// @ts-ignore: decorator
@inline export function word_clear(bitmap: usize, word_index: u32, mask: u64): u64 {
  return atomic.and<u64>(bitmap + (<usize>word_index << 3), ~mask) & mask;
}

// @ts-ignore: decorator
@inline export function word_load(bitmap: usize, word_index: u32): u64 {
  return atomic.load<u64>(bitmap + (<usize>word_index << 3));
}

// Population count, a word at a time.
export function bitmap_count(bitmap: usize, word_count: u32): u32 {
  let count: u64 = 0;
  for (let index: u32 = 0; index < word_count; index++) {
    count += popcnt<u64>(atomic.load<u64>(bitmap + (<usize>index << 3)));
  }
  return <u32>count;
}

// First set bit at or after `from_track`, or -1. Skips empty stretches 128
// bits at a time with v128 loads. The scan reads words without atomics: a
// racing clear may be missed or seen, and either is fine for a search; the
// caller re-checks the bit under the track lock.
export function bitmap_find(bitmap: usize, word_count: u32, from_track: u32): i32 {
  let index = from_track >>> WORD_TRACK_SHIFT;
  if (index >= word_count) return -1;
  const first = load<u64>(bitmap + (<usize>index << 3)) & (~<u64>0 << <u64>(from_track & 63));
  if (first != 0) return <i32>((index << WORD_TRACK_SHIFT) + <u32>ctz<u64>(first));
  index++;
  if ((index & 1) != 0 && index < word_count) {
    const word = load<u64>(bitmap + (<usize>index << 3));
    if (word != 0) return <i32>((index << WORD_TRACK_SHIFT) + <u32>ctz<u64>(word));
    index++;
  }
  // index is even here and word_count is even: pairs of words fit exactly.
  while (index < word_count) {
    const pair = v128.load(bitmap + (<usize>index << 3));
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
