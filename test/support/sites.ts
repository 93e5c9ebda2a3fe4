// The ways a test can reach a site: every golden script runs once through
// each, and must print the same. A remote site (through a Copy Services
// Server) joins as one more entry here.
import type { Site } from "../../src/site/site.js";
import { EmbeddedSite, type EmbeddedSiteOptions } from "../../src/site/embedded.js";
import { SerializedSite } from "../../src/site/serialized.js";

export interface SiteFactory {
  name: string;
  make(options: EmbeddedSiteOptions): Site;
}

export const SITE_FACTORIES: readonly SiteFactory[] = [
  { name: "embedded", make: (options) => new EmbeddedSite(options) },
  // Every argument, result, error and event through a msgpackr encode and decode, as over a wire.
  { name: "serialized", make: (options) => new SerializedSite(new EmbeddedSite(options)) },
];
