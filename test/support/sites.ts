// The ways a test can reach a site: every golden script runs once through
// each, and must print the same. Each kind of site is put in front of an
// EmbeddedSite of this process (the engine a test may look beneath), so a
// remote site, through a Copy Services Server in this process, joins as one
// more entry here; its client may connect on its first call.
import type { Site } from "../../src/site/site.js";
import { EmbeddedSite, type EmbeddedSiteOptions } from "../../src/site/embedded.js";
import { SerializedSite } from "../../src/site/serialized.js";
import { remoteSiteOver } from "./shell-server.js";

export interface SiteFactory {
  name: string;
  over(engine: EmbeddedSite): Site; // closing the site it returns closes `engine` and whatever it started
}

export const SITE_FACTORIES: readonly SiteFactory[] = [
  { name: "embedded", over: (engine) => engine },
  // Every argument, result, error and event through a msgpackr encode and decode, as over a wire.
  { name: "serialized", over: (engine) => new SerializedSite(engine) },
  // A Copy Services Server's /cs/shell endpoint on a real fastify in this process, the client logged in as admin.
  { name: "remote", over: remoteSiteOver },
];

export async function makeSite(factory: SiteFactory, options: EmbeddedSiteOptions): Promise<Site> {
  return factory.over(new EmbeddedSite(options));
}
