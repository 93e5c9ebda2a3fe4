// The NBD transmission phase (proto.md "Transmission"): requests in, replies
// out, in order. Every request is served to completion before the next is
// read, so a FLUSH (or a FUA write) is answered only after every write
// answered before it, and tzero's volumes, living in memory, hold each write
// once it is answered: FLUSH and FUA need no work of their own.
//
// A request the connection cannot go on after (bad magic, a write payload
// over the bound) closes only this connection, as the
// specification allows; a request that is well formed but wrong (unaligned,
// past the end, an unknown command) gets its error and the connection goes on.
import type { Socket } from "node:net";
import * as N from "./nbd-constants.js";
import { ProtocolViolation, type Negotiated, type NbdExport } from "./nbd-handshake.js";
import type { SocketReader } from "./socket-reader.js";

// The core behind an export, as the worker thread binds it. Each returns a
// core result code (0 OK, negative a failure; src/core/codes.ts).
export interface VolumeIo {
  read(volume: NbdExport, offset: number, length: number, into: Buffer): number;
  write(volume: NbdExport, offset: number, data: Buffer): number;
  zero(volume: NbdExport, offset: number, length: number): number;
  // The NBD error for a core code, with a log line when the host should be told why.
  errorOf(volume: NbdExport, code: number, action: string): number;
}

export interface TransmissionCounters {
  io(bytes: number): void;
}

interface Request {
  flags: number;
  type: number;
  cookie: Buffer; // 8 bytes, echoed as they came
  offset: number;
  length: number;
}

function parseRequest(header: Buffer): Request {
  if (header.readUInt32BE(0) !== N.NBD_REQUEST_MAGIC) throw new ProtocolViolation(`a request without the request magic (0x${header.readUInt32BE(0).toString(16)})`);
  const offset = header.readBigUInt64BE(16);
  // Offsets beyond 2^53 are past the end of any volume: the range check refuses them.
  return {
    flags: header.readUInt16BE(4), type: header.readUInt16BE(6), cookie: header.subarray(8, 16),
    offset: offset > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(offset), length: header.readUInt32BE(24),
  };
}

export class Transmission {
  private readonly readBuffer = Buffer.allocUnsafe(N.PAYLOAD_MAX_BYTES);

  constructor(
    private readonly socket: Socket,
    private readonly reader: SocketReader,
    private readonly negotiated: Negotiated,
    private readonly io: VolumeIo,
    private readonly counters: TransmissionCounters,
  ) {}

  // Serves requests until NBD_CMD_DISC (resolves) or a violation or a closed socket (rejects).
  // Replies are corked while pipelined requests wait in the reader, and sent
  // together (one writev) before the reader would wait for the client.
  async serve(): Promise<void> {
    let corked = false;
    try {
      for (;;) {
        if (corked && this.reader.bufferedBytes < N.REQUEST_HEADER_BYTES) {
          this.socket.uncork();
          corked = false;
        }
        const request = parseRequest(await this.reader.read(N.REQUEST_HEADER_BYTES));
        if (!corked) {
          this.socket.cork();
          corked = true;
        }
        if (request.type === N.NBD_CMD_DISC) return;
        if (request.type === N.NBD_CMD_WRITE) await this.serveWrite(request);
        else this.serveOther(request);
      }
    } finally {
      if (corked) this.socket.uncork();
    }
  }

  private get volume(): NbdExport {
    return this.negotiated.volume;
  }

  // The error a range earns, or 0: 512-byte blocks, and inside the volume.
  private rangeError(request: Request): number {
    if (request.offset % N.BLOCK_MIN_BYTES !== 0 || request.length % N.BLOCK_MIN_BYTES !== 0) return N.NBD_EINVAL;
    if (request.offset + request.length > this.volume.sizeBytes) return request.type === N.NBD_CMD_READ ? N.NBD_EINVAL : N.NBD_ENOSPC;
    return 0;
  }

  private async serveWrite(request: Request): Promise<void> {
    // The payload follows the header whatever the answer: beyond the bound it cannot be skipped safely.
    if (request.length > N.PAYLOAD_MAX_BYTES) throw new ProtocolViolation(`a write of ${request.length} bytes, more than ${N.PAYLOAD_MAX_BYTES}`);
    const data = await this.reader.read(request.length);
    if (this.volume.readOnly) return this.replyError(request, N.NBD_EPERM, `export ${this.volume.name} is read-only`);
    const refused = this.rangeError(request);
    if (refused !== 0) return this.replyError(request, refused, "the write is not in whole 512-byte blocks inside the volume");
    const code = this.io.write(this.volume, request.offset, data);
    if (code !== 0) return this.replyError(request, this.io.errorOf(this.volume, code, "write"), "the write failed");
    this.counters.io(request.length);
    this.replyDone(request);
  }

  private serveOther(request: Request): void {
    switch (request.type) {
      case N.NBD_CMD_READ: return this.serveRead(request);
      case N.NBD_CMD_FLUSH: return this.replyDone(request);
      case N.NBD_CMD_WRITE_ZEROES: return this.serveZeroes(request);
      default: return this.replyError(request, N.NBD_EINVAL, `command ${request.type} is not supported`);
    }
  }

  private serveRead(request: Request): void {
    if (request.length > N.PAYLOAD_MAX_BYTES) return this.replyError(request, N.NBD_EINVAL, `a read of ${request.length} bytes, more than ${N.PAYLOAD_MAX_BYTES}`);
    const refused = this.rangeError(request);
    if (refused !== 0) return this.replyError(request, refused, "the read is not in whole 512-byte blocks inside the volume");
    const into = this.readBuffer.subarray(0, request.length);
    const code = this.io.read(this.volume, request.offset, request.length, into);
    if (code !== 0) return this.replyError(request, this.io.errorOf(this.volume, code, "read"), "the read failed");
    this.counters.io(request.length);
    // Copied out: the socket may still hold the bytes when the next read refills the buffer.
    const data = Buffer.from(into);
    if (this.negotiated.structured) this.replyData(request, data);
    else {
      this.socket.write(simpleReply(request.cookie, 0));
      this.socket.write(data);
    }
  }

  private serveZeroes(request: Request): void {
    if (this.volume.readOnly) return this.replyError(request, N.NBD_EPERM, `export ${this.volume.name} is read-only`);
    const refused = this.rangeError(request);
    if (refused !== 0) return this.replyError(request, refused, "the range is not in whole 512-byte blocks inside the volume");
    const code = this.io.zero(this.volume, request.offset, request.length);
    if (code !== 0) return this.replyError(request, this.io.errorOf(this.volume, code, "zero"), "zeroing failed");
    this.counters.io(request.length);
    this.replyDone(request);
  }

  private replyDone(request: Request): void {
    if (!this.negotiated.structured) this.socket.write(simpleReply(request.cookie, 0));
    else this.socket.write(chunkHeader(request.cookie, N.NBD_REPLY_FLAG_DONE, N.NBD_REPLY_TYPE_NONE, 0));
  }

  private replyError(request: Request, error: number, message: string): void {
    if (!this.negotiated.structured) {
      this.socket.write(simpleReply(request.cookie, error));
      return;
    }
    const text = Buffer.from(message, "utf8");
    const body = Buffer.alloc(6 + text.length);
    body.writeUInt32BE(error, 0);
    body.writeUInt16BE(text.length, 4);
    text.copy(body, 6);
    this.socket.write(chunkHeader(request.cookie, N.NBD_REPLY_FLAG_DONE, N.NBD_REPLY_TYPE_ERROR, body.length));
    this.socket.write(body);
  }

  // "NBD_REPLY_TYPE_OFFSET_DATA": the offset, then the bytes, as the one and last chunk.
  private replyData(request: Request, data: Buffer): void {
    const offset = Buffer.alloc(8);
    offset.writeBigUInt64BE(BigInt(request.offset), 0);
    this.socket.write(chunkHeader(request.cookie, N.NBD_REPLY_FLAG_DONE, N.NBD_REPLY_TYPE_OFFSET_DATA, 8 + data.length));
    this.socket.write(offset);
    this.socket.write(data);
  }
}

function simpleReply(cookie: Buffer, error: number): Buffer {
  const bytes = Buffer.alloc(16);
  bytes.writeUInt32BE(N.NBD_SIMPLE_REPLY_MAGIC, 0);
  bytes.writeUInt32BE(error, 4);
  cookie.copy(bytes, 8);
  return bytes;
}

function chunkHeader(cookie: Buffer, flags: number, type: number, length: number): Buffer {
  const bytes = Buffer.alloc(20);
  bytes.writeUInt32BE(N.NBD_STRUCTURED_REPLY_MAGIC, 0);
  bytes.writeUInt16BE(flags, 4);
  bytes.writeUInt16BE(type, 6);
  cookie.copy(bytes, 8);
  bytes.writeUInt32BE(length, 16);
  return bytes;
}
