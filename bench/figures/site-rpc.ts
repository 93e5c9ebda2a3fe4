// The Site RPC (src/site/protocol*.ts) between two processes over loopback
// TCP: one small Site call, listVolumes of four volumes, through a
// ConnectedSite, beside the same call on an EmbeddedSite in this process and
// beside a bare wire request/reply of the same size class (bench.echo: a call
// number out, four volume IDs back) between the same two processes.
//
// - site.rpc.wire: bare wire median / ConnectedSite median per round: what the
//   RPC (the call table, the Site, the records' schemas) adds to the wire.
// - site.rpc.embedded: EmbeddedSite median / ConnectedSite median per round:
//   what a remote site costs a command, against the embedded default.
// Every answer is checked before it is counted: the four volumes, in order, on
// both sites; the echo's call number. Rounds interleave the three, so all see
// the same machine.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ConnectedSite } from "../../src/site/protocol-client.js";
import { EmbeddedSite, EMBEDDED_IMAGE_ID } from "../../src/site/embedded.js";
import type { Site } from "../../src/site/site.js";
import { connectTcp, type Connection } from "../../src/wire/index.js";
import { check, type FigureResult, type Suite, type SuiteContext } from "../harness/suite.js";
import { median, spreadOf, formatMs } from "../harness/stats.js";
import { siteBenchMessages, SITE_BENCH_KEY, SITE_BENCH_VOLUMES } from "../workers/site-messages.js";

const PEER = fileURLToPath(new URL("../workers/site-peer.js", import.meta.url));
const PEER_START_MS_MAX = 30_000;
const EXPECTED = SITE_BENCH_VOLUMES.join(" ");

type BenchConnection = Connection<typeof siteBenchMessages.specs>;

export const siteRpcSuite: Suite = {
  name: "site-rpc",
  figures: ["site.rpc.wire", "site.rpc.embedded"],
  async run(context) {
    const peer = await startPeer();
    const connection = await connectTcp({ siteKey: SITE_BENCH_KEY, nodeId: "site-bench", role: "shell", messages: siteBenchMessages, port: peer.port, heartbeatTimeoutMs: 30_000 });
    const remote = new ConnectedSite(connection);
    const embedded = new EmbeddedSite({ workers: 0 });
    try {
      await embedded.createVolumes(EMBEDDED_IMAGE_ID, { ids: SITE_BENCH_VOLUMES, capacity: 1, unit: "ds" });
      context.progress("site-rpc: listVolumes over TCP vs embedded vs a bare wire request");
      const calls = await measureCalls(context, remote, embedded, connection);
      return [wireFigure(calls), embeddedFigure(calls)];
    } finally {
      await remote.close();
      await embedded.close();
      peer.child.kill("SIGTERM");
    }
  },
};

async function startPeer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [PEER], { stdio: ["pipe", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the site bench peer did not start within ${PEER_START_MS_MAX} ms`)), PEER_START_MS_MAX);
    createInterface({ input: child.stdout! }).once("line", (text) => { clearTimeout(timer); resolve(text); });
    child.once("exit", (code, signal) => { clearTimeout(timer); reject(new Error(`the site bench peer exited (${code ?? signal}) before it listened`)); });
  });
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

interface Calls { remoteMs: number[]; embeddedMs: number[]; bareMs: number[]; count: number }

// Median of `count` serial runs of `once`, each checked.
async function roundMedian(count: number, once: (index: number) => Promise<void>): Promise<number> {
  const samples = new Float64Array(count);
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    await once(index);
    samples[index] = performance.now() - started;
  }
  return median([...samples]);
}

function listed(site: Site, what: string): () => Promise<void> {
  return async () => {
    const volumes = await site.listVolumes(EMBEDDED_IMAGE_ID);
    check(volumes.map((volume) => volume.id).join(" ") === EXPECTED, `${what} listVolumes gave ${volumes.map((volume) => volume.id).join(" ")}, not ${EXPECTED}`);
  };
}

async function measureCalls(context: SuiteContext, remote: Site, embedded: Site, connection: BenchConnection): Promise<Calls> {
  const rounds = context.quick ? 3 : 7;
  const count = context.quick ? 300 : 1000;
  const result: Calls = { remoteMs: [], embeddedMs: [], bareMs: [], count };
  let call = 0;
  const bare = async () => {
    const reply = await connection.request("bench.echo", { call: ++call });
    check(reply.call === call && reply.ids.join(" ") === EXPECTED, `echo ${call} answered call ${reply.call} with ${reply.ids.join(" ")}`);
  };
  const kinds = [listed(remote, "ConnectedSite"), listed(embedded, "EmbeddedSite"), bare];
  for (const once of kinds) await roundMedian(count, once); // warm-up: JIT, socket buffers
  for (let round = 0; round < rounds; round++) {
    result.remoteMs.push(await roundMedian(count, kinds[0]));
    result.embeddedMs.push(await roundMedian(count, kinds[1]));
    result.bareMs.push(await roundMedian(count, kinds[2]));
  }
  return result;
}

const span = (samples: number[]) => `${formatMs(median(samples))} (${formatMs(Math.min(...samples))}–${formatMs(Math.max(...samples))})`;
const ratiosOf = (numerator: number[], denominator: number[]) => numerator.map((value, index) => value / denominator[index]);

function wireFigure(calls: Calls): FigureResult {
  const ratios = ratiosOf(calls.bareMs, calls.remoteMs);
  return {
    key: "site.rpc.wire", figure: "listVolumes (4 volumes) through ConnectedSite, two processes over loopback TCP, vs a bare wire request/reply",
    value: `ConnectedSite ${span(calls.remoteMs)}, bare wire ${span(calls.bareMs)}`,
    bar: "reported", ratio: median(ratios), spread: spreadOf(ratios), met: null,
    verified: "every listVolumes gave volumes 1000 1001 1002 1003 in order; every echo named its call and the four IDs",
    note: `ratio = bare median / ConnectedSite median per round; medians of ${calls.count} serial calls per round, ${ratios.length} rounds (min–max of the round medians)`,
    details: { ...calls },
  };
}

function embeddedFigure(calls: Calls): FigureResult {
  const ratios = ratiosOf(calls.embeddedMs, calls.remoteMs);
  return {
    key: "site.rpc.embedded", figure: "listVolumes (4 volumes) through ConnectedSite over loopback TCP vs EmbeddedSite in this process",
    value: `ConnectedSite ${span(calls.remoteMs)}, EmbeddedSite ${span(calls.embeddedMs)}: ${(median(calls.remoteMs) / median(calls.embeddedMs)).toFixed(0)}× the embedded call's time`,
    bar: "reported", ratio: median(ratios), spread: spreadOf(ratios), met: null,
    verified: "every listVolumes gave volumes 1000 1001 1002 1003 in order, on both sites",
    note: `ratio = EmbeddedSite median / ConnectedSite median per round; medians of ${calls.count} serial calls per round, ${ratios.length} rounds (min–max of the round medians)`,
    details: { ...calls },
  };
}
