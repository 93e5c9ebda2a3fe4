// The browser tests' world: a real `tzero serve` (two images, so PPRC runs
// between them) on a port that stays the same across restarts, Debian's
// Chromium driven by playwright-core, DS CLI shells (`tzero -hmc1`) against
// the same server, and screenshots kept as test artefacts.
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { findTool, type Tool } from "../support/tools.js";
import { MAIN, ServeSandbox, type ServeProcess } from "../support/serve-process.js";

export const CHROMIUM_PATH = "/usr/bin/chromium";
export const ARTIFACTS = join(process.cwd(), "test-artifacts", "console");
export const IMAGE_A = "IBM.2107-75SITEA";
export const IMAGE_B = "IBM.2107-75SITEB";
export const ADMIN_PASSWORD = "Console1pass";
// Generous bounds for waits on a shared, loaded machine: a wait ends as soon as its condition holds.
export const WAIT_MS = 20_000;

// Debian's chromium package, where the tests need it (never a browser that playwright would download).
export function findChromium(): Tool {
  const tool = findTool("chromium", "/usr/bin");
  return tool.path === CHROMIUM_PATH ? tool : { name: "chromium", path: null, missing: `${CHROMIUM_PATH} is missing (apt-get install chromium)` };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH, headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
  });
}

export interface CommandRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

// One tzero serve node hosting both images and the primary server, restartable on the same port and state.
export class ConsoleServer {
  readonly sandbox = new ServeSandbox();
  private process: ServeProcess | null = null;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  async start(): Promise<void> {
    writeFileSync(this.sandbox.path("admin.pw"), `${ADMIN_PASSWORD}\n`);
    const listen = this.port === 0 ? [] : ["--listen", `127.0.0.1:${this.port}`];
    this.process = this.sandbox.start("--image", IMAGE_A, "--image", IMAGE_B, "--state", this.sandbox.path("node.state"),
      "--server-state", this.sandbox.path("server"), "--admin-password-file", this.sandbox.path("admin.pw"), ...listen);
    const url = await this.process.listening();
    this.port = Number(new URL(url).port);
    await this.process.waitFor(/primary Copy Services Server/);
  }

  // SIGTERM: the node saves its images and the server its journal, as an administrator's restart would.
  async stop(): Promise<void> {
    await this.process?.stop();
    this.process = null;
  }

  // A DS CLI command (or -script FILE) through a remote shell on this server.
  shell(...args: string[]): Promise<CommandRun> {
    return dscli(this.sandbox.folder, this.port, ...args);
  }

  async script(name: string, lines: string[]): Promise<CommandRun> {
    const file = this.sandbox.path(name);
    writeFileSync(file, `${lines.join("\n")}\n`);
    return this.shell("-script", file);
  }

  get log(): string {
    return this.process?.log ?? "";
  }

  async close(): Promise<void> {
    await this.sandbox.close();
  }
}

// A DS CLI command through a remote shell on the server at 127.0.0.1:`port`, as admin.
export function dscli(folder: string, port: number, ...args: string[]): Promise<CommandRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, "-hmc1", `127.0.0.1:${port}`, "-user", "admin", "-passwd", ADMIN_PASSWORD, ...args],
      { cwd: folder, encoding: "utf8", timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        resolve({ status: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
      });
  });
}

export interface BrowserWorld {
  browser: Browser;
  page: Page;
  problems: string[];
}

// Chromium with one 1280×800 page whose errors and dialogs are kept (watchPage).
export async function openBrowser(): Promise<BrowserWorld> {
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(WAIT_MS);
  return { browser, page, problems: watchPage(page) };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

// What the page did that it should not have: script errors, alerts, console errors.
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("dialog", (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return problems;
}

export async function logIn(page: Page, url: string, password = ADMIN_PASSWORD): Promise<void> {
  await page.goto(url);
  await page.getByLabel("User").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

export async function openView(page: Page, route: string): Promise<void> {
  await page.getByRole("navigation", { name: "Views" }).getByRole("link", { name: route }).click();
}

// Opens an action's form, fills its fields by label (text, select or checkbox), and submits it.
export async function runAction(page: Page, button: string, fields: Record<string, string | boolean>, options: { confirm?: boolean } = {}): Promise<void> {
  // The button opens its form, or closes it when it is open already.
  const opener = page.getByRole("toolbar", { name: "Actions" }).getByRole("button", { name: button, exact: true });
  if (await opener.getAttribute("aria-expanded") !== "true") await opener.click();
  const form = page.getByRole("form", { name: button });
  for (const [label, value] of Object.entries(fields)) {
    const control = form.getByLabel(label, { exact: true });
    if (typeof value === "boolean") await control.setChecked(value);
    else if (await control.evaluate((element) => element.tagName === "SELECT")) await control.selectOption(value);
    else await control.fill(value);
  }
  await form.getByRole("button", { name: button, exact: true }).click();
  if (options.confirm) await page.getByRole("dialog", { name: "Confirm" }).getByRole("button", { name: "Confirm" }).click();
}

// The outcome of the action whose DS CLI command starts with `command`, once it shows.
export async function outcome(page: Page, command: string): Promise<{ text: string; failed: boolean }> {
  const box = page.locator(`.outcome[data-command^="${command}"]`).first();
  await box.waitFor({ timeout: WAIT_MS });
  return { text: await box.innerText(), failed: (await box.getAttribute("class"))!.includes("failed") };
}

export function rowOf(page: Page, table: string, key: string) {
  return page.locator(`table[aria-label="${table}"] tr[data-key="${key}"]`);
}

// Waits until `condition` holds in the page; on timeout the error carries what the page showed.
export async function waitInPage(page: Page, what: string, condition: (argument: string) => boolean, argument = "", timeoutMs = WAIT_MS): Promise<void> {
  try {
    await page.waitForFunction(condition, argument, { timeout: timeoutMs });
  } catch (error) {
    const shown = await page.locator("main").innerText().catch(() => "(no main)");
    throw new Error(`${what}: not within ${timeoutMs} ms (${(error as Error).message.split("\n")[0]}); the page showed:\n${shown.slice(0, 3000)}`);
  }
}

