// The node↔server messages of /cs/node that are neither the Site RPC
// (src/site/protocol.ts) nor replication: a node registers its images with
// the primary, and learns the site's servers (primary and backup) and term,
// so that after a takeover it finds the new primary on its own.
//
//   node (dialer)                                    server (acceptor)
//   node.register { node_id, url, term_seen } ──▶  registerNode(node_id, url, a Site over this connection)
//   node.registered { term, primary_url, backup_url } ◀──  (or wire.error NOT_PRIMARY from a backup)
//   node.servers { term, primary_url, backup_url }    ◀──  one-way, whenever the backup changes
//   node.status {}  ──▶  node.status.ok { role, term }    what a server is, for a returning former primary
//
// A node never registers with a server whose term is below the highest it
// has seen: that server is a former primary that has not yet learnt it was
// replaced, and taking its commands would make two primaries.
import { Type, type Static } from "@sinclair/typebox";

export const URL_LENGTH_MAX = 512;
export const NODE_ID_LENGTH_MAX = 128;
export const TERM_MAX = Number.MAX_SAFE_INTEGER;

const closed = { additionalProperties: false } as const;
const Url = Type.String({ maxLength: URL_LENGTH_MAX });
const Term = Type.Integer({ minimum: 0, maximum: TERM_MAX });
const Servers = Type.Object({ term: Term, primary_url: Url, backup_url: Url }, closed); // backup_url "" when there is none

export const ROLES = ["primary", "backup", "member"] as const;

export const nodeMessageSpecs = {
  "node.register": {
    body: Type.Object({ node_id: Type.String({ minLength: 1, maxLength: NODE_ID_LENGTH_MAX }), url: Url, term_seen: Term }, closed),
    reply: "node.registered",
  },
  "node.registered": { body: Servers },
  "node.servers": { body: Servers },
  "node.status": { body: Type.Object({}, closed), reply: "node.status.ok" },
  "node.status.ok": { body: Type.Object({ role: Type.Union(ROLES.map((role) => Type.Literal(role))), term: Term, url: Url }, closed) },
} as const;

export type ServersBody = Static<typeof Servers>;
export type ServerRole = (typeof ROLES)[number];

// The error code a backup (or a starting server) answers node.register with.
export const NOT_PRIMARY = "NOT_PRIMARY";
