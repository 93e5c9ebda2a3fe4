// Helpers for language tests: a session that records its output, a runner
// that returns the ScriptError instead of throwing, and a fingerprint of
// everything a command could change.
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
