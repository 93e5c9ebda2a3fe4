// Where the memory passes and the quiesced pass of a save copy the changed
// tracks: memory that was written once before, so that copying into it runs
// at memory speed instead of paying for page faults or the page cache (on the
// VM the figures come from, both cost about as much as writing the file: 0.3
// GB/s against several GB/s for a copy). The save reserves it from the size
// of the last changed set, touches it a megabyte at a time while its frame
// writes are in flight, and writes the copies out once the images run again,
// or earlier when it is full. One per save.

import { TRACK_SIZE } from "../core/codes.js";
import { TRACKS_PER_FRAME_MAX } from "./format.js";

const TOUCH_STEP_BYTES = 1 << 20;
export const COPY_OUT_BYTES_MAX = 256 << 20; // beyond this the save writes what the buffer holds to the file first
export const COPY_OUT_BYTES_MIN = TRACK_SIZE * TRACKS_PER_FRAME_MAX; // the longest run a save copies at once

export class CopyOutBuffer {
  private bytes = new Uint8Array(0);
  private touched = 0; // bytes [0, touched) have been written at least once
  private used = 0; // bytes [0, used) hold copies not yet written to the file

  constructor(private readonly bytesMax = COPY_OUT_BYTES_MAX) {}

  get capacity(): number {
    return this.bytes.byteLength;
  }

  // Makes room for `byteLength` bytes (at least COPY_OUT_BYTES_MIN, at most
  // the buffer's maximum); keeps a larger buffer, and one that holds copies.
  reserve(byteLength: number): void {
    const wanted = Math.min(this.bytesMax, Math.max(COPY_OUT_BYTES_MIN, byteLength));
    if (wanted <= this.bytes.byteLength || this.used > 0) return;
    this.bytes = new Uint8Array(wanted);
    this.touched = 0;
  }

  // Touches the next step of the buffer; false once all of it is touched.
  touchStep(): boolean {
    if (this.touched >= this.bytes.byteLength) return false;
    const end = Math.min(this.bytes.byteLength, this.touched + TOUCH_STEP_BYTES);
    this.bytes.fill(0, this.touched, end);
    this.touched = end;
    return true;
  }

  // A copy of `data` in the buffer, or null when it does not fit.
  copy(data: Uint8Array): Uint8Array | null {
    if (this.used + data.byteLength > this.bytes.byteLength) return null;
    const copied = this.bytes.subarray(this.used, this.used + data.byteLength);
    copied.set(data);
    this.used += data.byteLength;
    this.touched = Math.max(this.touched, this.used); // a later touchStep must not zero a copy
    return copied;
  }

  // Forgets the copies: the buffer is free for another pass.
  clear(): void {
    this.used = 0;
  }
}
