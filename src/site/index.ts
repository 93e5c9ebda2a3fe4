// The site layer (design.md §6): one async interface to a site's Copy
// Services and its implementations.
export type { Site, CallOptions } from "./site.js";
export type * from "./types.js";
export { SiteError, isSiteError, type SiteErrorData } from "./errors.js";
export { EmbeddedSite, EMBEDDED_IMAGE_ID, type EmbeddedSiteOptions } from "./embedded.js";
export { SerializedSite } from "./serialized.js";
