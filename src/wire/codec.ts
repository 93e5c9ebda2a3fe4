// Frames of the wire protocol: a u32 big-endian prefix, then that many bytes.
// The prefix's top bit says which of two layouts follows:
//
//   flag clear (every frame of version 1, and every frame without raw bytes):
//   offset 0       4                       4 + length
//          +-------+-----------------------+
//          |0|len  | msgpack value         |
//          +-------+-----------------------+
//
//   flag set: a msgpack value, then raw bytes that msgpack never touches
//   offset 0       4         8                 8 + h              4 + length
//          +-------+---------+-----------------+------------------+
//          |1|len  | h (u32) | msgpack value   | raw bytes        |
//          +-------+---------+-----------------+------------------+
//
// `len` (31 bits) counts everything after the prefix, so one bound covers
// both layouts. The raw form carries bulk data (a run of tracks) without
// encoding it into, or copying it through, a msgpack buffer: the sender
// writes its own chunks behind the header (one writev), and the receiver
// gets the raw bytes as a view of what it read. The msgpack value must say
// what the raw bytes are (its schema bounds their length and the application
// checks its ranges against them), and a type that takes raw bytes takes
// them in every frame (messages.ts, rawBytesMax).
//
// msgpack options are fixed here, for both ends, so that a value decodes as
// it was encoded and nothing else does:
// - no record extension (`useRecords: false`) and no structured clone: every
//   object is a plain msgpack map, so a decoder carries no state from one frame
//   to the next and another implementation can read the frames;
// - bigint is encoded as msgpack int64/uint64 and those decode as bigint
//   (`int64AsType: "bigint"`); a bigint beyond 64 bits is refused when sent.
//   A JS number stays a number (msgpackr writes integers above 32 bits as
//   float64), so a schema's Integer and BigInt fields cannot be confused;
// - undefined properties are left out (`skipValues`), so optional fields are
//   absent rather than present-and-undefined;
// - bin values decode as views of the received bytes (`copyBuffers: false`):
//   a 1 MiB track run is not copied on receipt. That is safe because the
//   decoder never reuses a buffer it handed out (see FrameDecoder). A view is
//   a Uint8Array, or a Buffer (its subclass) when the transport's chunk was one.
// Extensions msgpackr still decodes (timestamps, its Error and Set types), and
// the never-used byte 0xc1 (a marker object), yield values that no message
// schema accepts, so they fail validation rather than decoding.
import { Packr, Unpackr } from "msgpackr";
import { WireError } from "./errors.js";

export const FRAME_HEADER_BYTES = 4;
// The raw layout's prefix and its u32 msgpack length, written as one chunk.
export const RAW_FRAME_HEADER_BYTES = FRAME_HEADER_BYTES + 4;
const RAW_FLAG = 0x8000_0000;
export const KiB = 1024;
export const MiB = 1024 * KiB;
// A 16 MiB run of tracks plus 64 KiB for the fields around it.
export const FRAME_PAYLOAD_BYTES_MAX_DEFAULT = 16 * MiB + 64 * KiB;
// The prefix's 31 length bits bound any configured maximum.
export const FRAME_PAYLOAD_BYTES_LIMIT = 0x7fff_ffff;

const PACKR_OPTIONS = {
  useRecords: false, structuredClone: false, moreTypes: false, bundleStrings: false, useToJSON: false,
  int64AsType: "bigint", skipValues: [undefined], largeBigIntToFloat: false, variableMapSize: true,
} as const;
const UNPACKR_OPTIONS = { useRecords: false, structuredClone: false, moreTypes: false, mapsAsObjects: true, int64AsType: "bigint", copyBuffers: false } as const;

export function assertFrameBound(payloadBytesMax: number): void {
  if (!Number.isInteger(payloadBytesMax) || payloadBytesMax < 1 || payloadBytesMax > FRAME_PAYLOAD_BYTES_LIMIT) {
    throw new WireError("BAD_ARGUMENT", `frame size bound ${payloadBytesMax} is not a whole number of bytes from 1 to ${FRAME_PAYLOAD_BYTES_LIMIT}`);
  }
}

// Encodes values into frames. One per connection: msgpackr's Packr keeps a
// write buffer, and no module-level state is shared between connections.
export class FrameEncoder {
  private readonly packr = new Packr(PACKR_OPTIONS);

  constructor(readonly payloadBytesMax = FRAME_PAYLOAD_BYTES_MAX_DEFAULT) {
    assertFrameBound(payloadBytesMax);
  }

  // The header and the payload as two chunks, for one corked write: the
  // payload is msgpackr's own output, not copied again to sit behind a header.
  // The payload stays valid after later calls: msgpackr moves on in its buffer
  // (or to a new one) rather than overwrite what it returned. With `raw`, the
  // frame takes the raw layout and its chunks follow as they are: the caller
  // must leave their bytes unchanged until the transport has written them.
  encode(value: unknown, raw?: readonly Uint8Array[]): Uint8Array[] {
    const payload = this.pack(value);
    if (raw === undefined) {
      this.assertBound(payload.byteLength);
      const header = new Uint8Array(FRAME_HEADER_BYTES);
      new DataView(header.buffer).setUint32(0, payload.byteLength);
      return [header, payload];
    }
    const length = 4 + payload.byteLength + rawLength(raw);
    this.assertBound(length);
    const header = new Uint8Array(RAW_FRAME_HEADER_BYTES);
    const fields = new DataView(header.buffer);
    fields.setUint32(0, (RAW_FLAG | length) >>> 0);
    fields.setUint32(FRAME_HEADER_BYTES, payload.byteLength);
    return [header, payload, ...raw];
  }

  private pack(value: unknown): Uint8Array {
    try {
      return this.packr.pack(value);
    } catch (error) {
      throw new WireError("BAD_ARGUMENT", `value cannot be encoded as msgpack: ${(error as Error).message}`, { cause: error });
    }
  }

  private assertBound(length: number): void {
    if (length > this.payloadBytesMax) {
      throw new WireError("FRAME_TOO_LARGE", `frame of ${length} bytes is above the bound of ${this.payloadBytesMax} bytes`);
    }
  }
}

// Not zero-filled: fillPartial overwrites every byte before the frame is
// decoded. A plain Uint8Array over the (unpooled) memory, so that its bin
// values are Uint8Arrays as a frame decoded in place from one is.
function newGather(length: number): Uint8Array {
  return new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
}

// Copies `length` bytes of `raw` (pieces, one after another) from byte
// `from` of them into `target` at `targetAt`.
export function copyRaw(raw: readonly Uint8Array[], from: number, length: number, target: Uint8Array, targetAt: number): void {
  let skipped = 0;
  let copied = 0;
  for (const piece of raw) {
    if (copied === length) return;
    const start = Math.max(0, from + copied - skipped);
    if (start < piece.byteLength) {
      const take = Math.min(piece.byteLength - start, length - copied);
      target.set(piece.subarray(start, start + take), targetAt + copied);
      copied += take;
    }
    skipped += piece.byteLength;
  }
  if (copied !== length) throw new WireError("BAD_ARGUMENT", `${length} bytes from byte ${from} run past the ${skipped} raw bytes`);
}

export function rawLength(raw: readonly Uint8Array[]): number {
  let length = 0;
  for (const chunk of raw) length += chunk.byteLength;
  return length;
}

// A frame the decoder delivered: its value, the exact bytes of its msgpack
// value (the handshake signs the bytes of the hellos), and its raw bytes as
// pieces, one after another (views of the chunks they came in), null for a
// frame of the plain layout.
export interface DecodedFrame {
  value: unknown;
  payload: Uint8Array;
  raw: readonly Uint8Array[] | null;
}

// A raw frame whose payload spans chunks, while it is read: its head (the
// u32 msgpack length and the msgpack value) gathered, its raw bytes kept as
// views of the chunks.
interface SpanningRaw {
  length: number; // the payload's: head and raw bytes
  head: Uint8Array; // the reused gather buffer
  headFilled: number;
  headBytes: number; // 4 + the msgpack length, once its u32 is in; 0 before
  pieces: Uint8Array[];
  rawFilled: number;
}

// Decodes a TCP byte stream into frames: chunks may hold part of a frame, or
// many. A frame wholly inside one chunk is decoded in place (the chunk is the
// transport's, never reused by it); one of the plain layout that spans chunks
// is gathered into a buffer of its own exact length, allocated once its header
// is known. So a decoded bin value of a plain frame is a view that stays valid
// for as long as it is held. A raw-layout frame that spans chunks has only its
// head (the u32 msgpack length and the msgpack value) gathered, into one
// buffer the decoder keeps and reuses; its raw bytes are not copied at all
// but delivered as views of the chunks they came in (a bulk frame of
// megabytes is one copy fewer on its way to a volume). Any bin value of its
// msgpack value is valid only until `deliver` returns, and a caller that
// keeps one copies it; its raw pieces stay valid (the transport never reuses a chunk).
// After the first error the decoder is failed and refuses further input.
export class FrameDecoder {
  private readonly unpackr = new Unpackr(UNPACKR_OPTIONS);
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private partial: Uint8Array | null = null; // the payload being gathered across chunks
  private partialFilled = 0;
  private partialRaw = false; // the frame being read has the raw layout
  private rawGather: Uint8Array | null = null; // reused by raw frames' heads across chunks; grows to the largest seen
  private spanning: SpanningRaw | null = null;
  private failure: WireError | null = null;
  frameCount = 0; // frames decoded, for error messages

  constructor(readonly payloadBytesMax = FRAME_PAYLOAD_BYTES_MAX_DEFAULT) {
    assertFrameBound(payloadBytesMax);
  }

  get failed(): WireError | null {
    return this.failure;
  }

  // True when no frame is partly received.
  get idle(): boolean {
    return this.headerFilled === 0 && this.partial === null && this.spanning === null;
  }

  // Calls `deliver` for each complete frame in `chunk`, in order, and stops at
  // the first bad one (throwing its error) or when `deliver` returns false.
  push(chunk: Uint8Array, deliver: (frame: DecodedFrame) => boolean): void {
    if (this.failure) throw this.failure;
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.spanning !== null) {
        offset = this.fillSpanning(this.spanning, chunk, offset);
        if (!spanningComplete(this.spanning)) break;
        const spanning = this.spanning;
        this.spanning = null;
        if (!deliver(this.decodeSpanning(spanning))) return;
        continue;
      }
      if (this.partial === null) {
        offset = this.readHeader(chunk, offset);
        if (this.spanning !== null) continue;
        if (this.partial === null) break; // the header is incomplete: the chunk is used up
      }
      offset = this.fillPartial(chunk, offset);
      if (this.partialFilled < this.partial!.byteLength) break;
      const payload = this.partial!;
      this.partial = null;
      this.partialFilled = 0;
      if (!deliver(this.partialRaw ? this.decodeRaw(payload) : this.decode(payload))) return;
    }
  }

  // Reads the header at `offset`; where the whole payload is in `chunk` too,
  // decodes and delivers it in place by leaving `partial` as a view of it.
  private readHeader(chunk: Uint8Array, offset: number): number {
    const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.byteLength - offset);
    this.header.set(chunk.subarray(offset, offset + take), this.headerFilled);
    this.headerFilled += take;
    offset += take;
    if (this.headerFilled < FRAME_HEADER_BYTES) return offset;
    this.headerFilled = 0;
    const prefix = new DataView(this.header.buffer).getUint32(0);
    this.partialRaw = (prefix & RAW_FLAG) !== 0;
    const length = prefix & ~RAW_FLAG;
    // A raw frame holds its u32 msgpack length and at least one byte of msgpack.
    const lengthMin = this.partialRaw ? 5 : 1;
    if (length < lengthMin || length > this.payloadBytesMax) {
      throw this.fail(new WireError("FRAME_TOO_LARGE", `frame ${this.frameCount} declares ${length} payload bytes; the bound is ${lengthMin} to ${this.payloadBytesMax}`));
    }
    const available = chunk.byteLength - offset;
    if (available >= length) {
      this.partial = chunk.subarray(offset, offset + length);
      this.partialFilled = length;
      return offset + length;
    }
    if (this.partialRaw) {
      this.spanning = { length, head: this.rawGatherOf(length), headFilled: 0, headBytes: 0, pieces: [], rawFilled: 0 };
      return offset;
    }
    this.partial = newGather(length);
    this.partialFilled = 0;
    return offset;
  }

  // Takes what `chunk` holds of a spanning raw frame from `offset`: head
  // bytes into its gather buffer (the msgpack length checked as soon as it
  // is in), then one view of the chunk for its raw bytes there.
  private fillSpanning(spanning: SpanningRaw, chunk: Uint8Array, offset: number): number {
    while (offset < chunk.byteLength && (spanning.headBytes === 0 || spanning.headFilled < spanning.headBytes)) {
      const want = spanning.headBytes === 0 ? 4 : spanning.headBytes;
      const take = Math.min(want - spanning.headFilled, chunk.byteLength - offset);
      spanning.head.set(chunk.subarray(offset, offset + take), spanning.headFilled);
      spanning.headFilled += take;
      offset += take;
      if (spanning.headBytes === 0 && spanning.headFilled === 4) spanning.headBytes = 4 + this.headerBytesOf(spanning.head, spanning.length);
    }
    if (spanning.headBytes === 0 || spanning.headFilled < spanning.headBytes) return offset;
    const take = Math.min(spanning.length - spanning.headBytes - spanning.rawFilled, chunk.byteLength - offset);
    if (take > 0) spanning.pieces.push(chunk.subarray(offset, offset + take));
    spanning.rawFilled += take;
    return offset + take;
  }

  private decodeSpanning(spanning: SpanningRaw): DecodedFrame {
    const decoded = this.decode(spanning.head.subarray(4, spanning.headBytes));
    decoded.raw = spanning.pieces;
    return decoded;
  }

  // The reused gather buffer, `length` bytes of it; regrown (at most to the
  // frame bound, which `length` is within) when a frame needs more.
  private rawGatherOf(length: number): Uint8Array {
    if (this.rawGather === null || this.rawGather.byteLength < length) this.rawGather = newGather(length);
    return this.rawGather.subarray(0, length);
  }

  private fillPartial(chunk: Uint8Array, offset: number): number {
    const partial = this.partial!;
    if (this.partialFilled === partial.byteLength) return offset;
    const take = Math.min(partial.byteLength - this.partialFilled, chunk.byteLength - offset);
    partial.set(chunk.subarray(offset, offset + take), this.partialFilled);
    this.partialFilled += take;
    return offset + take;
  }

  // Splits a raw frame at its msgpack length, which must lie inside the frame.
  private decodeRaw(frame: Uint8Array): DecodedFrame {
    const headerBytes = this.headerBytesOf(frame, frame.byteLength);
    const decoded = this.decode(frame.subarray(4, 4 + headerBytes));
    decoded.raw = [frame.subarray(4 + headerBytes)];
    return decoded;
  }

  // The msgpack length at the start of a raw frame's payload of `length` bytes, which must lie inside it.
  private headerBytesOf(payload: Uint8Array, length: number): number {
    const headerBytes = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0);
    if (headerBytes < 1 || headerBytes > length - 4) {
      throw this.fail(new WireError("BAD_FRAME", `frame ${this.frameCount} of ${length} bytes declares a msgpack value of ${headerBytes} bytes; it can hold 1 to ${length - 4}`));
    }
    return headerBytes;
  }

  private decode(payload: Uint8Array): DecodedFrame {
    const index = this.frameCount++;
    let value: unknown;
    try {
      // unpack reads one value and throws when bytes are left over or missing.
      value = this.unpackr.unpack(payload);
    } catch (error) {
      throw this.fail(new WireError("BAD_FRAME", `frame ${index} (${payload.byteLength} bytes) is not one msgpack value: ${(error as Error).message}`, { cause: error }));
    }
    return { value, payload, raw: null };
  }

  private fail(error: WireError): WireError {
    this.failure = error;
    this.partial = null;
    this.spanning = null;
    return error;
  }
}

function spanningComplete(spanning: SpanningRaw): boolean {
  return spanning.headBytes !== 0 && spanning.headFilled === spanning.headBytes && spanning.rawFilled === spanning.length - spanning.headBytes;
}
