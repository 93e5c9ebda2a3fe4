// xxHash64 (seed 0) in plain TypeScript with BigInt: the reference for the core's checksum.
const MASK = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const rotl = (value: bigint, bits: bigint) => ((value << bits) | (value >> (64n - bits))) & MASK;
const round = (accumulator: bigint, input: bigint) => (rotl((accumulator + input * P2) & MASK, 31n) * P1) & MASK;
const merge = (hash: bigint, lane: bigint) => (((hash ^ round(0n, lane)) * P1) + P4) & MASK;

function u64(bytes: Uint8Array, at: number): bigint {
  let value = 0n;
  for (let index = 7; index >= 0; index--) value = (value << 8n) | BigInt(bytes[at + index]);
  return value;
}

function u32(bytes: Uint8Array, at: number): bigint {
  return BigInt(bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16)) + BigInt(bytes[at + 3]) * 0x1000000n;
}

export function xxhash64(bytes: Uint8Array): bigint {
  let at = 0;
  let hash: bigint;
  if (bytes.length >= 32) {
    let lanes = [(P1 + P2) & MASK, P2, 0n, (0n - P1) & MASK];
    for (; at + 32 <= bytes.length; at += 32) lanes = lanes.map((lane, index) => round(lane, u64(bytes, at + index * 8)));
    hash = (rotl(lanes[0], 1n) + rotl(lanes[1], 7n) + rotl(lanes[2], 12n) + rotl(lanes[3], 18n)) & MASK;
    for (const lane of lanes) hash = merge(hash, lane);
  } else {
    hash = P5;
  }
  hash = (hash + BigInt(bytes.length)) & MASK;
  for (; at + 8 <= bytes.length; at += 8) hash = ((rotl(hash ^ round(0n, u64(bytes, at)), 27n) * P1) + P4) & MASK;
  if (at + 4 <= bytes.length) {
    hash = ((rotl(hash ^ ((u32(bytes, at) * P1) & MASK), 23n) * P2) + P3) & MASK;
    at += 4;
  }
  for (; at < bytes.length; at++) hash = (rotl(hash ^ ((BigInt(bytes[at]) * P5) & MASK), 11n) * P1) & MASK;
  hash ^= hash >> 33n;
  hash = (hash * P2) & MASK;
  hash ^= hash >> 29n;
  hash = (hash * P3) & MASK;
  hash ^= hash >> 32n;
  return hash;
}
