// The NBD transmission phase (proto.md "Transmission"): requests in, replies
// out, in order. Every request is served to completion before the next one,
// so a FLUSH (or a FUA write) is answered only after every write received
// before it, and tzero's volumes, living in memory, hold each write once it
// is answered: FLUSH and FUA need no work of their own.
//
// Requests are served where the socket's bytes land: the socket reads into
// a receive buffer in the core's memory (socket-user-buffer.ts; Node's own
// Buffers where that cannot be had), each chunk is parsed in place, every
// whole request in it is served at once (a write's payload goes from the
// chunk straight into the volume), and their replies, gathered in one output
// buffer, leave in one socket write when the chunk is done. Only a request split across chunks
// is copied: its header into a 28-byte buffer, its payload into the
// connection's payload buffer (kept for the connection's life up to
// KEPT_PAYLOAD_BYTES, since most chunks end inside a write). A payload whose
// rest is large (a 1 MiB sequential write) is read straight into that buffer
// instead, in reads as large as its rest, not gathered from the receive
// buffer's chunks.
//
// A client may send requests faster than it reads their replies (many 32
// MiB READs, then nothing read): a request is taken only while the replies
// queued for the client (handed to the socket and not yet sent, or gathered
// for it) leave room for its reply under QUEUED_REPLY_BYTES_MAX; else the
// connection stops reading its socket, keeps the rest of the chunk, and goes
// on as the socket sends (each socket write's completion). A request whose
// reply alone is larger is taken once nothing is queued: the bound is on the
// queue, not on a request.
//
// A request the connection cannot go on after (bad magic, a write payload
// over the bound) closes only this connection, as the specification allows;
// a request that is well formed but wrong (unaligned, past the end, an
// unknown command) gets its error and the connection goes on.
import type { Socket } from "node:net";
import * as N from "./nbd-constants.js";
import { ProtocolViolation, type Negotiated, type NbdExport } from "./nbd-handshake.js";
import { ConnectionClosed, type SocketReader } from "./socket-reader.js";
import { receiveIntoBuffer } from "./socket-user-buffer.js";

// The core behind an export, as the worker thread binds it. Each returns a
// core result code (0 OK, negative a failure; src/core/codes.ts).
export interface VolumeIo {
  read(volume: NbdExport, offset: number, length: number, into: Buffer): number;
  write(volume: NbdExport, offset: number, data: Buffer): number;
  // Zeros written over the range, allocation kept (WRITE_ZEROES with NO_HOLE).
  zero(volume: NbdExport, offset: number, length: number): number;
  // The range reads as zeros and its whole extents are released (TRIM, WRITE_ZEROES).
  trim(volume: NbdExport, offset: number, length: number): number;
  // The NBD error for a core code, with a log line when the host should be told why.
  errorOf(volume: NbdExport, code: number, action: string): number;
  // Where the socket's reads may land (write payloads taken from it by the
  // core directly), or null for Buffers of Node's own. Shared by the thread's
  // connections: each chunk is served whole before the next read.
  readonly receiveBuffer: Buffer | null;
}

// What one chunk's requests came to: requests served, bytes moved, and the
// time from the chunk's arrival until its replies were ready to send, in
// nanoseconds, times the requests (each waited that long in the server).
// `queued`: the most reply bytes the connection has had queued for its
// client, said when it grows.
export interface TransmissionCounters {
  served(requests: number, bytes: number, busyNs: number): void;
  queued(peakBytes: number): void;
}

// One request's header, parsed; one instance per connection, reused.
interface Request {
  flags: number;
  type: number;
  cookieHigh: number; // the 8-byte cookie as two u32 words, echoed as they came
  cookieLow: number;
  offset: number;
  length: number;
}

// Replies gather in an output buffer handed to the socket in slices: bytes
// once given to the socket are never written again, and a fresh buffer is
// taken when the rest of this one cannot hold the next reply.
const OUTPUT_BYTES = 256 * 1024;
// The most a reply without data takes: a structured error chunk, whose
// message is one short sentence naming at most a volume.
const SMALL_REPLY_BYTES_MAX = 1024;
// Split payloads up to this size are gathered in one buffer the connection
// keeps (grown to the largest seen): fio's and qemu-img's large writes are 1
// and 2 MiB. Larger ones get a buffer of their own.
const KEPT_PAYLOAD_BYTES = 4 * 1024 * 1024;
// A payload whose rest is at least this is read straight into its buffer:
// smaller rests (a 4 KiB write split at a chunk's end) come in the next chunk
// with the requests behind them, in one read.
const DIRECT_PAYLOAD_BYTES = 64 * 1024;
// V8 copies from shared memory (the receive buffer) a word at a time only
// where both sides have the same alignment: a payload's buffer starts at the
// alignment of its first bytes in their chunk.
const ALIGNMENT = 8;
const SIMPLE_REPLY_BYTES = 16;
const CHUNK_HEADER_BYTES = 20;
const OFFSET_BYTES = 8;
const ERROR_BODY_BYTES = 6; // error u32, message length u16
const TWO_TO_32 = 2 ** 32;
// Reply bytes a connection may have queued for its client before it takes
// no more requests (see above): two of the largest READ's replies (64 MiB
// and their headers), so that a client that reads as fast as it can always
// finds one reply queued while the next is made, and an endpoint thread holds
// at most this much per connection whatever its clients send. (A reply
// queued counts whole until the socket has sent all of it: that is when its
// buffer is freed.)
export const QUEUED_REPLY_BYTES_MAX = 2 * (CHUNK_HEADER_BYTES + OFFSET_BYTES + N.PAYLOAD_MAX_BYTES);
const NS_PER_MS = 1e6;
// Offsets whose high word is at least this are beyond 2^53: past the end of any volume.
const OFFSET_HIGH_MAX = 2 ** 21;

export class Transmission {
  private readonly request: Request = { flags: 0, type: 0, cookieHigh: 0, cookieLow: 0, offset: 0, length: 0 };
  private readonly header = Buffer.allocUnsafe(N.REQUEST_HEADER_BYTES);
  private headerFilled = 0;
  private payload: Buffer | null = null; // a write split across chunks: its payload so far
  private spare: Buffer | null = null; // the payload buffer kept for split writes up to KEPT_PAYLOAD_BYTES
  private payloadFilled = 0;
  private payloadDirect = false; // the socket reads the rest of this.payload straight into it
  // While the replies queued leave no room for this.request's: it waits,
  // parsed, with the bytes received after its header (a copy).
  private held: Buffer | null = null;
  private queuedPeak = 0; // the most reply bytes this connection has had queued
  private queuedReported = 0;
  private output = Buffer.allocUnsafe(OUTPUT_BYTES);
  private outputSent = 0; // output[0, outputSent) is the socket's
  private outputEnd = 0;
  private requestsServed = 0;
  private bytesServed = 0;
  private settle: { resolve: () => void; reject: (error: Error) => void } | null = null;
  private finished = false;

  constructor(
    private readonly socket: Socket,
    private readonly reader: SocketReader,
    private readonly negotiated: Negotiated,
    private readonly io: VolumeIo,
    private readonly counters: TransmissionCounters,
    private readonly queuedReplyBytesMax = QUEUED_REPLY_BYTES_MAX,
  ) {}

  // Where the socket's next read lands: the rest of a payload whose rest was
  // large when its reads began going there, or the receive buffer.
  private readonly nextTarget = (): Buffer => {
    const payload = this.payload;
    if (payload !== null && (this.payloadDirect || payload.length - this.payloadFilled >= DIRECT_PAYLOAD_BYTES)) {
      this.payloadDirect = true;
      return payload.subarray(this.payloadFilled);
    }
    return this.io.receiveBuffer!;
  };

  // A socket write has completed: the requests held back may fit now.
  private readonly written = (): void => {
    if (this.held !== null) this.takeHeld();
  };

  // Serves requests until NBD_CMD_DISC (resolves) or a violation or a closed socket (rejects).
  serve(): Promise<void> {
    const { chunks, ended } = this.reader.detach();
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
      // Chunks the socket's stream had buffered before the receive buffer took over still come as 'data'.
      this.socket.on("data", (chunk: Buffer) => this.receive(chunk));
      if (this.io.receiveBuffer !== null) receiveIntoBuffer(this.socket, this.io.receiveBuffer, (chunk) => this.receive(chunk), this.nextTarget);
      this.socket.on("end", () => this.finish(new ConnectionClosed("the client closed the connection")));
      this.socket.on("close", () => this.finish(new ConnectionClosed("the connection closed")));
      this.socket.on("error", (error) => this.finish(new ConnectionClosed(`the connection failed: ${error.message}`)));
      for (const chunk of chunks) this.receive(chunk);
      if (ended !== null) this.finish(ended);
      else if (!this.finished && this.held === null && this.socket.isPaused()) this.socket.resume();
    });
  }

  private finish(outcome: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    this.payload = null;
    this.held = null;
    if (outcome === null) this.settle!.resolve();
    else this.settle!.reject(outcome);
  }

  private receive(chunk: Buffer): void {
    if (this.finished) return;
    // Reads stop while requests are held back; chunks already buffered by the stream join them.
    if (this.held !== null) {
      this.held = Buffer.concat([this.held, chunk]);
      return;
    }
    this.serveChunk(chunk, false);
  }

  // Serves the held requests if their replies fit now, and reads again if all of them were served.
  private takeHeld(): void {
    if (this.finished || this.mustWait()) return;
    const held = this.held!;
    this.held = null;
    this.serveChunk(held, true);
    if (this.held === null && !this.finished) this.socket.resume();
  }

  // `waiting`: this.request was parsed from an earlier chunk and is served first, its payload at the chunk's start.
  private serveChunk(chunk: Buffer, waiting: boolean): void {
    const started = performance.now();
    let failure: Error | null = null;
    try {
      this.consume(chunk, waiting);
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
    // Counted before the replies leave, so that a client that has its reply sees its request counted.
    if (this.requestsServed > 0) {
      this.counters.served(this.requestsServed, this.bytesServed, (performance.now() - started) * NS_PER_MS * this.requestsServed);
      this.requestsServed = 0;
      this.bytesServed = 0;
    }
    this.flush();
    if (this.queuedPeak > this.queuedReported) {
      this.counters.queued(this.queuedPeak);
      this.queuedReported = this.queuedPeak;
    }
    if (failure !== null) this.finish(failure);
    else if (this.held !== null && !this.finished) this.socket.pause();
  }

  // Serves every request whose bytes the chunk completes, until one must wait for the queued replies to be sent.
  private consume(chunk: Buffer, waiting: boolean): void {
    let at = waiting ? this.serveRequest(chunk, 0) : 0;
    while (at < chunk.length && !this.finished && this.held === null) {
      if (this.payload !== null) {
        at = this.takePayload(chunk, at);
      } else if (this.headerFilled === 0 && chunk.length - at >= N.REQUEST_HEADER_BYTES) {
        parseRequest(chunk, at, this.request);
        at = this.dispatch(chunk, at + N.REQUEST_HEADER_BYTES);
      } else {
        const count = Math.min(N.REQUEST_HEADER_BYTES - this.headerFilled, chunk.length - at);
        chunk.copy(this.header, this.headerFilled, at, at + count);
        this.headerFilled += count;
        at += count;
        if (this.headerFilled === N.REQUEST_HEADER_BYTES) {
          this.headerFilled = 0;
          parseRequest(this.header, 0, this.request);
          at = this.dispatch(chunk, at);
        }
      }
    }
  }

  // Serves the parsed request, or holds it with the rest of the chunk when
  // its reply does not fit beside those queued. `at` is where its payload (if
  // any) begins in chunk. Returns where the next request begins.
  private dispatch(chunk: Buffer, at: number): number {
    if (this.mustWait()) {
      this.held = Buffer.from(chunk.subarray(at));
      return chunk.length;
    }
    return this.serveRequest(chunk, at);
  }

  private serveRequest(chunk: Buffer, at: number): number {
    const request = this.request;
    if (request.type === N.NBD_CMD_WRITE) {
      // The payload follows the header whatever the answer: beyond the bound it cannot be skipped safely.
      if (request.length > N.PAYLOAD_MAX_BYTES) throw new ProtocolViolation(`a write of ${request.length} bytes, more than ${N.PAYLOAD_MAX_BYTES}`);
      if (chunk.length - at >= request.length) {
        this.serveWrite(chunk.subarray(at, at + request.length));
        return at + request.length;
      }
      this.payload = this.payloadBuffer(request.length, (chunk.byteOffset + at) % ALIGNMENT);
      this.payloadFilled = 0;
      this.payloadDirect = false;
      return this.takePayload(chunk, at);
    }
    if (request.type === N.NBD_CMD_DISC) {
      this.finish(null);
      return chunk.length;
    }
    this.serveOther();
    return at;
  }

  // A buffer for a split write's payload, starting at `shift` past an
  // aligned address. A write is served before the next request is parsed, so
  // the spare is free again by then.
  private payloadBuffer(length: number, shift: number): Buffer {
    if (length > KEPT_PAYLOAD_BYTES) return Buffer.allocUnsafe(length + ALIGNMENT).subarray(shift, shift + length);
    if (this.spare === null || this.spare.length < length + ALIGNMENT) this.spare = Buffer.allocUnsafe(Math.max(2 * N.BLOCK_PREFERRED_BYTES, length + ALIGNMENT));
    return this.spare.subarray(shift, shift + length);
  }

  private takePayload(chunk: Buffer, at: number): number {
    const payload = this.payload!;
    const count = Math.min(payload.length - this.payloadFilled, chunk.length - at);
    // Bytes the socket read straight into the payload (nextTarget) are in place.
    if (chunk.buffer !== payload.buffer || chunk.byteOffset + at !== payload.byteOffset + this.payloadFilled) chunk.copy(payload, this.payloadFilled, at, at + count);
    this.payloadFilled += count;
    if (this.payloadFilled === payload.length) {
      this.payload = null;
      this.serveWrite(payload);
    }
    return at + count;
  }

  private get volume(): NbdExport {
    return this.negotiated.volume;
  }

  // The error a range earns, or 0: 512-byte blocks, and inside the volume.
  private rangeError(): number {
    const request = this.request;
    if (request.offset % N.BLOCK_MIN_BYTES !== 0 || request.length % N.BLOCK_MIN_BYTES !== 0) return N.NBD_EINVAL;
    if (request.offset + request.length > this.volume.sizeBytes) return request.type === N.NBD_CMD_READ ? N.NBD_EINVAL : N.NBD_ENOSPC;
    return 0;
  }

  private serveWrite(data: Buffer): void {
    if (this.volume.readOnly) return this.replyError(N.NBD_EPERM, `export ${this.volume.name} is read-only`);
    const refused = this.rangeError();
    if (refused !== 0) return this.replyError(refused, "the write is not in whole 512-byte blocks inside the volume");
    const code = this.io.write(this.volume, this.request.offset, data);
    if (code !== 0) return this.replyError(this.io.errorOf(this.volume, code, "write"), "the write failed");
    this.servedBytes(this.request.length);
    this.replyDone();
  }

  private serveOther(): void {
    switch (this.request.type) {
      case N.NBD_CMD_READ: return this.serveRead();
      case N.NBD_CMD_FLUSH: return this.serveFlush();
      case N.NBD_CMD_TRIM: return this.serveZeroes("trim");
      case N.NBD_CMD_WRITE_ZEROES: return this.serveZeroes((this.request.flags & N.NBD_CMD_FLAG_NO_HOLE) !== 0 ? "zero" : "trim");
      default: return this.replyError(N.NBD_EINVAL, `command ${this.request.type} is not supported`);
    }
  }

  // Every write before the flush has been served (in order) and lives in memory.
  private serveFlush(): void {
    this.servedBytes(0);
    this.replyDone();
  }

  private serveRead(): void {
    const request = this.request;
    if (request.length > N.PAYLOAD_MAX_BYTES) return this.replyError(N.NBD_EINVAL, `a read of ${request.length} bytes, more than ${N.PAYLOAD_MAX_BYTES}`);
    const refused = this.rangeError();
    if (refused !== 0) return this.replyError(refused, "the read is not in whole 512-byte blocks inside the volume");
    const headerBytes = this.negotiated.structured ? CHUNK_HEADER_BYTES + OFFSET_BYTES : SIMPLE_REPLY_BYTES;
    // The bytes go from the core straight into the output, after room for the header.
    const start = this.reserve(headerBytes + request.length);
    const code = this.io.read(this.volume, request.offset, request.length, this.output.subarray(start + headerBytes, start + headerBytes + request.length));
    if (code !== 0) return this.replyError(this.io.errorOf(this.volume, code, "read"), "the read failed");
    if (this.negotiated.structured) {
      this.writeChunkHeader(start, N.NBD_REPLY_FLAG_DONE, N.NBD_REPLY_TYPE_OFFSET_DATA, OFFSET_BYTES + request.length);
      this.output.writeUInt32BE(Math.floor(request.offset / TWO_TO_32), start + CHUNK_HEADER_BYTES);
      this.output.writeUInt32BE(request.offset % TWO_TO_32, start + CHUNK_HEADER_BYTES + 4);
    } else {
      this.writeSimpleReply(start, 0);
    }
    this.outputEnd = start + headerBytes + request.length;
    this.servedBytes(request.length);
  }

  private serveZeroes(how: "zero" | "trim"): void {
    if (this.volume.readOnly) return this.replyError(N.NBD_EPERM, `export ${this.volume.name} is read-only`);
    const refused = this.rangeError();
    if (refused !== 0) return this.replyError(refused, "the range is not in whole 512-byte blocks inside the volume");
    const request = this.request;
    const code = how === "zero" ? this.io.zero(this.volume, request.offset, request.length) : this.io.trim(this.volume, request.offset, request.length);
    if (code !== 0) return this.replyError(this.io.errorOf(this.volume, code, how), how === "zero" ? "zeroing failed" : "trimming failed");
    this.servedBytes(0);
    this.replyDone();
  }

  // Reply bytes queued for the client: handed to the socket and not yet sent, and gathered for it.
  private queuedBytes(): number {
    return this.socket.writableLength + this.outputEnd - this.outputSent;
  }

  // Whether this.request's reply (at most) does not fit beside those queued;
  // with nothing queued it always does.
  private mustWait(): boolean {
    const queued = this.queuedBytes();
    if (queued === 0) return false;
    const request = this.request;
    const reply = request.type === N.NBD_CMD_READ && request.length <= N.PAYLOAD_MAX_BYTES ? CHUNK_HEADER_BYTES + OFFSET_BYTES + request.length : SMALL_REPLY_BYTES_MAX;
    return queued + reply > this.queuedReplyBytesMax;
  }

  private servedBytes(bytes: number): void {
    this.requestsServed++;
    this.bytesServed += bytes;
  }

  // A success without data is a simple reply even where structured replies
  // were negotiated ("Simple reply message": allowed for any request but
  // NBD_CMD_READ when the reply has no payload), as nbdkit answers: libnbd
  // reads a simple reply in one receive, a structured chunk in two.
  private replyDone(): void {
    this.writeSimpleReply(this.reserve(SIMPLE_REPLY_BYTES), 0);
    this.outputEnd += SIMPLE_REPLY_BYTES;
  }

  private replyError(error: number, message: string): void {
    this.requestsServed++;
    if (!this.negotiated.structured) {
      this.writeSimpleReply(this.reserve(SIMPLE_REPLY_BYTES), error);
      this.outputEnd += SIMPLE_REPLY_BYTES;
      return;
    }
    const text = Buffer.from(message, "utf8");
    const start = this.reserve(CHUNK_HEADER_BYTES + ERROR_BODY_BYTES + text.length);
    this.writeChunkHeader(start, N.NBD_REPLY_FLAG_DONE, N.NBD_REPLY_TYPE_ERROR, ERROR_BODY_BYTES + text.length);
    this.output.writeUInt32BE(error, start + CHUNK_HEADER_BYTES);
    this.output.writeUInt16BE(text.length, start + CHUNK_HEADER_BYTES + 4);
    text.copy(this.output, start + CHUNK_HEADER_BYTES + ERROR_BODY_BYTES);
    this.outputEnd = start + CHUNK_HEADER_BYTES + ERROR_BODY_BYTES + text.length;
  }

  // Where `bytes` of reply may be written in the output: after the replies
  // gathered so far, or at the start of a fresh buffer (at least as large)
  // once those are handed to the socket. The caller advances outputEnd.
  private reserve(bytes: number): number {
    if (this.output.length - this.outputEnd >= bytes) return this.outputEnd;
    this.flush();
    this.output = Buffer.allocUnsafe(Math.max(OUTPUT_BYTES, bytes));
    this.outputSent = 0;
    this.outputEnd = 0;
    return 0;
  }

  // Hands the gathered replies to the socket in one write.
  private flush(): void {
    if (this.outputEnd === this.outputSent) return;
    const queued = this.queuedBytes();
    if (queued > this.queuedPeak) this.queuedPeak = queued;
    if (!this.socket.destroyed) this.socket.write(this.output.subarray(this.outputSent, this.outputEnd), this.written);
    this.outputSent = this.outputEnd;
  }

  // "Simple reply message": magic, error, cookie.
  private writeSimpleReply(start: number, error: number): void {
    this.output.writeUInt32BE(N.NBD_SIMPLE_REPLY_MAGIC, start);
    this.output.writeUInt32BE(error, start + 4);
    this.output.writeUInt32BE(this.request.cookieHigh, start + 8);
    this.output.writeUInt32BE(this.request.cookieLow, start + 12);
  }

  // "Structured reply chunk message": magic, flags, type, cookie, length.
  private writeChunkHeader(start: number, flags: number, type: number, length: number): void {
    this.output.writeUInt32BE(N.NBD_STRUCTURED_REPLY_MAGIC, start);
    this.output.writeUInt16BE(flags, start + 4);
    this.output.writeUInt16BE(type, start + 6);
    this.output.writeUInt32BE(this.request.cookieHigh, start + 8);
    this.output.writeUInt32BE(this.request.cookieLow, start + 12);
    this.output.writeUInt32BE(length, start + 16);
  }
}

// "Request message": magic, flags, type, cookie, offset, length.
function parseRequest(bytes: Buffer, at: number, into: Request): void {
  const magic = bytes.readUInt32BE(at);
  if (magic !== N.NBD_REQUEST_MAGIC) throw new ProtocolViolation(`a request without the request magic (0x${magic.toString(16)})`);
  into.flags = bytes.readUInt16BE(at + 4);
  into.type = bytes.readUInt16BE(at + 6);
  into.cookieHigh = bytes.readUInt32BE(at + 8);
  into.cookieLow = bytes.readUInt32BE(at + 12);
  const offsetHigh = bytes.readUInt32BE(at + 16);
  // Offsets beyond 2^53 are past the end of any volume: the range check refuses them.
  into.offset = offsetHigh >= OFFSET_HIGH_MAX ? Number.MAX_SAFE_INTEGER : offsetHigh * TWO_TO_32 + bytes.readUInt32BE(at + 20);
  into.length = bytes.readUInt32BE(at + 24);
}
