// The browser console end to end, in Debian's headless Chromium against a
// real `tzero serve` hosting two images (issue 14's list): log in; create
// volumes; FlashCopy to 100% and out of the table; a refused establish shows
// the rule; a DS CLI shell's change shows live; a PPRC pair to Full Duplex
// and suspended; a task runs with its output; names are text; requests
// without a token are refused; 4,000 volumes and 1,000 relationships render
// in a bounded DOM (the time printed); keyboard and a narrow window; the page
// reconnects after the server restarts. Each view's screenshot goes to
// test-artifacts/console/. The tests run in order on one server and one page.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import WebSocket from "ws";
import type { Page } from "playwright-core";
import { skipUnless } from "../support/tools.js";
import {
  ConsoleServer, findChromium, IMAGE_A, IMAGE_B, logIn, openBrowser, openView, outcome, rowOf, runAction, screenshot, waitInPage, WAIT_MS, type BrowserWorld,
} from "./support.js";

interface World extends BrowserWorld {
  server: ConsoleServer;
}

const Console = skipUnless(suite<World>("console in Chromium"), findChromium());
// 64 MiB volumes (1,024 tracks): a copy has data to move, and the machine's memory is shared.
const CAP_BLOCKS = "131072";
const XSS_NAME = "<svg onload=f()>"; // DS CLI names have at most 16 characters
const XSS_TEXT = "<img src=x onerror=alert(1)>";

Console.before(async (world) => {
  world.server = new ConsoleServer();
  await world.server.start();
  Object.assign(world, await openBrowser());
  // Markup run as HTML would call these: the tests check they never are.
  await world.page.addInitScript(() => {
    const marks = window as unknown as { f: () => void; alert: (text: string) => void; injected: string[] };
    marks.injected = [];
    marks.f = () => marks.injected.push("f()");
    marks.alert = (text) => marks.injected.push(`alert(${text})`);
  });
});

Console.after(async (world) => {
  await world.browser?.close();
  await world.server?.close();
});

Console.after.each((world) => {
  assert.equal(world.problems, [], "the page raised errors or dialogs");
});

Console("should refuse console requests without a valid token, and serve only the page without one", async ({ server }) => {
  for (const token of [undefined, "not-a-token"]) {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token !== undefined) headers["x-auth-token"] = token;
    const run = await fetch(`${server.url}cs/console/run`, { method: "POST", headers, body: JSON.stringify({ command: "lsfbvol" }) });
    assert.is(run.status, 401, `run with ${token}`);
    const body = await run.json() as { server: { status: string } };
    assert.is(body.server.status, "failed");
    for (const path of ["cs/console/events", "cs/console/tasks", "api/v1/volumes"]) {
      assert.is((await fetch(`${server.url}${path}`, { headers })).status, 401, `${path} with ${token}`);
    }
  }
  const code = await new Promise<number>((resolve) => {
    const socket = new WebSocket(`${server.url.replace("http", "ws")}cs/events`);
    socket.on("open", () => socket.send(JSON.stringify({ type: "auth", token: "not-a-token" })));
    socket.on("close", (closeCode) => resolve(closeCode));
    socket.on("error", () => undefined);
  });
  assert.is(code, 4401);
  assert.is((await fetch(server.url)).status, 200);
});

Console("should refuse a wrong password, then log in and show both storage images", async ({ page, server }) => {
  await logIn(page, server.url, "Wrong1password");
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").innerText(), /password|authentication/i);
  await logIn(page, server.url);
  await rowOf(page, "Storage images", IMAGE_B).waitFor();
  assert.match(await rowOf(page, "Storage images", IMAGE_A).innerText(), /2107/);
  await page.locator(".connection[data-state=open]").waitFor();
  await screenshot(page, "login-images");
});

Console("should create two volumes from the console and list them", async ({ page }) => {
  await openView(page, "Volumes");
  await runAction(page, "Create volumes", { "Storage image": IMAGE_A, "Volume IDs": "1000-1001", Capacity: CAP_BLOCKS, Unit: "blocks", Name: "prod" });
  const made = await outcome(page, "mkfbvol");
  assert.not.ok(made.failed, made.text);
  assert.match(made.text, /CMUC00025I mkfbvol: FB volume 1000 successfully created/);
  await rowOf(page, "Volumes", `${IMAGE_A} 1001`).waitFor();
  assert.match(await rowOf(page, "Volumes", `${IMAGE_A} 1000`).innerText(), /prod[\s\S]*64\.0 MiB[\s\S]*Normal/);
});

Console("should show a name holding markup as text, never as HTML", async ({ page }) => {
  await runAction(page, "Create volumes", { "Storage image": IMAGE_A, "Volume IDs": "1002-1003", Capacity: CAP_BLOCKS, Unit: "blocks", Name: XSS_NAME });
  assert.not.ok((await outcome(page, "mkfbvol")).failed);
  const row = rowOf(page, "Volumes", `${IMAGE_A} 1002`);
  await row.waitFor();
  assert.is(await row.locator("td").nth(1).textContent(), XSS_NAME);
  assert.is(await page.locator("main svg").count(), 0);
  assert.equal(await page.evaluate(() => (window as unknown as { injected: string[] }).injected), []);
  await screenshot(page, "volumes");
});

Console("should show the rule and the pair when an establish is refused", async ({ page, server }) => {
  await openView(page, "FlashCopy");
  await runAction(page, "Establish FlashCopy", { "Storage image": IMAGE_A, "Source:target pairs": "1000:1001", "No background copy (-nocp)": true });
  assert.not.ok((await outcome(page, "mkflash")).failed);
  // Model 2107: a target cannot be a source too.
  await runAction(page, "Establish FlashCopy", { "Storage image": IMAGE_A, "Source:target pairs": "1001:1002" });
  const refused = await outcome(page, "mkflash");
  assert.ok(refused.failed, refused.text);
  assert.match(refused.text, /CMUN\d+E mkflash: .*1001/);
  const shell = await server.shell("lsflash", "-bnr", "off", "-dev", IMAGE_A, "1001");
  assert.not.match(shell.stdout, /1001:1002/, "the refused pair must not exist");
  await runAction(page, "Withdraw FlashCopy", { "Storage image": IMAGE_A, "Source:target pairs": "1000:1001" }, { confirm: true });
  assert.not.ok((await outcome(page, "rmflash")).failed);
  await rowOf(page, "FlashCopy relationships", `${IMAGE_A} 1000:1001`).waitFor({ state: "detached" });
});

Console("should move a FlashCopy's bar to 100%, and see a copy that ends leave the table", async ({ page, server }) => {
  const fill = await server.shell("fill", "1000", "-dev", IMAGE_A, "-pattern", "random", "-seed", "7");
  assert.is(fill.status, 0, fill.stderr);
  // Persistent: the relationship stays once copied, so its bar can be seen at 100%.
  await runAction(page, "Establish FlashCopy", { "Storage image": IMAGE_A, "Source:target pairs": "1000:1001", "Persistent (-persist)": true });
  assert.not.ok((await outcome(page, "mkflash")).failed);
  const bar = page.getByRole("progressbar", { name: "1000:1001 copied" });
  await waitInPage(page, "the bar of 1000:1001 at 100%", () => document.querySelector('[aria-label="1000:1001 copied"]')?.getAttribute("aria-valuenow") === "100");
  assert.is(await bar.getAttribute("aria-valuenow"), "100");
  assert.match(await rowOf(page, "FlashCopy relationships", `${IMAGE_A} 1000:1001`).innerText(), /persist/);
  await runAction(page, "Establish FlashCopy", { "Storage image": IMAGE_A, "Source:target pairs": "1002:1003", "No background copy (-nocp)": true });
  await rowOf(page, "FlashCopy relationships", `${IMAGE_A} 1002:1003`).waitFor();
  await screenshot(page, "flashcopy");
  // Withdrawn after its copy: it leaves the table.
  await runAction(page, "Withdraw FlashCopy", { "Storage image": IMAGE_A, "Source:target pairs": "1000:1001" }, { confirm: true });
  await rowOf(page, "FlashCopy relationships", `${IMAGE_A} 1000:1001`).waitFor({ state: "detached" });
  // Not persistent: it ends by itself once copied, and the table follows without a click.
  await runAction(page, "Establish FlashCopy", { "Storage image": IMAGE_A, "Source:target pairs": "1000:1001" });
  assert.not.ok((await outcome(page, "mkflash")).failed);
  await waitInPage(page, "1000:1001 gone from the table", () => document.querySelector('tr[data-key$=" 1000:1001"]') === null);
  const listed = await server.shell("lsflash", "-bnr", "off", "-dev", IMAGE_A, "1000");
  assert.not.match(listed.stdout, /1000:1001/);
});

Console("should show a change made through a DS CLI shell without a reload", async ({ page, server }) => {
  await openView(page, "Volumes");
  await page.evaluate(() => { (window as unknown as { marker: boolean }).marker = true; });
  const made = await server.shell("mkfbvol", "-dev", IMAGE_A, "-cap", "1", "-name", "fromshell", "1010");
  assert.is(made.status, 0, made.stderr);
  const madeAt = Date.now();
  await rowOf(page, "Volumes", `${IMAGE_A} 1010`).waitFor();
  console.log(`# a volume made by a DS CLI shell showed in the open page ${Date.now() - madeAt} ms after the shell finished`);
  assert.ok(await page.evaluate(() => (window as unknown as { marker?: boolean }).marker === true), "the page was reloaded");
});

Console("should make a path and a Metro Mirror pair to Full Duplex, then suspend it", async ({ page, server }) => {
  await runAction(page, "Create volumes", { "Storage image": IMAGE_B, "Volume IDs": "2000", Capacity: CAP_BLOCKS, Unit: "blocks", Name: "mirror" });
  assert.not.ok((await outcome(page, "mkfbvol")).failed);
  await openView(page, "Paths and ports");
  await runAction(page, "Make path", { "Storage image": IMAGE_A, "Remote storage image": IMAGE_B, "Source LSS": "10", "Target LSS": "20", "Port pairs": "I0010:I0143" });
  const path = await outcome(page, "mkpprcpath");
  assert.not.ok(path.failed, path.text);
  await rowOf(page, "PPRC paths", `${IMAGE_A} 10:20`).waitFor();
  assert.match(await rowOf(page, "PPRC paths", `${IMAGE_A} 10:20`).innerText(), /Success[\s\S]*I0010:I0143/);
  await openView(page, "Mirroring");
  // Every state the pair's row shows, as it shows them.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { pairStates: string[] }).pairStates = seen;
    const record = () => {
      const cell = document.querySelector(`tr[data-key$=" 1000:2000"] td:nth-child(4)`);
      if (cell !== null && seen[seen.length - 1] !== cell.textContent) seen.push(cell.textContent ?? "");
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await runAction(page, "Make pairs", { "Storage image": IMAGE_A, "Remote storage image": IMAGE_B, "Primary:secondary pairs": "1000:2000", Type: "mmir", "Initial copy": "full" });
  const pair = await outcome(page, "mkpprc");
  assert.not.ok(pair.failed, pair.text);
  assert.match(pair.text, /CMUC00153I mkpprc: Remote Mirror and Copy volume pair relationship 1000:2000 successfully created/);
  const row = rowOf(page, "PPRC pairs", `${IMAGE_A} 1000:2000`);
  await waitInPage(page, "1000:2000 in Full Duplex", (key) => /Full Duplex/.test(document.querySelector(`tr[data-key="${key}"]`)?.textContent ?? ""), `${IMAGE_A} 1000:2000`);
  const states = await page.evaluate(() => (window as unknown as { pairStates: string[] }).pairStates);
  console.log(`# the pair's states as the page showed them: ${states.join(" → ")}`);
  assert.is(states[states.length - 1], "Full Duplex");
  assert.ok(states.every((state) => state === "Copy Pending" || state === "Full Duplex"), states.join(", "));
  await screenshot(page, "mirroring");
  await row.click();
  await runAction(page, "Suspend", { "Storage image": IMAGE_A, "Remote storage image": IMAGE_B, "Primary:secondary pairs": "1000:2000" });
  assert.match((await outcome(page, "pausepprc")).text, /CMUC00157I pausepprc/);
  await waitInPage(page, "1000:2000 suspended", (key) => /Suspended[\s\S]*Host Source/.test(document.querySelector(`tr[data-key="${key}"]`)?.textContent ?? ""), `${IMAGE_A} 1000:2000`);
  const listed = await server.shell("lspprc", "-bnr", "off", "-fmt", "delim", "-dev", IMAGE_A, "1000:2000");
  assert.match(listed.stdout, /1000:2000,Suspended,Host Source/);
  await openView(page, "Paths and ports");
  await screenshot(page, "paths");
});

Console("should save a task, run it with its output shown live, and keep its exit status", async ({ page }) => {
  await openView(page, "Tasks");
  await page.getByLabel("Name", { exact: true }).fill("two-volumes");
  await page.getByLabel("Kind").selectOption("actions");
  await page.getByLabel("Lines").fill(`mkfbvol -dev ${IMAGE_A} -cap 1 -name fromtask 1020-1021\n# ${XSS_TEXT}\nlsfbvol -dev ${IMAGE_A} -bnr off 1020-1021`);
  await page.getByRole("button", { name: "Save task" }).click();
  await rowOf(page, "Tasks", "two-volumes").waitFor();
  await page.getByRole("button", { name: "Run two-volumes" }).click();
  const output = page.getByRole("region", { name: "Task output" }).locator("pre");
  await waitInPage(page, "the task's run finished with exit code 0", () => document.querySelector('[aria-label="Task output"] pre')?.getAttribute("data-exit-code") === "0");
  assert.match(await output.innerText(), /CMUC00025I mkfbvol: FB volume 1020 successfully created/);
  assert.match(await output.innerText(), /fromtask/);
  await page.locator('table[aria-label="Task history"] tbody tr:not(.spacer)').first().waitFor();
  assert.match(await page.locator('table[aria-label="Task history"]').innerText(), /two-volumes[\s\S]*0[\s\S]*admin/);
  await rowOf(page, "Tasks", "two-volumes").click();
  assert.ok((await page.getByLabel("Lines").inputValue()).includes(XSS_TEXT));
  assert.is(await page.locator("main img").count(), 0);
  await screenshot(page, "tasks");
});

Console("should log who changed what and from where", async ({ page }) => {
  await openView(page, "Event log");
  const events = page.locator('table[aria-label="Events"]');
  await waitInPage(page, "events from the console and a shell", () => /PPRC pair 1000:2000 made/.test(document.querySelector('table[aria-label="Events"]')?.textContent ?? ""));
  const text = await events.innerText();
  assert.match(text, /volume 1010 created\s+admin\s+(shell|script)/);
  assert.match(text, /PPRC pair 1000:2000 made[^\n]*\s+admin\s+console/);
  assert.match(text, /\t-\tserver$/m, "no event the server made by itself (a node joining, a pair reaching Full Duplex)");
  await screenshot(page, "events");
  await openView(page, "Throughput");
  await page.locator(".chart canvas").waitFor();
  await screenshot(page, "throughput");
});

Console("should move through the views and rows with the keyboard, and fit a narrow window", async ({ page }) => {
  await openView(page, "Volumes");
  const table = page.getByRole("region", { name: "Volumes" });
  await table.focus();
  await page.keyboard.press("Home");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await page.getByRole("region", { name: /^Volume 1001/ }).waitFor();
  await page.getByRole("link", { name: "FlashCopy" }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "FlashCopy" }).waitFor();
  await page.setViewportSize({ width: 420, height: 800 });
  await openView(page, "Volumes");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow} px wider than a 420 px window`);
  await screenshot(page, "volumes-narrow");
  await page.setViewportSize({ width: 1280, height: 800 });
});

Console("should render 4,000 volumes and 1,000 relationships in a bounded number of rows", async ({ page, server }) => {
  // 16 LSSs of 250 volumes, and 1,000 -nocp relationships among them.
  const lines: string[] = [];
  for (let lss = 0x30; lss < 0x40; lss++) lines.push(`mkfbvol -dev ${IMAGE_A} -cap 1 -name bulk ${lss.toString(16).toUpperCase()}00-${lss.toString(16).toUpperCase()}F9`);
  for (let lss = 0x30; lss < 0x34; lss++) {
    const l = lss.toString(16).toUpperCase();
    const pairs = Array.from({ length: 125 }, (_, index) => `${l}${index.toString(16).padStart(2, "0").toUpperCase()}:${l}${(index + 125).toString(16).padStart(2, "0").toUpperCase()}`);
    lines.push(`mkflash -dev ${IMAGE_A} -nocp ${pairs.join(" ")}`);
    const more = Array.from({ length: 125 }, (_, index) => `${(lss + 4).toString(16).toUpperCase()}${index.toString(16).padStart(2, "0").toUpperCase()}:${(lss + 4).toString(16).toUpperCase()}${(index + 125).toString(16).padStart(2, "0").toUpperCase()}`);
    lines.push(`mkflash -dev ${IMAGE_A} -nocp ${more.join(" ")}`);
  }
  const made = await server.script("bulk.tzs", lines);
  assert.is(made.status, 0, made.stderr.slice(0, 2000));
  await openView(page, "Storage images");
  await waitInPage(page, "4,000 volumes on the image", () => Number(document.querySelector('table[aria-label="Storage images"] tbody tr td:nth-child(5)')?.textContent) >= 4000, "", 60_000);
  const volumes = await renderTime(page, "Volumes", 4000);
  const flash = await renderTime(page, "FlashCopy relationships", 1000);
  console.log(`# render of the Volumes view with ${volumes.rows} volumes: ${volumes.ms.toFixed(0)} ms; of the FlashCopy view with ${flash.rows} relationships: ${flash.ms.toFixed(0)} ms`);
  await page.getByRole("link", { name: "Volumes" }).click();
  await page.locator('table[aria-label="Volumes"]').waitFor();
  const rowsInDom = await page.locator('table[aria-label="Volumes"] tbody tr').count();
  assert.ok(rowsInDom < 100, `${rowsInDom} rows in the DOM for a table of 4,000`);
  // Scrolled to the end, the last volume is drawn.
  await page.locator('[role=region][aria-label="Volumes"]').evaluate((box) => { box.scrollTop = box.scrollHeight; });
  await rowOf(page, "Volumes", `${IMAGE_A} 3FF9`).waitFor();
});

Console("should show a lost connection and come back live after the server restarts", async ({ page, server }) => {
  await openView(page, "Volumes");
  await server.stop();
  await page.locator(".connection[data-state=lost]").waitFor();
  await screenshot(page, "connection-lost");
  await server.start();
  // Sessions are journaled: the restarted server knows the page's token, so there is no login again.
  await page.locator(".connection[data-state=open]").waitFor({ timeout: 60_000 });
  assert.not.ok(await page.getByRole("form", { name: "Log in" }).isVisible(), "the restarted server asked for a login again");
  assert.match(page.url(), /#\/volumes$/);
  // The view kept its place (scrolled to the end of 4,000 volumes by an earlier test): back to the top, where 1030 goes.
  await page.locator('[role=region][aria-label="Volumes"]').evaluate((box) => { box.scrollTop = 0; });
  const made = await server.shell("mkfbvol", "-dev", IMAGE_A, "-cap", "1", "-name", "after", "1030");
  assert.is(made.status, 0, made.stderr);
  await rowOf(page, "Volumes", `${IMAGE_A} 1030`).waitFor();
});

// From the click on the view's link until its table holds `rows` rows and the browser has painted.
async function renderTime(page: Page, table: string, rows: number): Promise<{ ms: number; rows: number }> {
  const link = table === "Volumes" ? "Volumes" : "FlashCopy";
  await openView(page, "Event log");
  return page.evaluate(async ({ link, table, rows }) => {
    const anchor = Array.from(document.querySelectorAll("nav a")).find((element) => element.textContent === link) as HTMLAnchorElement;
    const started = performance.now();
    anchor.click();
    const shown = await new Promise<number>((resolve) => {
      const check = () => {
        const found = document.querySelector(`table[aria-label="${table}"]`);
        const count = Number(found?.getAttribute("data-rows") ?? 0);
        if (count >= rows) requestAnimationFrame(() => resolve(count));
        else requestAnimationFrame(check);
      };
      check();
    });
    return { ms: performance.now() - started, rows: shown };
  }, { link, table, rows });
}

Console.run();
