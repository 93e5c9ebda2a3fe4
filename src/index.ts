// tzero as a library: storage images with FlashCopy, host I/O, and the
// reference model the engine is tested against.
export * from "./engine/index.js";
export { ReferenceImage } from "./model/reference.js";
export { TRACK_SIZE, BLOCK_SIZE, EXTENT_SIZE } from "./core/codes.js";
