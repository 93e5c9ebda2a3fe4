// The browser console's static files: the page at / and its assets under
// /console/, served from the build without a token, with their content types
// and the page's Content-Security-Policy; nothing outside the console's
// folder, whatever the URL, and nothing but the page and its assets.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { consoleStatic, ConsoleStaticError, CONSOLE_ROOT_DEFAULT, contentSecurityPolicy, loadConsoleFiles } from "../../src/server/console-static.js";

const Static = suite<{ app: FastifyInstance }>("console static files");

Static.before(async (context) => {
  context.app = Fastify();
  await context.app.register(consoleStatic, {});
  await context.app.ready();
});
Static.after(async (context) => context.app.close());

Static("should serve the page at / as HTML with a policy allowing only its own scripts", async ({ app }) => {
  const reply = await app.inject({ method: "GET", url: "/" });
  assert.is(reply.statusCode, 200);
  assert.is(reply.headers["content-type"], "text/html; charset=utf-8");
  assert.match(reply.body, /<script type="importmap">/);
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(reply.body)![1];
  const hash = createHash("sha256").update(importMap).digest("base64");
  const policy = String(reply.headers["content-security-policy"]);
  assert.ok(policy.includes(`script-src 'self' 'sha256-${hash}'`), policy);
  assert.ok(policy.includes("default-src 'none'"), policy);
  assert.is(reply.headers["x-content-type-options"], "nosniff");
});

Static("should serve the console's scripts, styles and libraries with their content types", async ({ app }) => {
  const expected: Array<[string, string]> = [
    ["/console/app/main.js", "text/javascript; charset=utf-8"],
    ["/console/style.css", "text/css; charset=utf-8"],
    ["/console/vendor/preact/preact.mjs", "text/javascript; charset=utf-8"],
    ["/console/vendor/preact/hooks.mjs", "text/javascript; charset=utf-8"],
    ["/console/vendor/preact/jsx-runtime.mjs", "text/javascript; charset=utf-8"],
    ["/console/vendor/uplot/uPlot.esm.js", "text/javascript; charset=utf-8"],
    ["/console/vendor/uplot/uPlot.min.css", "text/css; charset=utf-8"],
  ];
  for (const [url, type] of expected) {
    const reply = await app.inject({ method: "GET", url });
    assert.is(reply.statusCode, 200, url);
    assert.is(reply.headers["content-type"], type, url);
    assert.ok(reply.body.length > 0, url);
  }
});

Static("should serve every file the page's import map names", async ({ app }) => {
  const page = (await app.inject({ method: "GET", url: "/" })).body;
  const importMap = JSON.parse(/<script type="importmap">([\s\S]*?)<\/script>/.exec(page)![1]) as { imports: Record<string, string> };
  for (const url of Object.values(importMap.imports)) assert.is((await app.inject({ method: "GET", url })).statusCode, 200, url);
});

Static("should answer 404 for every path that tries to leave the console's folder", async ({ app }) => {
  const tricks = [
    "/console/../package.json", "/console/%2e%2e/package.json", "/console/..%2fpackage.json", "/console/%2e%2e%2f%2e%2e%2fpackage.json",
    "/console/app/..%5c..%5c..%5cpackage.json", "/console//etc/passwd", "/console/%2Fetc%2Fpasswd", "/console/app/../../../../etc/passwd",
    "/console/app/main.d.ts", "/console/vendor/preact/LICENSE.txt", "/console/", "/console/app", "/console/nothing.js", "/index.html", "/package.json",
  ];
  for (const url of tricks) {
    const reply = await app.inject({ method: "GET", url });
    assert.ok(reply.statusCode === 404 || reply.statusCode === 400, `${url}: ${reply.statusCode}`);
    assert.not.match(reply.body, /"name": "tzero"|root:/, url);
  }
});

Static("should not need a token for the page or its assets", async ({ app }) => {
  for (const url of ["/", "/console/app/main.js", "/console/index.html"]) {
    assert.is((await app.inject({ method: "GET", url, headers: { "x-auth-token": "not-a-token" } })).statusCode, 200, url);
    assert.is((await app.inject({ method: "HEAD", url })).statusCode, 200, url);
  }
});

const Files = suite("console files table");

Files("should refuse a folder without the console's page, naming it and the fix", () => {
  const folder = mkdtempSync(join(tmpdir(), "tzero-console-"));
  try {
    assert.throws(() => loadConsoleFiles(join(folder, "missing")), (error: unknown) => error instanceof ConsoleStaticError && error.code === "NO_CONSOLE" && /npm run build/.test(error.message));
    assert.throws(() => loadConsoleFiles(folder), (error: unknown) => error instanceof ConsoleStaticError && error.code === "NO_CONSOLE" && /index\.html/.test(error.message));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

Files("should leave out symbolic links and files of types it does not serve", () => {
  const folder = mkdtempSync(join(tmpdir(), "tzero-console-"));
  try {
    writeFileSync(join(folder, "index.html"), "<!doctype html>");
    mkdirSync(join(folder, "app"));
    writeFileSync(join(folder, "app", "a.js"), "export {};");
    writeFileSync(join(folder, "app", "a.d.ts"), "export {};");
    writeFileSync(join(folder, "secret.key"), "key");
    symlinkSync(join(CONSOLE_ROOT_DEFAULT, "..", "..", "package.json"), join(folder, "package.json"));
    assert.equal([...loadConsoleFiles(folder).keys()].sort(), ["app/a.js", "index.html"]);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

Files("should hash each inline import map into the policy, and allow no inline script without one", () => {
  assert.ok(contentSecurityPolicy("<p>no scripts</p>").includes("script-src 'self';"));
  const policy = contentSecurityPolicy('<script type="importmap">{"imports":{}}</script>');
  assert.ok(policy.includes(`'sha256-${createHash("sha256").update('{"imports":{}}').digest("base64")}'`), policy);
});

Files("should let the page connect to its own server and the site's other servers, over HTTP and WebSocket, and nowhere else", () => {
  assert.ok(contentSecurityPolicy("<p></p>").includes("connect-src 'self';"));
  const policy = contentSecurityPolicy("<p></p>", ["http://127.0.0.1:8452", "https://backup.example:8453"]);
  assert.ok(policy.includes("connect-src 'self' http://127.0.0.1:8452 ws://127.0.0.1:8452 https://backup.example:8453 wss://backup.example:8453;"), policy);
  assert.not.ok(policy.includes("*"), policy);
});

Static.run();
Files.run();
