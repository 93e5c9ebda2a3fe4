// The Site RPC (src/site/protocol*.ts): what a served site refuses before any
// call reaches it (raw frames written by hand, as a hostile or broken peer
// would send them), and what a ConnectedSite promises its caller: errors
// intact, cancels that reach the site, events, timeouts, many calls at once.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { SiteError } from "../../src/site/errors.js";
import { refusal } from "../support/refusal.js";
import { EmbeddedSite, EMBEDDED_IMAGE_ID } from "../../src/site/embedded.js";
import { siteMessageSpecs, SITE_METHOD_NAMES } from "../../src/site/protocol.js";
import { serveSite, type ServeSiteOptions } from "../../src/site/protocol-server.js";
import { ConnectedSite, type ConnectedSiteOptions } from "../../src/site/protocol-client.js";
import { DATA_BYTES_MAX, LIST_ITEMS_MAX, ID_LENGTH_MAX } from "../../src/site/protocol-schemas.js";
import { SerializedSite } from "../../src/site/serialized.js";
import type { Site } from "../../src/site/site.js";
import type { SiteEvent } from "../../src/site/types.js";
import { connectInProcess, defineMessages, listenTcp, connectTcp, type Connection, type ConnectionOptions } from "../../src/wire/index.js";
import type { WireErrorCode } from "../../src/wire/errors.js";
import { RawPeer, SITE_KEY, OTHER_KEY, closesWith, until } from "../wire/support.js";
import { Random, testSeed } from "../support/random.js";

const IMAGE = EMBEDDED_IMAGE_ID;
const messages = defineMessages(siteMessageSpecs);

function connectionOptions(nodeId: string, overrides: Partial<ConnectionOptions<any>> = {}): ConnectionOptions<any> {
  return { siteKey: SITE_KEY, nodeId, role: "site", messages, handshakeTimeoutMs: 5000, heartbeatIntervalMs: 200, heartbeatTimeoutMs: 30_000, ...overrides };
}

// A Site whose every method is refused unless the test gives it, counting the calls that reach it.
function fakeSite(methods: Partial<Record<keyof Site, (...args: any[]) => unknown>>): { site: Site; calls: string[] } {
  const calls: string[] = [];
  const site = new Proxy({}, {
    get: (_target, name: string) => (...args: unknown[]) => {
      calls.push(name);
      const method = methods[name as keyof Site];
      if (method === undefined) return Promise.reject(new SiteError({ code: "NOT_IN_TEST", message: `${name} is not part of this test` }));
      return method(...args);
    },
  }) as Site;
  return { site, calls };
}

// A ConnectedSite over an in-process connection to `site`, served with `serve`.
async function connected(site: Site, serve: ServeSiteOptions = {}, client: ConnectedSiteOptions = {}): Promise<{ remote: ConnectedSite; server: Connection<any> }> {
  const [clientEnd, serverEnd] = connectInProcess(connectionOptions("shell"), connectionOptions("server"));
  serveSite(serverEnd, site, serve);
  const remote = new ConnectedSite(clientEnd, client);
  await clientEnd.opened;
  return { remote, server: serverEnd };
}

// ---- refused before the site ------------------------------------------------------------------------

const Refused = suite("site protocol: requests refused before the site");

async function servedPeer(): Promise<{ peer: RawPeer; calls: string[] }> {
  const { site, calls } = fakeSite({ listVolumes: async () => [] });
  const peer = new RawPeer(connectionOptions("server"));
  serveSite(peer.connection, site);
  return { peer, calls };
}

const request = (type: string, body: unknown) => ({ type, id: 1, body });
const refusedCases: [string, unknown, WireErrorCode, RegExp][] = [
  ["an argument of the wrong type", request("site.listVolumes", { call: 1, args: [7] }), "BAD_MESSAGE", /message "site\.listVolumes": \/body\/args\/0: /],
  ["too few arguments", request("site.volume", { call: 1, args: [IMAGE] }), "BAD_MESSAGE", /message "site\.volume": \/body\/args/],
  ["too many arguments", request("site.listVolumes", { call: 1, args: [IMAGE, IMAGE] }), "BAD_MESSAGE", /message "site\.listVolumes": \/body\/args/],
  ["an ID longer than its bound", request("site.listVolumes", { call: 1, args: ["I".repeat(ID_LENGTH_MAX + 1)] }), "BAD_MESSAGE", /\/body\/args\/0: .*length/],
  ["a field the request does not have", request("site.createVolumes", { call: 1, args: [IMAGE, { ids: ["1000"], capacity: 1, unit: "ds", admin: true }] }), "BAD_MESSAGE", /\/body\/args\/1\/admin/],
  ["a unit that does not exist", request("site.createVolumes", { call: 1, args: [IMAGE, { ids: ["1000"], capacity: 1, unit: "furlongs" }] }), "BAD_MESSAGE", /\/body\/args\/1\/unit/],
  ["a list above its bound", request("site.removeVolumes", { call: 1, args: [IMAGE, new Array(LIST_ITEMS_MAX + 1).fill("1000")] }), "BAD_MESSAGE", /\/body\/args\/1: .*65536/],
  ["data above its bound", request("site.write", { call: 1, args: [IMAGE, "1000", 0, new Uint8Array(DATA_BYTES_MAX + 1)] }), "BAD_MESSAGE", /\/body\/args\/3/],
  ["text where bytes belong", request("site.write", { call: 1, args: [IMAGE, "1000", 0, "AAAA"] }), "BAD_MESSAGE", /\/body\/args\/3/],
  ["a request without its call number", request("site.listVolumes", { args: [IMAGE] }), "BAD_MESSAGE", /\/body\/call/],
  ["a call number that is not a whole number", request("site.listVolumes", { call: 1.5, args: [IMAGE] }), "BAD_MESSAGE", /\/body\/call/],
  ["a method the protocol does not have", request("site.formatAllDisks", { call: 1, args: [] }), "UNKNOWN_TYPE", /unknown message type "site\.formatAllDisks"/],
  ["a cancel naming no call", { type: "site.cancel", body: {} }, "BAD_MESSAGE", /message "site\.cancel": \/body\/call/],
  ["a subscribe with a filter it does not take", { type: "site.subscribe", body: { all: true } }, "BAD_MESSAGE", /\/body\/all/],
];

for (const [what, frame, code, message] of refusedCases) {
  Refused(`should close the connection with ${code} on ${what}, naming the field, and never call the site`, async () => {
    const { peer, calls } = await servedPeer();
    await peer.handshake();
    await peer.connection.opened;
    peer.sendFrame(frame);
    const cause = await closesWith(peer.connection, code);
    assert.match(cause.message, message);
    assert.equal(calls, []);
  });
}

Refused("should let a valid request through, as a control for the cases above", async () => {
  const { peer, calls } = await servedPeer();
  await peer.handshake();
  await peer.connection.opened;
  peer.sendFrame(request("site.listVolumes", { call: 1, args: [IMAGE] }));
  await until(() => peer.received.some((frame) => frame.type === "site.listVolumes.ok"), "the reply");
  assert.equal(peer.received.find((frame) => frame.type === "site.listVolumes.ok")?.body, { value: [] });
  assert.equal(calls, ["listVolumes"]);
});

Refused("should never call the site for a peer that holds another site key", async () => {
  const { peer, calls } = await servedPeer();
  await peer.handshake(OTHER_KEY);
  peer.sendFrame(request("site.listVolumes", { call: 1, args: [IMAGE] }));
  await closesWith(peer.connection, "AUTH_FAILED");
  assert.equal(calls, []);
});

Refused("should never call the site for a request sent before the handshake", async () => {
  const { peer, calls } = await servedPeer();
  peer.hello();
  peer.sendFrame(request("site.listVolumes", { call: 1, args: [IMAGE] }));
  await closesWith(peer.connection, "UNAUTHENTICATED");
  assert.equal(calls, []);
});

Refused("should not open a ConnectedSite over TCP to a server with another key, and say so", async () => {
  const server = await listenTcp(connectionOptions("server"));
  server.on("connection", (connection) => serveSite(connection, fakeSite({}).site));
  try {
    const dialing = connectTcp({ ...connectionOptions("shell", { siteKey: OTHER_KEY }), port: server.address().port });
    const error = await dialing.then(() => null, (cause: { code: string }) => cause);
    assert.ok(error !== null, "the handshake must fail");
    assert.ok(["AUTH_FAILED", "PEER_CLOSED", "UNAUTHENTICATED"].includes(error.code), error.code);
  } finally {
    await server.close();
  }
});

Refused.run();

// ---- calls through a ConnectedSite ------------------------------------------------------------------

const Calls = suite("site protocol: calls through a ConnectedSite");

Calls("should give a refusal the same code, item, option and message as the site it came from", async () => {
  const embedded = new EmbeddedSite({ workers: 0 });
  const { remote } = await connected(embedded);
  try {
    await remote.createVolumes(IMAGE, { ids: ["1000", "1001", "1002"], capacity: 1, unit: "ds" });
    const refusals: Array<(site: Site) => Promise<unknown>> = [
      (site) => site.establishFlash(IMAGE, { pairs: [["1000", "1001"], ["1002", "1002"]], options: {} }),
      (site) => site.createVolumes(IMAGE, { ids: ["2000"], capacity: 1, unit: "ds", pool: "P9" }),
      (site) => site.volume(IMAGE, "1FFF"),
      (site) => site.listVolumes("IBM.2107-75NOSUCH"),
    ];
    for (const refuse of refusals) {
      const direct = await refusal(refuse(embedded));
      const remotely = await refusal(refuse(remote));
      assert.equal(remotely.toData(), direct.toData());
      assert.instance(remotely, SiteError);
    }
  } finally {
    await remote.close();
    await embedded.close();
  }
});

Calls("should carry an error that is not a SiteError as INTERNAL, its message kept", async () => {
  const { site } = fakeSite({ listImages: async () => { throw new RangeError("the routing table is empty"); } });
  const { remote } = await connected(site);
  const error = await refusal(remote.listImages());
  assert.equal(error.toData(), { code: "INTERNAL", message: "the routing table is empty" });
  await remote.close();
});

Calls("should refuse a site's result that the protocol cannot carry as INTERNAL, naming the field", async () => {
  const { site } = fakeSite({ listImages: async () => [{ id: IMAGE, model: "3990", wwnn: "5005076300C00000" }] });
  const { remote } = await connected(site);
  const error = await refusal(remote.listImages());
  assert.is(error.code, "INTERNAL");
  assert.match(error.message, /listImages: the site's result \/value\/0\/model/);
  await remote.close();
});

Calls("should refuse a caller's argument that breaks the schema at the caller, naming the field, and keep the connection", async () => {
  const { site, calls } = fakeSite({ listVolumes: async () => [] });
  const { remote } = await connected(site);
  const error = await refusal(remote.createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "furlongs" as "ds" }));
  assert.is(error.code, "BAD_ARGUMENT");
  assert.match(error.message, /\/body\/args\/1\/unit/);
  assert.equal(await remote.listVolumes(IMAGE), []);
  assert.equal(calls, ["listVolumes"]);
  await remote.close();
});

Calls("should run authorize before each call with its arguments, and make its throw the call's error", async () => {
  const { site, calls } = fakeSite({ listVolumes: async () => [], listImages: async () => [] });
  const asked: Array<[string, unknown[]]> = [];
  const authorize: ServeSiteOptions["authorize"] = (method, args) => {
    asked.push([method, [...args]]);
    if (method === "listImages") throw new SiteError({ code: "NOT_AUTHORIZED", message: "user guest may not list images", option: "user" });
  };
  const { remote } = await connected(site, { authorize });
  assert.equal(await remote.listVolumes(IMAGE), []);
  const error = await refusal(remote.listImages());
  assert.equal(error.toData(), { code: "NOT_AUTHORIZED", message: "user guest may not list images", option: "user" });
  assert.equal(asked, [["listVolumes", [IMAGE]], ["listImages", []]]);
  assert.equal(calls, ["listVolumes"], "the refused call never reached the site");
  await remote.close();
});

Calls("should hand a call's request id to siteFor, and answer it from the Site that siteFor chose", async () => {
  const { site: ownSite, calls: ownCalls } = fakeSite({ listPools: async () => [] });
  const { site: retrySite, calls: retryCalls } = fakeSite({ listPools: async () => [] });
  const seen: Array<string | undefined> = [];
  const { remote } = await connected(fakeSite({}).site, {
    siteFor: (call) => {
      seen.push(call.requestId);
      return call.requestId === undefined ? ownSite : retrySite;
    },
  });
  await remote.listPools(IMAGE);
  await remote.call("listPools", [IMAGE], { requestId: "shell-7/command-12" });
  assert.equal(seen, [undefined, "shell-7/command-12"]);
  assert.equal(ownCalls, ["listPools"]);
  assert.equal(retryCalls, ["listPools"]);
  const error = await refusal(remote.call("listPools", [IMAGE], { requestId: "" }));
  assert.is(error.code, "BAD_ARGUMENT");
  assert.match(error.message, /\/body\/requestId/);
  await remote.close();
});

Calls("should carry an absent argument as absent and a void result as undefined", async () => {
  const seen: unknown[][] = [];
  const { site } = fakeSite({
    settleRevertible: async (...args: unknown[]) => { seen.push(args); return []; },
    checkVolumesIdle: async () => undefined,
  });
  const { remote } = await connected(site);
  assert.equal(await remote.settleRevertible(IMAGE, "commitflash", [{ sources: ["1000"] }]), []);
  assert.equal(await remote.settleRevertible(IMAGE, "revertflash", [{ pairs: ["1000:1001"] }], 5), []);
  assert.is(await remote.checkVolumesIdle(IMAGE, ["1000"], "removing"), undefined);
  assert.equal(seen, [[IMAGE, "commitflash", [{ sources: ["1000"] }], undefined], [IMAGE, "revertflash", [{ pairs: ["1000:1001"] }], 5]]);
  await remote.close();
});

Calls("should abort the site's signal of a call on an abort, and reject with the site's own CANCELLED", async () => {
  const embedded = new EmbeddedSite({ workers: 0 }); // no copy worker: the wait below never ends by itself
  const { remote } = await connected(embedded);
  try {
    await remote.createVolumes(IMAGE, { ids: ["1000", "1001"], capacity: 1, unit: "ds" });
    await remote.establishFlash(IMAGE, { pairs: [["1000", "1001"]], options: {} });
    const controller = new AbortController();
    const waiting = refusal(remote.waitForCopy(IMAGE, ["1000:1001"], { signal: controller.signal, timeoutMs: 600_000 }));
    await remote.listFlash(IMAGE); // the wait has reached the site: calls are served in order
    controller.abort();
    const error = await waiting;
    assert.is(error.code, "CANCELLED");
    assert.match(error.message, /wait for 1000:1001 cancelled/, "the engine's message: the abort reached the site");
    assert.equal((await remote.listFlash(IMAGE)).map((relationship) => relationship.id), ["1000:1001"], "the connection goes on");
  } finally {
    await remote.close();
    await embedded.close();
  }
});

Calls("should cancel at the site a call whose signal was aborted before it was made", async () => {
  let aborted: boolean | null = null;
  const { site } = fakeSite({
    removeVolumes: (_image: string, _ids: string[], options: { signal: AbortSignal }) => new Promise((_resolve, reject) => {
      aborted = options.signal.aborted;
      const stop = () => reject(new SiteError({ code: "CANCELLED", message: "removal cancelled at the site" }));
      if (options.signal.aborted) stop();
      else options.signal.addEventListener("abort", stop, { once: true });
    }),
  });
  const { remote } = await connected(site);
  const controller = new AbortController();
  controller.abort();
  const error = await refusal(remote.removeVolumes(IMAGE, ["1000"], { signal: controller.signal }));
  assert.equal(error.toData(), { code: "CANCELLED", message: "removal cancelled at the site" });
  assert.is(aborted, true, "the cancel arrived with the call, before the site started it");
  await remote.close();
});

Calls("should reject with CANCELLED after cancelWaitMs when the site does not answer an abort", async () => {
  const { site } = fakeSite({ createVolumes: () => new Promise(() => {}) });
  const { remote } = await connected(site, {}, { cancelWaitMs: 20 });
  const controller = new AbortController();
  const creating = refusal(remote.createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "ds" }, { signal: controller.signal }));
  controller.abort();
  assert.equal((await creating).toData(), { code: "CANCELLED", message: "cancelled" });
  await remote.close();
});

Calls("should cancel at the site a call whose reply timed out, and report REQUEST_TIMEOUT", async () => {
  let signal: AbortSignal | null = null;
  const { site } = fakeSite({ createVolumes: (_image: string, _request: unknown, options: { signal: AbortSignal }) => { signal = options.signal; return new Promise(() => {}); } });
  const { remote } = await connected(site, {}, { callTimeoutMs: 30 });
  const error = await refusal(remote.createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "ds" }));
  assert.is(error.code, "REQUEST_TIMEOUT");
  await until(() => signal?.aborted === true, "the site's signal aborted");
  await remote.close();
});

Calls("should let a long call run past the client's call timeout, to the site's own timeout", async () => {
  const embedded = new EmbeddedSite({ workers: 0 });
  const { remote } = await connected(embedded, {}, { callTimeoutMs: 1 });
  try {
    await embedded.createVolumes(IMAGE, { ids: ["1000", "1001"], capacity: 1, unit: "ds" });
    await embedded.establishFlash(IMAGE, { pairs: [["1000", "1001"]], options: {} });
    const error = await refusal(remote.waitForCopy(IMAGE, ["1000:1001"], { timeoutMs: 200 }));
    assert.is(error.code, "TIMEOUT", `${error.code}: ${error.message}`);
  } finally {
    await remote.close();
    await embedded.close();
  }
});

Calls("should fail a call in flight when the connection is lost, with the wire's code", async () => {
  const { site } = fakeSite({ listPools: () => new Promise(() => {}) });
  const { remote, server } = await connected(site);
  const listing = refusal(remote.listPools(IMAGE));
  await until(() => server.pendingRequestCount === 0, "the request sent");
  await server.close("the server is shutting down");
  const error = await listing;
  assert.is(error.code, "PEER_CLOSED");
  assert.match(error.message, /the server is shutting down/);
  const after = await refusal(remote.listPools(IMAGE));
  assert.is(after.code, "PEER_CLOSED");
});

Calls("should abort the calls in flight at the site when their caller's connection closes", async () => {
  let signal: AbortSignal | null = null;
  const { site } = fakeSite({ establishFlash: (_image: string, _request: unknown, options: { signal: AbortSignal }) => { signal = options.signal; return new Promise(() => {}); } });
  const { remote, server } = await connected(site);
  const establishing = refusal(remote.establishFlash(IMAGE, { pairs: [["1000", "1001"]], options: {} }));
  await until(() => signal !== null, "the call reached the site");
  assert.is(signal!.aborted, false);
  await remote.close();
  assert.is((await establishing).code, "CLOSED");
  await server.closed;
  await until(() => signal!.aborted, "the site's signal aborted");
});

Calls("should answer many concurrent calls each with its own result", async () => {
  const seed = testSeed();
  console.log(`site protocol concurrent calls seed: ${seed} (replay with TZERO_SEED=${seed})`);
  const random = new Random(seed);
  const embedded = new EmbeddedSite({ workers: 0 });
  const { remote } = await connected(embedded);
  try {
    const ids = Array.from({ length: 64 }, (_, index) => (0x1000 + index).toString(16).toUpperCase());
    await remote.createVolumes(IMAGE, { ids, capacity: 1, unit: "ds", nameTemplate: "v#h" });
    const asked = Array.from({ length: 800 }, () => random.pick([...ids, "1FFF"]));
    const answers = await Promise.all(asked.map((id) => remote.volume(IMAGE, id).then((volume) => volume.name, (error: SiteError) => error.code)));
    assert.equal(answers, asked.map((id) => (id === "1FFF" ? "VOLUME_NOT_FOUND" : `v${id}`)));
  } finally {
    await remote.close();
    await embedded.close();
  }
});

Calls("should have a message pair for every method of the table", () => {
  for (const method of SITE_METHOD_NAMES) {
    assert.is(messages.replyOf(`site.${method}`), `site.${method}.ok`);
    assert.ok(typeof (ConnectedSite.prototype as unknown as Record<string, unknown>)[method] === "function", method);
  }
});

Calls.run();

// ---- events ----------------------------------------------------------------------------------------

const Events = suite("site protocol: events");

Events("should subscribe on the first listener, deliver to each, and unsubscribe on the last", async () => {
  const subscribers = new Set<(event: SiteEvent) => void>();
  const { site } = fakeSite({
    events: (listener: (event: SiteEvent) => void) => { subscribers.add(listener); return () => subscribers.delete(listener); },
    listImages: async () => {
      for (const listener of subscribers) listener({ type: "image-added", imageId: IMAGE });
      return [];
    },
  });
  const { remote } = await connected(site);
  const first: SiteEvent[] = [];
  const second: SiteEvent[] = [];
  const stopFirst = remote.events((event) => first.push(event));
  const stopSecond = remote.events((event) => second.push(event));
  await remote.listImages(); // the event is sent before the reply, so it has arrived
  assert.is(subscribers.size, 1, "one subscription for the connection");
  assert.equal(first, [{ type: "image-added", imageId: IMAGE }]);
  assert.equal(second, first);
  stopFirst();
  stopFirst();
  await remote.listImages();
  assert.is(first.length, 1);
  assert.is(second.length, 2);
  assert.is(subscribers.size, 1, "still subscribed for the second listener");
  stopSecond();
  await remote.listImages();
  assert.is(subscribers.size, 0, "unsubscribed with the last listener");
  assert.is(second.length, 2);
  await remote.close();
});

Events("should end the site subscription when the connection closes", async () => {
  const subscribers = new Set<unknown>();
  const { site } = fakeSite({ events: (listener: unknown) => { subscribers.add(listener); return () => subscribers.delete(listener); }, listImages: async () => [] });
  const { remote, server } = await connected(site);
  remote.events(() => {});
  await remote.listImages();
  assert.is(subscribers.size, 1);
  await remote.close();
  await server.closed;
  await until(() => subscribers.size === 0, "the subscription ended");
});

Events("should push an embedded site's events, as records, to a remote subscriber", async () => {
  const embedded = new EmbeddedSite({ workers: 0 });
  const { remote } = await connected(embedded);
  const events: SiteEvent[] = [];
  const stop = remote.events((event) => events.push(event));
  try {
    const image = await remote.addImage({ model: "2107" });
    await remote.listImages();
    assert.equal(events, [{ type: "image-added", imageId: image.id }]);
  } finally {
    stop();
    await remote.close();
    await embedded.close();
  }
});

Events("should leave out progress samples while the peer is not reading, and no other event", async () => {
  const subscribers = new Set<(event: SiteEvent) => void>();
  const released = Array.from({ length: 16 }, (_, index) => `10${index.toString(16).padStart(2, "0")}:11${index.toString(16).padStart(2, "0")}`);
  const burst = 4000; // ~200 bytes each: above the in-process transport's 1 MiB high-water mark in one turn
  const { site } = fakeSite({
    events: (listener: (event: SiteEvent) => void) => { subscribers.add(listener); return () => subscribers.delete(listener); },
    listImages: async () => {
      for (const listener of subscribers) {
        listener({ type: "flash-progress", imageId: IMAGE, id: "1000:1001", tracksLeft: 9, trackCount: 10, bytesPerSecond: 1 });
        for (let index = 0; index < burst; index++) listener({ type: "flash-unfrozen", imageId: IMAGE, lss: "10", released, reason: `burst ${index}` });
        listener({ type: "flash-progress", imageId: IMAGE, id: "1000:1001", tracksLeft: 1, trackCount: 10, bytesPerSecond: 1 });
        listener({ type: "flash-copied", imageId: IMAGE, id: "1000:1001", trackCount: 10, createdAtMs: 0, syncedAtMs: 1 });
      }
      return [];
    },
  });
  const { remote } = await connected(site);
  const events: SiteEvent[] = [];
  remote.events((event) => events.push(event));
  await remote.listImages();
  const progress = events.filter((event) => event.type === "flash-progress");
  assert.equal(progress.map((event) => event.type === "flash-progress" && event.tracksLeft), [9], "the sample sent while the buffer was full is left out");
  assert.is(events.filter((event) => event.type === "flash-unfrozen").length, burst);
  assert.equal(events.at(-1)?.type, "flash-copied");
  await remote.close();
});

Events.run();

// ---- the same schemas in SerializedSite ---------------------------------------------------------------

const Serialized = suite("site protocol: SerializedSite checks the same schemas");

Serialized("should refuse arguments the protocol refuses, naming the field, without calling the site", async () => {
  const { site, calls } = fakeSite({});
  const error = await refusal(new SerializedSite(site).createPool(IMAGE, { name: "p", rankGroup: 2 as 0 }));
  assert.is(error.code, "BAD_ARGUMENT");
  assert.match(error.message, /createPool: arguments \/args\/1\/rankGroup/);
  assert.equal(calls, []);
});

Serialized("should refuse a result the protocol refuses as INTERNAL, naming the field", async () => {
  const { site } = fakeSite({ listPools: async () => [{ id: "P0", index: 0, name: "a pool name too long", rankGroup: 0, capacityExtents: 1, allocatedExtents: 0, volumeCount: 0 }] });
  const error = await refusal(new SerializedSite(site).listPools(IMAGE));
  assert.is(error.code, "INTERNAL");
  assert.match(error.message, /listPools: the site's result \/value\/0\/name/);
});

Serialized.run();

// ---- over TCP ----------------------------------------------------------------------------------------

const Tcp = suite("site protocol: over loopback TCP");

Tcp("should serve an embedded site to a ConnectedSite over TCP, bytes and all", async () => {
  const embedded = new EmbeddedSite({ workers: 0 });
  const siteKey = new Uint8Array(randomBytes(32));
  const server = await listenTcp({ ...connectionOptions("server"), siteKey });
  server.on("connection", (connection) => serveSite(connection, embedded));
  const remote = new ConnectedSite(await connectTcp({ ...connectionOptions("shell"), siteKey, port: server.address().port }));
  try {
    await remote.createVolumes(IMAGE, { ids: ["1000"], capacity: 1, unit: "ds" });
    const data = new Uint8Array(randomBytes(4096));
    await remote.write(IMAGE, "1000", 8192, data);
    assert.equal([...await remote.read(IMAGE, "1000", 8192, 4096)], [...data]);
    assert.is(await remote.checksum(IMAGE, "1000", 0, 65536), await embedded.checksum(IMAGE, "1000", 0, 65536));
  } finally {
    await remote.close();
    await server.close();
    await embedded.close();
  }
});

Tcp.run();
