// Deterministic data patterns. The u64 word at volume byte offset 8 * i is
// splitmix64(seed * GOLDEN + i): any range of a volume can be regenerated from
// the seed alone, whatever offsets and lengths it was written with.

const GOLDEN: u64 = 0x9e3779b97f4a7c15;

// @ts-ignore: decorator
@inline export function pattern_word(seed: u64, word_index: u64): u64 {
  let z = seed * GOLDEN + word_index;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// Writes the pattern bytes of volume offsets [volume_offset, volume_offset + length) to `pointer`.
export function pattern_write(pointer: usize, volume_offset: u64, length: u32, seed: u64): void {
  let offset = volume_offset;
  let at = pointer;
  const end = volume_offset + <u64>length;
  while (offset < end && (offset & 7) != 0) {
    const word = pattern_word(seed, offset >> 3);
    store<u8>(at, <u8>(word >> <u64>((offset & 7) << 3)));
    offset++;
    at++;
  }
  while (end - offset >= 8) {
    store<u64>(at, pattern_word(seed, offset >> 3));
    offset += 8;
    at += 8;
  }
  while (offset < end) {
    const word = pattern_word(seed, offset >> 3);
    store<u8>(at, <u8>(word >> <u64>((offset & 7) << 3)));
    offset++;
    at++;
  }
}
