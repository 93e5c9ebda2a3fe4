// The checksum of a volume range, as assembly/checksum.ts defines it, from
// plain bytes: xxHash64 of the bytes for a range of at most 4 GiB; beyond, a
// two-level digest over the volume's 4 GiB groups and 1 MiB extents. Pieces
// known to read as zeros take the constant digests without being read, as in
// the core; the value does not depend on which pieces are known to be zero.
import { xxhash64 } from "./xxhash.js";

export const CHECKSUM_DIRECT_MAX = 2 ** 32;
const EXTENT_SIZE = 2 ** 20;
const GROUP_SIZE = 2 ** 32;
const TRACK_SIZE = 2 ** 16;
const EXTENTS_PER_GROUP = GROUP_SIZE / EXTENT_SIZE;

// xxHash64 of 1 MiB of zeros, and of 4096 copies of that digest (u64 LE);
// test/model/checksum.test.ts checks both against xxhash64.
export const ZERO_EXTENT_DIGEST = 0x87d2a1b6e1163ef1n;
export const ZERO_GROUP_DIGEST = 0x9f3c45d9f72e2edfn;

export type RangeReader = (offset: number, length: number) => Uint8Array;
export type Hasher = (bytes: Uint8Array) => bigint;

function digestOfDigests(digests: bigint[], hash: Hasher): bigint {
  const bytes = new Uint8Array(digests.length * 8);
  const view = new DataView(bytes.buffer);
  digests.forEach((digest, index) => view.setBigUint64(index * 8, digest, true));
  return hash(bytes);
}

// `nonZeroTracks` holds every track that may hold a non-zero byte (others are
// known to read as zeros); `hash` is xxHash64, the TypeScript one by default.
export function rangeChecksum(offset: number, length: number, read: RangeReader, nonZeroTracks: ReadonlySet<number>, hash: Hasher = xxhash64): string {
  const hex = (value: bigint) => value.toString(16).padStart(16, "0");
  if (length <= CHECKSUM_DIRECT_MAX) return hex(hash(read(offset, length)));
  const extentsWritten = new Set([...nonZeroTracks].map((track) => Math.floor((track * TRACK_SIZE) / EXTENT_SIZE)));
  const groupsWritten = new Set([...extentsWritten].map((extent) => Math.floor(extent / EXTENTS_PER_GROUP)));
  const end = offset + length;
  const groupDigests: bigint[] = [];
  for (let group = Math.floor(offset / GROUP_SIZE); group * GROUP_SIZE < end; group++) {
    const low = Math.max(offset, group * GROUP_SIZE);
    const high = Math.min(end, (group + 1) * GROUP_SIZE);
    if (high - low === GROUP_SIZE && !groupsWritten.has(group)) {
      groupDigests.push(ZERO_GROUP_DIGEST);
      continue;
    }
    const extentDigests: bigint[] = [];
    for (let extent = Math.floor(low / EXTENT_SIZE); extent * EXTENT_SIZE < high; extent++) {
      const start = Math.max(low, extent * EXTENT_SIZE);
      const stop = Math.min(high, (extent + 1) * EXTENT_SIZE);
      const zero = stop - start === EXTENT_SIZE && !extentsWritten.has(extent);
      extentDigests.push(zero ? ZERO_EXTENT_DIGEST : hash(read(start, stop - start)));
    }
    groupDigests.push(digestOfDigests(extentDigests, hash));
  }
  return hex(digestOfDigests(groupDigests, hash));
}
