// The far end of the wire bench, in its own process: a wire listener, a bare
// TCP server that answers each 4 KiB request with an 8-byte ack, and a bare TCP
// sink that counts a stream and answers with its count. Prints the three ports
// as one JSON line on stdout; leaves on SIGTERM or when stdin closes. The bare
// protocols are in bare-servers.ts.
import { listenTcp } from "../../src/wire/index.js";
import { rawLength } from "../../src/wire/codec.js";
import { benchMessages, BENCH_SITE_KEY } from "./wire-messages.js";
import { listenBare } from "./bare-servers.js";

const wire = await listenTcp({ siteKey: BENCH_SITE_KEY, nodeId: `bench-peer-${process.pid}`, role: "node", messages: benchMessages, heartbeatTimeoutMs: 30_000 });
wire.on("connection", (connection) => {
  let bytes = 0;
  let runs = 0;
  let damaged = 0;
  connection.handle("bench.write", (body) => ({ sequence: body.sequence, bytes: body.data.byteLength }));
  connection.on("message", (_type: string, body: { sequence: bigint; data?: Uint8Array }, raw: readonly Uint8Array[] | null) => {
    // bench.raw-run's bytes are raw (pieces, as the socket delivered them), bench.run's in its body.
    const [first, last] = raw === null ? [body.data!, body.data!] : [raw[0], raw[raw.length - 1]];
    const fill = Number(body.sequence % 8n); // the bench cycles through 8 buffers, filled 0 to 7
    if (first[0] !== fill || last[last.byteLength - 1] !== fill) damaged++;
    bytes += raw === null ? body.data!.byteLength : rawLength(raw);
    runs++;
  });
  connection.handle("bench.runs-done", () => {
    const seen = { bytes, runs, damaged };
    bytes = runs = damaged = 0;
    return seen;
  });
});
const ports = { wire: wire.address().port, ...(await listenBare()) };
process.stdout.write(`${JSON.stringify(ports)}\n`);
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
