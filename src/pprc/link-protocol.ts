// The frames of a PPRC link between two nodes (design.md §7): the wire
// protocol of src/wire (version handshake, HMAC challenge on the site key,
// heartbeats, every frame typed, bounded and validated before a handler sees
// it) carrying mirrored writes and copied tracks from a primary image's
// sender thread (tcp-link-worker.ts) to the secondary image's node
// (link-receiver.ts), and their acknowledgements back.
//
//   sender (dialer)                               receiver (acceptor)
//   link.attach { primary, secondary }   ──▶   the secondary image, if hosted here
//   link.attached { secondary }          ◀──
//   link.apply { sequence, entries } + raw bytes  ──▶   every entry checked, then applied in order
//   link.ack { sequence, results }       ◀──   one result (a core code) per entry
//
// The same port takes the control requests of PPRC between nodes, from the
// main thread of the other node (remote-image.ts), each naming the image it
// is for; link-control.ts answers them:
//   link.volumes          what mkpprc checks of the secondaries (size, pair, FlashCopy)
//   link.make-secondary   a volume becomes the secondary of a pair whose primary is remote
//   link.clear-secondary  rmpprc: it is an ordinary volume again
//   link.pair-status      the primary's state of a pair, for the secondary's lspprc
//   link.failback-target  failbackpprc: the old primary becomes the secondary, its
//                         out-of-sync tracks handed to the new primary
//
// `sequence` counts the apply frames of one connection from 1, and the
// receiver takes them only in that order: a gap or a repeat closes the
// connection before anything of it is applied. An entry names the
// secondary's volume by its slot in the secondary image (the primary's core
// holds it, assembly/mirror.ts V_PPRC_REMOTE), an offset and a length of at
// most one track; the entries' bytes are the frame's raw bytes (wire
// protocol version 2), one after another in entry order, never msgpack-encoded:
// the lengths must add up to exactly the raw bytes the frame carries.
import { Type, type Static } from "@sinclair/typebox";
import { TRACK_SIZE, VOLUME_SLOT_MAX } from "../core/codes.js";
import { defineMessages } from "../wire/messages.js";

export const LINK_ROLE = "link";
export const LINK_ENTRIES_MAX = 64; // a ring's entries (32) or a copy frame's tracks fit
export const IMAGE_ID_LENGTH_MAX = 64;
export const SEQUENCE_MAX = Number.MAX_SAFE_INTEGER;
// A frame holds at most LINK_ENTRIES_MAX tracks (its raw bytes) and their fields.
export const LINK_RAW_BYTES_MAX = LINK_ENTRIES_MAX * TRACK_SIZE;
export const LINK_FRAME_BYTES_MAX = LINK_RAW_BYTES_MAX + LINK_ENTRIES_MAX * 64 + 1024;

// A dead peer fails the link within the heartbeat timeout; a killed process sooner, when its socket resets.
export const LINK_HEARTBEAT_INTERVAL_MS = 400;
export const LINK_HEARTBEAT_TIMEOUT_MS = 2_000;

const closed = { additionalProperties: false } as const;
const ImageId = Type.String({ minLength: 1, maxLength: IMAGE_ID_LENGTH_MAX });
const Sequence = Type.Integer({ minimum: 1, maximum: SEQUENCE_MAX });
const Entry = Type.Object({
  slot: Type.Integer({ minimum: 0, maximum: VOLUME_SLOT_MAX - 1 }),
  offset: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  length: Type.Integer({ minimum: 1, maximum: TRACK_SIZE }),
}, closed);


const PairId = Type.String({ minLength: 1, maxLength: 16 });
const VolumeId = Type.String({ minLength: 1, maxLength: 8 });
const Endpoint = Type.String({ maxLength: 300 }); // "host:port", "" when the node takes no links
const Slot = Type.Integer({ minimum: 0, maximum: VOLUME_SLOT_MAX - 1 });
const Text = Type.String({ maxLength: 1024 });
export const CONTROL_VOLUMES_MAX = 256;
export const TRACK_RUNS_MAX = 65_536;
const PairType = Type.Union([Type.Literal("mmir"), Type.Literal("gcp")]);
const Primary = { primary_image_id: ImageId, primary_slot: Slot, primary_endpoint: Endpoint, tgtread: Type.Boolean(), type: PairType, critmode: Type.Boolean() };

export const linkControlSpecs = {
  "link.volumes": { body: Type.Object({ image_id: ImageId, ids: Type.Array(VolumeId, { minItems: 1, maxItems: CONTROL_VOLUMES_MAX }) }, closed), reply: "link.volumes.ok" },
  "link.volumes.ok": {
    body: Type.Object({
      volumes: Type.Array(Type.Object({
        id: VolumeId, slot: Slot, size_bytes: Type.Integer({ minimum: 0 }), blocks: Type.Integer({ minimum: 0 }), pair: Type.String({ maxLength: 16 }), flash_target: Type.Boolean(),
        // A secondary restored from a state file: the restore's token, "" for none (its primary then copies it whole once).
        restore: Type.Optional(Type.String({ maxLength: 16 })),
      }, closed), { maxItems: CONTROL_VOLUMES_MAX }),
    }, closed),
  },
  "link.make-secondary": { body: Type.Object({ image_id: ImageId, volume_id: VolumeId, pair_id: PairId, ...Primary }, closed), reply: "link.made" },
  "link.made": { body: Type.Object({ slot: Slot }, closed) },
  "link.clear-secondary": { body: Type.Object({ image_id: ImageId, volume_id: VolumeId, pair_id: PairId }, closed), reply: "link.cleared" },
  "link.cleared": { body: Type.Object({}, closed) },
  "link.pair-status": { body: Type.Object({ image_id: ImageId, pair_id: PairId }, closed), reply: "link.pair-status.ok" },
  "link.pair-status.ok": {
    body: Type.Object({ state: Type.String({ maxLength: 32 }), reason: Text, out_of_sync: Type.Integer({ minimum: 0 }), type: PairType, critmode: Type.Boolean() }, closed),
  },
  // The old primary `volume_id` of `image_id` (pair `old_pair_id`) becomes the secondary of the failed-back pair.
  "link.failback-target": { body: Type.Object({ image_id: ImageId, volume_id: VolumeId, old_pair_id: PairId, pair_id: PairId, ...Primary }, closed), reply: "link.failback-target.ok" },
  "link.failback-target.ok": {
    body: Type.Object({ slot: Slot, out_of_sync_runs: Type.Array(Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 1 })]), { maxItems: TRACK_RUNS_MAX }) }, closed),
  },
} as const;

export const linkMessages = defineMessages({
  ...linkControlSpecs,
  "link.attach": { body: Type.Object({ primary_image_id: ImageId, secondary_image_id: ImageId }, closed), reply: "link.attached" },
  "link.attached": { body: Type.Object({ secondary_image_id: ImageId }, closed) },
  "link.apply": { body: Type.Object({ sequence: Sequence, entries: Type.Array(Entry, { minItems: 1, maxItems: LINK_ENTRIES_MAX }) }, closed), rawBytesMax: LINK_RAW_BYTES_MAX },
  "link.ack": {
    body: Type.Object({
      sequence: Sequence,
      results: Type.Array(Type.Integer({ minimum: -0x8000_0000, maximum: 0x7fff_ffff }), { minItems: 1, maxItems: LINK_ENTRIES_MAX }),
    }, closed),
  },
});

export type LinkMessages = typeof linkMessages.specs;
export type ApplyBody = Static<LinkMessages["link.apply"]["body"]>;
export type AckBody = Static<LinkMessages["link.ack"]["body"]>;

// Where a node takes links: its link listener's address.
export interface LinkEndpoint {
  host: string;
  port: number;
}

export function formatEndpoint(endpoint: LinkEndpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

// "127.0.0.1:8460" → an endpoint; null when it is not host:port.
export function parseEndpoint(text: string): LinkEndpoint | null {
  const match = /^(.+):(\d{1,5})$/.exec(text);
  if (match === null) return null;
  const port = Number(match[2]);
  return port >= 1 && port <= 65_535 ? { host: match[1], port } : null;
}

export type ControlBody<K extends keyof typeof linkControlSpecs> = Static<(typeof linkControlSpecs)[K]["body"]>;
