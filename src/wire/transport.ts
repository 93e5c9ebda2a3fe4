// Transports carry a connection's bytes: a TCP socket, or one end of an
// in-process pair. A connection sees only this interface, so both kinds have
// the same semantics: ordered bytes, asynchronous delivery, backpressure
// through write()'s result and drain(), and an end that may come at any time.
import type { Socket } from "node:net";
import { receiveIntoRegions } from "../hosts/socket-user-buffer.js";

export interface TransportSink {
  data(chunk: Uint8Array): void;
  drain(): void;
  // The transport is gone: `error` is null for an orderly end of the stream.
  ended(error: Error | null): void;
}

export interface Transport {
  readonly description: string; // for messages: "tcp 127.0.0.1:41234 → 127.0.0.1:8452"
  attach(sink: TransportSink): void;
  // Writes the chunks in order; false when they sit above the high-water mark:
  // the writer should wait for drain() before writing more.
  write(chunks: readonly Uint8Array[]): boolean;
  // Sends what was written, then ends; the transport is destroyed if the peer
  // has not ended too within `lingerMs`.
  end(lingerMs: number): void;
  destroy(): void;
  // From now on, reads land in one arena, region after region, not in a new
  // buffer each: a chunk handed to data() stays as it is until at least
  // `keptBytes` more bytes have been read, and is overwritten after that.
  // False (nothing changed) where the transport cannot.
  readIntoArena?(keptBytes: number): boolean;
}

// An arena's reads: at most this many bytes each, and never into less than
// ARENA_REGION_BYTES_MIN before its end (the cursor goes back to its start).
export const ARENA_READ_BYTES_MAX = 1024 * 1024;
const ARENA_REGION_BYTES_MIN = 64 * 1024;

// The regions of one arena of `keptBytes` + ARENA_READ_BYTES_MAX +
// ARENA_REGION_BYTES_MIN bytes, each from where the last read ended. A
// region's bytes were last read at least keptBytes bytes ago: going round
// from any of them to the cursor passes more than the arena less a region,
// of which at most one skipped end (< ARENA_REGION_BYTES_MIN) was not read.
class ReceiveArena {
  private readonly memory: Buffer;
  private cursor = 0;

  constructor(readonly keptBytes: number) {
    this.memory = Buffer.allocUnsafeSlow(keptBytes + ARENA_READ_BYTES_MAX + ARENA_REGION_BYTES_MIN);
  }

  // Where the next read goes.
  region(): Buffer {
    if (this.memory.byteLength - this.cursor < ARENA_REGION_BYTES_MIN) this.cursor = 0;
    return this.memory.subarray(this.cursor, Math.min(this.memory.byteLength, this.cursor + ARENA_READ_BYTES_MAX));
  }

  // A read of `length` bytes landed in the last region.
  took(length: number): void {
    this.cursor += length;
  }
}

export function socketTransport(socket: Socket): Transport {
  const description = `tcp ${socket.localAddress}:${socket.localPort} → ${socket.remoteAddress}:${socket.remotePort}`;
  socket.setNoDelay(true);
  let sink: TransportSink | null = null;
  return {
    description,
    attach(attached) {
      sink = attached;
      let error: Error | null = null;
      socket.on("data", (chunk: Buffer) => attached.data(chunk));
      socket.on("drain", () => attached.drain());
      socket.on("error", (cause) => { error = cause; });
      socket.on("close", () => attached.ended(error));
    },
    write(chunks) {
      if (socket.destroyed || socket.writableEnded) return false;
      socket.cork();
      let below = true;
      for (const chunk of chunks) below = socket.write(chunk);
      socket.uncork();
      return below;
    },
    end(lingerMs) {
      if (socket.destroyed) return;
      socket.end();
      setTimeout(() => socket.destroy(), lingerMs).unref();
    },
    destroy() {
      socket.destroy();
    },
    readIntoArena(keptBytes) {
      if (sink === null || socket.destroyed) return false;
      const arena = new ReceiveArena(keptBytes);
      const to = sink;
      return receiveIntoRegions(socket, () => arena.region(), (chunk) => {
        arena.took(chunk.byteLength);
        to.data(chunk);
      });
    },
  };
}

export const IN_PROCESS_HIGH_WATER_BYTES = 1024 * 1024;

// One end of an in-process pair. Writes are delivered to the other end on a
// later turn of the event loop (setImmediate), in order, as a socket would.
class InProcessEnd implements Transport {
  peer!: InProcessEnd;
  private sink: TransportSink | null = null;
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private blocked = false; // a write returned false: drain() is owed
  private ending = false;
  private gone = false;

  constructor(readonly description: string) {}

  attach(sink: TransportSink): void {
    this.sink = sink;
  }

  write(chunks: readonly Uint8Array[]): boolean {
    if (this.gone || this.ending) return false;
    for (const chunk of chunks) {
      this.queue.push(chunk);
      this.queuedBytes += chunk.byteLength;
    }
    this.scheduleFlush();
    if (this.queuedBytes > IN_PROCESS_HIGH_WATER_BYTES) this.blocked = true;
    return !this.blocked;
  }

  end(): void {
    if (this.gone) return;
    this.ending = true;
    this.scheduleFlush();
  }

  destroy(): void {
    if (this.gone) return;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.finish(null);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  // Bounded by the chunks queued before it runs: writes made by the peer's
  // handlers during delivery go to the peer's own queue, not this one.
  private flush(): void {
    this.flushScheduled = false;
    const chunks = this.queue.splice(0, this.queue.length);
    this.queuedBytes = 0;
    for (const chunk of chunks) {
      if (this.gone || this.peer.gone) return;
      this.peer.sink?.data(chunk);
    }
    if (this.ending) this.finish(null);
    else if (this.blocked) {
      this.blocked = false;
      this.sink?.drain();
    }
  }

  // Both ends see the stream end, as a closed TCP connection does.
  private finish(error: Error | null): void {
    for (const end of [this, this.peer]) {
      if (end.gone) continue;
      end.gone = true;
      end.sink?.ended(error);
    }
  }
}

// Two connected transports: what one writes, the other receives.
export function inProcessPair(name = "in-process"): [Transport, Transport] {
  const dialer = new InProcessEnd(`${name} dialer → acceptor`);
  const acceptor = new InProcessEnd(`${name} acceptor → dialer`);
  dialer.peer = acceptor;
  acceptor.peer = dialer;
  return [dialer, acceptor];
}
