// The SiteError a call is refused with; any other outcome fails the test.
import { isSiteError, type SiteError } from "../../src/site/errors.js";

export async function refusal(call: Promise<unknown>): Promise<SiteError> {
  try {
    await call;
  } catch (error) {
    if (isSiteError(error)) return error;
    throw error;
  }
  throw new Error("expected a SiteError");
}
