// The three-process takeover of issue 11: a primary A, its backup B and a
// node C, a shell on -hmc1 A -hmc2 B sending seeded random commands, and A
// killed with kill -9 at a seeded instant among them. Every command
// acknowledged before the kill is in the new primary's journal; a workload
// and a background copy on C go on across the kill (their progress grows);
// A restarted comes back as B's backup.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import { RemoteSite } from "../../src/site/remote.js";
import { ServerStore } from "../../src/server/store.js";
import { findImage } from "../../src/server/site-state.js";
import { ServeSandbox } from "../support/serve-process.js";
import { Random, testSeed } from "../support/random.js";

const seed = testSeed();
console.log(`serve-takeover seed: ${seed} (replay with TZERO_SEED=${seed})`);

const PASSWORD = "Adm1npass";
const IMAGE_B = "IBM.2107-75SITEB";
const IMAGE_C = "IBM.2107-75SITEC";
const MiB = 1024 * 1024;

const Takeover = suite("tzero serve takeover");

function address(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port) };
}

Takeover("should keep every acknowledged command, and the data plane going, across kill -9 of the primary", async () => {
  const random = new Random(seed);
  const sandbox = new ServeSandbox();
  let shell: RemoteSite | null = null;
  try {
    writeFileSync(sandbox.path("admin.pw"), `${PASSWORD}\n`, { mode: 0o600 });
    const key = ["--site-key-file", sandbox.path("a.server/site.key")];
    const aArgs = ["--image", "IBM.2107-75SITEA", "--server-state", sandbox.path("a.server"), "--admin-password-file", sandbox.path("admin.pw")];
    const a = sandbox.start(...aArgs);
    await a.waitFor(/primary Copy Services Server, term 1/);
    const b = sandbox.start("--image", IMAGE_B, "--join", a.url, "--backup", ...key, "--server-state", sandbox.path("b.server"));
    const c = sandbox.start("--image", IMAGE_C, "--join", a.url, ...key, "--server-state", sandbox.path("c.server"));
    await a.waitFor(/backup IBM\.2107-75SITEB in step/);
    await a.waitFor(/node IBM\.2107-75SITEB joined/);
    await a.waitFor(/node IBM\.2107-75SITEC joined/);
    await c.waitFor(/registered with/);
    shell = await RemoteSite.connect({ servers: [address(a.url), address(b.url)], user: "admin", password: PASSWORD });
    assert.equal((await shell.listImages()).map((image) => image.id).sort(), ["IBM.2107-75SITEA", IMAGE_B, IMAGE_C]);

    // The data plane on C: a rate-bounded workload, and a background copy of 256 MiB started just before the kill.
    await shell.createVolumes(IMAGE_C, { ids: ["1000", "1002", "1003"], capacity: 256 * MiB / 512, unit: "blocks" });
    await shell.startWorkload(IMAGE_C, { name: "oltp", volumeId: "1000", rw: "write", pattern: "random", blockBytes: 4096, iopsMax: 500, seed });
    await shell.fill(IMAGE_C, "1002", { offset: 0, length: 256 * MiB }, { kind: "pattern", seed });

    // Random commands (mkfbvol, sometimes rmfbvol of one made before) on B and C, while A is killed.
    const acked = new Map<string, Set<string>>([[IMAGE_B, new Set()], [IMAGE_C, new Set()]]);
    const removed = new Map<string, Set<string>>([[IMAGE_B, new Set()], [IMAGE_C, new Set()]]);
    const uncertain = new Set<string>(); // "image id" of removals whose outcome the kill hid
    let killed = false;
    const killAfter = random.int(5, 25);
    let next = 0x2000;
    const commands = (async () => {
      for (let index = 0; index < killAfter + 15; index++) {
        const image = random.pick([IMAGE_B, IMAGE_C]);
        const made = [...acked.get(image)!];
        const remove = made.length > 0 && random.int(0, 3) === 0;
        const id = remove ? random.pick(made) : (next++).toString(16).toUpperCase();
        try {
          if (remove) await shell!.removeVolumes(image, [id]);
          else await shell!.createVolumes(image, { ids: [id], capacity: 1, unit: "ds" });
        } catch (error) {
          // A command in flight at the kill may fail (or its retry find it done); only acknowledged ones are owed.
          // A removal that failed so may still have run on the node before the primary died: its volume is
          // owed neither way any more.
          assert.ok(killed, `command ${index} failed before the kill: ${(error as Error).message}`);
          if (remove) {
            acked.get(image)!.delete(id);
            uncertain.add(`${image} ${id}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
        if (remove) {
          acked.get(image)!.delete(id);
          removed.get(image)!.add(id);
        } else acked.get(image)!.add(id);
      }
    })();
    for (let count = 0; count < killAfter && !killed; count++) await new Promise((resolve) => setTimeout(resolve, 20));
    const workloadBefore = (await shell.listWorkloads()).find((workload) => workload.spec.name === "oltp")!.stats.ios;
    await shell.establishFlash(IMAGE_C, { pairs: [["1002", "1003"]], options: {} });
    const pendingBefore = (await shell.listFlash(IMAGE_C)).find((flash) => flash.id === "1002:1003")?.pendingTracks ?? 0;
    const ackedAtKill = new Map([...acked].map(([image, ids]) => [image, new Set(ids)]));
    a.kill("SIGKILL");
    killed = true;
    await b.waitFor(/took over as primary with term 2/);
    await c.waitFor(/registered with .* \(term 2\)/);
    await commands;

    const workloadAfter = (await shell.listWorkloads()).find((workload) => workload.spec.name === "oltp")!;
    assert.ok(workloadAfter.running, "the workload on C still runs");
    assert.ok(workloadAfter.stats.ios > workloadBefore, `its I/Os grew across the kill: ${workloadBefore} → ${workloadAfter.stats.ios}`);
    const pendingAfter = (await shell.listFlash(IMAGE_C)).find((flash) => flash.id === "1002:1003")?.pendingTracks ?? 0;
    assert.ok(pendingBefore === 0 || pendingAfter < pendingBefore, `the background copy went on: ${pendingBefore} → ${pendingAfter} tracks pending`);
    for (const [image, ids] of acked) {
      const listed = new Set((await shell.listVolumes(image)).map((volume) => volume.id));
      for (const id of ids) assert.ok(listed.has(id), `${image} ${id}, acknowledged, is on its node`);
      for (const id of removed.get(image)!) assert.not.ok(listed.has(id), `${image} ${id}, removed, is gone`);
    }
    await shell.stopWorkloads();
    await shell.close();
    shell = null;

    // A comes back and steps down to be B's backup.
    const back = sandbox.start(...aArgs);
    await back.waitFor(/stepping down to be its backup/);
    await b.waitFor(/backup IBM\.2107-75SITEA in step/);
    assert.is((await b.stop()).code, 0);
    back.kill("SIGKILL");
    const store = await ServerStore.open(sandbox.path("b.server"));
    try {
      assert.ok(store.term >= 2, `the new primary's term ${store.term}`);
      for (const [image, ids] of ackedAtKill) {
        const catalog = new Set(findImage(store.state, image)!.catalog.volumes.map((volume) => volume.id));
        for (const id of ids) if (!removed.get(image)!.has(id) && !uncertain.has(`${image} ${id}`)) assert.ok(catalog.has(id), `${image} ${id}, acknowledged before the kill, is in the new primary's journal (seed ${seed})`);
      }
    } finally {
      await store.close();
    }
  } finally {
    await shell?.close();
    await sandbox.close();
  }
});

Takeover.run();
