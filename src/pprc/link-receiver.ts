// The receiving end of links from other nodes (design.md §7): a TCP listener,
// bound to 127.0.0.1 unless told otherwise, whose connections must pass the
// wire protocol's version handshake and site-key challenge before any frame
// is delivered. Each connection attaches to one secondary image hosted here,
// then takes link.apply frames strictly in sequence: every entry of a frame is
// checked (a PPRC secondary volume of that image, the range inside it) before
// any is applied, then they are applied in order through the image's core
// (mirror_apply, the one write a secondary takes) and acknowledged with one
// result per entry. A frame that fails a check closes its connection and
// changes nothing; the listener and the other connections go on.
import { CoreCode, EXTENT_SIZE, PprcRole } from "../core/codes.js";
import type { StorageImage } from "../engine/image.js";
import { listenTcp, type Connection, type WireServer } from "../wire/index.js";
import { copyRaw, rawLength } from "../wire/codec.js";
import { linkMessages, linkControlSpecs, LINK_FRAME_BYTES_MAX, LINK_HEARTBEAT_INTERVAL_MS, LINK_HEARTBEAT_TIMEOUT_MS, LINK_ROLE, type ApplyBody, type ControlBody, type LinkMessages } from "./link-protocol.js";

type ControlRequest = { [K in keyof typeof linkControlSpecs]: (typeof linkControlSpecs)[K] extends { reply: string } ? K : never }[keyof typeof linkControlSpecs];
type ControlReply<K extends ControlRequest> = ControlBody<(typeof linkControlSpecs)[K]["reply"]>;

// The node's answers to the control requests (Pprc implements them): each
// throws an error with a code to refuse, which the peer receives as such.
export type LinkControl = { [K in ControlRequest]: (body: ControlBody<K>, peerNodeId: string) => Promise<ControlReply<K>> };

const CONTROL_REQUESTS: readonly ControlRequest[] = ["link.volumes", "link.make-secondary", "link.clear-secondary", "link.pair-status", "link.failback-target"];

export interface LinkReceiverOptions {
  siteKey: Uint8Array;
  nodeId: string;
  host?: string; // default 127.0.0.1
  port?: number; // default any free port
  image(imageId: string): StorageImage | undefined; // the images hosted here
  control?: () => LinkControl; // the node's current answers; absent: control requests are answered NO_HANDLER
  log(line: string): void;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
}

export class LinkReceiver {
  private server: WireServer<LinkMessages> | null = null;
  // Frames applied and refused since the start, for logs and tests.
  readonly counts = { applied: 0, refused: 0 };

  constructor(private readonly options: LinkReceiverOptions) {}

  async start(): Promise<{ host: string; port: number }> {
    this.server = await listenTcp({
      host: this.options.host, port: this.options.port, siteKey: this.options.siteKey, nodeId: this.options.nodeId, role: LINK_ROLE,
      messages: linkMessages, frameBytesMax: LINK_FRAME_BYTES_MAX,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? LINK_HEARTBEAT_INTERVAL_MS, heartbeatTimeoutMs: this.options.heartbeatTimeoutMs ?? LINK_HEARTBEAT_TIMEOUT_MS,
    });
    this.server.on("connection", (connection) => this.serve(connection));
    this.server.on("refused", (cause, description) => {
      this.counts.refused++;
      this.options.log(`link connection ${description} refused: ${cause.message}`);
    });
    return this.server.address();
  }

  get address(): { host: string; port: number } | null {
    return this.server?.address() ?? null;
  }

  private serve(connection: Connection<LinkMessages>): void {
    let image: StorageImage | null = null;
    let expected = 1;
    // Reads land in one arena rather than a new buffer each
    // (Connection.readIntoArena), which later overwrites a delivered frame's
    // bytes: a link.apply's raw bytes are applied, or refused, before its
    // handler returns, and no link message has a bin field, so no handler
    // (the asynchronous control requests' included) keeps a view of its frame.
    connection.readIntoArena();
    connection.handle("link.attach", (body) => {
      if (image !== null) throw Object.assign(new Error("this link is attached already"), { code: "ALREADY_ATTACHED" });
      const found = this.options.image(body.secondary_image_id);
      if (found === undefined) throw Object.assign(new Error(`storage image ${body.secondary_image_id} is not hosted on node ${this.options.nodeId}`), { code: "IMAGE_NOT_FOUND" });
      image = found;
      this.options.log(`link from ${connection.peer!.nodeId} (${body.primary_image_id}) attached to ${found.id}`);
      return { secondary_image_id: found.id };
    });
    const control = this.options.control;
    if (control !== undefined) {
      for (const type of CONTROL_REQUESTS) {
        // One handler per type of the table; the registry has validated the body against that type's schema.
        connection.handle(type, (body: unknown) => {
          const answers = control();
          return (answers[type] as unknown as (body: unknown, peer: string) => Promise<never>).call(answers, body, connection.peer!.nodeId);
        });
      }
    }
    connection.on("message", (type: string, body: unknown, raw: readonly Uint8Array[] | null) => {
      if (type !== "link.apply") return this.refuse(connection, `a link receiver takes no "${type}" frames`);
      const apply = body as ApplyBody;
      if (image === null || image.isClosed) return this.refuse(connection, "link.apply before link.attach, or its image is gone");
      if (apply.sequence !== expected) return this.refuse(connection, `link.apply ${apply.sequence} out of order: ${expected} was next`);
      // The registry let only a frame with raw bytes through (link-protocol.ts rawBytesMax).
      const invalid = checkEntries(image, apply, rawLength(raw!));
      if (invalid !== null) return this.refuse(connection, `link.apply ${apply.sequence}: ${invalid}`);
      expected++;
      const results = applyEntries(image, apply, raw!);
      this.counts.applied++;
      connection.send("link.ack", { sequence: apply.sequence, results });
    });
  }

  private refuse(connection: Connection<LinkMessages>, why: string): void {
    this.counts.refused++;
    this.options.log(`link connection ${connection.description} closed: ${why}`);
    void connection.close(why);
  }

  async close(): Promise<void> {
    await this.server?.close("the node is shutting down");
    this.server = null;
  }
}

// Null when the entries' lengths add up to the frame's `rawBytes` and every
// entry names a PPRC secondary of `image` and lies within it, or what is wrong
// with the first that does not.
function checkEntries(image: StorageImage, apply: ApplyBody, rawBytes: number): string | null {
  let total = 0;
  for (const entry of apply.entries) total += entry.length;
  if (total !== rawBytes) return `its entries' lengths add up to ${total} bytes, but it carries ${rawBytes} raw bytes`;
  const sizes = new Map(image.listVolumes().map((volume) => [volume.slot, volume.sizeBytes]));
  for (const [index, entry] of apply.entries.entries()) {
    const size = sizes.get(entry.slot);
    if (size === undefined) return `entry ${index}: no volume in slot ${entry.slot} of ${image.id}`;
    if (image.core.exports.pprc_role_of(entry.slot) !== PprcRole.SECONDARY) return `entry ${index}: the volume in slot ${entry.slot} of ${image.id} is not a PPRC secondary`;
    if (entry.offset + entry.length > size) return `entry ${index}: ${entry.length} bytes at ${entry.offset} run past the end of the volume (${size} bytes)`;
  }
  return null;
}

// Applies each checked entry, its bytes the next `length` bytes of `raw` (the
// frame's raw bytes, in the pieces the socket delivered them), in order: one
// result each. Entries that follow each other on the volume within one
// extent (a copy frame's run of tracks) go in as one direct apply
// (mirror_apply_begin/end): their bytes are copied once, from the pieces
// straight into the secondary's memory. Where the core refuses a direct
// apply (a secondary that is a FlashCopy target, or any error) its entries go
// through the staging buffer and mirror_apply one by one instead, which gives
// each its own result.
function applyEntries(image: StorageImage, apply: ApplyBody, raw: readonly Uint8Array[]): number[] {
  const results: number[] = [];
  const entries = apply.entries;
  let at = 0;
  for (let first = 0; first < entries.length;) {
    const end = runEnd(entries, first);
    const length = entries[end - 1].offset + entries[end - 1].length - entries[first].offset;
    if (applyDirect(image, entries[first].slot, entries[first].offset, raw, at, length)) {
      for (let index = first; index < end; index++) results.push(CoreCode.OK);
    } else {
      for (let index = first, from = at; index < end; from += entries[index].length, index++) results.push(applyStaged(image, entries[index], raw, from));
    }
    at += length;
    first = end;
  }
  return results;
}

// The end (exclusive) of the run of entries from `first` that follow each
// other in one volume and one extent.
function runEnd(entries: ApplyBody["entries"], first: number): number {
  const extent = Math.floor(entries[first].offset / EXTENT_SIZE);
  let end = first + 1;
  while (end < entries.length) {
    const [previous, entry] = [entries[end - 1], entries[end]];
    if (entry.slot !== previous.slot || entry.offset !== previous.offset + previous.length) break;
    if (Math.floor((entry.offset + entry.length - 1) / EXTENT_SIZE) !== extent) break;
    end++;
  }
  return end;
}

// `length` bytes of `raw` from `from` at `offset` of the secondary in `slot`,
// in one direct apply; false when the core refused it (nothing applied).
function applyDirect(image: StorageImage, slot: number, offset: number, raw: readonly Uint8Array[], from: number, length: number): boolean {
  const core = image.core;
  if (core.exports.mirror_apply_begin(slot, offset, length) !== CoreCode.OK) return false;
  // The view is taken after the core has allocated the range's extents: memory may have grown.
  copyRaw(raw, from, length, core.view(), core.exports.mirror_apply_pointer());
  core.exports.mirror_apply_end(slot, offset, length);
  return true;
}

// One entry (at most a track, within the staging buffer), its bytes from `from` of `raw`, through the staging buffer and mirror_apply.
function applyStaged(image: StorageImage, entry: ApplyBody["entries"][number], raw: readonly Uint8Array[], from: number): number {
  const core = image.core;
  copyRaw(raw, from, entry.length, core.staging(entry.length), 0);
  return core.exports.mirror_apply(entry.slot, entry.offset, entry.length, core.stagingPointer);
}
