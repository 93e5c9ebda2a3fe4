// The REST API (design.md §11, issue 12):
// - rest.volumes: GET /api/v1/volumes on 1,000 volumes through the fastify
//   plugin (token check, Site listing, rendering, JSON) vs a bare node:http
//   server sending the same bytes, both on loopback in this process, asked
//   one request at a time by the same keep-alive client; bar ≥ 0.5×.
// - rest.establish: POST /api/v1/cs/flashcopies of one pair, then DELETE it,
//   end to end, vs the same establish and withdraw on the Site directly; reported.
// Before a figure is accepted, the REST reply must list the 1,000 volumes and
// be byte for byte what the bare server sends, and every establish must have
// made its relationship and every withdraw removed it.
import { createServer, request as httpRequest, Agent, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { Sessions } from "../../src/server/sessions.js";
import { restServer, type RestAuth } from "../../src/server/rest/index.js";
import { check, type FigureResult, type Suite, type SuiteContext } from "../harness/suite.js";
import { median, spreadOf, formatMs } from "../harness/stats.js";

const IMAGE = "IBM.2107-75BENCH1";
const VOLUME_COUNT = 1000;
const VOLUMES_PER_LSS = 250;

export const restSuite: Suite = {
  name: "rest",
  figures: ["rest.volumes", "rest.establish"],
  async run(context) {
    const site = new EmbeddedSite({ workers: 1, images: [{ model: "2107", id: IMAGE }] });
    const sessions = new Sessions();
    const { token } = await sessions.issue("admin");
    const auth: RestAuth = { login: () => { throw new Error("the bench logs in with its own token"); }, check: (given) => ({ user: sessions.check(given).user, groups: ["admin"] }) };
    const app = await restServer({ site, auth });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await makeVolumes(site);
      await app.listen({ host: "127.0.0.1", port: 0 });
      const restPort = (app.server.address() as AddressInfo).port;
      context.progress("rest: GET /api/v1/volumes on 1,000 volumes vs bare node:http");
      const volumes = await measureVolumes(context, agent, restPort, token);
      context.progress("rest: POST cs/flashcopies of one pair vs the embedded establish");
      const establish = await measureEstablish(context, site, agent, restPort, token);
      return [volumesFigure(volumes), establishFigure(establish)];
    } finally {
      agent.destroy();
      await app.close();
      await site.close();
    }
  },
};

async function makeVolumes(site: EmbeddedSite): Promise<void> {
  for (let lss = 0; lss * VOLUMES_PER_LSS < VOLUME_COUNT; lss++) {
    const ids = Array.from({ length: VOLUMES_PER_LSS }, (_, index) => ((lss * 2) << 8 | index).toString(16).toUpperCase().padStart(4, "0"));
    await site.createVolumes(IMAGE, { ids, capacity: 1, unit: "ds", nameTemplate: "bench_#h", pool: "P0" });
  }
}

interface Reply { status: number; body: Buffer }

function send(agent: Agent, port: number, method: string, path: string, token: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { "x-auth-token": token, host: `127.0.0.1:${port}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const outgoing = httpRequest({ agent, host: "127.0.0.1", port, method, path, headers }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => resolve({ status: incoming.statusCode ?? 0, body: Buffer.concat(chunks) }));
      incoming.on("error", reject);
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

// A bare server that answers every request with `bytes`, as fastify sends JSON.
function bareServer(bytes: Buffer): Promise<Server> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": bytes.byteLength });
    response.end(bytes);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

interface Volumes { restPerSecond: number[]; barePerSecond: number[]; ratios: number[]; requests: number; bytes: number }

async function measureVolumes(context: SuiteContext, agent: Agent, restPort: number, token: string): Promise<Volumes> {
  const first = await send(agent, restPort, "GET", "/api/v1/volumes", token);
  check(first.status === 200, `GET /api/v1/volumes answered ${first.status}`);
  const listed = JSON.parse(first.body.toString("utf8")).data.volumes as Array<{ id: string; name: string }>;
  check(listed.length === VOLUME_COUNT && listed.every((volume) => volume.name === `bench_${volume.id}`), `the reply lists the ${VOLUME_COUNT} volumes by name`);
  const bare = await bareServer(first.body);
  const barePort = (bare.address() as AddressInfo).port;
  const bareAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const requests = context.quick ? 40 : 150;
  const rounds = context.quick ? 3 : 7;
  const result: Volumes = { restPerSecond: [], barePerSecond: [], ratios: [], requests, bytes: first.body.byteLength };
  const round = async (useAgent: Agent, port: number) => {
    const started = performance.now();
    for (let index = 0; index < requests; index++) {
      const reply = await send(useAgent, port, "GET", "/api/v1/volumes", token);
      check(reply.status === 200 && reply.body.equals(first.body), `request ${index} to port ${port} got the same ${first.body.byteLength} bytes`);
    }
    return requests / ((performance.now() - started) / 1000);
  };
  try {
    await round(agent, restPort); // warm-up: JIT, sockets
    await round(bareAgent, barePort);
    for (let index = 0; index < rounds; index++) {
      const rest = await round(agent, restPort);
      const bareRate = await round(bareAgent, barePort);
      result.restPerSecond.push(rest);
      result.barePerSecond.push(bareRate);
      result.ratios.push(rest / bareRate);
    }
  } finally {
    bareAgent.destroy();
    await new Promise((resolve) => bare.close(resolve));
  }
  return result;
}

interface Establish { restMs: number[]; embeddedMs: number[]; ratios: number[]; pairs: number }

async function measureEstablish(context: SuiteContext, site: EmbeddedSite, agent: Agent, port: number, token: string): Promise<Establish> {
  const pairs = context.quick ? 20 : 100;
  const rounds = context.quick ? 3 : 5;
  const body = JSON.stringify({ request: { params: { volume_pairs: [{ source_volume: "0000", target_volume: "0001" }], options: ["no_background_copy"] } } });
  const result: Establish = { restMs: [], embeddedMs: [], ratios: [], pairs };
  const restRound = async () => {
    const started = performance.now();
    for (let index = 0; index < pairs; index++) {
      const made = await send(agent, port, "POST", "/api/v1/cs/flashcopies", token, body);
      check(made.status === 201, `REST establish ${index} answered ${made.status}: ${made.body.toString("utf8").slice(0, 200)}`);
      const gone = await send(agent, port, "DELETE", "/api/v1/cs/flashcopies/0000:0001", token);
      check(gone.status === 200, `REST withdraw ${index} answered ${gone.status}`);
    }
    return (performance.now() - started) / pairs;
  };
  const embeddedRound = async () => {
    const started = performance.now();
    for (let index = 0; index < pairs; index++) {
      const ids = await site.establishFlash(IMAGE, { pairs: [["0000", "0001"]], options: { nocopy: true } });
      check(ids[0] === "0000:0001", `embedded establish ${index} made 0000:0001`);
      await site.withdrawFlash(IMAGE, ["0000:0001"]);
    }
    return (performance.now() - started) / pairs;
  };
  await restRound();
  await embeddedRound();
  for (let index = 0; index < rounds; index++) {
    const restMs = await restRound();
    const embeddedMs = await embeddedRound();
    result.restMs.push(restMs);
    result.embeddedMs.push(embeddedMs);
    result.ratios.push(embeddedMs / restMs);
  }
  check((await site.listFlash(IMAGE)).length === 0, "every relationship was withdrawn");
  return result;
}

const span = (values: number[], format: (value: number) => string) => `${format(median(values))} (${format(Math.min(...values))}–${format(Math.max(...values))})`;
const perSecond = (value: number) => `${Math.round(value)}/s`;

function volumesFigure(volumes: Volumes): FigureResult {
  const ratio = median(volumes.ratios);
  return {
    key: "rest.volumes", figure: `REST GET /api/v1/volumes on ${VOLUME_COUNT} volumes (${Math.round(volumes.bytes / 1024)} KiB) vs bare node:http sending the same bytes`,
    value: `REST ${span(volumes.restPerSecond, perSecond)}, bare ${span(volumes.barePerSecond, perSecond)}`,
    bar: "≥ 0.5×", ratio, spread: spreadOf(volumes.ratios), met: ratio >= 0.5,
    verified: `the reply listed the ${VOLUME_COUNT} volumes by name; every timed reply of both servers was byte for byte the same`,
    note: `ratio = REST / bare requests per second per round; ${volumes.requests} serial keep-alive requests per round, ${volumes.ratios.length} rounds interleaved; servers and client in one process`,
    details: { ...volumes },
  };
}

function establishFigure(establish: Establish): FigureResult {
  return {
    key: "rest.establish", figure: "POST /api/v1/cs/flashcopies of one pair + DELETE, end to end over loopback, vs the same establish + withdraw on the embedded site",
    value: `REST ${span(establish.restMs, formatMs)}, embedded ${span(establish.embeddedMs, formatMs)} per pair`,
    bar: "reported", ratio: median(establish.ratios), spread: spreadOf(establish.ratios), met: null,
    verified: "every REST establish answered 201 and every withdraw 200; every embedded establish made 0000:0001; none was left",
    note: `ratio = embedded / REST time per pair; ${establish.pairs} pairs per round, ${establish.ratios.length} rounds interleaved`,
    details: { ...establish },
  };
}
