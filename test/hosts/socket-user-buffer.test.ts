// An accepted socket read into the caller's buffer: every read is a view of
// that one buffer, the bytes come in order, pause stops the reads, and the
// socket still ends and closes as a stream does.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connect, createServer, Socket, type Server } from "node:net";
import { receiveIntoBuffer } from "../../src/hosts/socket-user-buffer.js";
import { Random, testSeed } from "../support/random.js";

const UserBuffer = suite("socket user buffer");

async function listening(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

UserBuffer("should hand each read to the callback as a view of the one buffer, in order, and still end", async () => {
  const seed = testSeed();
  console.log(`# socket user buffer seed ${seed} (TZERO_SEED=${seed} replays it)`);
  const random = new Random(seed);
  const sent = Buffer.from(random.bytes(1024 * 1024));
  const buffer = Buffer.alloc(64 * 1024);
  const received: Buffer[] = [];
  let views = 0;
  const ended = new Promise<boolean>((resolve) => {
    void listening((socket) => {
      const installed = receiveIntoBuffer(socket, buffer, (chunk) => {
        if (chunk.buffer === buffer.buffer && chunk.byteOffset === buffer.byteOffset) views++;
        received.push(Buffer.from(chunk));
      });
      assert.ok(installed, "this Node lets an accepted socket read into a user buffer");
      socket.on("end", () => { resolve(true); socket.end(); });
    }).then(({ server, port }) => {
      const client = connect(port, "127.0.0.1", () => {
        for (let at = 0; at < sent.length;) {
          const count = Math.min(sent.length - at, random.pick([1, 28, 4096, 70_000]));
          client.write(sent.subarray(at, at + count));
          at += count;
        }
        client.end();
      });
      client.on("close", () => server.close());
    });
  });
  assert.ok(await ended, "the socket ended");
  assert.ok(Buffer.concat(received).equals(sent), `seed ${seed}: the bytes arrived whole and in order`);
  assert.is(views, received.length, "every chunk was a view of the start of the user buffer");
});

UserBuffer("should read nothing while paused and go on after resume", async () => {
  const buffer = Buffer.alloc(4096);
  let reads = 0;
  let accepted: Socket | null = null;
  const { server, port } = await listening((socket) => {
    accepted = socket;
    receiveIntoBuffer(socket, buffer, () => { reads++; });
    socket.pause();
  });
  const client = connect(port, "127.0.0.1");
  await new Promise((resolve) => client.once("connect", resolve));
  client.write(Buffer.alloc(1000, 1));
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.is(reads, 0, "no read while paused");
  accepted!.resume();
  const started = Date.now();
  while (reads === 0 && Date.now() - started < 5000) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(reads > 0, "reads resume");
  client.destroy();
  accepted!.destroy();
  await new Promise((resolve) => server.close(resolve));
});

UserBuffer("should land each read where next() names, a buffer of the caller's sized for what it wants, then back in the one buffer", async () => {
  const sent = Buffer.alloc(1024 * 1024);
  for (let at = 0; at < sent.length; at += 4) sent.writeUInt32BE(at, at);
  const buffer = Buffer.alloc(4096);
  const target = Buffer.alloc(700 * 1024);
  let targetFilled = 0;
  let intoTarget = 0;
  const received: Buffer[] = [];
  const ended = new Promise<void>((resolve) => {
    void listening((socket) => {
      // The first read lands in `buffer`; then `target` takes reads until it is full; then `buffer` again.
      receiveIntoBuffer(socket, buffer, (chunk) => {
        if (chunk.buffer === target.buffer) {
          assert.is(chunk.byteOffset, target.byteOffset + targetFilled, "a read into the target lands where the last one ended");
          targetFilled += chunk.length;
          intoTarget++;
        } else {
          assert.is(chunk.buffer, buffer.buffer, "any other read lands in the one buffer");
        }
        received.push(Buffer.from(chunk));
      }, () => (received.length > 0 && targetFilled < target.length ? target.subarray(targetFilled) : buffer));
      socket.on("end", () => { resolve(); socket.end(); });
    }).then(({ server, port }) => {
      const client = connect(port, "127.0.0.1", () => client.end(sent));
      client.on("close", () => server.close());
    });
  });
  await ended;
  assert.ok(Buffer.concat(received).equals(sent), "the bytes arrived whole and in order");
  assert.is(targetFilled, target.length, "the target was filled exactly, no read past its end");
  assert.ok(intoTarget > 0 && intoTarget <= target.length / buffer.length, `${intoTarget} reads filled the 700 KiB target: reads sized by it, not by the 4 KiB buffer`);
  assert.ok(target.equals(sent.subarray(received[0].length, received[0].length + target.length)), "the target holds the bytes after the first read");
});

UserBuffer("should leave a socket without a handle unchanged and answer false", () => {
  const socket = new Socket();
  assert.is(receiveIntoBuffer(socket, Buffer.alloc(16), () => undefined), false);
  socket.destroy();
});

UserBuffer.run();
