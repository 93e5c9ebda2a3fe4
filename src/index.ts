// tzero as a library: storage images with FlashCopy, host I/O, the site
// interface over them, and the reference model the engine is tested against.
export * from "./engine/index.js";
export { ReferenceImage } from "./model/reference.js";
export { TRACK_SIZE, BLOCK_SIZE, EXTENT_SIZE } from "./core/codes.js";
export { EmbeddedSite, SerializedSite, SiteError, isSiteError, EMBEDDED_IMAGE_ID } from "./site/index.js";
export type { Site, CallOptions, SiteEvent, SiteListener } from "./site/index.js";
