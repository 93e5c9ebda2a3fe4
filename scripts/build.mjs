// Builds the WebAssembly core (release and debug), compiles the TypeScript
// (the browser console's sources in console/app among it), and lays out the
// console's static files in dist/console: its page, styles and the libraries
// it imports, copied from node_modules so that the server serves them itself.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = (script, args) => execFileSync(process.execPath, [join(root, script), ...args], { cwd: root, stdio: "inherit" });

// Each file the page's import map names (console/index.html), from its package,
// and each library's licence beside it (.txt: kept with the files, not served).
const CONSOLE_VENDOR = [
  ["preact/dist/preact.mjs", "preact/preact.mjs"],
  ["preact/hooks/dist/hooks.mjs", "preact/hooks.mjs"],
  ["preact/jsx-runtime/dist/jsxRuntime.mjs", "preact/jsx-runtime.mjs"],
  ["preact/LICENSE", "preact/LICENSE.txt"],
  ["uplot/dist/uPlot.esm.js", "uplot/uPlot.esm.js"],
  ["uplot/dist/uPlot.min.css", "uplot/uPlot.min.css"],
  ["uplot/LICENSE", "uplot/LICENSE.txt"],
];
const CONSOLE_FILES = ["index.html", "style.css"];

function layOutConsole() {
  const target = join(root, "dist", "console");
  rmSync(join(target, "vendor"), { recursive: true, force: true });
  for (const name of CONSOLE_FILES) {
    mkdirSync(target, { recursive: true });
    copyFileSync(join(root, "console", name), join(target, name));
  }
  for (const [from, to] of CONSOLE_VENDOR) {
    const destination = join(target, "vendor", to);
    mkdirSync(dirname(destination), { recursive: true });
    copyFileSync(join(root, "node_modules", from), destination);
  }
}

mkdirSync(join(root, "build"), { recursive: true });
for (const target of ["release", "debug"]) {
  run("node_modules/assemblyscript/bin/asc.js", ["--config", "asconfig.json", "--target", target]);
}
run("node_modules/typescript/bin/tsc", ["-p", "tsconfig.json"]);
layOutConsole();
