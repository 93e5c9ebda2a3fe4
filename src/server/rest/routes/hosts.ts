// /api/v1/hosts, /api/v1/host_ports and /api/v1/hosts/NAME/mappings over
// tzero's volume groups and host connections (mkvolgrp, mkhostconnect):
//
//   a host       = a volume group that at least one host connection uses;
//                  its ID is "H" and the group's number (V3 → H3), its name
//                  the group's, its host type that of its first connection;
//   a host port  = a host connection of that group with a WWPN;
//   a mapping    = a volume of the group, its LUN ID the volume ID (a
//                  scsimask group addresses its volumes by their IDs).
//
// POST hosts makes the group and one connection named after the host,
// without a WWPN, which carries the host type; each port assigned later is
// a connection named by its WWPN. A host is addressed as hosts/NAME or with
// DS8000's selector hosts[id=H3] (Cinder's DS8K driver writes it
// percent-encoded, hosts%5Bid=H3%5D): routes/selectors.ts decodes those.
// The connections made here have no NBD endpoint (mkhostconnect -nbd gives one).
import { Type, type Static, type TObject } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { HostConnectionInfo, VolumeGroupInfo } from "../../../site/types.js";
import type { RestContext } from "../context.js";
import { RestError } from "../errors.js";
import { createdReply, listReply, OK, type Item, type KeyedItem, type Links } from "../reply.js";
import { requestBody, VOLUME_ID, type RequestBody } from "../schemas.js";
import { MONITOR, VOLUME } from "./common.js";
import { volumeItem } from "./volumes.js";

const HOST_NAME = "^[\\x21-\\x7e]{1,16}$"; // DS CLI: 1 to 16 printable characters without spaces
const WWPN = "^[0-9A-Fa-f]{16}$";
const HOST_ID = /^H(\d{1,4})$/i;
const MAPPINGS_PER_REQUEST_MAX = 256;

const CreateHostParams = Type.Object({ name: Type.String({ pattern: HOST_NAME }), hosttype: Type.String({ minLength: 1, maxLength: 32 }) }, { additionalProperties: false });
const CreatePortParams = Type.Object({ wwpn: Type.String({ pattern: WWPN }), host: Type.String({ pattern: HOST_NAME }) }, { additionalProperties: false });
const AssignParams = Type.Object({
  host_id: Type.String({ minLength: 1, maxLength: 16 }),
  host_port_wwpns: Type.Array(Type.String({ pattern: WWPN }), { minItems: 1, maxItems: 64 }),
}, { additionalProperties: false });
// {"volumes": [ID...]}, or {"mappings": [{LUNID: ID}...]} (pyds8k's map_volume_to_host with a lunid).
const MapParams = Type.Object({
  volumes: Type.Optional(Type.Array(Type.String({ pattern: VOLUME_ID }), { minItems: 1, maxItems: MAPPINGS_PER_REQUEST_MAX })),
  mappings: Type.Optional(Type.Array(Type.Record(Type.String({ pattern: "^[0-9A-Fa-f]{1,4}$" }), Type.String({ pattern: VOLUME_ID })), { minItems: 1, maxItems: MAPPINGS_PER_REQUEST_MAX })),
}, { additionalProperties: false });
type MapParams = Static<typeof MapParams>;
const PortQuery = Type.Object({ wwpns: Type.Optional(Type.String({ maxLength: 64 * 17 })), state: Type.Optional(Type.String({ maxLength: 64 })) });
const NameParams = Type.Object({ name: Type.String({ pattern: HOST_NAME, description: "host name" }) });
const LunParams = Type.Object({ name: Type.String({ pattern: HOST_NAME }), lunid: Type.String({ pattern: "^[0-9A-Fa-f]{1,4}$", description: "LUN ID" }) });
const WwpnParams = Type.Object({ wwpn: Type.String({ pattern: WWPN, description: "host port WWPN" }) });

// A host as the site has it: its volume group and the host connections that use the group.
export interface Host {
  id: string; // "H3"
  group: VolumeGroupInfo;
  connections: HostConnectionInfo[];
}

export async function listHosts(context: RestContext): Promise<Host[]> {
  const imageId = await context.imageId();
  const connections = await context.site.listHostConnections(imageId);
  return (await context.site.listVolumeGroups(imageId))
    .map((group) => ({ id: `H${group.id.slice(1)}`, group, connections: connections.filter((connection) => connection.volumeGroup === group.id) }))
    .filter((host) => host.connections.length > 0);
}

// A host by name, or by ID when `byId` (hosts[id=...] selects by ID, and by name as well).
export async function findHost(context: RestContext, key: string, byId: boolean): Promise<Host> {
  const hosts = await listHosts(context);
  const found = hosts.find((host) => host.group.name === key) ?? (byId ? hosts.find((host) => host.id.toUpperCase() === key.toUpperCase()) : undefined);
  if (found === undefined) throw new RestError(404, "HOST_NOT_FOUND", `there is no host ${key.slice(0, 64)} on ${await context.imageId()}`, byId ? "id" : "name");
  return found;
}

export function hostRoutes(app: FastifyInstance, context: RestContext): void {
  app.get("/hosts", { config: MONITOR }, async (request) => {
    const links = context.links(request);
    return listReply("hosts", (await listHosts(context)).map((host) => hostItem(links, host)));
  });
  app.post<{ Body: RequestBody<typeof CreateHostParams> }>("/hosts", { schema: { body: requestBody(CreateHostParams) }, config: VOLUME }, async (request, reply) => {
    const { name, hosttype } = request.body.request.params;
    const host = await createHost(context, request, name, hosttype);
    return reply.code(201).send(createdReply("hosts", [hostItem(context.links(request), host)]));
  });
  app.get<{ Params: { name: string } }>("/hosts/:name", { schema: { params: NameParams }, config: MONITOR }, async (request) => {
    return listReply("hosts", [hostItem(context.links(request), await findHost(context, request.params.name, false))]);
  });
  app.delete<{ Params: { name: string } }>("/hosts/:name", { schema: { params: NameParams }, config: VOLUME }, async (request) => {
    await deleteHost(context, request, await findHost(context, request.params.name, false));
    return { server: OK };
  });
  hostPartRoutes(app, context, "/hosts/:name", (params) => findHost(context, (params as { name: string }).name, false), NameParams);
  hostPortRoutes(app, context);
}

// The routes under one host, for hosts/NAME and (routes/selectors.ts) hosts[id=...].
export type FindHost = (params: unknown, request: FastifyRequest) => Promise<Host>;

export function hostPartRoutes(app: FastifyInstance, context: RestContext, prefix: string, find: FindHost, params: TObject): void {
  const lunParams = Type.Composite([params, Type.Object({ lunid: LunParams.properties.lunid })], { additionalProperties: false });
  app.get(`${prefix}/mappings`, { schema: { params }, config: MONITOR }, async (request) => {
    const host = await find(request.params, request);
    return listReply("mappings", host.group.volumes.map((volumeId) => mappingItem(context.links(request), host, volumeId)));
  });
  app.get<{ Params: { lunid: string } }>(`${prefix}/mappings/:lunid`, { schema: { params: lunParams }, config: MONITOR }, async (request) => {
    const host = await find(request.params, request);
    return listReply("mappings", [mappingItem(context.links(request), host, mappedVolume(host, request.params.lunid))]);
  });
  app.post<{ Body: RequestBody<typeof MapParams> }>(`${prefix}/mappings`, { schema: { params, body: requestBody(MapParams) }, config: VOLUME }, async (request, reply) => {
    const host = await find(request.params, request);
    const volumes = volumesToMap(request.body.request.params);
    await context.siteFor(request).changeVolumeGroup(await context.imageId(), { id: host.group.id, action: "add", volumes });
    return reply.code(201).send(createdReply("mappings", volumes.map((volumeId) => mappingItem(context.links(request), host, volumeId))));
  });
  app.delete<{ Params: { lunid: string } }>(`${prefix}/mappings/:lunid`, { schema: { params: lunParams }, config: VOLUME }, async (request) => {
    const host = await find(request.params, request);
    await context.siteFor(request).changeVolumeGroup(await context.imageId(), { id: host.group.id, action: "remove", volumes: [mappedVolume(host, request.params.lunid)] });
    return { server: OK };
  });
  app.get(`${prefix}/host_ports`, { schema: { params }, config: MONITOR }, async (request) => {
    const host = await find(request.params, request);
    return listReply("host_ports", portsOf(host).map((port) => hostPortItem(context.links(request), host, port)));
  });
  app.get(`${prefix}/volumes`, { schema: { params }, config: MONITOR }, async (request) => {
    const host = await find(request.params, request);
    const imageId = await context.imageId();
    const mapped = new Set(host.group.volumes);
    return listReply("volumes", (await context.site.listVolumes(imageId)).filter((volume) => mapped.has(volume.id)).map((volume) => volumeItem(context.links(request), volume)));
  });
}

async function createHost(context: RestContext, request: FastifyRequest, name: string, hostType: string): Promise<Host> {
  const imageId = await context.imageId();
  if ((await context.site.listHostConnections(imageId)).some((connection) => connection.name === name)) {
    throw new RestError(409, "HOST_EXISTS", `request.params.name: a host connection named ${name} already exists`, "request.params.name");
  }
  const site = context.siteFor(request);
  const group = await site.createVolumeGroup(imageId, { name, type: "scsimask", volumes: [] });
  try {
    await site.createHostConnection(imageId, { name, hostType, volumeGroup: group.id });
  } catch (error) {
    // The group was made for this host alone: it goes with the refusal, so nothing is left changed.
    await site.removeVolumeGroups(imageId, [group.id]);
    throw error;
  }
  return findHost(context, name, false);
}

export async function deleteHost(context: RestContext, request: FastifyRequest, host: Host): Promise<void> {
  const imageId = await context.imageId();
  const site = context.siteFor(request);
  await site.removeHostConnections(imageId, host.connections.map((connection) => connection.id));
  await site.removeVolumeGroups(imageId, [host.group.id]);
}

function volumesToMap(params: MapParams): string[] {
  if ((params.volumes === undefined) === (params.mappings === undefined)) {
    throw new RestError(400, "BAD_REQUEST", "request.params: give either volumes or mappings", "request.params.volumes");
  }
  if (params.volumes !== undefined) return params.volumes.map((id) => id.toUpperCase());
  return params.mappings!.flatMap((mapping, index) => Object.entries(mapping).map(([lunid, volumeId]) => {
    // A scsimask group addresses each volume by its ID: that is the only LUN ID it can give.
    if (lunid.toUpperCase() !== volumeId.toUpperCase()) {
      const field = `request.params.mappings[${index}]`;
      throw new RestError(400, "BAD_LUN_ID", `${field}: LUN ID ${lunid} cannot be given to volume ${volumeId}; a tzero host's LUN ID is its volume ID`, field);
    }
    return volumeId.toUpperCase();
  }));
}

function mappedVolume(host: Host, lunid: string): string {
  const volumeId = lunid.toUpperCase().padStart(4, "0");
  if (!host.group.volumes.includes(volumeId)) throw new RestError(404, "MAPPING_NOT_FOUND", `host ${host.group.name} has no LUN ${lunid}`, "lunid");
  return volumeId;
}

const portsOf = (host: Host): HostConnectionInfo[] => host.connections.filter((connection) => connection.wwpn !== null);

function hostPortRoutes(app: FastifyInstance, context: RestContext): void {
  app.get<{ Querystring: Static<typeof PortQuery> }>("/host_ports", { schema: { querystring: PortQuery }, config: MONITOR }, async (request) => {
    const wanted = request.query.wwpns === undefined || request.query.wwpns === "" ? null : new Set(request.query.wwpns.split(",").map((wwpn) => wwpn.trim().toUpperCase()));
    const states = request.query.state === undefined || request.query.state === "" ? null : new Set(request.query.state.split(",").map((state) => state.trim()));
    const links = context.links(request);
    const ports = (await listHosts(context)).flatMap((host) => portsOf(host).map((port) => hostPortItem(links, host, port)));
    return listReply("host_ports", ports.filter((port) => (wanted === null || wanted.has(port.wwpn as string)) && (states === null || states.has(port.state as string))));
  });
  app.get<{ Params: { wwpn: string } }>("/host_ports/:wwpn", { schema: { params: WwpnParams }, config: MONITOR }, async (request) => {
    const { host, port } = await findPort(context, request.params.wwpn);
    return listReply("host_ports", [hostPortItem(context.links(request), host, port)]);
  });
  app.post<{ Body: RequestBody<typeof CreatePortParams> }>("/host_ports", { schema: { body: requestBody(CreatePortParams) }, config: VOLUME }, async (request, reply) => {
    const { wwpn, host: name } = request.body.request.params;
    const host = await findHost(context, name, false);
    const made = await addPorts(context, request, host, [wwpn]);
    return reply.code(201).send(createdReply("host_ports", made.map((port) => hostPortItem(context.links(request), host, port))));
  });
  app.post<{ Body: RequestBody<typeof AssignParams> }>("/host_ports/assign", { schema: { body: requestBody(AssignParams) }, config: VOLUME }, async (request) => {
    const { host_id: hostId, host_port_wwpns: wwpns } = request.body.request.params;
    await addPorts(context, request, await findHost(context, hostId, true), wwpns);
    return { server: OK };
  });
  app.delete<{ Params: { wwpn: string } }>("/host_ports/:wwpn", { schema: { params: WwpnParams }, config: VOLUME }, async (request) => {
    const { port } = await findPort(context, request.params.wwpn);
    await context.siteFor(request).removeHostConnections(await context.imageId(), [port.id]);
    return { server: OK };
  });
}

async function findPort(context: RestContext, wwpn: string): Promise<{ host: Host; port: HostConnectionInfo }> {
  for (const host of await listHosts(context)) {
    const port = portsOf(host).find((connection) => connection.wwpn!.toUpperCase() === wwpn.toUpperCase());
    if (port !== undefined) return { host, port };
  }
  throw new RestError(404, "HOST_PORT_NOT_FOUND", `no host has a port with WWPN ${wwpn}`, "wwpn");
}

// Each port a host connection named by its WWPN, in the host's volume group; all checked before the first is made.
async function addPorts(context: RestContext, request: FastifyRequest, host: Host, wwpns: readonly string[]): Promise<HostConnectionInfo[]> {
  const imageId = await context.imageId();
  const existing = await context.site.listHostConnections(imageId);
  const upper = wwpns.map((wwpn) => wwpn.toUpperCase());
  upper.forEach((wwpn, index) => {
    const field = `request.params.host_port_wwpns[${index}]`;
    if (existing.some((connection) => connection.wwpn === wwpn || connection.name === wwpn) || upper.indexOf(wwpn) !== index) {
      throw new RestError(409, "HOST_EXISTS", `${field}: WWPN ${wwpn} already belongs to a host connection`, field);
    }
  });
  const site = context.siteFor(request);
  const hostType = host.connections[0].hostType;
  const made: HostConnectionInfo[] = [];
  for (const wwpn of upper) made.push(await site.createHostConnection(imageId, { name: wwpn, hostType, wwpn, volumeGroup: host.group.id }));
  return made;
}

export function hostItem(links: Links, host: Host): Item {
  const name = host.group.name;
  return {
    id: host.id, name, link: links.to("hosts", name), state: "online", hosttype: host.connections[0].hostType,
    addrmode: "SCSI mask", addrdiscovery: "lunpolling", lbs: "512",
    host_ports: { link: links.to("hosts", name, "host_ports") }, ioports: { link: links.to("ioports") },
    volumes: { link: links.to("hosts", name, "volumes") }, mappings: { link: links.to("hosts", name, "mappings") },
    mappings_briefs: host.group.volumes.map((volumeId) => ({ lunid: volumeId, volume_id: volumeId })),
    volume_group: { id: host.group.id },
  };
}

function mappingItem(links: Links, host: Host, volumeId: string): KeyedItem {
  return { lunid: volumeId, link: links.to("hosts", host.group.name, "mappings", volumeId), volume: links.ref("volumes", volumeId) };
}

function hostPortItem(links: Links, host: Host, port: HostConnectionInfo): KeyedItem {
  return {
    wwpn: port.wwpn!, link: links.to("host_ports", port.wwpn!), state: port.clients > 0 ? "logged in" : "logged out",
    hosttype: port.hostType, addrdiscovery: "lunpolling", lbs: "512", wwnn: "", login_type: "", logical_path_established: "", login_ports: [],
    host: { name: host.group.name, link: links.to("hosts", host.group.name) }, host_id: host.id, host_connection: { id: port.id },
  };
}
