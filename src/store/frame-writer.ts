// Assembles the preamble and frames of a state file and hands them to a sink:
// asynchronously while the images run, synchronously while a save holds them
// quiesced (nothing else may run on the thread then; see save.ts).

import { Packr } from "msgpackr";
import { FrameBuffer } from "./frame-buffer.js";
import { StoreError } from "./errors.js";
import {
  MAGIC, FORMAT_VERSION, PREAMBLE_SIZE, FRAME_HEADER_SIZE, FRAME_PAYLOAD_MAX, TRACKS_FRAME_DATA_MAX, frameKey,
  type StateRecord, type TracksRecord,
} from "./format.js";

const BIN8_EMPTY = [0xc4, 0x00]; // msgpack bin 8 of length 0
const BIN32 = 0xc6; // msgpack bin 32: marker, then u32 big-endian length
const BIN32_HEADER_SIZE = 5;

// Where the bytes go: every byte of `bytes` at `position` of the file, or a StoreError.
export interface FrameSink {
  write(bytes: Uint8Array, position: number): Promise<void>;
  writeSync(bytes: Uint8Array, position: number): void;
}

export class FrameWriter {
  private readonly buffer = new FrameBuffer();
  private readonly packr = new Packr({ useRecords: false });
  private position = 0;
  frames = 0; // frames written after the preamble
  dataBytes = 0; // track data bytes written in tracks frames

  constructor(private readonly sink: FrameSink, private readonly file: string, private readonly saveId: bigint) {}

  get bytesWritten(): number {
    return this.position;
  }

  async writePreamble(): Promise<void> {
    const preamble = new Uint8Array(PREAMBLE_SIZE);
    const view = new DataView(preamble.buffer);
    preamble.set(MAGIC, 0);
    view.setUint32(8, FORMAT_VERSION, true);
    view.setUint32(12, ~FORMAT_VERSION >>> 0, true);
    view.setBigUint64(16, this.saveId, true);
    await this.sink.write(preamble, 0);
    this.position = PREAMBLE_SIZE;
  }

  async writeRecord(record: Exclude<StateRecord, TracksRecord>): Promise<void> {
    const frame = this.packRecord(record);
    await this.sink.write(frame, this.position);
    this.advance(frame);
  }

  writeRecordSync(record: Exclude<StateRecord, TracksRecord>): void {
    const frame = this.packRecord(record);
    this.sink.writeSync(frame, this.position);
    this.advance(frame);
  }

  async writeTracks(image: number, volume: string, track: number, data: Uint8Array): Promise<void> {
    const frame = this.packTracks(image, volume, track, data);
    await this.sink.write(frame, this.position);
    this.advance(frame, data.byteLength);
  }

  writeTracksSync(image: number, volume: string, track: number, data: Uint8Array): void {
    const frame = this.packTracks(image, volume, track, data);
    this.sink.writeSync(frame, this.position);
    this.advance(frame, data.byteLength);
  }

  private advance(frame: Uint8Array, dataBytes = 0): void {
    this.position += frame.byteLength;
    this.frames++;
    this.dataBytes += dataBytes;
  }

  // Checksums the payload already in the buffer, fills in the frame header
  // and returns the whole frame (a view of the buffer, valid until the next one).
  private finishFrame(length: number): Uint8Array {
    const view = this.buffer.view;
    view.setUint32(0, length, true);
    view.setUint32(4, ~length >>> 0, true);
    view.setBigUint64(8, this.buffer.hashPayload(length) ^ frameKey(this.saveId, this.frames), true);
    return this.buffer.bytes.subarray(0, FRAME_HEADER_SIZE + length);
  }

  private packRecord(record: Exclude<StateRecord, TracksRecord>): Uint8Array {
    const payload = this.packr.pack(record);
    if (payload.byteLength > FRAME_PAYLOAD_MAX) {
      throw new StoreError("BAD_ARGUMENT", `the ${record.type} record is ${payload.byteLength} bytes, more than a frame holds (${FRAME_PAYLOAD_MAX})`, { file: this.file });
    }
    this.buffer.payload(payload.byteLength).set(payload);
    return this.finishFrame(payload.byteLength);
  }

  // A tracks frame, with its data copied once, from the image's memory into
  // the frame: the record is packed with an empty bin as its last field, whose
  // 2-byte encoding is then replaced by a bin 32 header and the data.
  private packTracks(image: number, volume: string, track: number, data: Uint8Array): Uint8Array {
    if (data.byteLength === 0 || data.byteLength > TRACKS_FRAME_DATA_MAX) {
      throw new StoreError("BAD_ARGUMENT", `a tracks frame holds 1 to ${TRACKS_FRAME_DATA_MAX} bytes of data, not ${data.byteLength}`, { file: this.file });
    }
    const head = this.packr.pack({ type: "tracks", image, volume, track, data: new Uint8Array(0) } satisfies TracksRecord);
    const prefixLength = head.byteLength - BIN8_EMPTY.length;
    if (head[prefixLength] !== BIN8_EMPTY[0] || head[prefixLength + 1] !== BIN8_EMPTY[1]) {
      throw new StoreError("BAD_ARGUMENT", "msgpackr did not encode the empty data field last as bin 8", { file: this.file });
    }
    const dataOffset = prefixLength + BIN32_HEADER_SIZE;
    const length = dataOffset + data.byteLength;
    const payload = this.buffer.payload(length);
    payload.set(head.subarray(0, prefixLength), 0);
    payload[prefixLength] = BIN32;
    new DataView(payload.buffer, payload.byteOffset + prefixLength + 1, 4).setUint32(0, data.byteLength, false);
    payload.set(data, dataOffset);
    return this.finishFrame(length);
  }
}
