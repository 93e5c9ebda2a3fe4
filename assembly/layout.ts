// Shared-memory layout of one storage image.
//
// One WebAssembly.Memory holds a whole storage image: every thread (the main
// thread and each worker) instantiates this module over the same memory, so the
// volume table, the relationship table, the bitmaps, the per-track lock words
// and the track data are seen by all of them. Nothing below lives in module
// globals except the calling thread's own identity and staging buffer.
//
//  BASE = __heap_base rounded up to 64 KiB (below it: this module's static data)
//
//  BASE + 0         image header                       HEADER_SIZE (4 KiB)
//  VOLUME_TABLE     VOLUME_SLOT_MAX x VOLUME_ENTRY     512 KiB
//  REL_TABLE        REL_SLOT_MAX x REL_ENTRY          256 KiB
//  THREAD_TABLE     THREAD_MAX x THREAD_ENTRY          4 KiB
//  ZERO_EXTENT      EXTENT_SIZE bytes never written    1 MiB (reads of unallocated extents)
//  HEAP_START ...   allocator: tables, bitmaps, extents, staging buffers
//
// Volumes are thin: their data lives in 1 MiB extents allocated on first
// write, so an image can hold more provisioned capacity than memory (a pair
// of 16 TiB volumes establishes in a 4 GiB image) and establish never touches
// data. Volume addresses are u64 byte offsets (volumes up to 16 TiB); memory
// pointers stay u32 (wasm32), so at most 4 GiB of written data per image.
//
// What a volume costs besides its written extents (volume.ts, bitmap.ts):
//   extent directory    4 B per 4 GiB of capacity (1 KiB per TiB), at create
//   extent leaf         4 B per extent of a 4 GiB group, on its first write
//                       (16 KiB per group written to)
//   lock stripes        4 B per track up to LOCK_STRIPES_MAX (16 KiB at most)
//   change bitmap       a bitmap.ts bitmap (its summary at create, a leaf per
//                       16 GiB chunk on its first write), for saves
// and each relationship, per bitmap (control, and two change records with -record):
//   bitmap summary      8 B + 4 B per 2^18 tracks (16 GiB): 4 KiB at 16 TiB,
//                       written at establish
//   bitmap leaf         32 KiB per 16 GiB chunk, only once a track in it is
//                       copied, changed or recorded

export const BLOCK_SIZE: u32 = 512;
export const TRACK_SHIFT: u32 = 16;
export const TRACK_SIZE: u32 = 1 << TRACK_SHIFT; // 64 KiB = 128 blocks
export const EXTENT_TRACK_SHIFT: u32 = 4;
export const EXTENT_TRACKS: u32 = 1 << EXTENT_TRACK_SHIFT; // 16 tracks
export const EXTENT_SHIFT: u32 = TRACK_SHIFT + EXTENT_TRACK_SHIFT;
export const EXTENT_SIZE: u32 = 1 << EXTENT_SHIFT; // 1 MiB
export const WORD_TRACK_SHIFT: u32 = 6; // a bitmap word (u64) covers 64 tracks
export const PAGE_SIZE: u32 = 65536;

// Extent map: a directory of u32 leaf pointers, one per group of
// EXTENT_LEAF_ENTRIES extents (4 GiB of the volume); a leaf holds the u32 data
// pointer of each extent of its group. Both are zero until written.
export const EXTENT_LEAF_SHIFT: u32 = 12;
export const EXTENT_LEAF_ENTRIES: u32 = 1 << EXTENT_LEAF_SHIFT; // 4096 extents
export const GROUP_SHIFT: u32 = EXTENT_SHIFT + EXTENT_LEAF_SHIFT; // 4 GiB of volume per leaf

// Track locks are striped: track t of a volume uses lock word t mod the
// volume's stripe count (a power of two from LOCK_STRIPES_MIN, a multiple of
// EXTENT_TRACKS, so the tracks of one extent always have distinct words in
// ascending order; sync.ts has the lock order this keeps).
export const LOCK_STRIPES_MIN: u32 = EXTENT_TRACKS;
export const LOCK_STRIPES_MAX: u32 = 4096;

// Bitmaps (bitmap.ts) are two-level: a summary entry per chunk of
// CHUNK_TRACKS tracks is all clear, all set, or a leaf of CHUNK_WORDS u64 words.
export const CHUNK_TRACK_SHIFT: u32 = 18;
export const CHUNK_TRACKS: u32 = 1 << CHUNK_TRACK_SHIFT; // 262,144 tracks = 16 GiB
export const CHUNK_WORD_SHIFT: u32 = CHUNK_TRACK_SHIFT - WORD_TRACK_SHIFT;
export const CHUNK_WORDS: u32 = 1 << CHUNK_WORD_SHIFT; // 4096 words = 32 KiB

export const VOLUME_SLOT_MAX: u32 = 4096;
export const REL_SLOT_MAX: u32 = 4096;
export const THREAD_MAX: u32 = 64; // a thread's id is its bit in a gate mask (u64)
export const STAGING_SIZE: u32 = 1 << 20;
// DS8000 FB volumes reach 16 TiB; 2^28 tracks, so track indexes fit a u32.
export const VOLUME_SIZE_MAX: u64 = <u64>1 << 44;
// Offsets and lengths come from the host as f64 (core.ts says why): whole
// numbers up to 2^53 are exact, far beyond VOLUME_SIZE_MAX.
export const HOST_NUMBER_MAX: f64 = 9007199254740991.0;

export const HEADER_SIZE: u32 = 4096;
export const VOLUME_ENTRY: u32 = 128;
export const REL_ENTRY: u32 = 64;
export const THREAD_ENTRY: u32 = 64;

export const MAGIC: u32 = 0x305a5454; // "TTZ0"
export const LAYOUT_VERSION: u32 = 3;

// Image header (offsets from BASE):
//   0  u32 magic          4  u32 layout version
//   8  i32 alloc lock    12  u32 reserved
//  16  u64 heap top (next never-used byte)
//  24  i32 work epoch: bumped when background-copy work appears (workers wait on it)
//  28  i32 stop flag: copy workers leave when it is set
//  32  u64 bytes copied by background copy, all relationships (progress figures)
//  40  i32 fault injection (tests): while armed, the next thread to copy track
//          data takes it and aborts there, as a failed assertion would (faults.ts)
//  44  i32 save claim: 1 while a save owns the volumes' change bitmaps (snapshot.ts)
//  48  u32 revert table pointer: REL_SLOT_MAX x u32, a revert record per
//      revertible relationship (increment.ts), allocated at the first one, else 0
//  64  u32 x 32 free-list heads, one per power-of-two size class
// 1024  POOL_MAX x POOL_ENTRY extent pool table (pool.ts)
// 192 .. 1023 and 1536 .. 4095 free: room for the link sender's ring pointer and counters (PPRC, issue 13)
export const H_MAGIC: u32 = 0;
export const H_VERSION: u32 = 4;
export const H_ALLOC_LOCK: u32 = 8;
export const H_HEAP_TOP: u32 = 16;
export const H_WORK_EPOCH: u32 = 24;
export const H_STOP: u32 = 28;
export const H_COPIED_BYTES: u32 = 32;
export const H_FAULT_ABORT: u32 = 40;
export const H_SAVE_CLAIM: u32 = 44;
export const H_REVERT_TABLE: u32 = 48;
export const H_FREE_LISTS: u32 = 64;
export const H_POOLS: u32 = 1024;

// Extent pool entry (8 bytes), POOL_MAX of them from H_POOLS:
//   0 u32 capacity in extents (the quota)   4 u32 extents allocated to its volumes
// A volume in a pool reserves an extent here before allocating it, so a full
// pool refuses the write before anything changes.
export const POOL_MAX: u32 = 64;
export const POOL_ENTRY: u32 = 8;
export const P_CAPACITY: u32 = 0;
export const P_ALLOCATED: u32 = 4;

// Volume entry (128 bytes):
//   0 u32 state (VOLUME_FREE | VOLUME_NORMAL | VOLUME_UNUSABLE)
//   4 i32 frozen: 1 while establish/withdraw/remove changes this volume's links
//   8 u64 in-flight mask: bit t set while thread t does I/O on the volume
//  16 u64 size in bytes
//  24 u32 track count (at most 2^28)
//  28 u32 extent directory pointer (u32 per 4 GiB group: leaf pointer, 0 = none)
//  32 u32 lock stripe pointer (i32 lock words, see sync.ts)
//  36 u32 relationship slot + 1 where this volume is the target, else 0
//  40 u32 first relationship slot + 1 where it is the source, else 0
//  44 u32 generation, bumped when the slot is freed
//  48 u32 extent count (at most 2^24)
//  52 u32 lock stripe count (a power of two)
//  56 u64 allocated bytes: extents allocated to the volume, EXTENT_SIZE each
//  64 u32 change bitmap (bitmap.ts): bit set = the track's own bytes changed
//         since a save last took the bit (volume.ts, snapshot.ts)
//  68 u32 extent pool index + 1, or 0 for a volume in no pool (no quota; pool.ts)
//  72 u32 PPRC role (PPRC_NONE | PPRC_PRIMARY | PPRC_SECONDARY, mirror.ts)
//  76 u32 mirror mode of a primary (MIRROR_SYNC | MIRROR_ASYNC | MIRROR_SUSPENDED)
//  80 u32 PPRC flags (PPRC_CRITMODE | PPRC_HOLD_WRITES on a primary, PPRC_TGTREAD on a secondary)
//  84 u32 out-of-sync bitmap of a primary (bitmap.ts): bit set = the track may
//         differ on the secondary
//  88 u32 link ring pointer of a primary (mirror.ts)
//  92 u32 the secondary's volume slot on its own image
//  96 u32 why the write path suspended the pair (CAUSE_*), 0 if it did not
// 100 u32 storage allocation method (SAM_ESE: extents on first write, or
//         SAM_STANDARD: every extent allocated when the host provisions it, volume.ts)
// 104 u64 tracks copied to the secondary by resync and Copy Pending
// 112 u32 synchronous writes begun: a Metro Mirror write whose track was in
//         sync counts itself here once it has set the track's out-of-sync bit
// 116 u32 synchronous writes ended: counted here before the bit is cleared
//         (acknowledged) or left as backlog (not sent, or not acknowledged).
//         begun - ended (mod 2^32) = the bits writes in flight hold (mirror.ts)
// 120 .. 127 reserved
export const V_STATE: u32 = 0;
export const V_FROZEN: u32 = 4;
export const V_INFLIGHT: u32 = 8;
export const V_SIZE: u32 = 16;
export const V_TRACKS: u32 = 24;
export const V_EXTENTS: u32 = 28;
export const V_LOCKS: u32 = 32;
export const V_TARGET_REL: u32 = 36;
export const V_SOURCE_HEAD: u32 = 40;
export const V_GENERATION: u32 = 44;
export const V_EXTENT_COUNT: u32 = 48;
export const V_STRIPES: u32 = 52;
export const V_ALLOCATED: u32 = 56;
export const V_CHANGED: u32 = 64;
export const V_POOL: u32 = 68;
export const V_PPRC_ROLE: u32 = 72;
export const V_PPRC_MODE: u32 = 76;
export const V_PPRC_FLAGS: u32 = 80;
export const V_PPRC_OOS: u32 = 84;
export const V_PPRC_RING: u32 = 88;
export const V_PPRC_REMOTE: u32 = 92;
export const V_PPRC_CAUSE: u32 = 96;
export const V_SAM: u32 = 100;
export const V_PPRC_SENT_TRACKS: u32 = 104;
export const V_PPRC_SYNC_BEGUN: u32 = 112;
export const V_PPRC_SYNC_ENDED: u32 = 116;

export const PPRC_NONE: u32 = 0;
export const PPRC_PRIMARY: u32 = 1;
export const PPRC_SECONDARY: u32 = 2;
export const MIRROR_SYNC: u32 = 1;
export const MIRROR_ASYNC: u32 = 2;
export const MIRROR_SUSPENDED: u32 = 3;
export const PPRC_CRITMODE: u32 = 1;
export const PPRC_TGTREAD: u32 = 2;
// Set on a primary by freezepprc over a -consistgrp path: host writes fail
// with E_LONG_BUSY (DS8000's queue full) until unfreezepprc or the timeout.
export const PPRC_HOLD_WRITES: u32 = 4;
export const CAUSE_NONE: u32 = 0;
export const CAUSE_LINK: u32 = 1; // the link was down
export const CAUSE_TIMEOUT: u32 = 2; // no acknowledgement within the bound

export const VOLUME_FREE: u32 = 0;
export const VOLUME_NORMAL: u32 = 1;
export const VOLUME_UNUSABLE: u32 = 2;

// Storage allocation methods (V_SAM): DS CLI's mkfbvol -sam ese and -sam standard.
export const SAM_ESE: u32 = 0;
export const SAM_STANDARD: u32 = 1;

// Relationship entry (64 bytes):
//   0 u32 state (REL_FREE | REL_ACTIVE | REL_RESTORING)
//   4 u32 flags (REL_BACKGROUND | REL_TGTINHIBIT | REL_RECORD | REL_PERSIST | REL_COPY_HELD
//                | REL_HOLD_WRITES | REL_REVERTIBLE, see increment.ts)
//   8 u32 source volume slot      12 u32 target volume slot
//  16 u32 track count (the source's) 20 u32 control bitmap (bitmap.ts): bit set = track pending
//  24 i32 pending track count     28 u32 claim cursor (bitmap word index, wraps)
//  32 u32 next relationship slot + 1 of the same source, else 0
//  36 u32 generation, bumped when the slot is freed
//  40 u64 bytes copied by background copy
//  48 u32 source change-record bitmap   52 u32 target change-record bitmap (0 = none)
//  56 u32 tracks settled as zeros without copying (whole chunks of a thin source)
//  60 u32 reserved (PPRC's out-of-sync bitmaps hang off their pair entries, not here)
export const R_STATE: u32 = 0;
export const R_FLAGS: u32 = 4;
export const R_SOURCE: u32 = 8;
export const R_TARGET: u32 = 12;
export const R_TRACKS: u32 = 16;
export const R_BITMAP: u32 = 20;
export const R_PENDING: u32 = 24;
export const R_CURSOR: u32 = 28;
export const R_NEXT_SOURCE: u32 = 32;
export const R_GENERATION: u32 = 36;
export const R_COPIED_BYTES: u32 = 40;
export const R_RECORD_SOURCE: u32 = 48;
export const R_RECORD_TARGET: u32 = 52;
export const R_SETTLED: u32 = 56;

export const REL_FREE: u32 = 0;
export const REL_ACTIVE: u32 = 1;
export const REL_RESTORING: u32 = 2; // being filled in by a restore: taken, not yet linked

export const REL_BACKGROUND: u32 = 1;
export const REL_TGTINHIBIT: u32 = 2;
export const REL_RECORD: u32 = 4;
export const REL_PERSIST: u32 = 8;
// Set by a thread whose background copy of the relationship failed (copy.ts),
// cleared by the host when it retries: copy workers pass the relationship by
// meanwhile instead of failing on it again and again.
export const REL_COPY_HELD: u32 = 16;
// Set by mkflash -freeze: host writes to the source fail with E_LONG_BUSY
// (queue full) until unfreezeflash or the LSS's timeout clears it.
export const REL_HOLD_WRITES: u32 = 32;
// Set between setflashrevertible and commitflash / revertflash; the target
// then also carries REL_TGTINHIBIT, so nothing but the copy changes it.
export const REL_REVERTIBLE: u32 = 64;
// Given to rel_establish only (never stored): mkflash -tgtpprc, the target may
// be a PPRC primary. Its logical image then changes at T0, so every track of
// the target goes out of sync and the link's sender sends it (mirror.ts).
export const REL_TGTPPRC: u32 = 128;

// Thread entry (64 bytes):
//   0 u32 staging buffer pointer   4 u32 staging size   8 u32 attached (0/1)
export const T_STAGING: u32 = 0;
export const T_STAGING_SIZE: u32 = 4;
export const T_ATTACHED: u32 = 8;

// Result codes shared with the host. src/core/codes.ts mirrors them, and
// index.ts exports them so that a test checks the mirror against the core.
// The four timeouts are the bounded waits of sync.ts.
export const OK: i32 = 0;
export const E_RANGE: i32 = -1;
export const E_NO_VOLUME: i32 = -2;
export const E_UNUSABLE: i32 = -3;
export const E_TGTINHIBIT: i32 = -4;
export const E_NO_SPACE: i32 = -5;
export const E_LOCK_TIMEOUT: i32 = -6; // a track lock stayed held by another thread
export const E_BAD_ARGUMENT: i32 = -7;
export const E_BUSY: i32 = -8;
export const E_DRAIN_TIMEOUT: i32 = -9; // a freezer's wait for in-flight I/O to drain
export const E_ALLOC_LOCK_TIMEOUT: i32 = -10; // the allocator's lock stayed held
export const E_GATE_TIMEOUT: i32 = -11; // I/O waited at the gate of a volume that stayed frozen
export const E_FROZEN: i32 = -12; // a freezer found the volume frozen by another operation
export const E_LONG_BUSY: i32 = -13; // a write to a source whose writes a -freeze holds, or to a frozen PPRC primary
export const E_PPRC_SECONDARY: i32 = -14; // host I/O to a PPRC secondary (reads allowed only with -tgtread)
export const E_MIRROR_FAILED: i32 = -15; // a write to a -critmode primary that could not be mirrored

// @ts-ignore: decorator
@inline export function base(): usize {
  return (__heap_base + <usize>(PAGE_SIZE - 1)) & ~<usize>(PAGE_SIZE - 1);
}
// @ts-ignore: decorator
@inline export function volume_table(): usize { return base() + HEADER_SIZE; }
// @ts-ignore: decorator
@inline export function rel_table(): usize { return volume_table() + VOLUME_SLOT_MAX * VOLUME_ENTRY; }
// @ts-ignore: decorator
@inline export function thread_table(): usize { return rel_table() + REL_SLOT_MAX * REL_ENTRY; }
// @ts-ignore: decorator
@inline export function zero_extent(): usize {
  const end = thread_table() + THREAD_MAX * THREAD_ENTRY;
  return (end + <usize>(PAGE_SIZE - 1)) & ~<usize>(PAGE_SIZE - 1);
}
// @ts-ignore: decorator
@inline export function heap_start(): usize { return zero_extent() + EXTENT_SIZE; }
// @ts-ignore: decorator
@inline export function volume_at(slot: u32): usize { return volume_table() + <usize>slot * VOLUME_ENTRY; }
// @ts-ignore: decorator
@inline export function rel_at(slot: u32): usize { return rel_table() + <usize>slot * REL_ENTRY; }
// @ts-ignore: decorator
@inline export function pool_at(index: u32): usize { return base() + H_POOLS + <usize>index * POOL_ENTRY; }
// @ts-ignore: decorator
@inline export function thread_at(id: u32): usize { return thread_table() + <usize>id * THREAD_ENTRY; }
