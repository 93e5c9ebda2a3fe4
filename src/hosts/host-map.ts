// The host side of one storage image, as DS CLI has it: volume groups (which
// volumes a host may see) and host connections (a host's port, its host type
// and its volume group), and each host connection's NBD endpoint, through
// which real clients (qemu, nbdcopy, fio) reach exactly its volume group's
// volumes. Every check of a command runs before anything changes.
import type { StorageImage } from "../engine/image.js";
import { EngineError } from "../engine/errors.js";
import { parseVolumeId } from "../engine/ids.js";
import type { DefaultEndpoint } from "./default-endpoint.js";
import { NbdEndpoint, newStats, parseEndpoint, type NbdLog } from "./nbd-endpoint.js";
import { readCounters, type EndpointCounters } from "./nbd-stats.js";
import type { NbdExport } from "./nbd-handshake.js";
import type { HostsRecord } from "../store/format.js";

export type VolumeGroupType = "scsimask" | "scsimap256" | "os400mask" | "os400map256";
export const VOLUME_GROUP_TYPES: readonly VolumeGroupType[] = ["scsimask", "scsimap256", "os400mask", "os400map256"];
// scsimap256 and os400map256 groups map at most 256 volumes (a LUN map); the masks, any number.
const MAP_VOLUMES_MAX = 256;
const GROUPS_MAX = 4096;
const HOSTS_MAX = 4096;

// DS CLI's host types and the profile each one shows (lshostconnect's Profile column).
export const HOST_TYPES: ReadonlyMap<string, string> = new Map([
  ["pSeries", "IBM pSeries - AIX"],
  ["pSeriesPowerswap", "IBM pSeries - AIX with Powerswap support"],
  ["iSeries", "IBM iSeries - OS/400"],
  ["LinuxRHEL", "Intel - Linux RHEL"],
  ["LinuxSuse", "Intel - Linux Suse"],
  ["zLinux", "IBM zSeries - zLinux"],
  ["Win2008", "Intel - Windows 2008"],
  ["Win2012", "Intel - Windows 2012"],
  ["VMware", "VMWare - VMWare"],
  ["Sun", "SUN - Solaris"],
  ["HpUx", "HP - HP/UX"],
]);

export interface VolumeGroup {
  id: string; // "V0"
  name: string;
  type: VolumeGroupType;
  volumes: string[]; // in ascending order
}

export interface HostConnection {
  id: string; // "0000"
  name: string;
  hostType: string;
  wwpn: string | null;
  volumeGroup: string | null;
  nbdRequested: string | null; // as given to -nbd
  endpoint: NbdEndpoint | null; // its own, from -nbd; without one it is reached through the image's default endpoint, if any
  stats: SharedArrayBuffer; // its NBD figures, whichever endpoint its clients came through (nbd-stats.ts)
}

// Where the host's clients connect: its own endpoint's address, or the
// default endpoint's with the host's part of every export name there
// (nbd://127.0.0.1:10809/prod/1000; default-endpoint.ts has the names).
export interface HostReach {
  address: string | null;
  counters: EndpointCounters;
}

export class HostMap {
  private readonly groups = new Map<string, VolumeGroup>();
  private readonly hosts = new Map<string, HostConnection>();
  // The node's default endpoint (tzero serve --nbd), which the site sets: it
  // serves the hosts here made without -nbd, beside those of the other images.
  defaultEndpoint: DefaultEndpoint | null = null;

  constructor(readonly image: StorageImage, private readonly log: NbdLog) {}

  // ---- volume groups ----

  listGroups(): VolumeGroup[] {
    return [...this.groups.values()].sort((a, b) => Number(a.id.slice(1)) - Number(b.id.slice(1)));
  }

  group(idOrName: string): VolumeGroup {
    const byId = this.groups.get(idOrName.toUpperCase());
    if (byId) return byId;
    const byName = [...this.groups.values()].find((group) => group.name === idOrName);
    if (byName) return byName;
    throw new EngineError("VOLGRP_NOT_FOUND", `volume group ${idOrName} does not exist on ${this.image.id} (lsvolgrp lists them)`);
  }

  createGroup(request: { name: string; type?: string; volumes: string[] }): VolumeGroup {
    checkName(request.name, "volume group");
    const type = checkGroupType(request.type ?? "scsimask");
    if ([...this.groups.values()].some((group) => group.name === request.name)) {
      throw new EngineError("VOLGRP_EXISTS", `a volume group named ${request.name} already exists`);
    }
    if (this.groups.size >= GROUPS_MAX) throw new EngineError("LIMIT_REACHED", `storage image ${this.image.id} already has ${GROUPS_MAX} volume groups`);
    const volumes = this.checkVolumes(request.volumes, type, []);
    let number = 0;
    while (this.groups.has(`V${number}`)) number++;
    const group: VolumeGroup = { id: `V${number}`, name: request.name, type, volumes };
    this.groups.set(group.id, group);
    return group;
  }

  changeGroup(request: { id: string; action?: "add" | "remove" | "replace"; volumes?: string[]; name?: string }): VolumeGroup {
    const group = this.group(request.id);
    if (request.name !== undefined) checkName(request.name, "volume group");
    if (request.name !== undefined && [...this.groups.values()].some((other) => other !== group && other.name === request.name)) {
      throw new EngineError("VOLGRP_EXISTS", `a volume group named ${request.name} already exists`);
    }
    let volumes = group.volumes;
    if (request.action !== undefined) {
      const given = (request.volumes ?? []).map((id) => parseVolumeId(id));
      if (request.action === "add") volumes = this.checkVolumes(given, group.type, group.volumes);
      else if (request.action === "replace") volumes = this.checkVolumes(given, group.type, []);
      else {
        const missing = given.find((id) => !group.volumes.includes(id));
        if (missing !== undefined) throw new EngineError("VOLUME_NOT_FOUND", `volume ${missing} is not in volume group ${group.id}`);
        volumes = group.volumes.filter((id) => !given.includes(id));
      }
    }
    group.volumes = volumes;
    if (request.name !== undefined) group.name = request.name;
    this.refresh();
    return group;
  }

  checkGroupsRemovable(ids: string[]): VolumeGroup[] {
    return ids.map((id) => {
      const group = this.group(id);
      const user = [...this.hosts.values()].find((host) => host.volumeGroup === group.id);
      if (user) throw new EngineError("VOLGRP_IN_USE", `volume group ${group.id} is the volume group of host connection ${user.id} (${user.name}); rmhostconnect it first`);
      return group;
    });
  }

  removeGroups(ids: string[]): string[] {
    const groups = this.checkGroupsRemovable(ids);
    for (const group of groups) this.groups.delete(group.id);
    return groups.map((group) => group.id);
  }

  // The volume groups holding a volume: it must not be removed while in one.
  groupsOf(volumeId: string): VolumeGroup[] {
    return this.listGroups().filter((group) => group.volumes.includes(volumeId));
  }

  private checkVolumes(ids: string[], type: VolumeGroupType, existing: string[]): string[] {
    const result = new Set(existing);
    for (const text of ids) {
      const volume = this.image.volume(text);
      if (existing.includes(volume.id)) throw new EngineError("BAD_ARGUMENT", `volume ${volume.id} is already in the volume group`);
      if (result.has(volume.id)) throw new EngineError("BAD_ARGUMENT", `volume ${volume.id} is given twice`);
      result.add(volume.id);
    }
    if (type.endsWith("map256") && result.size > MAP_VOLUMES_MAX) {
      throw new EngineError("LIMIT_REACHED", `a ${type} volume group maps at most ${MAP_VOLUMES_MAX} volumes; this one would hold ${result.size}`);
    }
    return [...result].sort();
  }

  // ---- host connections ----

  listHosts(): HostConnection[] {
    return [...this.hosts.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  host(idOrName: string): HostConnection {
    const byId = this.hosts.get(idOrName.toUpperCase());
    if (byId) return byId;
    const byName = [...this.hosts.values()].find((host) => host.name === idOrName);
    if (byName) return byName;
    throw new EngineError("HOST_NOT_FOUND", `host connection ${idOrName} does not exist on ${this.image.id} (lshostconnect lists them)`);
  }

  async createHost(request: { name: string; hostType: string; wwpn?: string; volumeGroup?: string; nbd?: string }): Promise<HostConnection> {
    checkName(request.name, "host connection");
    // A / would let the default endpoint's export names of two hosts meet (default-endpoint.ts).
    if (request.name.includes("/")) throw new EngineError("BAD_ARGUMENT", `host connection name ${request.name} has a /, which separates the parts of NBD export names`);
    if (!HOST_TYPES.has(request.hostType)) {
      throw new EngineError("BAD_HOST_TYPE", `host type ${request.hostType} is not one of ${[...HOST_TYPES.keys()].join(", ")}`);
    }
    if ([...this.hosts.values()].some((host) => host.name === request.name)) throw new EngineError("HOST_EXISTS", `a host connection named ${request.name} already exists`);
    const wwpn = request.wwpn === undefined ? null : checkWwpn(request.wwpn);
    if (wwpn !== null && [...this.hosts.values()].some((host) => host.wwpn === wwpn)) throw new EngineError("HOST_EXISTS", `WWPN ${wwpn} already belongs to a host connection`);
    const group = request.volumeGroup === undefined ? null : this.group(request.volumeGroup);
    const listen = request.nbd === undefined ? null : parseEndpoint(request.nbd);
    if (this.hosts.size >= HOSTS_MAX) throw new EngineError("LIMIT_REACHED", `storage image ${this.image.id} already has ${HOSTS_MAX} host connections`);
    let number = 0;
    while (this.hosts.has(number.toString(16).toUpperCase().padStart(4, "0"))) number++;
    const host: HostConnection = {
      id: number.toString(16).toUpperCase().padStart(4, "0"), name: request.name, hostType: request.hostType, wwpn,
      volumeGroup: group?.id ?? null, nbdRequested: request.nbd ?? null, endpoint: null, stats: newStats(),
    };
    if (listen !== null) host.endpoint = await NbdEndpoint.start([this.image], listen, this.exportsOf(host), host.name, this.log, host.stats);
    this.hosts.set(host.id, host);
    if (listen === null) this.refresh();
    return host;
  }

  reach(host: HostConnection): HostReach {
    const counters = readCounters(host.stats);
    if (host.endpoint !== null) return { address: host.endpoint.address, counters };
    if (this.defaultEndpoint !== null) return { address: `${this.defaultEndpoint.address}/${this.defaultEndpoint.hostPath(this.image, host.name)}`, counters };
    return { address: null, counters };
  }

  // The hosts reached through the default endpoint, each with its exports.
  hostsWithoutEndpoint(): Array<{ name: string; exports: NbdExport[] }> {
    return this.listHosts().filter((host) => host.endpoint === null).map((host) => ({ name: host.name, exports: this.exportsOf(host) }));
  }

  async removeHosts(ids: string[]): Promise<string[]> {
    const hosts = ids.map((id) => this.host(id));
    for (const host of hosts) {
      this.hosts.delete(host.id);
      await host.endpoint?.close();
    }
    this.refresh();
    return hosts.map((host) => host.id);
  }

  // What a host may open: its volume group's volumes, read-only where host writes are inhibited.
  exportsOf(host: HostConnection): NbdExport[] {
    if (host.volumeGroup === null) return [];
    const group = this.groups.get(host.volumeGroup);
    if (!group) return [];
    return group.volumes.filter((id) => this.image.hasVolume(id)).map((id) => {
      const volume = this.image.volume(id);
      const inhibited = this.image.relationshipsOf(id).some((relationship) => relationship.targetId === id && (relationship.tgtinhibit || relationship.revertible));
      return {
        name: volume.id, fullName: `${this.image.id}/${volume.id}`, imageId: this.image.id, description: volume.name, slot: volume.slot, sizeBytes: volume.sizeBytes,
        readOnly: inhibited, stats: host.stats,
      };
    });
  }

  // Sends every endpoint its exports again: after a change of groups, volumes or relationships.
  refresh(): void {
    for (const host of this.hosts.values()) host.endpoint?.setExports(this.exportsOf(host));
    this.defaultEndpoint?.refresh();
  }

  // ---- state files (src/store/host-records.ts) ----

  snapshot(): Omit<HostsRecord, "type" | "image"> | null {
    if (this.groups.size === 0 && this.hosts.size === 0) return null;
    return {
      groups: this.listGroups().map((group) => ({ id: group.id, name: group.name, groupType: group.type, volumes: [...group.volumes] })),
      connections: this.listHosts().map((host) => ({
        id: host.id, name: host.name, hostType: host.hostType, wwpn: host.wwpn, volumeGroup: host.volumeGroup, nbd: host.nbdRequested,
      })),
    };
  }

  // Puts back what a state file held (the loader checked it against the
  // image's volumes). An endpoint that cannot listen again (its port taken
  // meanwhile) leaves its host connection without one, and the log says so.
  async restore(record: HostsRecord): Promise<void> {
    for (const group of record.groups) {
      this.groups.set(group.id, { id: group.id, name: group.name, type: checkGroupType(group.groupType), volumes: [...group.volumes].sort() });
    }
    for (const saved of record.connections) {
      const host: HostConnection = {
        id: saved.id, name: saved.name, hostType: saved.hostType, wwpn: saved.wwpn, volumeGroup: saved.volumeGroup,
        nbdRequested: saved.nbd, endpoint: null, stats: newStats(),
      };
      this.hosts.set(host.id, host);
      if (saved.nbd === null) continue;
      try {
        host.endpoint = await NbdEndpoint.start([this.image], parseEndpoint(saved.nbd), this.exportsOf(host), host.name, this.log, host.stats);
      } catch (error) {
        this.log(`nbd ${host.name}: host connection ${host.id} loaded without its NBD endpoint: ${(error as Error).message}`);
      }
    }
    this.refresh();
  }

  async close(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((host) => host.endpoint?.close()));
  }
}

const NAME_LENGTH_MAX = 16;

function checkName(name: string, what: string): void {
  if (name.length === 0 || name.length > NAME_LENGTH_MAX || !/^[\x21-\x7e]+$/.test(name)) {
    throw new EngineError("BAD_ARGUMENT", `${what} name ${JSON.stringify(name)} is not 1 to ${NAME_LENGTH_MAX} printable characters without spaces`);
  }
}

function checkGroupType(type: string): VolumeGroupType {
  const found = VOLUME_GROUP_TYPES.find((candidate) => candidate === type);
  if (found === undefined) throw new EngineError("BAD_ARGUMENT", `volume group type ${type} is not one of ${VOLUME_GROUP_TYPES.join(", ")}`);
  return found;
}

function checkWwpn(text: string): string {
  if (!/^[0-9A-Fa-f]{16}$/.test(text)) throw new EngineError("BAD_WWPN", `WWPN ${text} is not 16 hex digits`);
  return text.toUpperCase();
}
