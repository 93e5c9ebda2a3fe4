// The DS8000 REST API's reply envelope (design.md §10):
//   {"server":{"status","code","message"},"counts":{"data_counts","total_counts"},"data":{KIND:[...]}}
// `data` holds exactly one key, the resource kind, and a one-item GET is a
// one-element list. Every object carries an absolute `link` {rel:"self",href}
// built from the request's origin, as clients follow those links.
import type { FastifyRequest } from "fastify";
import { RestError } from "./errors.js";

export const API_PATH = "/api/v1";
export const JSON_TYPE = "application/json; charset=utf-8";

export interface ServerStatus {
  status: "ok" | "failed";
  code: string;
  message: string;
}

export interface Link {
  rel: "self";
  href: string;
}

// One object of a reply: its ID, its own link, and the fields of its kind.
export type Item = { id: string; link: Link } & Record<string, unknown>;
// An object whose key is another field: pyds8k refuses an `id` beside a host port's `wwpn` or a mapping's `lunid`.
export type KeyedItem = { link: Link } & Record<string, unknown>;

export const OK: ServerStatus = { status: "ok", code: "", message: "Operation done successfully." };

const OK_TEXT = JSON.stringify(OK);

export function listReply(kind: string, items: readonly KeyedItem[]): object {
  return { server: OK, counts: { data_counts: items.length, total_counts: items.length }, data: { [kind]: items } };
}

// The same reply built from items already serialised to UTF-8 JSON: listings
// of thousands of volumes are rendered so (routes/volumes.ts).
export function listReplyBytes(kind: string, items: readonly Buffer[]): Buffer {
  const counts = `{"data_counts":${items.length},"total_counts":${items.length}}`;
  const parts: Buffer[] = [Buffer.from(`{"server":${OK_TEXT},"counts":${counts},"data":{${JSON.stringify(kind)}:[`)];
  items.forEach((item, index) => {
    if (index > 0) parts.push(COMMA);
    parts.push(item);
  });
  parts.push(CLOSE_LIST_REPLY);
  return Buffer.concat(parts);
}

const COMMA = Buffer.from(",");
const CLOSE_LIST_REPLY = Buffer.from("]}}");

export function failedReply(error: RestError): object {
  return { server: { status: "failed", code: error.code, message: error.message } satisfies ServerStatus };
}

// What POST answers: for one object its own link and data at the top, as a
// DS8000 does; for several, one `responses` entry each.
export function createdReply(kind: string, created: readonly KeyedItem[]): object {
  const entry = (item: KeyedItem) => ({ server: OK, link: item.link, data: { [kind]: [item] } });
  if (created.length === 1) return entry(created[0]);
  return { server: OK, counts: { data_counts: created.length, total_counts: created.length }, responses: created.map(entry) };
}

// Builds the absolute links of one request: `base` is scheme://host/api/v1.
export class Links {
  readonly baseText: string; // `base` as it reads inside a JSON string

  constructor(readonly base: string) {
    this.baseText = JSON.stringify(base).slice(1, -1);
  }

  to(...segments: string[]): Link {
    return { rel: "self", href: `${this.base}/${segments.map(segment).join("/")}` };
  }

  // The JSON text of `to(...)`, for items rendered as text.
  toText(...segments: string[]): string {
    return `{"rel":"self","href":"${this.baseText}/${segments.map(segment).join("/")}"}`;
  }

  // A related object as DS8000 nests it: its ID and its link.
  ref(kind: string, id: string): { id: string; link: Link } {
    return { id, link: this.to(kind, id) };
  }
}

// A Host header is a name or address and an optional port; anything else
// would end up inside every link of the reply.
const HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

export function linksFor(request: FastifyRequest, baseUrl: string | undefined): Links {
  if (baseUrl !== undefined) return new Links(`${baseUrl.replace(/\/+$/, "")}${API_PATH}`);
  const host = request.headers.host;
  if (host === undefined || !HOST.test(host)) {
    throw new RestError(400, "BAD_HOST", `the Host header ${host === undefined ? "is missing" : JSON.stringify(host.slice(0, 64)) + " is not a host name and port"}; links are built from it`, "Host");
  }
  return new Links(`${request.protocol}://${host}${API_PATH}`);
}

// IDs are plain already (kept as they are, quickly); a colon stays as it is in FlashCopy IDs ("1000:1001").
const PLAIN_SEGMENT = /^[A-Za-z0-9._:-]*$/;

function segment(text: string): string {
  return PLAIN_SEGMENT.test(text) ? text : encodeURIComponent(text).replace(/%3A/gi, ":");
}
