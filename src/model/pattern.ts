// The data pattern of assembly/pattern.ts, in plain TypeScript with BigInt:
// the u64 word at volume offset 8 * i is splitmix64(seed * GOLDEN + i).
const MASK = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;

export function patternWord(seed: number, wordIndex: number): bigint {
  let z = (BigInt(seed) * GOLDEN + BigInt(wordIndex)) & MASK;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

// The pattern bytes of volume offsets [offset, offset + length).
export function patternBytes(seed: number, offset: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let wordIndex = -1;
  let word = 0n;
  for (let index = 0; index < length; index++) {
    const at = offset + index;
    if (Math.floor(at / 8) !== wordIndex) {
      wordIndex = Math.floor(at / 8);
      word = patternWord(seed, wordIndex);
    }
    bytes[index] = Number((word >> BigInt((at % 8) * 8)) & 0xffn);
  }
  return bytes;
}
