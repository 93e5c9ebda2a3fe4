// Three `tzero serve` processes for the PPRC tests across nodes: a server S
// (image S), node A (image A, the primaries) and node B (image B, the
// secondaries; optionally the backup server), each node with its --state,
// a shell through the server, and the steps those tests share.
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { RemoteSite } from "../../src/site/remote.js";
import type { PairInfo } from "../../src/site/types.js";
import { LINK_HEARTBEAT_TIMEOUT_MS } from "../../src/pprc/link-protocol.js";
import { MAIN, ServeSandbox, freePort, type ServeProcess } from "./serve-process.js";

export const S = "IBM.2107-75SITES";
export const A = "IBM.2107-75SITEA";
export const B = "IBM.2107-75SITEB";
export const TRACK_BYTES = 65536;
export const TRACKS = 32;
export const PASSWORD = "Adm1npass";
export const WAIT_MS = 60_000;
// Loose on purpose: the machine is shared; the bound itself is the link's heartbeat timeout.
export const SUSPEND_WAIT_MS = LINK_HEARTBEAT_TIMEOUT_MS + 15_000;

export interface Site3 {
  sandbox: ServeSandbox;
  server: ServeProcess;
  serverArgs: string[];
  a: ServeProcess;
  aArgs: string[];
  b: ServeProcess;
  bArgs: string[];
  shell: RemoteSite;
}

// DS CLI through the server, as an administrator runs it: `tzero -hmc1 HOST:PORT -user admin -passwd … COMMAND…`.
export function dscli(server: ServeProcess, ...command: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [MAIN, "-hmc1", new URL(server.url).host, "-user", "admin", "-passwd", PASSWORD, ...command], { encoding: "utf8", timeout: WAIT_MS });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export async function connectShell(server: ServeProcess): Promise<RemoteSite> {
  const { hostname, port } = new URL(server.url);
  return RemoteSite.connect({ servers: [{ host: hostname, port: Number(port) }], user: "admin", password: PASSWORD });
}

// `backup`: B's node is also the backup Copy Services Server. `fixedLinks`
// false: B takes links on any free port (no --link-listen), a new one at each start.
export async function threeNodes(sandbox: ServeSandbox, { backup = false, fixedLinks = true } = {}): Promise<Site3> {
  writeFileSync(sandbox.path("admin.pw"), `${PASSWORD}\n`, { mode: 0o600 });
  const serverArgs = ["--image", S, "--server-state", sandbox.path("s.server"), "--admin-password-file", sandbox.path("admin.pw")];
  const server = sandbox.start(...serverArgs);
  await server.waitFor(/primary Copy Services Server/, 1, WAIT_MS);
  const key = sandbox.path("s.server/site.key");
  const aArgs = ["--image", A, "--join", server.url, "--site-key-file", key, "--node-id", "node-a", "--state", sandbox.path("a.tzs")];
  const a = sandbox.start(...aArgs);
  const bArgs = ["--image", B, "--join", server.url, "--site-key-file", key, "--node-id", "node-b", "--state", sandbox.path("b.tzs")];
  if (fixedLinks) bArgs.push("--link-listen", `127.0.0.1:${await freePort()}`);
  if (backup) bArgs.push("--backup", "--server-state", sandbox.path("b.server"));
  const b = sandbox.start(...bArgs);
  await server.waitFor(/node node-a joined/, 1, WAIT_MS);
  await server.waitFor(/node node-b joined/, 1, WAIT_MS);
  if (backup) await server.waitFor(/backup node-b in step/, 1, WAIT_MS);
  return { sandbox, server, serverArgs, a, aArgs, b, bArgs, shell: await connectShell(server) };
}

export async function pair(shell: RemoteSite, imageId: string, id: string): Promise<PairInfo> {
  const found = (await shell.listPairs(imageId)).find((candidate) => candidate.id === id);
  if (found === undefined) throw new Error(`no PPRC pair ${id} on ${imageId}`);
  return found;
}

export async function until(condition: () => Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Volumes 1000 on A (filled) and 2000 on B of `tracks` tracks, a path A 10 → B 20, and Metro Mirror 1000:2000 (-tgtread) made and in sync.
// Volumes 1000 on A and 2000 on B, a path, and the pair made Full Duplex; `beforePair` runs just before mkpprc.
export async function mirrored(site: Site3, seed: number, tracks = TRACKS, beforePair: () => Promise<void> = async () => undefined): Promise<void> {
  const { shell } = site;
  const blocks = (tracks * TRACK_BYTES) / 512;
  await shell.createVolumes(A, { ids: ["1000"], capacity: blocks, unit: "blocks" });
  await shell.createVolumes(B, { ids: ["2000"], capacity: blocks, unit: "blocks" });
  await shell.fill(A, "1000", { offset: 0, length: tracks * TRACK_BYTES }, { kind: "pattern", seed });
  const wwnnB = (await shell.listImages()).find((image) => image.id === B)!.wwnn;
  const path = await shell.makePath(A, { remoteImageId: B, remoteWwnn: wwnnB, sourceLss: "10", targetLss: "20", ports: ["I0010:I0143"] });
  assert.is(path.state, "Success", `the path across nodes is up (${path.reason})`);
  await beforePair();
  assert.equal(await shell.makePairs(A, { remoteImageId: B, pairs: [["1000", "2000"]], type: "mmir", tgtread: true }), ["1000:2000"]);
  await shell.waitForPairs(A, ["1000:2000"], { timeoutMs: WAIT_MS });
}

export async function equal(shell: RemoteSite, primary: [string, string], secondary: [string, string], length = TRACKS * TRACK_BYTES): Promise<boolean> {
  return (await shell.checksum(primary[0], primary[1], 0, length)) === (await shell.checksum(secondary[0], secondary[1], 0, length));
}


export async function refusedWrite(shell: RemoteSite, imageId: string, volumeId: string): Promise<boolean> {
  return shell.write(imageId, volumeId, 0, new Uint8Array(512)).then(() => false, () => true);
}


// Starts the node `which` again from its --state and waits until the server has it back.
export async function restartNode(site: Site3, which: "a" | "b"): Promise<void> {
  const joined = new RegExp(`node node-${which} joined`);
  const before = site.server.log.split("\n").filter((line) => joined.test(line)).length;
  site[which] = site.sandbox.start(...(which === "a" ? site.aArgs : site.bArgs));
  await site[which].waitFor(/loaded .*\.tzs/, 1, WAIT_MS);
  await site.server.waitFor(joined, before + 1, WAIT_MS);
}

// The pair Suspended on A once `restarted`'s node is back; the path up, resumepprc, Full Duplex and equal; the secondary refuses host writes.
export async function resumed(site: Site3, restarted: string, when: string, seed: number, length = TRACKS * TRACK_BYTES): Promise<void> {
  await until(async () => (await site.shell.listPaths(A))[0]?.state === "Success", `the path ${when}`);
  await until(async () => (await pair(site.shell, A, "1000:2000")).state === "Suspended", `the pair to be suspended ${when}`, SUSPEND_WAIT_MS);
  assert.is((await pair(site.shell, B, "1000:2000")).role, "secondary", `B holds the secondary ${when} (${restarted} restarted)`);
  assert.ok(await refusedWrite(site.shell, B, "2000"), `the secondary refuses host writes ${when}`);
  assert.equal(await site.shell.changePairs(A, "resumepprc", { remoteImageId: B, ids: ["1000:2000"], type: "mmir" }), ["1000:2000"]);
  await site.shell.waitForPairs(A, ["1000:2000"], { timeoutMs: WAIT_MS });
  assert.ok(await equal(site.shell, [A, "1000"], [B, "2000"], length), `equal byte for byte ${when} (seed ${seed})`);
}
