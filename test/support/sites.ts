// The ways a test can reach a site: every golden script runs once through
// each, and must print the same. A remote site (through a Copy Services
// Server) joins as one more entry here.
import type { Site } from "../../src/site/site.js";
import { EmbeddedSite, type EmbeddedSiteOptions } from "../../src/site/embedded.js";
import { SerializedSite } from "../../src/site/serialized.js";

// `make` may take its time (a remote site has a server to start and log in to); closing the
// site it returns ends whatever it started.
export interface SiteFactory {
  name: string;
  make(options: EmbeddedSiteOptions): Promise<Site>;
}

export const SITE_FACTORIES: readonly SiteFactory[] = [
  { name: "embedded", make: async (options) => new EmbeddedSite(options) },
  // Every argument, result, error and event through a msgpackr encode and decode, as over a wire.
  { name: "serialized", make: async (options) => new SerializedSite(new EmbeddedSite(options)) },
];
