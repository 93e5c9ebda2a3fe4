// Transports carry a connection's bytes: a TCP socket, or one end of an
// in-process pair. A connection sees only this interface, so both kinds have
// the same semantics: ordered bytes, asynchronous delivery, backpressure
// through write()'s result and drain(), and an end that may come at any time.
import type { Socket } from "node:net";

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
}

export function socketTransport(socket: Socket): Transport {
  const description = `tcp ${socket.localAddress}:${socket.localPort} → ${socket.remoteAddress}:${socket.remotePort}`;
  socket.setNoDelay(true);
  return {
    description,
    attach(sink) {
      let error: Error | null = null;
      socket.on("data", (chunk: Buffer) => sink.data(chunk));
      socket.on("drain", () => sink.drain());
      socket.on("error", (cause) => { error = cause; });
      socket.on("close", () => sink.ended(error));
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
