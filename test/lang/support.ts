// Helpers for language tests: a session that records its output, a runner
// that returns the ScriptError instead of throwing, and a fingerprint of
// everything a command could change.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Session, type SessionOptions } from "../../src/lang/session.js";
import { EmbeddedSite } from "../../src/site/embedded.js";
import type { StorageImage } from "../../src/engine/image.js";
import { SITE_FACTORIES, type SiteFactory } from "../support/sites.js";
import { ScriptError } from "../../src/lang/errors.js";
import { fingerprint } from "../engine/support.js";

export interface Recorded {
  session: Session;
  lines: string[];
}

export const FIXED_NOW = new Date(Date.UTC(2026, 10, 25, 15, 4, 5));

// The embedded site beneath each session made here, whatever kind of site the session talks to.
const engines = new WeakMap<Session, EmbeddedSite>();

// A session on `factory`'s kind of site (default: embedded) over a fresh EmbeddedSite.
export function recordedSession(options: Partial<SessionOptions> = {}, factory: SiteFactory = SITE_FACTORIES[0]): Recorded {
  const lines: string[] = [];
  const engine = new EmbeddedSite({ workers: options.workers ?? 0 });
  const session = new Session({ write: (text) => lines.push(text), now: () => FIXED_NOW, ...options, site: factory.over(engine) });
  engines.set(session, engine);
  return { session, lines };
}

// Runs source text; returns the error it stopped with, or null.
export async function run(session: Session, source: string, file = "t.tzs"): Promise<ScriptError | null> {
  try {
    await session.runSource(source, file);
    return null;
  } catch (error) {
    if (error instanceof ScriptError) return error;
    throw error;
  }
}

export async function runOk(recorded: Recorded, source: string): Promise<string[]> {
  const start = recorded.lines.length;
  const error = await run(recorded.session, source);
  assert.is(error, null, error ? error.message : "");
  return recorded.lines.slice(start);
}

// The engine beneath a session's embedded site: what tests look at below the Site interface.
export function embeddedSite(session: Session): EmbeddedSite {
  const site = engines.get(session) ?? session.site;
  if (!(site instanceof EmbeddedSite)) throw new Error("the session's site is not an EmbeddedSite");
  return site;
}

export function currentEngineImage(session: Session): StorageImage {
  return embeddedSite(session).engineImage(session.currentImageId);
}

export async function sessionFingerprint(session: Session): Promise<string> {
  return JSON.stringify({
    images: embeddedSite(session).engineImages().map((image) => `${image.id}:${fingerprint(image)}`),
    settings: session.settings,
    current: session.currentImageId,
    workloads: (await session.site.listWorkloads()).map((workload) => `${workload.spec.name}/${workload.running}`),
  });
}

// A bad input a command must refuse: the error's code, words its message must
// hold, and the column of the culprit when the case names one.
export interface BadInputCase {
  source: string;
  code: string;
  mentions: string[];
  col?: number;
}

// One suite per test site: `setup` once, then every case of every command
// refused on line 2 with exit code 6, its code, a CMUN message of the command
// naming `mentions`, and nothing changed: the session's fingerprint, and what
// `unchanged` lists (when given) beyond it, are the same after as before.
export function badInputSuites(title: string, setup: string, cases: Readonly<Record<string, readonly BadInputCase[]>>, unchanged?: (recorded: Recorded) => Promise<string[]>): void {
  for (const factory of SITE_FACTORIES) {
    const Bad = suite(`${title} bad inputs (${factory.name} site)`);
    let recorded: Recorded;
    Bad.before(async () => {
      recorded = recordedSession({}, factory);
      const error = await run(recorded.session, setup, "setup.tzs");
      assert.is(error, null, error?.message);
    });
    Bad.after(() => recorded.session.close());
    for (const [command, list] of Object.entries(cases)) {
      for (const testCase of list) {
        Bad(`${command}: should refuse "${testCase.source}" with ${testCase.code} and change nothing`, async () => {
          const before = await sessionFingerprint(recorded.session);
          const listed = await unchanged?.(recorded);
          const error = await run(recorded.session, `\n${testCase.source}\n`, "case.tzs");
          assert.ok(error, "expected the command to fail");
          assert.is(error.exitCode, 6);
          assert.is(error.code, testCase.code, error.message);
          assert.match(error.reason, new RegExp(`^CMUN\\d{5}E ${command}: `));
          for (const mention of testCase.mentions) assert.ok(error.reason.includes(mention), `"${error.reason}" should name ${mention}`);
          assert.is(error.line, 2);
          if (testCase.col !== undefined) assert.is(error.col, testCase.col, "column of the culprit");
          assert.is(await sessionFingerprint(recorded.session), before, "a refused command must change nothing");
          if (unchanged !== undefined) assert.equal(await unchanged(recorded), listed, "nor what it lists");
        });
      }
    }
    Bad.run();
  }
}
