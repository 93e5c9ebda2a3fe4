// Reads exact byte counts from a socket: `read(n)` resolves with the next n
// bytes, or rejects with ConnectionClosed once the socket has ended or
// failed. Only one read may wait at a time (the protocol reads in order).
// Incoming chunks are queued without copying; a read that spans chunks
// concatenates just the bytes it takes. The handshake reads through it; the
// transmission phase then takes the socket over (detach) with whatever the
// client had already sent beyond the handshake.
import type { Socket } from "node:net";

export class ConnectionClosed extends Error {
  readonly code = "CONNECTION_CLOSED";
}

export class SocketReader {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private wanted = 0;
  private waiter: { resolve: (bytes: Buffer) => void; reject: (error: Error) => void } | null = null;
  private ended: Error | null = null;

  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => this.end(new ConnectionClosed("the client closed the connection"));
  private readonly onClose = () => this.end(new ConnectionClosed("the connection closed"));
  private readonly onError = (error: Error) => this.end(new ConnectionClosed(`the connection failed: ${error.message}`));

  constructor(private readonly socket: Socket, private readonly bufferedMax: number) {
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("close", this.onClose);
    socket.on("error", this.onError);
  }

  // Stops reading for good and hands over the bytes received but not read,
  // and how the socket ended if it has (null while it is open).
  detach(): { chunks: Buffer[]; ended: Error | null } {
    if (this.waiter !== null) throw new Error("SocketReader: detached while a read waits");
    this.socket.off("data", this.onData);
    this.socket.off("end", this.onEnd);
    this.socket.off("close", this.onClose);
    this.socket.off("error", this.onError);
    const chunks = this.chunks.splice(0);
    this.buffered = 0;
    return { chunks, ended: this.ended };
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  read(length: number): Promise<Buffer> {
    if (this.waiter !== null) throw new Error("SocketReader: a read is already waiting");
    if (this.buffered >= length) return Promise.resolve(this.take(length));
    if (this.ended) return Promise.reject(this.ended);
    this.wanted = length;
    // Pipelined clients may have sent far ahead; pause only beyond the bound.
    if (this.socket.isPaused()) this.socket.resume();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered > this.bufferedMax) this.socket.pause();
    const waiter = this.waiter;
    if (waiter !== null && this.buffered >= this.wanted) {
      this.waiter = null;
      waiter.resolve(this.take(this.wanted));
    }
  }

  private end(error: Error): void {
    this.ended ??= error;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(this.ended);
  }

  private take(length: number): Buffer {
    this.buffered -= length;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= length) {
      if (first.length === length) this.chunks.shift();
      else this.chunks[0] = first.subarray(length);
      return first.subarray(0, length);
    }
    const result = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const chunk = this.chunks[0];
      const count = Math.min(chunk.length, length - filled);
      chunk.copy(result, filled, 0, count);
      filled += count;
      if (count === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(count);
    }
    return result;
  }
}
