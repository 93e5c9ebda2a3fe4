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
  private readonly onData = (data: Buffer) => { this.received = Buffer.concat([this.received, data]); this.wake(); };

  constructor(port: number) {
    this.socket = connect(port, "127.0.0.1");
    this.socket.on("data", this.onData);
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

  // Stops collecting: the socket, paused (nothing more is read from it until
  // resumed), for the caller to read; throws if bytes were left untaken.
  release(): Socket {
    if (this.received.length > 0) throw new Error(`${this.received.length} bytes from the server were not taken`);
    this.socket.off("data", this.onData);
    this.socket.pause();
    return this.socket;
  }
}

// Reads simple replies off `socket` (resumed) as they come, each checked
// against its cookie and, for a read, its bytes, without gathering them: for
// replies far larger than one would keep. Resolves once every reply came.
export function checkReplies(socket: Socket, expected: Array<{ cookie: bigint; data: Buffer | null }>, timeoutMs = READ_TIMEOUT_MS): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const header = Buffer.alloc(16);
    let headerFilled = 0;
    let index = 0;
    let dataFilled = -1; // -1 while the header is read
    const done = (error: Error | null) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      if (error === null) resolve();
      else reject(error);
    };
    const timer = setTimeout(() => done(new Error(`reply ${index} of ${expected.length} not whole within ${timeoutMs} ms`)), timeoutMs);
    const onClose = () => done(new Error(`the server closed after ${index} of ${expected.length} replies`));
    const onData = (chunk: Buffer) => {
      for (let at = 0; at < chunk.length;) {
        if (index === expected.length) return done(new Error(`${chunk.length - at} bytes after the last reply`));
        const want = expected[index];
        if (dataFilled < 0) {
          const count = Math.min(16 - headerFilled, chunk.length - at);
          chunk.copy(header, headerFilled, at, at + count);
          headerFilled += count;
          at += count;
          if (headerFilled < 16) continue;
          headerFilled = 0;
          if (header.readUInt32BE(0) !== 0x67446698 || header.readUInt32BE(4) !== 0 || header.readBigUInt64BE(8) !== want.cookie) {
            return done(new Error(`reply ${index}: magic 0x${header.readUInt32BE(0).toString(16)}, error ${header.readUInt32BE(4)}, cookie ${header.readBigUInt64BE(8)}; expected a success for cookie ${want.cookie}`));
          }
          dataFilled = 0;
        }
        const data = want.data ?? Buffer.alloc(0);
        const count = Math.min(data.length - dataFilled, chunk.length - at);
        if (!chunk.subarray(at, at + count).equals(data.subarray(dataFilled, dataFilled + count))) return done(new Error(`reply ${index} (cookie ${want.cookie}): bytes ${dataFilled} to ${dataFilled + count} differ`));
        dataFilled += count;
        at += count;
        if (dataFilled === data.length) {
          dataFilled = -1;
          index++;
        }
      }
      if (index === expected.length && dataFilled < 0 && headerFilled === 0) done(null);
    };
    socket.on("data", onData);
    socket.on("close", onClose);
    socket.resume();
  });
}

export const u16 = (value: number) => { const bytes = Buffer.alloc(2); bytes.writeUInt16BE(value); return bytes; };
export const u32 = (value: number) => { const bytes = Buffer.alloc(4); bytes.writeUInt32BE(value); return bytes; };
export const u64 = (value: bigint) => { const bytes = Buffer.alloc(8); bytes.writeBigUInt64BE(value); return bytes; };
export const IHAVEOPT = Buffer.from("IHAVEOPT", "latin1");
export const option = (type: number, data: Buffer = Buffer.alloc(0)) => Buffer.concat([IHAVEOPT, u32(type), u32(data.length), data]);
export const request = (type: number, cookie: bigint, offset: bigint, length: number, flags = 0) => Buffer.concat([u32(0x25609513), u16(flags), u16(type), u64(cookie), u64(offset), u32(length)]);

// A client past the handshake on `volume`: greeting, client flags,
// NBD_OPT_EXPORT_NAME; simple replies follow.
export async function openExport(port: number, volume: string): Promise<RawClient> {
  const client = new RawClient(port);
  await client.take(18);
  client.send(Buffer.concat([u32(3), option(1, Buffer.from(volume))]));
  if (await client.take(10) === null) throw new Error(`export ${volume} did not open`);
  return client;
}
