// The far end of the Site RPC bench, in its own process: an EmbeddedSite with
// a few volumes, served over a wire listener on loopback TCP, which also
// answers the bare bench.echo request. Prints its port as one JSON line on
// stdout; leaves on SIGTERM or when stdin closes.
import { EmbeddedSite, EMBEDDED_IMAGE_ID } from "../../src/site/embedded.js";
import { serveSite } from "../../src/site/protocol-server.js";
import { listenTcp } from "../../src/wire/index.js";
import { siteBenchMessages, SITE_BENCH_KEY, SITE_BENCH_VOLUMES } from "./site-messages.js";

const site = new EmbeddedSite({ workers: 0 });
await site.createVolumes(EMBEDDED_IMAGE_ID, { ids: SITE_BENCH_VOLUMES, capacity: 1, unit: "ds" });
const server = await listenTcp({ siteKey: SITE_BENCH_KEY, nodeId: `site-bench-peer-${process.pid}`, role: "site", messages: siteBenchMessages, heartbeatTimeoutMs: 30_000 });
server.on("connection", (connection) => {
  serveSite(connection, site);
  connection.handle("bench.echo", (body) => ({ call: body.call, ids: SITE_BENCH_VOLUMES }));
});
process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
const leave = () => void server.close().then(() => site.close()).then(() => process.exit(0));
process.stdin.resume();
process.stdin.on("end", leave);
process.on("SIGTERM", leave);
