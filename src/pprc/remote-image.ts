// A storage image on another node, as this node's PPRC sees it: where its
// node takes links (a path to it gives the endpoint), and the control
// requests of link-protocol.ts over one connection from this main thread,
// dialled on first use and again after a loss. The data never goes this
// way: writes and tracks go over the link's own connection, from its sender
// thread (tcp-link.ts).
import { EngineError, type EngineErrorCode } from "../engine/errors.js";
import { lssOf, parseVolumeId } from "../engine/ids.js";
import { connectTcp, type Connection } from "../wire/index.js";
import { isWireError } from "../wire/errors.js";
import { linkMessages, LINK_FRAME_BYTES_MAX, LINK_HEARTBEAT_INTERVAL_MS, LINK_HEARTBEAT_TIMEOUT_MS, LINK_ROLE, type ControlBody, type LinkEndpoint, type LinkMessages } from "./link-protocol.js";

export const CONTROL_TIMEOUT_MS = 10_000;

export interface RemoteVolume {
  readonly id: string;
  readonly lss: string;
  readonly slot: number;
  readonly sizeBytes: number;
  readonly blocks: number;
  readonly pair: string | null; // the PPRC pair it is in on its own node
  readonly flashTarget: boolean;
  readonly restore: string | null; // the token of the state-file restore it came back from, if it is a secondary that did
}

// The primary side of a pair, as a secondary's node is told of it.
export interface RemotePrimary {
  imageId: string;
  slot: number;
  tgtread: boolean;
  type: "mmir" | "gcp";
  critmode: boolean;
}

export interface LinkIdentity {
  siteKey: Uint8Array;
  nodeId: string;
  endpoint: LinkEndpoint | null; // where this node takes links, which the other node may dial back (failback)
}

export class RemoteImage {
  readonly isRemote = true;
  private connection: Connection<LinkMessages> | null = null;
  private dialing: Promise<Connection<LinkMessages>> | null = null;
  private readonly volumes = new Map<string, RemoteVolume>();

  constructor(readonly id: string, public endpoint: LinkEndpoint, private readonly identity: LinkIdentity) {}

  // The image's node takes links at `endpoint` now: a control connection to the old address is let go.
  retarget(endpoint: LinkEndpoint): void {
    if (endpoint.host === this.endpoint.host && endpoint.port === this.endpoint.port) return;
    this.endpoint = endpoint;
    const old = this.connection;
    this.connection = null;
    void old?.close(`storage image ${this.id} takes links at ${endpoint.host}:${endpoint.port} now`);
  }

  private async open(): Promise<Connection<LinkMessages>> {
    if (this.connection?.isOpen) return this.connection;
    this.dialing ??= connectTcp({
      host: this.endpoint.host, port: this.endpoint.port, siteKey: this.identity.siteKey, nodeId: this.identity.nodeId, role: LINK_ROLE,
      messages: linkMessages, frameBytesMax: LINK_FRAME_BYTES_MAX, heartbeatIntervalMs: LINK_HEARTBEAT_INTERVAL_MS, heartbeatTimeoutMs: LINK_HEARTBEAT_TIMEOUT_MS,
    }).finally(() => { this.dialing = null; });
    this.connection = await this.dialing;
    return this.connection;
  }

  // A control request; a connection failure becomes LINK_DOWN naming the image, a refusal keeps the peer's code.
  private async request<K extends "link.volumes" | "link.make-secondary" | "link.clear-secondary" | "link.pair-status" | "link.failback-target">(
    type: K, body: ControlBody<K>, timeoutMs = CONTROL_TIMEOUT_MS,
  ): Promise<ControlBody<(typeof import("./link-protocol.js").linkControlSpecs)[K]["reply"]>> {
    try {
      const connection = await this.open();
      return await connection.request(type, body as never, { timeoutMs }) as never;
    } catch (error) {
      if (isWireError(error) && error.code === "REMOTE_ERROR") {
        throw new EngineError((error.remoteCode ?? "BAD_ARGUMENT") as EngineErrorCode, `${this.id}: ${error.message.replace(/^request \d+ \([^)]*\) failed at peer: [A-Z_]+: /, "")}`);
      }
      throw new EngineError("LINK_DOWN", `storage image ${this.id} cannot be reached at ${this.endpoint.host}:${this.endpoint.port}: ${(error as Error).message}`);
    }
  }

  // Reads the volumes `ids` of the image into the cache that volume() answers from.
  async fetchVolumes(ids: string[]): Promise<void> {
    const reply = await this.request("link.volumes", { image_id: this.id, ids });
    for (const volume of reply.volumes) {
      this.volumes.set(volume.id, {
        id: volume.id, lss: lssOf(volume.id), slot: volume.slot, sizeBytes: volume.size_bytes, blocks: volume.blocks,
        pair: volume.pair === "" ? null : volume.pair, flashTarget: volume.flash_target,
        restore: volume.restore === undefined || volume.restore === "" ? null : volume.restore,
      });
    }
  }

  volume(id: string): RemoteVolume {
    const found = this.volumes.get(parseVolumeId(id));
    if (found === undefined) throw new EngineError("VOLUME_NOT_FOUND", `volume ${id} does not exist on ${this.id}`);
    return found;
  }

  private primaryFields(primary: RemotePrimary) {
    const own = this.identity.endpoint;
    return {
      primary_image_id: primary.imageId, primary_slot: primary.slot, primary_endpoint: own === null ? "" : `${own.host}:${own.port}`,
      tgtread: primary.tgtread, type: primary.type, critmode: primary.critmode,
    };
  }

  async makeSecondary(volumeId: string, pairId: string, primary: RemotePrimary): Promise<number> {
    const reply = await this.request("link.make-secondary", { image_id: this.id, volume_id: volumeId, pair_id: pairId, ...this.primaryFields(primary) });
    return reply.slot;
  }

  async clearSecondary(volumeId: string, pairId: string): Promise<void> {
    await this.request("link.clear-secondary", { image_id: this.id, volume_id: volumeId, pair_id: pairId });
  }

  pairStatus(pairId: string, timeoutMs: number): Promise<ControlBody<"link.pair-status.ok">> {
    return this.request("link.pair-status", { image_id: this.id, pair_id: pairId }, timeoutMs);
  }

  failbackTarget(volumeId: string, oldPairId: string, pairId: string, primary: RemotePrimary): Promise<ControlBody<"link.failback-target.ok">> {
    return this.request("link.failback-target", { image_id: this.id, volume_id: volumeId, old_pair_id: oldPairId, pair_id: pairId, ...this.primaryFields(primary) });
  }

  async close(): Promise<void> {
    await this.connection?.close("PPRC no longer needs this image");
    this.connection = null;
  }
}
