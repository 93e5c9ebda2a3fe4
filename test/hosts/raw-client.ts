// A raw NBD client for the protocol tests: a socket that collects what the
// server sends and notes when it closes, and the byte layouts of options and
// requests as the specification (nbd's doc/proto.md) writes them.
import { connect, type Socket } from "node:net";

const READ_TIMEOUT_MS = 20_000;

// A client socket that collects what the server sends and notes when it closes.
export class RawClient {
  private received = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  readonly socket: Socket;

  constructor(port: number) {
    this.socket = connect(port, "127.0.0.1");
    this.socket.on("data", (data) => { this.received = Buffer.concat([this.received, data]); this.wake(); });
    this.socket.on("close", () => { this.closed = true; this.wake(); });
    this.socket.on("error", () => undefined);
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  send(bytes: Buffer): void {
    if (!this.closed) this.socket.write(bytes);
  }

  // The next `length` bytes, or null if the server closes first.
  async take(length: number): Promise<Buffer | null> {
    const started = Date.now();
    while (this.received.length < length) {
      if (this.closed) return null;
      if (Date.now() - started > READ_TIMEOUT_MS) throw new Error(`no ${length} bytes from the server within ${READ_TIMEOUT_MS} ms`);
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 100); });
    }
    const bytes = this.received.subarray(0, length);
    this.received = this.received.subarray(length);
    return bytes;
  }

  async untilClosed(): Promise<void> {
    const started = Date.now();
    while (!this.closed) {
      if (Date.now() - started > READ_TIMEOUT_MS) throw new Error(`the server did not close within ${READ_TIMEOUT_MS} ms`);
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 100); });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export const u16 = (value: number) => { const bytes = Buffer.alloc(2); bytes.writeUInt16BE(value); return bytes; };
export const u32 = (value: number) => { const bytes = Buffer.alloc(4); bytes.writeUInt32BE(value); return bytes; };
export const u64 = (value: bigint) => { const bytes = Buffer.alloc(8); bytes.writeBigUInt64BE(value); return bytes; };
export const IHAVEOPT = Buffer.from("IHAVEOPT", "latin1");
export const option = (type: number, data: Buffer = Buffer.alloc(0)) => Buffer.concat([IHAVEOPT, u32(type), u32(data.length), data]);
export const request = (type: number, cookie: bigint, offset: bigint, length: number, flags = 0) => Buffer.concat([u32(0x25609513), u16(flags), u16(type), u64(cookie), u64(offset), u32(length)]);
