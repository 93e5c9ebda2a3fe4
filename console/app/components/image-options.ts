// The image choices of a form: the site's images, the first as the default.
import type { ConsoleState } from "../store.js";

export const imageIds = (state: ConsoleState): string[] => state.images.map((image) => image.id);
