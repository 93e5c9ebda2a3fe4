// Runs IBM's pyds8k client against tzero's REST API: starts the API over an
// embedded 2107 image on 127.0.0.1 (admin with a fresh password, tokens
// idling out after 2 s so the client's login-after-401 is exercised), then
// scripts/pyds8k-drive.py. pyds8k is not on npm or Debian, so this is run by
// hand with a checkout of it (test/server/rest-contract.test.ts is what CI runs):
//   npm run build && node scripts/rest-pyds8k.mjs PATH_TO_PYDS8K_CHECKOUT
// Needs python3 with requests and six (Debian: python3-requests python3-six).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { EmbeddedSite } = await import(join(root, "dist/src/site/embedded.js"));
const { restServer } = await import(join(root, "dist/src/server/rest/index.js"));
const { Sessions } = await import(join(root, "dist/src/server/sessions.js"));
const { applyUserRecord, authenticate, emptyUsers, findUser, firstStart } = await import(join(root, "dist/src/server/users.js"));

const IDLE_MS = 2000;
const checkout = process.argv[2];
if (checkout === undefined || !existsSync(join(checkout, "pyds8k", "__init__.py"))) {
  process.stderr.write("usage: node scripts/rest-pyds8k.mjs PATH_TO_PYDS8K_CHECKOUT (a folder holding pyds8k/__init__.py)\n");
  process.exit(2);
}

const start = await firstStart(emptyUsers());
let users = applyUserRecord(emptyUsers(), start.record);
const sessions = new Sessions({ idleMs: IDLE_MS });
const auth = {
  async login(user, password) {
    const outcome = await authenticate(users, user, password);
    if (outcome.record !== null) users = applyUserRecord(users, outcome.record);
    if (!outcome.ok) throw outcome.error;
    const issued = sessions.issue(outcome.name, outcome.passwordExpired);
    return { token: issued.token, expiresAtMs: issued.expiresAt, idleMs: IDLE_MS };
  },
  check(token) {
    const session = sessions.check(token);
    return { user: session.user, groups: findUser(users, session.user).groups };
  },
};
// A second image, with a path and a Metro Mirror pair to it, for pyds8k's cs/pprcs calls (pyds8k makes no pairs itself).
const SERVED = "IBM.2107-75PYDS8";
const REMOTE = "IBM.2107-75PYDS9";
const site = new EmbeddedSite({ workers: 1, images: [{ model: "2107", id: SERVED }, { model: "2107", id: REMOTE }] });
await site.createVolumes(SERVED, { ids: ["2000"], capacity: 1, unit: "ds" });
await site.createVolumes(REMOTE, { ids: ["2100"], capacity: 1, unit: "ds" });
const remoteWwnn = (await site.listImages())[1].wwnn;
await site.makePath(SERVED, { remoteImageId: REMOTE, remoteWwnn, sourceLss: "20", targetLss: "21", ports: ["I0010:I0143"] });
await site.makePairs(SERVED, { remoteImageId: REMOTE, pairs: [["2000", "2100"]], type: "mmir", mode: "full" });
await site.waitForPairs(SERVED, ["2000:2100"], { timeoutMs: 60_000 });
const app = await restServer({ site, auth, imageId: SERVED });
await app.listen({ host: "127.0.0.1", port: 0 });
const { port } = app.server.address();
// Asynchronously: the server answers on this process's event loop.

const child = spawn("python3", [join(root, "scripts", "pyds8k-drive.py"), String(port), start.password, String(IDLE_MS / 1000 + 0.5)], {
  stdio: "inherit", env: { ...process.env, PYTHONPATH: checkout },
});
const code = await new Promise((resolve) => child.once("exit", (exitCode) => resolve(exitCode ?? 1)));
await app.close();
await site.close();
process.exit(code);
