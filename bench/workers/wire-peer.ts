// The far end of the wire bench, in its own process: a wire listener, a bare
// TCP server that answers each 4 KiB request with an 8-byte ack, and a bare TCP
// sink that counts a stream and answers with its count. Prints the three ports
// as one JSON line on stdout; leaves on SIGTERM or when stdin closes.
//
// Bare protocols (no framing but the sizes both ends know):
//   ack:  the client sends 4096 bytes; the server answers 8 bytes, its request count
//   sink: the client sends a u64 byte count, then that many bytes; the server answers the u64 count it received
import { createServer, type Socket } from "node:net";
import { listenTcp } from "../../src/wire/index.js";
import { benchMessages, BENCH_SITE_KEY, WRITE_BYTES } from "./wire-messages.js";

function ackServer(socket: Socket): void {
  socket.setNoDelay(true);
  let buffered = 0;
  let count = 0n;
  socket.on("data", (chunk: Buffer) => {
    buffered += chunk.byteLength;
    while (buffered >= WRITE_BYTES) {
      buffered -= WRITE_BYTES;
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

const wire = await listenTcp({ siteKey: BENCH_SITE_KEY, nodeId: `bench-peer-${process.pid}`, role: "node", messages: benchMessages, heartbeatTimeoutMs: 30_000 });
wire.on("connection", (connection) => {
  let bytes = 0;
  let runs = 0;
  let damaged = 0;
  connection.handle("bench.write", (body) => ({ sequence: body.sequence, bytes: body.data.byteLength }));
  connection.on("message", (_type: string, body: { sequence: bigint; data: Uint8Array }) => {
    const fill = Number(body.sequence % 8n); // the bench cycles through 8 buffers, filled 0 to 7
    if (body.data[0] !== fill || body.data[body.data.byteLength - 1] !== fill) damaged++;
    bytes += body.data.byteLength;
    runs++;
  });
  connection.handle("bench.runs-done", () => {
    const seen = { bytes, runs, damaged };
    bytes = runs = damaged = 0;
    return seen;
  });
});
const listen = (handler: (socket: Socket) => void) => new Promise<number>((resolve) => {
  const server = createServer(handler);
  server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
});
const ports = { wire: wire.address().port, ack: await listen(ackServer), sink: await listen(sinkServer) };
process.stdout.write(`${JSON.stringify(ports)}\n`);
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
