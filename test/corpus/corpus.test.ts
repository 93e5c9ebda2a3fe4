// The DS CLI corpus (test/corpus/README.md): every NAME.cli runs on a fresh
// session whose current image is the 2107 IBM.2107-75KDR91, with NAME.profile
// applied first when there is one, and prints exactly NAME.out, through every
// kind of site (test/support/sites.ts).
// TZERO_UPDATE_GOLDEN=1 rewrites the .out files instead of comparing.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Session } from "../../src/lang/session.js";
import { ScriptError } from "../../src/lang/errors.js";
import { applyProfile, parseProfile } from "../../src/lang/profile.js";
import { SITE_FACTORIES, makeSite, type SiteFactory } from "../support/sites.js";

const folder = join(process.cwd(), "test", "corpus");
const IMAGE_ID = "IBM.2107-75KDR91";
const FIXED_NOW = new Date(Date.UTC(2026, 10, 25, 15, 4, 5));
// Creation and sync times come from the engine's clock, not the session's: they vary run to run.
const DS_DATE = /\b(Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{2} \d{2}:\d{2}:\d{2} UTC \d{4}\b/g;
const update = process.env.TZERO_UPDATE_GOLDEN === "1";
const scripts = readdirSync(folder).filter((name) => name.endsWith(".cli")).sort();

// Lines that are commands: neither blank nor comments.
export function commandLines(source: string): number {
  return source.split("\n").filter((line) => line.trim() !== "" && !line.trim().startsWith("#")).length;
}

async function runCorpus(name: string, factory: SiteFactory): Promise<string> {
  const lines: string[] = [];
  const site = await makeSite(factory, { workers: 0 });
  const session = new Session({ write: (text) => lines.push(text), site, now: () => FIXED_NOW, cwd: folder });
  try {
    await session.addImage("2107", IMAGE_ID);
    await session.selectImage(IMAGE_ID);
    const profile = join(folder, name.replace(/\.cli$/, ".profile"));
    if (existsSync(profile)) await applyProfile(session, parseProfile(readFileSync(profile, "utf8"), profile));
    try {
      await session.runSource(readFileSync(join(folder, name), "utf8"), name);
    } catch (error) {
      if (error instanceof ScriptError) assert.unreachable(`${name}:${error.line}:${error.col}: ${error.reason}`);
      throw error;
    }
  } finally {
    await session.close();
  }
  return `${lines.join("\n").replace(DS_DATE, "<date>")}\n`;
}

const Corpus = suite("DS CLI corpus");

Corpus("should have scripts in every style the corpus promises", () => {
  assert.ok(scripts.length >= 4, `${scripts.length} scripts`);
  const total = scripts.reduce((sum, name) => sum + commandLines(readFileSync(join(folder, name), "utf8")), 0);
  console.log(`  corpus: ${scripts.length} scripts, ${total} DS CLI lines`);
  assert.ok(total >= 100, `${total} lines`);
});

for (const name of scripts) {
  for (const factory of SITE_FACTORIES) {
    Corpus(`should print ${name.replace(/\.cli$/, ".out")} for ${name} on the ${factory.name} site`, async () => {
      const output = await runCorpus(name, factory);
      const golden = join(folder, name.replace(/\.cli$/, ".out"));
      // The golden file is written from the first kind of site; every other must match it.
      if (update && factory === SITE_FACTORIES[0]) {
        writeFileSync(golden, output);
        return;
      }
      assert.ok(existsSync(golden), `${golden} is missing; TZERO_UPDATE_GOLDEN=1 writes it`);
      assert.fixture(output, readFileSync(golden, "utf8"));
    });
  }
}

Corpus.run();
