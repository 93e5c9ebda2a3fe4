// Builds the WebAssembly core (release and debug) and compiles the TypeScript.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = (script, args) => execFileSync(process.execPath, [join(root, script), ...args], { cwd: root, stdio: "inherit" });

mkdirSync(join(root, "build"), { recursive: true });
for (const target of ["release", "debug"]) {
  run("node_modules/assemblyscript/bin/asc.js", ["--config", "asconfig.json", "--target", target]);
}
run("node_modules/typescript/bin/tsc", ["-p", "tsconfig.json"]);
