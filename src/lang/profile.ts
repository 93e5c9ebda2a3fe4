// DS CLI profiles (`dscli -cfg PROFILE`): `key: value` lines, `#` comments.
// The output keys and the default storage image take effect; the keys of a
// real profile that tzero has no use for (the HMC, the user, paging) are
// accepted and change nothing; any other key is refused with its line.
import { CommandFailure } from "./values.js";
import type { OutputFormat } from "./format.js";
import type { Session } from "./session.js";

export interface Profile {
  devid?: string;
  format?: OutputFormat;
  delim?: string;
  banner?: boolean;
  header?: boolean;
  fullid?: boolean;
}

type Apply = (profile: Profile, value: string, fail: (message: string) => never) => void;

const onOff = (key: "banner" | "header" | "fullid"): Apply => (profile, value, fail) => {
  const text = value.toLowerCase();
  if (text !== "on" && text !== "off") fail(`${key}: must be on or off, not ${value}`);
  profile[key] = text === "on";
};

const FORMATS: readonly OutputFormat[] = ["default", "delim", "stanza", "json"];
const INERT: Apply = () => {};

const KEYS: Readonly<Record<string, Apply>> = {
  devid: (profile, value, fail) => {
    if (!/^IBM\.(2105|2107)-[0-9A-Z]{7}$/i.test(value)) fail(`devid: ${value} is not a storage image ID such as IBM.2107-75KDR91`);
    profile.devid = value.toUpperCase();
  },
  format: (profile, value, fail) => {
    const text = value.toLowerCase() as OutputFormat;
    if (!FORMATS.includes(text)) fail(`format: must be ${FORMATS.join(", ")}, not ${value}`);
    profile.format = text;
  },
  delim: (profile, value, fail) => {
    if (value.length !== 1) fail(`delim: must be one character, not ${value}`);
    profile.delim = value;
  },
  banner: onOff("banner"),
  header: onOff("header"),
  fullid: onOff("fullid"),
  paging: INERT, rows: INERT, hmc1: INERT, hmc2: INERT, username: INERT, pwfile: INERT, remotedevid: INERT,
  timeout: INERT, locale: INERT, verbose: INERT, keepalive: INERT,
};

// A profile's settings; a bad line throws BAD_PROFILE naming FILE:LINE.
export function parseProfile(text: string, file: string): Profile {
  const profile: Profile = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const fail = (message: string): never => {
      throw new CommandFailure("BAD_PROFILE", `profile ${file}:${index + 1}: ${message}`);
    };
    const line = raw.replace(/^\s+|\s+$/g, "");
    if (line === "" || line.startsWith("#")) return;
    const colon = line.indexOf(":");
    if (colon <= 0) fail(`expected "key: value", not ${line}`);
    const key = line.slice(0, colon).trim().toLowerCase();
    const after = line.slice(colon + 1);
    // A delimiter may be a space: `delim:  ` (only blanks) means one.
    const value = key === "delim" && after.trim() === "" && raw.slice(raw.indexOf(":") + 1).length > 0 ? " " : after.trim();
    const apply = KEYS[key];
    if (!apply) fail(`unknown key ${key} (keys: ${Object.keys(KEYS).join(", ")})`);
    if (value === "" && key !== "delim") fail(`${key}: needs a value`);
    apply(profile, value, fail);
  });
  return profile;
}

// Sets the session's output defaults and default image. A devid that names
// no image of the session adds it: the profile says which array the script drives.
export async function applyProfile(session: Session, profile: Profile): Promise<void> {
  const settings = session.settings;
  settings.format = profile.format ?? settings.format;
  settings.delim = profile.delim ?? settings.delim;
  settings.banner = profile.banner ?? settings.banner;
  settings.header = profile.header ?? settings.header;
  settings.fullid = profile.fullid ?? settings.fullid;
  if (profile.devid === undefined) return;
  const known = (await session.site.listImages()).some((image) => image.id === profile.devid!.toUpperCase());
  if (!known) await session.addImage(undefined, profile.devid);
  await session.selectImage(profile.devid);
}
