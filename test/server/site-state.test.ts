// The site's state as the server keeps it: records change it purely, and a
// malformed record or state is refused naming what is wrong.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  applySiteRecord, checkSiteState, emptySiteState, findRequest, REQUEST_KEPT_MS, REQUESTS_KEPT_MAX, type SiteRecord, type SiteState,
} from "../../src/server/site-state.js";
import { ServerError } from "../../src/server/server-errors.js";
import { catalogChange, catalogPair, catalogPath, pairsOfCatalog, pathsOfCatalog } from "../../src/server/catalog.js";
import type { PairInfo, PathInfo } from "../../src/site/types.js";
import { firstStart } from "../../src/server/users.js";
import { config, deepFreeze } from "./support.js";

const IMAGE_A = { id: "IBM.2107-75TZ001", model: "2107" as const, wwnn: "5005076303FFC001" };
const IMAGE_B = { id: "IBM.2107-75TZ002", model: "2107" as const, wwnn: "5005076303FFC001" };

function applyAll(state: SiteState, records: readonly SiteRecord[]): SiteState {
  return records.reduce(applySiteRecord, state);
}

function throwsServer(action: () => unknown, code: string, text: string): void {
  try {
    action();
  } catch (error) {
    assert.instance(error, ServerError);
    assert.is((error as ServerError).code, code);
    assert.ok((error as Error).message.includes(text), `"${(error as Error).message}" should name ${text}`);
    return;
  }
  assert.unreachable(`expected ServerError ${code}`);
}

const twoNodes: SiteRecord[] = [
  { type: "node.joined", nodeId: "a", url: "http://127.0.0.1:8452", images: [IMAGE_A] },
  { type: "node.joined", nodeId: "b", url: "http://127.0.0.1:8453", images: [IMAGE_B] },
];

const Records = suite("site records");

Records("should place images on their nodes in the order they were added, and leave the old state alone", () => {
  const empty = deepFreeze(emptySiteState());
  const state = deepFreeze(applyAll(empty, twoNodes));
  assert.equal(state.images.map((image) => [image.info.id, image.nodeId]), [[IMAGE_A.id, "a"], [IMAGE_B.id, "b"]]);
  assert.equal(state.nodes.map((node) => [node.id, node.online, node.images]), [["a", true, [IMAGE_A.id]], ["b", true, [IMAGE_B.id]]]);
  assert.equal(empty, emptySiteState());
  const lost = applySiteRecord(state, { type: "node.lost", nodeId: "b" });
  assert.equal(lost.nodes[1].online, false);
  assert.equal(lost.images.length, 2, "a lost node's images stay in the site");
  const rejoined = applySiteRecord(lost, { type: "node.joined", nodeId: "b", url: "http://127.0.0.1:9000", images: [] });
  assert.equal(rejoined.images.map((image) => image.info.id), [IMAGE_A.id], "a node that rejoins without an image no longer hosts it");
  assert.equal(rejoined.nodes[1], { id: "b", url: "http://127.0.0.1:9000", online: true, images: [] });
});

Records("should refuse an image that another node hosts", () => {
  const state = applyAll(emptySiteState(), twoNodes);
  throwsServer(() => applySiteRecord(state, { type: "image.added", nodeId: "b", image: IMAGE_A }), "BAD_RECORD", "hosted by node a");
  throwsServer(() => applySiteRecord(state, { type: "image.added", nodeId: "c", image: { ...IMAGE_A, id: "IBM.2107-75TZ009" } }), "BAD_RECORD", "no node c");
});

Records("should keep the catalog sorted by id, setting and removing entries, and refuse removing one it does not hold", () => {
  const state = applyAll(emptySiteState(), twoNodes);
  const volume = (id: string, blocks = 64) => ({ id, blocks, pool: "P0", name: "" });
  const changed = applySiteRecord(state, {
    type: "catalog.changed", imageId: IMAGE_A.id,
    volumes: { set: [volume("1001"), volume("1000")], remove: [] }, pools: { set: [{ id: "P0", name: "p", rankGroup: 0 }], remove: [] }, flash: { set: [], remove: [] },
  });
  assert.equal(changed.images[0].catalog.volumes.map((each) => each.id), ["1000", "1001"]);
  const again = applySiteRecord(changed, {
    type: "catalog.changed", imageId: IMAGE_A.id,
    volumes: { set: [volume("1000", 128)], remove: ["1001"] }, pools: { set: [], remove: [] }, flash: { set: [], remove: [] },
  });
  assert.equal(again.images[0].catalog.volumes, [volume("1000", 128)]);
  throwsServer(() => applySiteRecord(again, {
    type: "catalog.changed", imageId: IMAGE_A.id, volumes: { set: [], remove: ["1001"] }, pools: { set: [], remove: [] }, flash: { set: [], remove: [] },
  }), "BAD_RECORD", "no volume 1001");
});

Records("should journal PPRC pairs and paths in the catalog, ignore a change of out-of-sync count alone, and load a catalog from before them", () => {
  const state = applyAll(emptySiteState(), twoNodes);
  const pair: PairInfo = {
    id: "1000:2000", imageId: IMAGE_A.id, primaryImageId: IMAGE_A.id, secondaryImageId: IMAGE_B.id, role: "primary", state: "Full Duplex", reason: null,
    type: "mmir", outOfSyncTracks: 0, tgtread: true, critmode: false, suspendedAtMs: null, sourceLss: "10", firstPassDone: false, sentTracks: 32, detail: null,
  };
  const path: PathInfo = {
    sourceImageId: IMAGE_A.id, targetImageId: IMAGE_B.id, sourceLss: "10", targetLss: "20", targetWwnn: IMAGE_B.wwnn,
    ports: [{ local: "I0010", remote: "I0143" }], consistgrp: false, state: "Success", reason: null,
  };
  const held = state.images[0].catalog;
  const made = catalogChange(IMAGE_A.id, held, { ...held, pairs: [catalogPair(pair)], paths: [catalogPath(path)] })!;
  const mirrored = applySiteRecord(state, made);
  const catalog = mirrored.images[0].catalog;
  assert.equal(pairsOfCatalog(IMAGE_A.id, catalog), [{ ...pair, sentTracks: 0 }], "lspprc -l's fields come back, less the tracks sent");
  assert.equal(pathsOfCatalog(IMAGE_A.id, catalog), [path]);
  const counted = { ...pair, outOfSyncTracks: 7 };
  assert.is(catalogChange(IMAGE_A.id, catalog, { ...catalog, pairs: [catalogPair(counted)] }), null, "a count alone is not journaled");
  const suspended = catalogChange(IMAGE_A.id, catalog, { ...catalog, pairs: [catalogPair({ ...counted, state: "Suspended", reason: "Internal Conditions Target" })] })!;
  assert.equal(suspended.pairs, { set: [catalogPair({ ...counted, state: "Suspended", reason: "Internal Conditions Target" })], remove: [] });
  const gone = applySiteRecord(applySiteRecord(mirrored, suspended), catalogChange(IMAGE_A.id, catalog, { ...catalog, pairs: [], paths: [] })!);
  assert.equal([gone.images[0].catalog.pairs, gone.images[0].catalog.paths], [[], []]);
  // A snapshot written before PPRC joined the catalog: no pairs, no paths, and it still checks.
  const older = JSON.parse(JSON.stringify(state)) as SiteState;
  for (const image of older.images) {
    delete image.catalog.pairs;
    delete image.catalog.paths;
  }
  assert.equal(pairsOfCatalog(IMAGE_A.id, checkSiteState(older).images[0].catalog), []);
  throwsServer(() => applySiteRecord(state, { ...made, pairs: { set: [{ ...catalogPair(pair), state: "Mirrored" }], remove: [] } } as unknown as SiteRecord), "BAD_RECORD", "/pairs");
});

Records("should refuse malformed records, naming the field", () => {
  const state = applyAll(emptySiteState(), twoNodes);
  throwsServer(() => applySiteRecord(state, { type: "node.warp" } as unknown as SiteRecord), "BAD_RECORD", "no known type");
  throwsServer(() => applySiteRecord(state, { type: "node.lost", nodeId: 7 } as unknown as SiteRecord), "BAD_RECORD", "/nodeId");
  throwsServer(() => applySiteRecord(state, { type: "node.lost", nodeId: "a", extra: 1 } as unknown as SiteRecord), "BAD_RECORD", "node.lost");
  throwsServer(() => applySiteRecord(state, { type: "image.added", nodeId: "a", image: { ...IMAGE_A, model: "2109" } } as unknown as SiteRecord), "BAD_RECORD", "/image/model");
  throwsServer(() => applySiteRecord(state, { type: "user.create", name: "x" } as unknown as SiteRecord), "BAD_RECORD", "user.create");
  throwsServer(() => applySiteRecord(state, null as unknown as SiteRecord), "BAD_RECORD", "no known type");
});

Records("should raise the term only upwards", () => {
  const raised = applySiteRecord(emptySiteState(), { type: "term.raised", term: 3 });
  assert.is(raised.term, 3);
  throwsServer(() => applySiteRecord(raised, { type: "term.raised", term: 3 }), "BAD_RECORD", "not above 3");
});

Records("should keep the last 10,000 request ids and none an hour older than the newest", () => {
  let state = emptySiteState();
  const done = (index: number, atMs: number): SiteRecord => ({ type: "request.done", requestId: `r${index}`, method: "createVolumes", user: null, atMs, outcome: { ok: true, result: [String(index)] } });
  for (let index = 0; index < REQUESTS_KEPT_MAX + 5; index++) state = applySiteRecord(state, done(index, 1000 + index));
  assert.is(state.requests.length, REQUESTS_KEPT_MAX);
  assert.is(findRequest(state, "r4"), undefined);
  assert.equal(findRequest(state, "r5")?.outcome, { ok: true, result: ["5"] });
  throwsServer(() => applySiteRecord(state, done(5, 99_999)), "BAD_RECORD", "r5 is recorded already");
  state = applySiteRecord(state, done(-1, 1000 + REQUESTS_KEPT_MAX + 10 + REQUEST_KEPT_MS));
  assert.equal(state.requests.map((each) => each.requestId), ["r-1"], "an hour later the older ones are gone");
});

Records("should keep users through applyUserRecord", async () => {
  const start = await firstStart(emptySiteState().users, config);
  const state = applySiteRecord(emptySiteState(), start!.record);
  assert.equal(state.users.users.map((user) => user.name), ["admin"]);
  throwsServer(() => applySiteRecord(state, start!.record), "BAD_RECORD", "exists already");
});

const States = suite("site state check");

States("should accept a state made by records and refuse a malformed one, naming what is wrong", () => {
  const state = applyAll(emptySiteState(), twoNodes);
  assert.equal(checkSiteState(state), state);
  throwsServer(() => checkSiteState({ ...state, term: 0 }), "BAD_STATE", "/term");
  throwsServer(() => checkSiteState({ ...state, nodes: [state.nodes[0]] }), "BAD_STATE", "names node b");
  throwsServer(() => checkSiteState({ values: [1] }), "BAD_STATE", "not a valid site state");
});

Records.run();
States.run();
