// A command through the Copy Services Server in this process vs the same
// command on the embedded site: mkfbvol + rmfbvol pairs per second. Through
// the server each command is routed to its node, read back, journaled
// (fsync) and, with a backup, replicated to it (its own fsync) and acked
// before it is answered. The ratio is the server's rate over the embedded
// site's, below 1: what the server's bookkeeping costs a command. The wire
// between processes comes on top (the serve process tests measure that).
//
// Before a figure is accepted, the server's catalog must be what the node
// lists, the journal must reopen to the same state, and with a backup the
// backup's state must equal the primary's.
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CopyServicesServer } from "../../src/server/server.js";
import { ReplicatedServer, replicationMessages } from "../../src/server/replication.js";
import { ServerStore } from "../../src/server/store.js";
import { EmbeddedSite } from "../../src/site/embedded.js";
import type { Site } from "../../src/site/site.js";
import { connectInProcess } from "../../src/wire/index.js";
import { withTempDirectory } from "../harness/fixtures.js";
import { check, type FigureResult, type Suite, type SuiteContext } from "../harness/suite.js";
import { median, spreadOf, formatCount } from "../harness/stats.js";

const IMAGE = "IBM.2107-75BENCH1";
const HEARTBEAT_TIMEOUT_MS = 60_000; // a loaded machine must not look like a dead primary

export const serverSuite: Suite = {
  name: "server",
  figures: ["server.command", "server.command.backup"],
  async run(context) {
    return withTempDirectory("tzero-server-bench-", (directory) => runFigures(context, directory));
  },
};

async function runFigures(context: SuiteContext, directory: string): Promise<FigureResult[]> {
  const rounds = context.quick ? 3 : 5;
  const roundMs = context.quick ? 400 : 1200;
  const samples = { embedded: [] as number[], server: [] as number[], backup: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    context.progress(`round ${round + 1} of ${rounds}`);
    samples.embedded.push(await embeddedRate(roundMs));
    samples.server.push(await serverRate(join(directory, `alone-${round}`), roundMs));
    samples.backup.push(await replicatedRate(join(directory, `pair-${round}`), roundMs));
  }
  const figure = (key: string, what: string, rates: number[]): FigureResult => {
    const ratios = rates.map((rate, round) => rate / samples.embedded[round]);
    return {
      key, figure: what, bar: "reported, vs the same commands on the embedded site",
      value: `${formatCount(median(rates))} mkfbvol+rmfbvol pairs (embedded: ${formatCount(median(samples.embedded))})`,
      ratio: median(ratios), spread: spreadOf(ratios), met: null,
      verified: "the server's catalog is what the node lists; the journal reopens to the same state; the backup's state is the primary's",
      details: { rates, embedded: samples.embedded, rounds, roundMs },
    };
  };
  return [
    figure("server.command", "a command through the Copy Services Server (journaled, in process)", samples.server),
    figure("server.command.backup", "a command through the server with a backup (replicated and acked)", samples.backup),
  ];
}

function newNode(): EmbeddedSite {
  return new EmbeddedSite({ workers: 0, images: [{ model: "2107", id: IMAGE }] });
}

// mkfbvol + rmfbvol of one volume, over and over for `durationMs`: pairs per second.
async function commandRate(site: Site, durationMs: number): Promise<number> {
  let pairs = 0;
  const started = performance.now();
  while (performance.now() - started < durationMs) {
    check((await site.createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "ds" }))[0] === "1000", "mkfbvol made 1000");
    await site.removeVolumes(IMAGE, ["1000"]);
    pairs++;
  }
  return pairs / ((performance.now() - started) / 1000);
}

async function embeddedRate(durationMs: number): Promise<number> {
  const node = newNode();
  try {
    return await commandRate(node, durationMs);
  } finally {
    await node.close();
  }
}

async function serverRate(directory: string, durationMs: number): Promise<number> {
  const node = newNode();
  const server = new CopyServicesServer({ store: await ServerStore.open(directory), nodeId: "bench" });
  try {
    await server.registerNode("bench", "in-process", node);
    const rate = await commandRate(server, durationMs);
    await server.createVolumes(IMAGE, { ids: ["1001"], capacity: 1, unit: "ds" });
    check(server.state.images[0].catalog.volumes.map((volume) => volume.id).join() === "1001", "the catalog holds what the node does");
    const state = JSON.stringify(server.state);
    await server.close();
    const reopened = await ServerStore.open(directory);
    check(JSON.stringify(reopened.state) === state, "the journal reopens to the same state");
    await reopened.close();
    return rate;
  } finally {
    await server.close();
    await node.close();
  }
}

async function replicatedRate(directory: string, durationMs: number): Promise<number> {
  const node = newNode();
  const start = async (name: string, role: "primary" | "backup") => ReplicatedServer.start({
    store: await ServerStore.open(`${directory}-${name}`), nodeId: name, role, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, log: () => undefined,
  });
  const primary = await start("a", "primary");
  const backup = await start("b", "backup");
  try {
    const options = (nodeId: string) => ({ siteKey: new Uint8Array(randomBytes(32)), nodeId, role: "server", messages: replicationMessages, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS });
    const common = options("b");
    const [dialer, acceptor] = connectInProcess(common, { ...common, nodeId: "a" });
    await Promise.all([backup.attach(dialer), primary.attach(acceptor)]);
    await primary.server!.registerNode("bench", "in-process", node);
    const rate = await commandRate(primary.server!, durationMs);
    check(JSON.stringify(backup.store.state) === JSON.stringify(primary.store.state), "the backup's state is the primary's");
    return rate;
  } finally {
    await primary.close();
    await backup.close();
    await node.close();
  }
}
