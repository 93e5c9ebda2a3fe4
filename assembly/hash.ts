// xxHash64 (seed 0), streamed: a volume range is hashed piece by piece as the
// read path walks its tracks, so a checksum never copies data. The running
// state is per thread (module globals are per instance); the carry buffer of
// up to 31 bytes lives in this thread's entry of the thread table.

const PRIME1: u64 = 0x9e3779b185ebca87;
const PRIME2: u64 = 0xc2b2ae3d27d4eb4f;
const PRIME3: u64 = 0x165667b19e3779f9;
const PRIME4: u64 = 0x85ebca77c2b2ae63;
const PRIME5: u64 = 0x27d4eb2f165667c5;
const STRIPE_SIZE: u32 = 32;

let lane1: u64 = 0;
let lane2: u64 = 0;
let lane3: u64 = 0;
let lane4: u64 = 0;
let total_bytes: u64 = 0;
let carry_bytes: u32 = 0;
let carry: usize = 0;

// @ts-ignore: decorator
@inline function round(accumulator: u64, input: u64): u64 {
  return rotl<u64>(accumulator + input * PRIME2, 31) * PRIME1;
}

// @ts-ignore: decorator
@inline function merge_round(hash: u64, lane: u64): u64 {
  return (hash ^ round(0, lane)) * PRIME1 + PRIME4;
}

export function hash_begin(carry_buffer: usize): void {
  lane1 = PRIME1 + PRIME2;
  lane2 = PRIME2;
  lane3 = 0;
  lane4 = 0 - PRIME1;
  total_bytes = 0;
  carry_bytes = 0;
  carry = carry_buffer;
}

// @ts-ignore: decorator
@inline function stripe(pointer: usize): void {
  lane1 = round(lane1, load<u64>(pointer));
  lane2 = round(lane2, load<u64>(pointer, 8));
  lane3 = round(lane3, load<u64>(pointer, 16));
  lane4 = round(lane4, load<u64>(pointer, 24));
}

export function hash_update(pointer: usize, length: u32): void {
  total_bytes += <u64>length;
  let at = pointer;
  let left = length;
  if (carry_bytes != 0) {
    const take = min<u32>(STRIPE_SIZE - carry_bytes, left);
    memory.copy(carry + carry_bytes, at, take);
    carry_bytes += take;
    at += take;
    left -= take;
    if (carry_bytes < STRIPE_SIZE) return;
    stripe(carry);
    carry_bytes = 0;
  }
  while (left >= STRIPE_SIZE) {
    stripe(at);
    at += STRIPE_SIZE;
    left -= STRIPE_SIZE;
  }
  if (left != 0) {
    memory.copy(carry, at, left);
    carry_bytes = left;
  }
}

export function hash_end(): u64 {
  let hash: u64;
  if (total_bytes >= <u64>STRIPE_SIZE) {
    hash = rotl<u64>(lane1, 1) + rotl<u64>(lane2, 7) + rotl<u64>(lane3, 12) + rotl<u64>(lane4, 18);
    hash = merge_round(hash, lane1);
    hash = merge_round(hash, lane2);
    hash = merge_round(hash, lane3);
    hash = merge_round(hash, lane4);
  } else {
    hash = PRIME5;
  }
  hash += total_bytes;
  let at = carry;
  let left = carry_bytes;
  while (left >= 8) {
    hash ^= round(0, load<u64>(at));
    hash = rotl<u64>(hash, 27) * PRIME1 + PRIME4;
    at += 8;
    left -= 8;
  }
  if (left >= 4) {
    hash ^= <u64>load<u32>(at) * PRIME1;
    hash = rotl<u64>(hash, 23) * PRIME2 + PRIME3;
    at += 4;
    left -= 4;
  }
  while (left > 0) {
    hash ^= <u64>load<u8>(at) * PRIME5;
    hash = rotl<u64>(hash, 11) * PRIME1;
    at++;
    left--;
  }
  hash ^= hash >> 33;
  hash *= PRIME2;
  hash ^= hash >> 29;
  hash *= PRIME3;
  hash ^= hash >> 32;
  return hash;
}
