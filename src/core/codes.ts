// Result codes of the WebAssembly core (assembly/layout.ts defines them; the
// core exports each as a global, E_<NAME>, and test/core/codes.test.ts checks
// this copy against them).
export const CoreCode = {
  OK: 0,
  RANGE: -1,
  NO_VOLUME: -2,
  UNUSABLE: -3,
  TGTINHIBIT: -4,
  NO_SPACE: -5,
  LOCK_TIMEOUT: -6,
  BAD_ARGUMENT: -7,
  BUSY: -8,
  DRAIN_TIMEOUT: -9,
  ALLOC_LOCK_TIMEOUT: -10,
  GATE_TIMEOUT: -11,
  FROZEN: -12,
  LONG_BUSY: -13,
  PPRC_SECONDARY: -14,
  MIRROR_FAILED: -15,
} as const;

export type CoreCodeName = keyof typeof CoreCode;

const NAMES = new Map<number, CoreCodeName>(
  Object.entries(CoreCode).map(([name, value]) => [value, name as CoreCodeName]),
);

export function coreCodeName(code: number): CoreCodeName | "UNKNOWN" {
  return NAMES.get(code) ?? "UNKNOWN";
}

// Mirrors of the core's constants the host needs.
export const TRACK_SIZE = 1 << 16;
export const BLOCK_SIZE = 512;
export const BLOCKS_PER_TRACK = TRACK_SIZE / BLOCK_SIZE;
export const EXTENT_SIZE = 1 << 20;
export const VOLUME_SLOT_MAX = 4096;
export const REL_SLOT_MAX = 4096;
export const THREAD_MAX = 64;
export const STAGING_SIZE = 1 << 20;
export const VOLUME_SIZE_MAX = 2 ** 44; // 16 TiB, as DS8000 FB volumes go
export const EXTENT_TRACKS = EXTENT_SIZE / TRACK_SIZE;
// Bitmaps (assembly/bitmap.ts): a summary entry per chunk of CHUNK_TRACKS tracks.
export const CHUNK_TRACKS = 1 << 18;
export const CHUNK_CLEAR = 0;
export const CHUNK_SET = 0xffffffff;
// The most and the least tracks one rel_find_pending_many call may be asked for
// (assembly/relationship.ts): the staging buffer's u32 entries, and two
// bitmap words' tracks.
export const FIND_MANY_TRACKS_MAX = STAGING_SIZE / 4;
export const FIND_MANY_TRACKS_MIN = 128;
// Checksums of longer ranges are two-level digests (assembly/checksum.ts).
export const CHECKSUM_DIRECT_MAX = 2 ** 32;
export const MEMORY_PAGES_MAX = 65536;
export const INITIAL_PAGES = 64; // asconfig.json initialMemory

// The core's default wait bounds (assembly/sync.ts), in milliseconds of the
// host's monotonic clock.
export const WAIT_TIMEOUTS_MS = { lock: 20_000, alloc: 20_000, gate: 20_000, drain: 50 } as const;

export const VolumeState = { FREE: 0, NORMAL: 1, UNUSABLE: 2 } as const;
// Storage allocation methods of a volume (assembly/layout.ts SAM_*): DS CLI's -sam ese and -sam standard.
export const Sam = { ESE: 0, STANDARD: 1 } as const;
export const PROVISION_EXTENTS_MAX = 4096; // assembly/volume.ts: a volume_provision or volume_touch step's extents at most

export const RelFlag = {
  BACKGROUND: 1,
  TGTINHIBIT: 2,
  RECORD: 4,
  PERSIST: 8,
  HOLD_WRITES: 32,
  REVERTIBLE: 64,
  TGTPPRC: 128, // to rel_establish only: the target may be a PPRC primary (mkflash -tgtpprc)
} as const;

// PPRC in the core (assembly/mirror.ts): a primary's mirror mode, its flags,
// and why the write path suspended it.
export const MirrorMode = { SYNC: 1, ASYNC: 2, SUSPENDED: 3 } as const;
export const PprcFlag = { CRITMODE: 1, TGTREAD: 2, HOLD_WRITES: 4 } as const;
export const SuspendCause = { NONE: 0, LINK: 1, TIMEOUT: 2 } as const;
export const LinkState = { UP: 0, DOWN: 1 } as const;
export const PprcRole = { NONE: 0, PRIMARY: 1, SECONDARY: 2 } as const;
export const RING_ENTRIES = 32;
export const ACK_TIMEOUT_MS = 5_000;
