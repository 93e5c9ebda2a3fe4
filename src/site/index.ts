// The site layer (design.md §6): one async interface to a site's Copy
// Services and its implementations.
export type { Site, CallOptions } from "./site.js";
export type * from "./types.js";
export { SiteError, isSiteError, type SiteErrorData } from "./errors.js";
export { EmbeddedSite, EMBEDDED_IMAGE_ID, type EmbeddedSiteOptions } from "./embedded.js";
export { SerializedSite } from "./serialized.js";
export {
  siteMessageSpecs, checkArguments, checkResult, checkEvent, SITE_METHODS, SITE_METHOD_NAMES, LONG_CALL_TIMEOUT_MS, REPLY_SLACK_MS,
  type SiteMessageSpecs, type SiteMethod, type SiteMethodSpec,
} from "./protocol.js";
export { serveSite, EARLY_CANCELS_MAX, type ServeSiteOptions, type SiteCall } from "./protocol-server.js";
export { ConnectedSite, siteErrorOf, CALL_TIMEOUT_MS_DEFAULT, CANCEL_WAIT_MS_DEFAULT, type ConnectedSiteOptions } from "./protocol-client.js";
