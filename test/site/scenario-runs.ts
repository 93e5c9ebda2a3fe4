// The scenarios of examples/ run in this process on every kind of site
// (test/support/sites.ts) and must pass there and print the same. One test
// file per kind of site (scenarios-KIND.test.ts) runs every example on its
// kind and compares what it printed with what the first kind, embedded,
// prints in the same file: each file stays well under the test runner's
// limit, and the files can run in parallel. Background copies and workloads
// run on real worker threads, so what they measure (progress lines, rates,
// latencies, how far a copy got) varies run to run: those figures are
// masked, everything else is compared as printed.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Session } from "../../src/lang/session.js";
import { ScriptError } from "../../src/lang/errors.js";
import { SITE_FACTORIES, makeSite, type SiteFactory } from "../support/sites.js";

const folder = join(process.cwd(), "examples");
export const SCENARIO_SCRIPTS = readdirSync(folder).filter((name) => name.endsWith(".tzs")).sort();
const FIXED_NOW = new Date(Date.UTC(2026, 10, 25, 15, 4, 5));
const WORKERS = 2;
const REFERENCE = SITE_FACTORIES[0];

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

export function siteFactory(kind: string): SiteFactory {
  const factory = SITE_FACTORIES.find((candidate) => candidate.name === kind);
  if (factory === undefined) throw new Error(`no kind of site is named ${kind} (test/support/sites.ts has ${SITE_FACTORIES.map((known) => known.name).join(", ")})`);
  return factory;
}

// Every example on the `kind` site: it passes, prints something, and (past the first kind) prints as the first kind does.
export function scenarioSuite(kind: string): ReturnType<typeof suite> {
  const factory = siteFactory(kind);
  const Scenarios = suite(`scenarios on the ${kind} site`);
  for (const name of SCENARIO_SCRIPTS) {
    const alike = factory === REFERENCE ? "" : ` as on the ${REFERENCE.name} site`;
    Scenarios(`should run examples/${name}${alike}`, async () => {
      const output = comparable(await runScenario(name, factory));
      assert.ok(output.length > 0, `${name} printed nothing on the ${kind} site`);
      if (factory !== REFERENCE) assert.equal(output, comparable(await runScenario(name, REFERENCE)), `${kind} differs from ${REFERENCE.name}`);
    });
  }
  return Scenarios;
}
