// Every example in examples/ runs through the real `tzero -script` and
// passes: exit code 0, and no error on standard error.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const root = process.cwd();
const main = join(root, "dist", "src", "cli", "main.js");
const examples = readdirSync(join(root, "examples")).filter((name) => name.endsWith(".tzs")).sort();

const Examples = suite("examples");

Examples("should have the four scenarios of the issue", () => {
  for (const name of ["backup.tzs", "data-mining.tzs", "incremental.tzs", "restrictions.tzs", "test-refresh.tzs"]) assert.ok(examples.includes(name), name);
});

for (const name of examples) {
  Examples(`should run examples/${name} with exit code 0`, () => {
    const result = spawnSync(process.execPath, [main, "-script", join("examples", name)], { cwd: root, encoding: "utf8", timeout: 120_000 });
    assert.is(result.stderr, "", result.stderr);
    assert.is(result.status, 0, `${name} exited with ${result.status}\n${result.stdout}`);
  });
}

Examples.run();
