// Checks of a decoded hosts record (format.ts): the volume groups and host
// connections of one image, each field of each entry present, of its type
// and within its bounds. A failure names the entry and the field
// ("connections[1].hostType"). Whether the groups' volumes exist and the
// connections' groups are among the record's is the loader's check.
import type { HostsRecord } from "./format.js";
import type { FieldFailure } from "./records.js";

const IMAGES_MAX = 256;
const ENTRIES_MAX = 4096; // src/hosts/host-map.ts: GROUPS_MAX and HOSTS_MAX
const VOLUMES_MAX = 65_536;
const GROUP_ID = /^V\d{1,4}$/;
const HOST_ID = /^[0-9A-F]{4}$/;
const VOLUME_ID = /^[0-9A-F]{4}$/;
const NAME = /^[\x21-\x7e]{1,16}$/;
const WWPN = /^[0-9A-F]{16}$/;
const TEXT_LENGTH_MAX = 4096;

type Fields = Record<string, unknown>;

class EntryChecker {
  constructor(private readonly fields: Fields, private readonly where: string, private readonly failure: FieldFailure) {}

  private fail(field: string, message: string): never {
    throw this.failure("hosts", `${this.where}${field}`, `${message}, not ${JSON.stringify(this.fields[field]) ?? "absent"}`);
  }

  text(field: string, pattern: RegExp): string {
    const value = this.fields[field];
    if (typeof value !== "string" || value.length > TEXT_LENGTH_MAX || !pattern.test(value)) this.fail(field, `must be a string matching ${pattern}`);
    return value as string;
  }

  textOrNull(field: string, pattern: RegExp): string | null {
    return this.fields[field] === null ? null : this.text(field, pattern);
  }

  list(field: string, max: number): unknown[] {
    const value = this.fields[field];
    if (!Array.isArray(value) || value.length > max) this.fail(field, `must be an array of at most ${max} entries`);
    return value as unknown[];
  }

  whole(field: string, max: number): number {
    const value = this.fields[field];
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) this.fail(field, `must be a whole number from 0 to ${max}`);
    return value as number;
  }
}

function entry(value: unknown, where: string, failure: FieldFailure): EntryChecker {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw failure("hosts", where.replace(/\.$/, ""), "must be a map");
  return new EntryChecker(value as Fields, where, failure);
}

export function hostsRecord(value: unknown, failure: FieldFailure): HostsRecord {
  const check = entry(value, "", failure);
  const groups = check.list("groups", ENTRIES_MAX).map((item, index) => {
    const group = entry(item, `groups[${index}].`, failure);
    const volumes = group.list("volumes", VOLUMES_MAX).map((volume, at) => entry({ id: volume }, `groups[${index}].volumes[${at}].`, failure).text("id", VOLUME_ID));
    return { id: group.text("id", GROUP_ID), name: group.text("name", NAME), groupType: group.text("groupType", /^(scsimask|scsimap256|os400mask|os400map256)$/), volumes };
  });
  const connections = check.list("connections", ENTRIES_MAX).map((item, index) => {
    const host = entry(item, `connections[${index}].`, failure);
    return {
      id: host.text("id", HOST_ID), name: host.text("name", NAME), hostType: host.text("hostType", /^[A-Za-z0-9]{1,32}$/),
      wwpn: host.textOrNull("wwpn", WWPN), volumeGroup: host.textOrNull("volumeGroup", GROUP_ID), nbd: host.textOrNull("nbd", /^\S{1,1024}$/),
    };
  });
  return { type: "hosts", image: check.whole("image", IMAGES_MAX - 1), groups, connections };
}
