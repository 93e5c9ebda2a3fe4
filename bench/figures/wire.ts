// The wire protocol between two processes over loopback TCP, beside bare
// sockets between the same two processes: the baselines of PPRC's bars
// (design.md §11).
//
// - wire.rtt: a 4 KiB request and its acknowledgement through the protocol
//   (framing, msgpack, schema validation both ways) vs a bare socket sending
//   the same 4 KiB and reading an 8-byte ack; one writer, one at a time.
// - wire.bulk: one-way 1 MiB frames with backpressure vs a raw TCP stream of
//   the same bytes, each closed by the receiver's count of what it got.
// - wire.bulk-raw: the same runs in frames of the raw layout (the bytes behind
//   a small msgpack body, never msgpack-encoded), as Copy Pending sends them.
// Before a figure is accepted, every ack must carry its request's sequence and
// byte count, the bulk receiver must report every byte and run undamaged, and
// the bare receivers must count exactly what was sent. Rounds interleave the
// protocol and the bare sockets, so both see the same machine.
import { spawn, type ChildProcess } from "node:child_process";
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { connectTcp, type Connection } from "../../src/wire/index.js";
import { check, type FigureResult, type Suite, type SuiteContext } from "../harness/suite.js";
import { median, spreadOf, formatMs, formatRate, MiB } from "../harness/stats.js";
import { benchMessages, BENCH_SITE_KEY, RUN_BYTES, WRITE_BYTES } from "../workers/wire-messages.js";

const PEER = fileURLToPath(new URL("../workers/wire-peer.js", import.meta.url));
const FILLS = 8; // distinct 1 MiB buffers the bulk sends cycle through (run sequence mod 8)
const PEER_START_MS_MAX = 30_000;

type BenchConnection = Connection<typeof benchMessages.specs>;
interface Ports { wire: number; ack: number; sink: number }

export const wireSuite: Suite = {
  name: "wire",
  figures: ["wire.rtt", "wire.bulk", "wire.bulk-raw"],
  async run(context) {
    const peer = await startPeer();
    const connection = await connectTcp({ siteKey: BENCH_SITE_KEY, nodeId: "bench", role: "node", messages: benchMessages, port: peer.ports.wire, heartbeatTimeoutMs: 30_000 });
    const ackSocket = await dial(peer.ports.ack);
    const sinkSocket = await dial(peer.ports.sink);
    try {
      context.progress("wire: 4 KiB request/ack round trips");
      const rtt = await measureRoundTrips(context, connection, ackSocket);
      context.progress("wire: 1 MiB frames vs a raw stream");
      const bulk = await measureBulk(context, connection, sinkSocket);
      return [rttFigure(rtt), ...bulkFigures(bulk)];
    } finally {
      ackSocket.destroy();
      sinkSocket.destroy();
      await connection.close("bench done");
      peer.child.kill("SIGTERM");
    }
  },
};

async function startPeer(): Promise<{ child: ChildProcess; ports: Ports }> {
  const child = spawn(process.execPath, [PEER], { stdio: ["pipe", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the wire bench peer did not start within ${PEER_START_MS_MAX} ms`)), PEER_START_MS_MAX);
    createInterface({ input: child.stdout! }).once("line", (text) => { clearTimeout(timer); resolve(text); });
    child.once("exit", (code, signal) => { clearTimeout(timer); reject(new Error(`the wire bench peer exited (${code ?? signal}) before it listened`)); });
  });
  return { child, ports: JSON.parse(line) as Ports };
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => resolve(socket));
    socket.setNoDelay(true);
    socket.once("error", reject);
  });
}

// Reads exactly `bytes` bytes from a socket that nothing else reads.
function readExactly(socket: Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      have += chunk.byteLength;
      if (have < bytes) return;
      socket.off("data", onData);
      socket.off("close", onClose);
      check(have === bytes, `the bare peer sent ${have} bytes where ${bytes} were due`);
      resolve(Buffer.concat(chunks));
    };
    const onClose = () => reject(new Error("the bare peer closed its socket"));
    socket.on("data", onData);
    socket.once("close", onClose);
  });
}

interface RoundTrips { wireMs: number[]; bareMs: number[]; ratios: number[]; count: number }

async function measureRoundTrips(context: SuiteContext, connection: BenchConnection, socket: Socket): Promise<RoundTrips> {
  const rounds = context.quick ? 3 : 7;
  const count = context.quick ? 300 : 1000;
  const data = new Uint8Array(WRITE_BYTES).fill(0x42);
  const result: RoundTrips = { wireMs: [], bareMs: [], ratios: [], count };
  let sequence = 0n;
  let acks = 0n;
  const wireRound = async () => {
    const samples = new Float64Array(count);
    for (let index = 0; index < count; index++) {
      const started = performance.now();
      const ack = await connection.request("bench.write", { sequence: ++sequence, data });
      samples[index] = performance.now() - started;
      check(ack.sequence === sequence && ack.bytes === WRITE_BYTES, `ack ${index} names write ${sequence} and its ${WRITE_BYTES} bytes`);
    }
    return median([...samples]);
  };
  const bareRound = async () => {
    const samples = new Float64Array(count);
    for (let index = 0; index < count; index++) {
      const started = performance.now();
      const answer = readExactly(socket, 8);
      socket.write(data);
      const ack = (await answer).readBigUInt64BE(0);
      samples[index] = performance.now() - started;
      check(ack === ++acks, `bare ack ${index} counts request ${acks}`);
    }
    return median([...samples]);
  };
  await wireRound(); // warm-up: JIT, socket buffers
  await bareRound();
  for (let round = 0; round < rounds; round++) {
    const wireMs = await wireRound();
    const bareMs = await bareRound();
    result.wireMs.push(wireMs);
    result.bareMs.push(bareMs);
    result.ratios.push(bareMs / wireMs);
  }
  return result;
}

interface Bulk { wireRates: number[]; rawFrameRates: number[]; rawRates: number[]; ratios: number[]; rawFrameRatios: number[]; bytes: number }

async function measureBulk(context: SuiteContext, connection: BenchConnection, socket: Socket): Promise<Bulk> {
  const rounds = context.quick ? 3 : 5;
  const runs = context.quick ? 32 : 128;
  const bytes = runs * RUN_BYTES;
  const fills = Array.from({ length: FILLS }, (_, fill) => new Uint8Array(RUN_BYTES).fill(fill));
  const result: Bulk = { wireRates: [], rawFrameRates: [], rawRates: [], ratios: [], rawFrameRatios: [], bytes };
  const wireRound = async (layout: "msgpack" | "raw") => {
    const started = performance.now();
    for (let run = 0; run < runs; run++) {
      if (!connection.isWritable) await connection.writable();
      if (layout === "raw") connection.send("bench.raw-run", { sequence: BigInt(run), track: run * 15 }, [fills[run % FILLS]]);
      else connection.send("bench.run", { sequence: BigInt(run), track: run * 15, data: fills[run % FILLS] });
    }
    const seen = await connection.request("bench.runs-done", {}, { timeoutMs: 120_000 });
    const elapsedMs = performance.now() - started;
    check(seen.bytes === bytes && seen.runs === runs, `the receiver got ${seen.runs} runs, ${seen.bytes} bytes; ${runs} runs, ${bytes} bytes were sent`);
    check(seen.damaged === 0, `${seen.damaged} runs arrived with other bytes than were sent`);
    return bytes / elapsedMs * 1000;
  };
  const rawRound = async () => {
    const started = performance.now();
    const answer = readExactly(socket, 8);
    const header = Buffer.alloc(8);
    header.writeBigUInt64BE(BigInt(bytes));
    socket.write(header);
    for (let run = 0; run < runs; run++) {
      if (!socket.write(fills[run % FILLS])) await new Promise((resolve) => socket.once("drain", resolve));
    }
    const counted = (await answer).readBigUInt64BE(0);
    const elapsedMs = performance.now() - started;
    check(counted === BigInt(bytes), `the raw sink counted ${counted} bytes of ${bytes}`);
    return bytes / elapsedMs * 1000;
  };
  await wireRound("msgpack");
  await wireRound("raw");
  await rawRound();
  for (let round = 0; round < rounds; round++) {
    const wire = await wireRound("msgpack");
    const rawFrames = await wireRound("raw");
    const raw = await rawRound();
    result.wireRates.push(wire);
    result.rawFrameRates.push(rawFrames);
    result.rawRates.push(raw);
    result.ratios.push(wire / raw);
    result.rawFrameRatios.push(rawFrames / raw);
  }
  return result;
}

function rttFigure(rtt: RoundTrips): FigureResult {
  const span = (samples: number[]) => `${formatMs(median(samples))} (${formatMs(Math.min(...samples))}–${formatMs(Math.max(...samples))})`;
  return {
    key: "wire.rtt", figure: "4 KiB request/ack round trip, two processes over loopback TCP, protocol vs bare socket",
    value: `protocol ${span(rtt.wireMs)}, bare ${span(rtt.bareMs)}`,
    bar: "reported: the baseline of Metro Mirror's latency bars", ratio: median(rtt.ratios), spread: spreadOf(rtt.ratios), met: null,
    verified: "every ack named its write's sequence and 4096 bytes; every bare ack counted its request",
    note: `ratio = bare median / protocol median per round; medians of ${rtt.count} serial round trips per round, ${rtt.ratios.length} rounds (min–max of the round medians)`,
    details: { ...rtt },
  };
}

function bulkFigures(bulk: Bulk): FigureResult[] {
  const span = (rates: number[]) => `${formatRate(median(rates))} (${formatRate(Math.min(...rates))}–${formatRate(Math.max(...rates))})`;
  return [{
    key: "wire.bulk", figure: `1 MiB frames, one-way with backpressure, vs a raw TCP stream (${bulk.bytes / MiB} MiB per round)`,
    value: `protocol ${span(bulk.wireRates)}, raw ${span(bulk.rawRates)}`,
    bar: "reported: the baseline of Copy Pending's ≥ 0.8× raw TCP", ratio: median(bulk.ratios), spread: spreadOf(bulk.ratios), met: null,
    verified: "the receiver reported every byte and run, none with other bytes than were sent; the raw sink counted every byte",
    note: `ratio = protocol / raw rate per round, ${bulk.ratios.length} rounds interleaved`,
    details: { wireRates: bulk.wireRates, rawRates: bulk.rawRates, ratios: bulk.ratios, bytes: bulk.bytes },
  }, {
    key: "wire.bulk-raw", figure: `1 MiB runs in raw-layout frames (bytes behind a msgpack body), one-way with backpressure, vs a raw TCP stream (${bulk.bytes / MiB} MiB per round)`,
    value: `protocol ${span(bulk.rawFrameRates)}, raw ${span(bulk.rawRates)}`,
    bar: "reported: the framing Copy Pending uses, against the raw TCP stream of its bar", ratio: median(bulk.rawFrameRatios), spread: spreadOf(bulk.rawFrameRatios), met: null,
    verified: "the receiver reported every byte and run, none with other bytes than were sent; the raw sink counted every byte",
    note: `ratio = protocol / raw rate per round, ${bulk.rawFrameRatios.length} rounds interleaved with wire.bulk's`,
    details: { rawFrameRates: bulk.rawFrameRates, rawRates: bulk.rawRates, ratios: bulk.rawFrameRatios, bytes: bulk.bytes },
  }];
}
