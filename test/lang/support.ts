// Helpers for language tests: a session that records its output, a runner
// that returns the ScriptError instead of throwing, and a fingerprint of
// everything a command could change.
import * as assert from "uvu/assert";
import { Session, type SessionOptions } from "../../src/lang/session.js";
import { EmbeddedSite } from "../../src/site/embedded.js";
import type { StorageImage } from "../../src/engine/image.js";
import { ScriptError } from "../../src/lang/errors.js";
import { fingerprint } from "../engine/support.js";

export interface Recorded {
  session: Session;
  lines: string[];
}

export const FIXED_NOW = new Date(Date.UTC(2026, 10, 25, 15, 4, 5));

export function recordedSession(options: Partial<SessionOptions> = {}): Recorded {
  const lines: string[] = [];
  const session = new Session({ write: (text) => lines.push(text), workers: 0, now: () => FIXED_NOW, ...options });
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
  const site = session.site;
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
