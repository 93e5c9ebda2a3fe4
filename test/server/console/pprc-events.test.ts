// PPRC on the event stream: a path and a pair made from the console are its
// events, with the states the commands left; what the pair and the path do by
// themselves afterwards (Full Duplex after Copy Pending, a link that fails,
// the pair it suspends) are the server's events; progress lists the pair
// while it copies.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EmbeddedSite } from "../../../src/site/embedded.js";
import type { Site } from "../../../src/site/site.js";
import { startConsole, StreamClient, type ConsoleFixture } from "./support.js";

const A = "IBM.2107-75CONSA";
const B = "IBM.2107-75CONSB";
const TRACK_BLOCKS = 128;
const TRACKS = 1024; // 64 MiB: a Copy Pending long enough to be seen, mostly

let fixture: ConsoleFixture;
let client: StreamClient;
let site: Site;

const Pprc = suite("PPRC events and progress");
Pprc.before.each(async () => {
  const node = new EmbeddedSite({ workers: 1, images: [{ model: "2107", id: A }, { model: "2107", id: B }], mirrorAckTimeoutMs: 30_000 });
  fixture = await startConsole({ node });
  site = fixture.server.forCaller({ user: "admin", source: "console" });
  const wwnnB = (await site.listImages()).find((image) => image.id === B)!.wwnn;
  await site.createVolumes(A, { ids: ["1000"], capacity: TRACKS * TRACK_BLOCKS, unit: "blocks" });
  await site.createVolumes(B, { ids: ["2000"], capacity: TRACKS * TRACK_BLOCKS, unit: "blocks" });
  await site.fill(A, "1000", { offset: 0, length: TRACKS * TRACK_BLOCKS * 512 }, { kind: "pattern", seed: 5 });
  client = await StreamClient.ready(fixture.port, fixture.token);
  await site.makePath(A, { remoteImageId: B, remoteWwnn: wwnnB, sourceLss: "10", targetLss: "20", ports: ["I0010:I0143"] });
});
Pprc.after.each(async () => {
  client.close();
  await fixture.close();
  await fixture.node.close();
  fixture.folder.remove();
});

Pprc("should log the path and the pair made from the console, then the pair's Full Duplex as the server's", async () => {
  const path = await client.next((message) => message.kind === "path.made", "the path's event");
  assert.equal([path.source, path.user, path.image, path.ids], ["console", "admin", A, ["10:20"]]);
  assert.match(path.text as string, /^PPRC path 10:20 to IBM\.2107-75CONSB made over I0010:I0143 \(Success\)/);
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir", mode: "full" });
  const made = await client.next((message) => message.kind === "pprc.made", "the pair's event");
  assert.equal([made.source, made.user, made.ids], ["console", "admin", ["1000:2000"]]);
  const state = /; now 1000:2000 (.*)$/.exec(made.text as string)?.[1];
  assert.ok(state === "Copy Pending" || state === "Full Duplex", made.text as string);
  await site.waitForPairs(A, ["1000:2000"], { timeoutMs: 60_000 });
  if (state === "Copy Pending") {
    const duplex = await client.next((message) => message.kind === "pprc.changed", "the pair's Full Duplex");
    assert.equal([duplex.source, duplex.user, duplex.image, duplex.ids], ["server", null, A, ["1000:2000"]]);
    assert.is(duplex.text, "PPRC pair 1000:2000 Full Duplex (was Copy Pending)");
  }
  for (const progress of client.messages.filter((message) => message.type === "progress")) {
    for (const entry of progress.pprc as Array<Record<string, unknown>>) {
      assert.equal([entry.image, entry.id], [A, "1000:2000"]);
      assert.ok((entry.outOfSyncTracks as number) >= 0 && (entry.outOfSyncTracks as number) <= TRACKS);
      assert.ok((entry.bytesPerSecond as number) >= 0);
    }
  }
});

Pprc("should log a pause as the console's, and a path and pair that a cut link fails as the server's", async () => {
  await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir", mode: "full" });
  await site.waitForPairs(A, ["1000:2000"], { timeoutMs: 60_000 });
  await site.changePairs(A, "pausepprc", { remoteImageId: B, ids: ["1000:2000"] });
  const paused = await client.next((message) => message.kind === "pprc.paused");
  assert.match(paused.text as string, /^PPRC pair 1000:2000 suspended \(paused\); now 1000:2000 Suspended: Host Source$/);
  await site.changePairs(A, "resumepprc", { remoteImageId: B, ids: ["1000:2000"] });
  await site.waitForPairs(A, ["1000:2000"], { timeoutMs: 60_000 });
  await site.setLink(A, B, false);
  await site.write(A, "1000", 0, new Uint8Array(512).fill(3));
  const failedPath = await client.next((message) => message.kind === "path.changed", "the path's failure");
  assert.equal([failedPath.source, failedPath.ids], ["server", ["10:20"]]);
  assert.match(failedPath.text as string, /^PPRC path 10:20 to IBM\.2107-75CONSB Failed.* \(was Success\)$/);
  const suspended = await client.next((message) => message.kind === "pprc.changed" && /Suspended/.test(message.text as string), "the pair's suspension");
  assert.match(suspended.text as string, /^PPRC pair 1000:2000 Suspended: Internal Conditions Target \(was (Full Duplex|Copy Pending)\)$/);
  assert.is(client.events().filter((message) => message.kind === "site.changed").length, 0, "setLink, a test's fault, is not logged");
});

Pprc.run();
