// The bare baselines of the wire and link benches, in the peer process: TCP
// servers with no framing but the sizes both ends know.
//   ack:  the client sends 4096-byte requests; each is answered with 8 bytes, the request count
//   sink: the client sends a u64 byte count, then that many bytes; the server answers the u64 count it received
import { createServer, type Socket } from "node:net";

export const ACK_REQUEST_BYTES = 4096;

function ackServer(socket: Socket): void {
  socket.setNoDelay(true);
  let buffered = 0;
  let count = 0n;
  socket.on("data", (chunk: Buffer) => {
    buffered += chunk.byteLength;
    while (buffered >= ACK_REQUEST_BYTES) {
      buffered -= ACK_REQUEST_BYTES;
      const ack = Buffer.alloc(8);
      ack.writeBigUInt64BE(++count);
      socket.write(ack);
    }
  });
  socket.on("error", () => socket.destroy());
}

function sinkServer(socket: Socket): void {
  let expected = -1n;
  let received = 0n;
  let header = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    if (expected < 0n) {
      header = Buffer.concat([header, chunk]);
      if (header.byteLength < 8) return;
      expected = header.readBigUInt64BE(0);
      chunk = header.subarray(8);
    }
    received += BigInt(chunk.byteLength);
    if (received >= expected) {
      const answer = Buffer.alloc(8);
      answer.writeBigUInt64BE(received);
      socket.write(answer);
      expected = -1n;
      received = 0n;
      header = Buffer.alloc(0);
    }
  });
  socket.on("error", () => socket.destroy());
}

export function listenOn(handler: (socket: Socket) => void): Promise<number> {
  return new Promise<number>((resolve) => {
    const server = createServer(handler);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
  });
}

// Both baselines on free loopback ports.
export async function listenBare(): Promise<{ ack: number; sink: number }> {
  return { ack: await listenOn(ackServer), sink: await listenOn(sinkServer) };
}
