// The WebAssembly core, bound for one thread of one storage image.
//
// A storage image is one shared WebAssembly.Memory. The module is compiled
// once per process; each thread instantiates it over the image's memory and
// attaches with its own thread id, which gives it a staging buffer in shared
// memory for the bytes of its reads and writes.

import { readFileSync } from "node:fs";
import { CoreCode, INITIAL_PAGES, MEMORY_PAGES_MAX, STAGING_SIZE } from "./codes.js";

export interface CoreExports {
  image_init(): number;
  image_ready(): number;
  thread_attach(id: number): number;
  thread_id(): number;
  reap_thread(id: number): number;
  volume_create(slot: number, sizeBytes: bigint): number;
  volume_destroy(slot: number): number;
  volume_reinit(slot: number): number;
  volume_state(slot: number): number;
  volume_allocated_bytes(slot: number): bigint;
  volume_set_pool(slot: number, poolLink: number): number;
  volume_grow(slot: number, newSizeBytes: bigint): number;
  // Standard volumes (-sam standard): extents allocated in steps of at most PROVISION_EXTENTS_MAX, then their pages faulted in.
  volume_provision(slot: number, firstExtent: number, extentCount: number): number;
  volume_touch(slot: number, firstExtent: number, extentCount: number): number;
  volume_sam(slot: number): number; // Sam
  pool_configure(index: number, capacityExtents: number): number;
  pool_allocated_extents(index: number): number;
  pool_capacity_extents(index: number): number;
  rel_establish(rel: number, source: number, target: number, flags: number): number;
  rel_withdraw(rel: number): number;
  rel_pending(rel: number): number;
  rel_pending_pointer(rel: number): number;
  rel_count_pending(rel: number): number;
  rel_find_pending(rel: number, fromTrack: number): number;
  // Pending tracks from fromTrack on into the thread's staging buffer (u32 each): how many, 0 when none is left.
  rel_find_pending_many(rel: number, fromTrack: number, trackCountMax: number): number;
  rel_copied_bytes(rel: number): bigint;
  rel_settled_tracks(rel: number): number;
  rel_recorded(rel: number, which: number): number;
  rel_bitmap(rel: number, which: number): number; // 0 control, 1 source record, 2 target record
  rel_rearm_from_records(rel: number): number; // a new T0 of a -record pair: tracks now pending, or < 0
  copy_tracks(rel: number, firstTrack: number, trackCount: number): number;
  copy_step(): number;
  copy_working_rel(): number; // the slot the thread's last copy_step worked on, or -1
  copy_working_generation(): number;
  rel_hold_copy(rel: number, generation: number): number;
  rel_release_copy(rel: number): number;
  rel_copy_held(rel: number): number;
  rel_generation(rel: number): number;
  set_wait_timeouts(lockMs: number, allocMs: number, gateMs: number, drainMs: number): void;
  alloc_failure(): number;
  io_written_before_failure(): number;
  // assembly/faults.ts: fault injection for tests.
  fault_arm_abort(armed: number): void;
  fault_hold_track_lock(slot: number, track: number): number;
  fault_release_track_lock(slot: number, track: number): number;
  fault_track_lock_waited(slot: number, track: number): number;
  fault_hold_allocator(): number;
  fault_release_allocator(): void;
  // assembly/increment.ts: FlashCopy V2 (src/engine/flash-v2.ts). Pending tracks, or < 0.
  rel_resync(rel: number, flags: number): number;
  rel_reverse(rel: number, flags: number): number;
  rel_make_revertible(rel: number): number;
  rel_commit(rel: number): number;
  rel_revert(rel: number): number;
  rel_revertible(rel: number): number;
  rel_release_writes(rel: number): number;
  track_size(): number;
  layout_base(): number;
  layout_heap_start(): number;
  layout_zero_extent(): number;
  heap_top(): bigint;
  work_epoch_pointer(): number;
  stop_flag_pointer(): number;
  copied_bytes_total(): bigint;
  // Byte offsets (and checksum, fill and pattern lengths) are f64 in the core:
  // whole JavaScript numbers up to 2^53, passed without conversion
  // (assembly/index.ts says why not BigInt); the core refuses any other as RANGE.
  io_write(slot: number, offset: number, length: number, data: number): number;
  io_write_pattern(slot: number, offset: number, length: number, seed: number): number;
  io_fill(slot: number, offset: number, length: number, value: number): number;
  // The range reads as zeros; its whole 1 MiB extents go back to the pool (assembly/trim.ts).
  io_trim(slot: number, offset: number, length: number): number;
  trim_released_extents(): number;
  io_read(slot: number, offset: number, length: number, destination: number): number;
  io_begin(slot: number): number;
  io_end(slot: number): void;
  io_write_held(slot: number, offset: number, length: number, data: number): number;
  io_read_held(slot: number, offset: number, length: number, destination: number): number;
  checksum(slot: number, offset: number, length: number): number;
  checksum_result(): bigint;
  hash_memory(pointer: number, length: number): bigint;
  pattern_value(seed: number, wordIndex: number): bigint;
  scan_find(bitmap: number, wordCount: number, fromTrack: number): number;
  scan_count(bitmap: number, wordCount: number): number;
  raw_copy(destination: number, source: number, length: number): void;
  // assembly/snapshot.ts: save and load of a storage image (src/engine/snapshot.ts).
  image_quiesce(): number;
  image_resume(): number;
  image_save_claim(): number;
  image_save_release(): void;
  volume_take_changed(slot: number, firstWord: number, wordCount: number, destination: number): number;
  volume_next_changed(slot: number, fromTrack: number): number; // -1 when none
  volume_extent_pointer(slot: number, extent: number): number;
  volume_next_extent(slot: number, fromExtent: number): number; // -1 when none
  extent_nonzero_mask(slot: number, extent: number): number;
  extent_nonzero_tracks(slot: number, extent: number, wanted: number): number;
  raw_write(slot: number, offset: number, length: number, data: number): number;
  volume_mark_unusable(slot: number): number;
  rel_restore_begin(rel: number, source: number, target: number, flags: number, copiedBytes: bigint): number;
  rel_restore_chunk(rel: number, which: number, chunk: number, state: number, words: number): number;
  rel_restore_link(rel: number): number; // pending tracks, or < 0
  rel_restore_abort(rel: number): number;
  // assembly/mirror.ts: PPRC pairs, their out-of-sync bitmaps and the link ring.
  mirror_apply(slot: number, offset: number, length: number, data: number): number;
  // mirror_apply in two halves around the caller's own copy to mirror_apply_pointer() (one extent at most); end only after an OK begin.
  mirror_apply_begin(slot: number, offset: number, length: number): number;
  mirror_apply_pointer(): number;
  mirror_apply_end(slot: number, offset: number, length: number): void;
  ring_create(): number; // 0 when the image is full
  ring_set_link(ring: number, state: number): void;
  ring_take(ring: number): number; // the next entry to apply, 0 when none is ready
  ring_entry_data(ring: number, entry: number): number;
  ring_complete(ring: number, entry: number, result: number): void;
  ring_doorbell_pointer(ring: number): number;
  ring_set_ack_timeout(ring: number, ms: number): void;
  ring_set_copier(ring: number): void; // the calling thread is the link's sender
  ring_writes_met_copy(ring: number): number; // host writes that found their track held by the sender's copy
  pprc_make_primary(slot: number, ring: number, remoteSlot: number, mode: number, flags: number, allOutOfSync: number): number;
  pprc_make_secondary(slot: number, flags: number): number;
  pprc_clear(slot: number): number;
  pprc_set_mode(slot: number, mode: number): number;
  pprc_retarget(slot: number, ring: number, remoteSlot: number): number;
  pprc_mode(slot: number): number;
  pprc_cause(slot: number): number;
  pprc_out_of_sync(slot: number): number; // every bit set, those of synchronous writes in flight too
  pprc_backlog(slot: number): number; // the bits but those synchronous writes in flight hold (lspprc's Out Of Sync Tracks)
  pprc_sync_writes_in_flight(slot: number): number;
  pprc_next_out_of_sync(slot: number, fromTrack: number): number; // -1 when none
  pprc_mark_out_of_sync(slot: number, track: number): number;
  pprc_sent_tracks(slot: number): number;
  // The next out-of-sync track claimed (lock held, bytes in staging), -1 when none now, or < -1 an error.
  pprc_copy_claim(slot: number, ring: number, remoteSlot: number, fromTrack: number): number;
  pprc_copy_release(slot: number, track: number, applied: number): number;
  // A run of out-of-sync tracks claimed in place (its first track, -1 or < -1 as above), its bytes at pprc_run_pointer().
  pprc_copy_claim_run(slot: number, ring: number, remoteSlot: number, fromTrack: number, trackCountMax: number): number;
  pprc_copy_release_run(slot: number, firstTrack: number, trackCount: number, applied: number): number;
  pprc_run_tracks(): number;
  pprc_run_bytes(): number;
  pprc_run_pointer(): number;
  pprc_track_length(slot: number, track: number): number;
  pprc_role_of(slot: number): number; // PprcRole, or < 0 an error
  // freezepprc: freeze every primary of the group, then commit each (suspend, hold) or abort it.
  pprc_freeze_begin(slot: number): number;
  pprc_freeze_commit(slot: number, hold: number): number;
  pprc_freeze_abort(slot: number): void;
  pprc_release_hold(slot: number): number;
  pprc_held(slot: number): number; // 1 while freezepprc holds the primary's writes
}

export type CoreBuild = "release" | "debug";

// Bounds of the core's waits for one thread, in milliseconds (assembly/sync.ts);
// an absent one keeps the core's default (WAIT_TIMEOUTS_MS).
export interface WaitTimeouts {
  lock?: number;
  alloc?: number;
  gate?: number;
  drain?: number;
}

const modules = new Map<CoreBuild, WebAssembly.Module>();

export function defaultBuild(): CoreBuild {
  return process.env.TZERO_CORE === "debug" ? "debug" : "release";
}

export function coreModule(build: CoreBuild = defaultBuild()): WebAssembly.Module {
  let module = modules.get(build);
  if (!module) {
    const file = build === "debug" ? "core.debug.wasm" : "core.wasm";
    const bytes = readFileSync(new URL(`../../../build/${file}`, import.meta.url));
    module = new WebAssembly.Module(bytes);
    modules.set(build, module);
  }
  return module;
}

// A shared memory reserves its whole maximum of address space when it is
// made, so a process held under a smaller limit (ulimit -v, a container)
// cannot make one: that is said plainly, with a code, not as V8's RangeError.
export class MemoryReservationError extends Error {
  override readonly name = "MemoryReservationError";
  readonly code = "NO_MEMORY";
}

export function createImageMemory(): WebAssembly.Memory {
  try {
    return new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MEMORY_PAGES_MAX, shared: true });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    const gibibytes = (MEMORY_PAGES_MAX * 65_536) / 2 ** 30;
    throw new MemoryReservationError(
      `cannot reserve the ${gibibytes} GiB of address space a storage image's memory needs (${error.message}); raise the process's memory limit (ulimit -v)`,
    );
  }
}

// Exports that return a pointer (usize): wasm hands an i32 to JavaScript, so
// an address at or above 2 GiB would arrive negative. These come back unsigned.
const POINTER_RESULTS = [
  "thread_attach", "rel_bitmap", "rel_pending_pointer", "layout_base", "layout_heap_start", "layout_zero_extent",
  "work_epoch_pointer", "stop_flag_pointer", "volume_extent_pointer", "ring_create", "ring_take", "ring_entry_data", "ring_doorbell_pointer", "pprc_run_pointer", "mirror_apply_pointer",
] as const;

function withUnsignedPointers(raw: CoreExports): CoreExports {
  const exports = { ...raw };
  for (const name of POINTER_RESULTS) {
    const original = raw[name] as (...args: number[]) => number;
    (exports[name] as (...args: number[]) => number) = (...args: number[]) => original(...args) >>> 0;
  }
  return exports;
}

// The constants the core exports as globals (its result codes E_*, sizes and
// limits, flags), by name: what src/core/codes.ts must agree with.
export function coreConstants(module: WebAssembly.Module = coreModule()): Map<string, number | bigint> {
  const core = new CoreThread(createImageMemory(), 0, module, true);
  const instance = core.instanceExports;
  const constants = new Map<string, number | bigint>();
  for (const [name, value] of Object.entries(instance)) {
    if (value instanceof WebAssembly.Global) constants.set(name, value.value as number | bigint);
  }
  return constants;
}

export class CoreAbort extends Error {
  readonly code = "CORE_ABORT";
}

function decodeString(memory: WebAssembly.Memory, pointer: number): string {
  if (pointer === 0) return "";
  const view = new DataView(memory.buffer);
  const length = view.getUint32(pointer - 4, true);
  const units = new Uint16Array(memory.buffer.slice(pointer, pointer + length) as ArrayBuffer);
  return String.fromCharCode(...units);
}

// One thread's binding to an image.
export class CoreThread {
  readonly exports: CoreExports;
  // The instance's exports as WebAssembly gives them, globals included (coreConstants).
  readonly instanceExports: WebAssembly.Exports;
  readonly stagingPointer: number;
  private bytes: Uint8Array;
  private readonly stagingBytes: Uint8Array;
  // The staging buffer as u32 entries, made once (where rel_find_pending_many
  // puts tracks): a reader that takes the count from the call and reads this
  // one view makes no view per batch, and V8 reads a long-lived typed array
  // faster than one just made by subarray (2,632 entries in 1.8–3.3 µs
  // against 2.8–5.4 µs, measured on Node 20).
  readonly stagingWords: Uint32Array;

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly threadId: number,
    readonly module: WebAssembly.Module = coreModule(),
    format = false,
    timeouts: WaitTimeouts = {},
  ) {
    const instance = new WebAssembly.Instance(module, {
      env: {
        memory,
        // The core bounds its waits in elapsed time by this monotonic clock (assembly/sync.ts).
        clock_ms: () => performance.now(),
        abort(message: number, file: number, line: number, column: number) {
          const text = `${decodeString(memory, message)} at ${decodeString(memory, file)}:${line}:${column}`;
          throw new CoreAbort(`tzero core assertion failed: ${text}`);
        },
      },
    });
    this.instanceExports = instance.exports;
    this.exports = withUnsignedPointers(instance.exports as unknown as CoreExports);
    this.exports.set_wait_timeouts(timeouts.lock ?? 0, timeouts.alloc ?? 0, timeouts.gate ?? 0, timeouts.drain ?? 0);
    if (format) {
      const code = this.exports.image_init();
      if (code !== CoreCode.OK) throw new Error(`cannot format storage image memory (core code ${code})`);
    }
    this.stagingPointer = this.exports.thread_attach(threadId);
    if (this.stagingPointer === 0) throw new Error(`cannot attach thread ${threadId} to the storage image`);
    this.bytes = new Uint8Array(memory.buffer);
    // Taken once: the buffer exists now, and shared memory never moves or shrinks.
    this.stagingBytes = this.bytes.subarray(this.stagingPointer, this.stagingPointer + STAGING_SIZE);
    // The staging buffer is 8-aligned (the core's allocator), so u32 entries line up.
    this.stagingWords = new Uint32Array(memory.buffer, this.stagingPointer, STAGING_SIZE / 4);
  }

  // A view of the whole memory; re-taken after growth (which any thread may cause).
  view(): Uint8Array {
    if (this.bytes.byteLength !== this.memory.buffer.byteLength) this.bytes = new Uint8Array(this.memory.buffer);
    return this.bytes;
  }

  // The staging buffer, as bytes the host can fill or read.
  staging(length = STAGING_SIZE): Uint8Array {
    return length === STAGING_SIZE ? this.stagingBytes : this.stagingBytes.subarray(0, length);
  }

  // The first `count` u32 entries of the staging buffer (where rel_find_pending_many puts tracks).
  stagingU32(count: number): Uint32Array {
    return this.stagingWords.subarray(0, count);
  }
}
