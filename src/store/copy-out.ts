// Where the quiesced pass of a save copies the changed tracks: memory that was
// written once before the images were quiesced, so that copying into it runs
// at memory speed instead of paying for page faults or the page cache while
// host I/O waits (on the VM the figures come from, both cost about as much as
// writing the file: 0.3 GB/s against several GB/s for a copy). The save
// reserves it from the size of the last changed set, touches it a megabyte at
// a time while its frame writes are in flight, and writes the copies out once
// the images run again. One per save.

const TOUCH_STEP_BYTES = 1 << 20;
export const COPY_OUT_BYTES_MAX = 256 << 20; // beyond this the quiesced pass writes to the file directly

export class CopyOutBuffer {
  private bytes = new Uint8Array(0);
  private touched = 0; // bytes [0, touched) have been written at least once
  private used = 0; // bytes [0, used) hold copies of the current quiesced pass

  get capacity(): number {
    return this.bytes.byteLength;
  }

  // Makes room for `byteLength` bytes (at most COPY_OUT_BYTES_MAX); keeps a larger buffer.
  reserve(byteLength: number): void {
    const wanted = Math.min(COPY_OUT_BYTES_MAX, byteLength);
    if (wanted <= this.bytes.byteLength) return;
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
    return copied;
  }

  // Forgets the copies: the buffer is free for another pass.
  clear(): void {
    this.used = 0;
  }
}
