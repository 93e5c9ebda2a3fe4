// The scenarios of examples/ run in this process on every kind of site
// (test/support/sites.ts) and must pass there and print the same. Their
// background copies and workloads run on real worker threads, so what they
// measure (progress lines, rates, latencies, how far a copy got) varies run
// to run: those figures are masked, everything else is compared as printed.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Session } from "../../src/lang/session.js";
import { ScriptError } from "../../src/lang/errors.js";
import { SITE_FACTORIES, makeSite, type SiteFactory } from "../support/sites.js";

const folder = join(process.cwd(), "examples");
const scripts = readdirSync(folder).filter((name) => name.endsWith(".tzs")).sort();
const FIXED_NOW = new Date(Date.UTC(2026, 10, 25, 15, 4, 5));
const WORKERS = 2;

// A progress view's lines: how many there are depends on how fast the copy runs.
const PROGRESS_LINE = /^[0-9A-F]{4}:[0-9A-F]{4} (background copy( complete$|: | held: )|Copy Pending( held)?: |copy complete \(|is no longer a PPRC pair$)/;
// Lines that report what was measured: workload figures, lsworkload rows, a copy's tracks left.
const MEASURED_LINE = /IOPS|tracks still shared|^\w+\s+[0-9A-F]{4}\s+(read|write|mixed)\s/;

export function comparable(lines: readonly string[]): string[] {
  return lines
    .filter((line) => !PROGRESS_LINE.test(line))
    .map((line) => (MEASURED_LINE.test(line) ? line.replace(/\d+(\.\d+)?/g, "#") : line))
    .map((line) => line.replace(/=+/g, "=").replace(/\s+/g, " "));
}

async function runScenario(name: string, factory: SiteFactory): Promise<string[]> {
  const lines: string[] = [];
  const session = new Session({ write: (text) => lines.push(text), site: await makeSite(factory, { workers: WORKERS }), now: () => FIXED_NOW, cwd: folder });
  try {
    await session.runSource(readFileSync(join(folder, name), "utf8"), name);
  } catch (error) {
    if (error instanceof ScriptError) assert.unreachable(`${factory.name}: ${name}:${error.line}:${error.col}: ${error.reason}`);
    throw error;
  } finally {
    await session.close();
  }
  return lines;
}

const Scenarios = suite("scenarios on every kind of site");

Scenarios("should mask only measured figures and progress lines", () => {
  assert.equal(comparable(["1000:2000 Copy Pending: 12 tracks out of sync, 4 sent", "1000:2000 copy complete (Full Duplex)"]), []);
  assert.equal(comparable(["1000:1001 background copy: 3 of 4 tracks left", "CMUC00137I mkflash: FlashCopy pair 1000:1001 successfully created."]),
    ["CMUC00137I mkflash: FlashCopy pair 1000:1001 successfully created."]);
  assert.equal(comparable(["workload w on 1000: 12 IOPS, 1.5 MB/s"]), ["workload w on #: # IOPS, # MB/s"]);
});

for (const name of scripts) {
  Scenarios(`should run examples/${name} alike on ${SITE_FACTORIES.map((factory) => factory.name).join(" and ")} sites`, async () => {
    const outputs: string[][] = [];
    for (const factory of SITE_FACTORIES) outputs.push(comparable(await runScenario(name, factory)));
    assert.ok(outputs[0].length > 0, `${name} printed nothing`);
    for (const [index, output] of outputs.entries()) assert.equal(output, outputs[0], `${SITE_FACTORIES[index].name} differs from ${SITE_FACTORIES[0].name}`);
  });
}

Scenarios.run();
