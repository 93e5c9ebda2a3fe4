// The storage images of the site as the DS8000 REST API names them: a
// system ID is the image ID without its manufacturer ("2107-75TZ001"), and
// a path names its images by WWNN. PPRC requests name the other image of a
// pair or path so; these turn those names into the site's image IDs.
import type { ImageInfo } from "../../../site/types.js";
import type { RestContext } from "../context.js";
import { RestError } from "../errors.js";

// "IBM.2107-75TZ001" → "2107-75TZ001"
export const systemIdOf = (imageId: string): string => imageId.replace(/^IBM\./i, "");

export async function imageBySystemId(context: RestContext, systemId: string, field: string): Promise<ImageInfo> {
  const images = await context.site.listImages();
  const wanted = systemIdOf(systemId).toUpperCase();
  const found = images.find((image) => systemIdOf(image.id).toUpperCase() === wanted);
  if (found === undefined) {
    throw new RestError(404, "SYSTEM_NOT_FOUND", `${field}: there is no storage system ${systemId.slice(0, 64)} in this site (${images.map((image) => systemIdOf(image.id)).join(", ")})`, field);
  }
  return found;
}

export async function imageByWwnn(context: RestContext, wwnn: string, field: string): Promise<ImageInfo> {
  const images = await context.site.listImages();
  const found = images.find((image) => image.wwnn.toUpperCase() === wwnn.toUpperCase());
  if (found === undefined) {
    throw new RestError(404, "SYSTEM_NOT_FOUND", `${field}: no storage system of this site has WWNN ${wwnn.slice(0, 64)} (${images.map((image) => `${systemIdOf(image.id)} ${image.wwnn}`).join(", ")})`, field);
  }
  return found;
}

// The image a request names, or, when it names none, the one image of the site other than `imageId`.
export async function otherImage(context: RestContext, imageId: string, systemId: string | undefined, field: string): Promise<ImageInfo> {
  if (systemId !== undefined && systemId !== "") return imageBySystemId(context, systemId, field);
  const others = (await context.site.listImages()).filter((image) => image.id !== imageId);
  if (others.length === 1) return others[0];
  throw new RestError(400, "BAD_REQUEST", `${field} is required: this site has ${others.length} storage systems besides ${systemIdOf(imageId)}`, field);
}
