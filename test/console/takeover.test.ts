// The browser console across a takeover, in Debian's headless Chromium: the
// page is loaded from the primary A (its origin); A is killed with kill -9;
// the page shows the lost connection, then is live again from the backup B
// (another port, so another origin) with the same token and no new login,
// and a change made through a DS CLI shell on B shows in it. The site's
// servers let each other's pages in and nobody else's (CORS, the WebSocket's
// Origin), and the page's Content-Security-Policy names exactly them.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync } from "node:fs";
import WebSocket from "ws";
import { skipUnless } from "../support/tools.js";
import { ServeSandbox, type ServeProcess } from "../support/serve-process.js";
import {
  ADMIN_PASSWORD, dscli, findChromium, IMAGE_A, IMAGE_B, logIn, openBrowser, openView, screenshot, WAIT_MS, type BrowserWorld,
} from "./support.js";
import type { Page } from "playwright-core";

interface World extends BrowserWorld {
  sandbox: ServeSandbox;
  primary: ServeProcess;
  backup: ServeProcess;
}

const Takeover = skipUnless(suite<World>("console across a takeover in Chromium"), findChromium());
const FOREIGN_ORIGIN = "http://127.0.0.1:1";
const TAKEOVER_WAIT_MS = 60_000; // a bound for a loaded machine: the wait ends when the page is live

function port(process: ServeProcess): number {
  return Number(new URL(process.url).port);
}

function origin(process: ServeProcess): string {
  return new URL(process.url).origin;
}

// Waits for `selector`; on timeout the error carries what the page showed and logged (its failed connections).
async function shownOrExplained(page: Page, selector: string, said: readonly string[], timeoutMs = WAIT_MS): Promise<void> {
  try {
    await page.locator(selector).waitFor({ timeout: timeoutMs });
  } catch (error) {
    const shown = await page.locator("body").innerText().catch(() => "(nothing)");
    throw new Error(`${(error as Error).message.split("\n")[0]}; the page showed:\n${shown.slice(0, 3000)}\nand logged:\n${said.join("\n").slice(0, 3000)}`);
  }
}

Takeover.before(async (world) => {
  world.sandbox = new ServeSandbox();
  writeFileSync(world.sandbox.path("admin.pw"), `${ADMIN_PASSWORD}\n`);
  world.primary = world.sandbox.start("--image", IMAGE_A, "--server-state", world.sandbox.path("a.server"), "--admin-password-file", world.sandbox.path("admin.pw"));
  await world.primary.waitFor(/primary Copy Services Server, term 1/);
  world.backup = world.sandbox.start("--image", IMAGE_B, "--join", world.primary.url, "--backup",
    "--site-key-file", world.sandbox.path("a.server/site.key"), "--server-state", world.sandbox.path("b.server"));
  await world.primary.waitFor(/backup IBM\.2107-75SITEB in step/);
  await world.primary.waitFor(/node IBM\.2107-75SITEB joined/);
  Object.assign(world, await openBrowser());
});

Takeover.after(async (world) => {
  await world.browser?.close();
  await world.sandbox?.close();
});

Takeover.after.each((world) => {
  assert.equal(world.problems, [], "the page raised errors or dialogs");
});

Takeover("should let in the site's other server's page and refuse any other origin's", async ({ primary, backup }) => {
  const preflight = (from: string) => fetch(`${backup.url}/cs/console/run`, {
    method: "OPTIONS", headers: { origin: from, "access-control-request-method": "POST", "access-control-request-headers": "x-auth-token, content-type" },
  });
  const allowed = await preflight(origin(primary));
  assert.is(allowed.status, 204);
  assert.is(allowed.headers.get("access-control-allow-origin"), origin(primary));
  assert.match(allowed.headers.get("access-control-allow-headers") ?? "", /X-Auth-Token/i);
  const foreign = await preflight(FOREIGN_ORIGIN);
  assert.is(foreign.status, 403);
  assert.is(foreign.headers.get("access-control-allow-origin"), null);
  assert.match(((await foreign.json()) as { server: { code: string } }).server.code, /ORIGIN_REFUSED/);
  const policy = (await fetch(primary.url)).headers.get("content-security-policy") ?? "";
  assert.match(policy, new RegExp(`connect-src 'self' ${origin(primary)} ${origin(primary).replace("http", "ws")} ${origin(backup)} ${origin(backup).replace("http", "ws")};`));
  const handshake = await new Promise<string>((resolve) => {
    const socket = new WebSocket(`${backup.url.replace("http", "ws")}/cs/events`, { origin: FOREIGN_ORIGIN });
    socket.on("unexpected-response", (_request, response) => resolve(`HTTP ${response.statusCode}`));
    socket.on("open", () => resolve("opened"));
    socket.on("error", () => undefined);
  });
  assert.is(handshake, "HTTP 403");
});

Takeover("should show the lost connection when the primary is killed, then be live from the backup without a new login", async ({ page, primary, backup, sandbox }) => {
  const said: string[] = [];
  page.on("console", (message) => said.push(message.text()));
  await logIn(page, primary.url);
  await page.locator(".connection[data-state=open]").waitFor();
  await openView(page, "Volumes");
  // The page learns the site's servers once it is live; the backup is among them before the kill.
  await page.waitForFunction((other) => (sessionStorage.getItem("tzero.console.servers") ?? "").includes(other), origin(backup));
  primary.kill("SIGKILL");
  await page.locator(".connection[data-state=lost]").waitFor();
  await screenshot(page, "takeover-connection-lost");
  await backup.waitFor(/primary Copy Services Server, term 2/, 1, TAKEOVER_WAIT_MS);
  await shownOrExplained(page, `.connection[data-state=open][data-server="${origin(backup)}"]`, said, TAKEOVER_WAIT_MS);
  assert.not.ok(await page.getByRole("form", { name: "Log in" }).isVisible(), "the backup asked for a login again");
  assert.match(page.url(), new RegExp(`^${primary.url}/?#/volumes$`), "the page stays where it was loaded from");
  const made = await dscli(sandbox.folder, port(backup), "mkfbvol", "-dev", IMAGE_B, "-cap", "1", "-name", "afterTakeover", "1000");
  assert.is(made.status, 0, made.stderr);
  await shownOrExplained(page, `table[aria-label="Volumes"] tr[data-key="${IMAGE_B} 1000"]`, said);
  await screenshot(page, "takeover-live-on-backup");
});

Takeover.run();
