// Writes the preamble and frames of a state file to an open file descriptor,
// synchronously (a save holds its images quiesced while it writes; see save.ts).

import { writeSync } from "node:fs";
import { Packr } from "msgpackr";
import { TRACK_SIZE } from "../core/codes.js";
import { FrameBuffer } from "./frame-buffer.js";
import { StoreError } from "./errors.js";
import {
  MAGIC, FORMAT_VERSION, PREAMBLE_SIZE, FRAME_HEADER_SIZE, FRAME_PAYLOAD_MAX, TRACKS_FRAME_DATA_MAX,
  type StateRecord, type TracksRecord,
} from "./format.js";

const BIN8_EMPTY = [0xc4, 0x00]; // msgpack bin 8 of length 0
const BIN32 = 0xc6; // msgpack bin 32: marker, then u32 big-endian length
const BIN32_HEADER_SIZE = 5;

export class FrameWriter {
  private readonly buffer = new FrameBuffer();
  private readonly packr = new Packr({ useRecords: false });
  private position = 0;
  frames = 0; // frames written after the preamble
  dataBytes = 0; // track data bytes written in tracks frames

  constructor(private readonly fd: number, private readonly file: string) {}

  get bytesWritten(): number {
    return this.position;
  }

  private writeAll(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.byteLength) {
      try {
        done += writeSync(this.fd, bytes, done, bytes.byteLength - done, this.position + done);
      } catch (cause) {
        throw new StoreError("IO_ERROR", `cannot write ${this.file}: ${(cause as Error).message}`, { file: this.file, offset: this.position + done, cause });
      }
    }
    this.position += bytes.byteLength;
  }

  writePreamble(): void {
    const preamble = new Uint8Array(PREAMBLE_SIZE);
    const view = new DataView(preamble.buffer);
    preamble.set(MAGIC, 0);
    view.setUint32(8, FORMAT_VERSION, true);
    view.setUint32(12, ~FORMAT_VERSION >>> 0, true);
    this.writeAll(preamble);
  }

  // Checksums the payload already in the buffer, fills in the frame header and writes the frame.
  private finishFrame(length: number): void {
    const view = this.buffer.view;
    view.setUint32(0, length, true);
    view.setUint32(4, ~length >>> 0, true);
    view.setBigUint64(8, this.buffer.hashPayload(length), true);
    this.writeAll(this.buffer.bytes.subarray(0, FRAME_HEADER_SIZE + length));
    this.frames++;
  }

  writeRecord(record: Exclude<StateRecord, TracksRecord>): void {
    const payload = this.packr.pack(record);
    if (payload.byteLength > FRAME_PAYLOAD_MAX) {
      throw new StoreError("BAD_ARGUMENT", `the ${record.type} record is ${payload.byteLength} bytes, more than a frame holds (${FRAME_PAYLOAD_MAX})`, { file: this.file });
    }
    this.buffer.payload(payload.byteLength).set(payload);
    this.finishFrame(payload.byteLength);
  }

  // A tracks frame, with its data copied once, from the image's memory into
  // the frame: the record is packed with an empty bin as its last field, whose
  // 2-byte encoding is then replaced by a bin 32 header and the data. Returns
  // the xxHash64 of each track as written (the last one may be partial).
  writeTracks(image: number, volume: string, track: number, data: Uint8Array): bigint[] {
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
    const hashes: bigint[] = [];
    for (let offset = 0; offset < data.byteLength; offset += TRACK_SIZE) {
      hashes.push(this.buffer.hashPayloadRange(dataOffset + offset, Math.min(TRACK_SIZE, data.byteLength - offset)));
    }
    this.finishFrame(length);
    this.dataBytes += data.byteLength;
    return hashes;
  }
}
