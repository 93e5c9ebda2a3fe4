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
//   link.apply { sequence, entries }     ──▶   every entry checked, then applied in order
//   link.ack { sequence, results }       ◀──   one result (a core code) per entry
//
// `sequence` counts the apply frames of one connection from 1, and the
// receiver takes them only in that order: a gap or a repeat closes the
// connection before anything of it is applied. An entry names the
// secondary's volume by its slot in the secondary image (the primary's core
// holds it, assembly/mirror.ts V_PPRC_REMOTE) and carries at most one track.
import { Type, type Static } from "@sinclair/typebox";
import { TRACK_SIZE, VOLUME_SLOT_MAX } from "../core/codes.js";
import { defineMessages } from "../wire/messages.js";

export const LINK_ROLE = "link";
export const LINK_ENTRIES_MAX = 64; // a ring's entries (32) or a copy frame's tracks fit
export const IMAGE_ID_LENGTH_MAX = 64;
export const SEQUENCE_MAX = Number.MAX_SAFE_INTEGER;
// A frame holds at most LINK_ENTRIES_MAX tracks and their fields.
export const LINK_FRAME_BYTES_MAX = LINK_ENTRIES_MAX * (TRACK_SIZE + 64) + 1024;

// A dead peer fails the link within the heartbeat timeout; a killed process sooner, when its socket resets.
export const LINK_HEARTBEAT_INTERVAL_MS = 400;
export const LINK_HEARTBEAT_TIMEOUT_MS = 2_000;

const closed = { additionalProperties: false } as const;
const ImageId = Type.String({ minLength: 1, maxLength: IMAGE_ID_LENGTH_MAX });
const Sequence = Type.Integer({ minimum: 1, maximum: SEQUENCE_MAX });
const Entry = Type.Object({
  slot: Type.Integer({ minimum: 0, maximum: VOLUME_SLOT_MAX - 1 }),
  offset: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  data: Type.Uint8Array({ minByteLength: 1, maxByteLength: TRACK_SIZE }),
}, closed);

export const linkMessages = defineMessages({
  "link.attach": { body: Type.Object({ primary_image_id: ImageId, secondary_image_id: ImageId }, closed), reply: "link.attached" },
  "link.attached": { body: Type.Object({ secondary_image_id: ImageId }, closed) },
  "link.apply": { body: Type.Object({ sequence: Sequence, entries: Type.Array(Entry, { minItems: 1, maxItems: LINK_ENTRIES_MAX }) }, closed) },
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
