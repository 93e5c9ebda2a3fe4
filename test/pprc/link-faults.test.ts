// Seeded faults of the in-process link (src/pprc/link-faults.ts) over real
// threads (the link's sender and workload writers): frames dropped, delayed
// and links cut at points the seed fixes. Every write acknowledged while the
// pair is Full Duplex is on the secondary; after each repair and resume the
// volumes are equal byte for byte; the receiver applies frames in sequence
// only (a dropped frame cuts the link, never skipped silently), and no sender
// thread aborts.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { EmbeddedSite } from "../../src/site/embedded.js";
import type { LinkFaults } from "../../src/pprc/link-faults.js";
import { A, B, TRACK_BYTES, mirrored, pairOn, sameData, twoImages } from "./support.js";
import { Random, testSeed } from "../support/random.js";

const TRACKS = 32;
const ROUNDS = 6;
const WRITES_PER_ROUND = 24;
const SETTLE_STEPS_MAX = 1500; // of SETTLE_STEP_MS: a repair that never converges fails the test
const SETTLE_STEP_MS = 20;

// The faults so far, for a failure's message: the seed replays them at the same frames.
function faultsOf(site: EmbeddedSite): string {
  const faults = site.enginePprc().injectedFaults();
  return `${faults.length} faults: ${faults.slice(0, 12).join(", ")}${faults.length > 12 ? ", …" : ""}`;
}

// Repairs a cut link and resumes a suspended pair until it is Full Duplex.
async function settle(site: EmbeddedSite, what: string): Promise<void> {
  for (let step = 0; step < SETTLE_STEPS_MAX; step++) {
    const pair = await pairOn(site, A, "1000:2000");
    if (pair.state === "Full Duplex") return;
    if ((await site.listPaths(A))[0].state === "Failed") await site.setLink(A, B, true);
    else if (pair.state === "Suspended") await site.changePairs(A, "resumepprc", { remoteImageId: B, ids: ["1000:2000"] });
    await new Promise((resolve) => setTimeout(resolve, SETTLE_STEP_MS));
  }
  throw new Error(`the pair did not come back to Full Duplex ${what} (${faultsOf(site)})`);
}

const Faults = suite("seeded faults of the in-process link");

Faults("should keep every acknowledged write on the secondary and resume to equal through dropped, delayed and cut frames", async () => {
  const seed = testSeed();
  console.log(`# link faults seed ${seed} (TZERO_SEED=${seed} replays the same faults at the same frames)`);
  const faults: LinkFaults = { seed: seed >>> 0, dropPerMille: 15, delayPerMille: 40, delayMsMax: 4, cutPerMille: 5 };
  const random = new Random(seed);
  const images = await twoImages({ workers: 2, linkFaults: faults, mirrorAckTimeoutMs: 5_000 });
  const { site } = images;
  try {
    await mirrored(images, 1, TRACKS);
    await site.fill(A, "1000", { offset: 0, length: TRACKS * TRACK_BYTES }, { kind: "pattern", seed: seed & 0xffff });
    await site.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir" });
    await settle(site, "after mkpprc");
    let checked = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (let index = 0; index < WRITES_PER_ROUND; index++) {
        await site.write(A, "1000", random.int(0, TRACKS * 16 - 1) * 4096, random.bytes(4096));
        const pair = await pairOn(site, A, "1000:2000");
        if (pair.state !== "Full Duplex") continue;
        checked++;
        assert.ok(sameData(site, "1000", "2000"), `a write acknowledged in Full Duplex is on the secondary (round ${round}, seed ${seed}; ${faultsOf(site)})`);
      }
      const name = `writers${round}`;
      await site.startWorkload(A, { name, volumeId: "1000", rw: "write", pattern: "random", blockBytes: 4096, iopsMax: 2000, durationMs: 150, seed: seed + round });
      await site.waitWorkload(name);
      await settle(site, `after round ${round}`);
      assert.ok(sameData(site, "1000", "2000"), `equal byte for byte after round ${round}'s resume (seed ${seed}; ${faultsOf(site)})`);
    }
    const injected = site.enginePprc().injectedFaults();
    console.log(`# ${faultsOf(site)}; ${checked} writes checked in Full Duplex`);
    assert.ok(injected.length > 0, `the seed injected faults (seed ${seed})`);
    assert.equal(site.enginePprc().linkFailures, [], "no sender thread aborted");
  } finally {
    await site.close();
  }
});

Faults("should refuse fault rates beyond a thousand per mille", async () => {
  const refused = await twoImages({ linkFaults: { seed: 1, dropPerMille: 600, delayPerMille: 300, delayMsMax: 1, cutPerMille: 200 } })
    .then(async (images) => {
      try {
        await mirrored(images, 1, 1);
        return null;
      } catch (error) {
        return error as Error;
      } finally {
        await images.site.close();
      }
    });
  assert.ok(refused !== null, "a path over a link with impossible rates is refused");
  assert.match(refused!.message, /per mille/);
});

Faults.run();
