// DS CLI profiles: the keys that take effect, those accepted without effect,
// and a clear error naming the file and line for anything else.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { applyProfile, parseProfile } from "../../src/lang/profile.js";
import { CommandFailure } from "../../src/lang/values.js";
import { recordedSession, runOk } from "./support.js";

const Profiles = suite("DS CLI profiles");

function refusal(text: string): CommandFailure {
  try {
    parseProfile(text, "my.profile");
  } catch (error) {
    if (error instanceof CommandFailure) return error;
    throw error;
  }
  throw new Error("the profile should have been refused");
}

Profiles("should read the output keys and the device, ignoring comments and the HMC keys", () => {
  const profile = parseProfile("# site A\nhmc1: 10.0.0.1\nusername: admin\ndevid: IBM.2107-75KDR91\nformat: Delim\ndelim: |\nbanner: off\nheader: on\nfullid: on\npaging: off\n", "a.profile");
  assert.equal(profile, { devid: "IBM.2107-75KDR91", format: "delim", delim: "|", banner: false, header: true, fullid: true });
});

Profiles("should refuse unknown keys and bad values, naming the file and line", () => {
  const unknown = refusal("format: delim\ncolour: red\n");
  assert.is(unknown.code, "BAD_PROFILE");
  assert.match(unknown.message, /^profile my\.profile:2: unknown key colour/);
  assert.match(refusal("banner: maybe").message, /my\.profile:1: banner: must be on or off, not maybe/);
  assert.match(refusal("format: xml").message, /format: must be default, delim, stanza, json, not xml/);
  assert.match(refusal("delim: ||").message, /delim: must be one character/);
  assert.match(refusal("just words").message, /my\.profile:1: expected "key: value"/);
  assert.match(refusal("devid:").message, /devid: needs a value/);
  assert.match(refusal("\n\ndevid: DS8K-1").message, /my\.profile:3: devid: DS8K-1 is not a storage image ID/);
});

Profiles("should make the profile's device current, adding it when the session has no such image", async () => {
  const recorded = recordedSession();
  try {
    await applyProfile(recorded.session, parseProfile("devid: IBM.2107-75KDR91\nformat: delim\nbanner: off\nheader: off\n", "p"));
    assert.is(recorded.session.currentImageId, "IBM.2107-75KDR91");
    assert.is((await recorded.session.currentImage()).model, "2107");
    assert.equal(await runOk(recorded, "lsextpool -s"), ["P0", "P1"]);
  } finally {
    await recorded.session.close();
  }
});

Profiles.run();
