// Message kinds as one table: type name → body schema (TypeBox, so JSON
// Schema that the REST API can share) and, for a request, the type of its
// reply. Every frame is validated here, in one place, before any handler sees
// it: first its envelope, then its body against the schema of its type.
//
// Frame envelope (a msgpack map):
//   type      string   the message type, a key of the registry
//   id        integer  present on a request: the sender's request id
//   reply_to  integer  present on a reply: the id of the request it answers
//   body      value    validated against the type's schema
//
// A registry refuses at definition time any schema that would let a peer send
// an unbounded value: every string needs maxLength, every array maxItems,
// every Uint8Array maxByteLength, and every object additionalProperties: false.
//
// A one-way type may take raw bytes behind its body (codec.ts, the raw
// layout), bounded by its `rawBytesMax`: every frame of it carries them, and
// no frame of another type may. Its application checks that the body
// accounts for exactly the raw bytes it got.
import { Kind, Type, type Static, type TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { WireError } from "./errors.js";

export const TYPE_NAME_LENGTH_MAX = 64;
export const REQUEST_ID_MAX = Number.MAX_SAFE_INTEGER;
// Types of the protocol itself; applications may not register names with this prefix.
export const PROTOCOL_PREFIX = "wire.";

export interface MessageSpec {
  body: TSchema;
  reply?: string; // present: the type is a request, answered by a message of this type
  rawBytesMax?: number; // present: a one-way type whose frames carry 1 to this many raw bytes
}

export type MessageSpecs = Record<string, MessageSpec>;
export type BodyOf<S extends MessageSpecs, K extends keyof S> = Static<S[K]["body"]>;
export type RequestTypes<S extends MessageSpecs> = { [K in keyof S]: S[K]["reply"] extends string ? K : never }[keyof S] & string;
export type ReplyBodyOf<S extends MessageSpecs, K extends keyof S> = S[K]["reply"] extends keyof S ? Static<S[S[K]["reply"]]["body"]> : never;

export interface Envelope {
  type: string;
  id?: number;
  reply_to?: number;
  body: unknown;
}

const RequestId = Type.Integer({ minimum: 1, maximum: REQUEST_ID_MAX });
const EnvelopeSchema = Type.Object({
  type: Type.String({ minLength: 1, maxLength: TYPE_NAME_LENGTH_MAX }),
  id: Type.Optional(RequestId),
  reply_to: Type.Optional(RequestId),
  body: Type.Unknown(),
}, { additionalProperties: false });
const envelopeCheck = TypeCompiler.Compile(EnvelopeSchema);

// Walks a schema and throws naming the first unbounded part.
function assertBounded(schema: TSchema, where: string): void {
  const kind = schema[Kind] as string;
  const refuse = (what: string) => {
    throw new WireError("BAD_ARGUMENT", `message schema ${where}: ${what}`);
  };
  if (kind === "String" && schema.maxLength === undefined && schema.enum === undefined) refuse("a string without maxLength");
  if (kind === "Array") {
    if (schema.maxItems === undefined) refuse("an array without maxItems");
    assertBounded(schema.items as TSchema, `${where}/items`);
  }
  if (kind === "Uint8Array" && schema.maxByteLength === undefined) refuse("a Uint8Array without maxByteLength");
  if (kind === "Object") {
    if (schema.additionalProperties !== false) refuse("an object without additionalProperties: false");
    for (const [name, property] of Object.entries(schema.properties as Record<string, TSchema>)) assertBounded(property, `${where}/${name}`);
  }
  if (kind === "Union" || kind === "Intersect") (schema.anyOf ?? schema.allOf as TSchema[]).forEach((member: TSchema, index: number) => assertBounded(member, `${where}/${index}`));
  if (kind === "Tuple") ((schema.items ?? []) as TSchema[]).forEach((member, index) => assertBounded(member, `${where}/${index}`));
  if (kind === "Record" || kind === "Any" || kind === "Unknown" || kind === "Unsafe") refuse(`a ${kind} (its size has no bound)`);
}

interface CompiledSpec {
  check: TypeCheck<TSchema>;
  reply?: string;
  rawBytesMax?: number;
}

export class MessageRegistry<S extends MessageSpecs = MessageSpecs> {
  private readonly compiled = new Map<string, CompiledSpec>();

  constructor(readonly specs: S, options: { protocol?: boolean } = {}) {
    for (const [name, spec] of Object.entries(specs)) {
      if (name.length === 0 || name.length > TYPE_NAME_LENGTH_MAX) throw new WireError("BAD_ARGUMENT", `message type name "${name}" must have 1 to ${TYPE_NAME_LENGTH_MAX} characters`);
      if (!options.protocol && name.startsWith(PROTOCOL_PREFIX)) throw new WireError("BAD_ARGUMENT", `message type "${name}": the prefix "${PROTOCOL_PREFIX}" is the protocol's own`);
      assertBounded(spec.body, name);
      assertRawBound(name, spec);
      this.compiled.set(name, { check: TypeCompiler.Compile(spec.body), reply: spec.reply, rawBytesMax: spec.rawBytesMax });
    }
    for (const [name, spec] of Object.entries(specs)) {
      if (spec.reply !== undefined && !this.compiled.has(spec.reply)) throw new WireError("BAD_ARGUMENT", `message type "${name}" is answered by "${spec.reply}", which is not in the registry`);
    }
  }

  has(type: string): boolean {
    return this.compiled.has(type);
  }

  // The reply type of a request type; undefined for a one-way type.
  replyOf(type: string): string | undefined {
    return this.compiled.get(type)?.reply;
  }

  // Null when a frame of `type` may carry `rawBytes` raw bytes (null: a frame
  // without them), or the error saying why not.
  validateRaw(type: string, rawBytes: number | null, code: "BAD_MESSAGE" | "BAD_ARGUMENT" = "BAD_MESSAGE"): WireError | null {
    const bytesMax = this.compiled.get(type)?.rawBytesMax;
    if (bytesMax === undefined && rawBytes === null) return null;
    if (bytesMax === undefined) return new WireError(code, `message "${type}" takes no raw bytes; the frame carries ${rawBytes}`, { messageType: type });
    if (rawBytes === null) return new WireError(code, `message "${type}" must carry raw bytes; the frame has none`, { messageType: type });
    if (rawBytes < 1 || rawBytes > bytesMax) return new WireError(code, `message "${type}" carries ${rawBytes} raw bytes; it takes 1 to ${bytesMax}`, { messageType: type });
    return null;
  }

  // Null when `body` is a valid body of `type`, or the error naming the field at fault.
  validate(type: string, body: unknown, code: "BAD_MESSAGE" | "BAD_ARGUMENT" = "BAD_MESSAGE"): WireError | null {
    const spec = this.compiled.get(type);
    if (spec === undefined) return new WireError(code === "BAD_ARGUMENT" ? code : "UNKNOWN_TYPE", `unknown message type "${type}"`, { messageType: type });
    if (spec.check.Check(body)) return null;
    const first = spec.check.Errors(body).First();
    const field = `/body${first?.path ?? ""}`;
    return new WireError(code, `message "${type}": ${field}: ${first?.message ?? "invalid"}`, { messageType: type, field });
  }
}

function assertRawBound(name: string, spec: MessageSpec): void {
  if (spec.rawBytesMax === undefined) return;
  if (!Number.isInteger(spec.rawBytesMax) || spec.rawBytesMax < 1) throw new WireError("BAD_ARGUMENT", `message type "${name}": rawBytesMax ${spec.rawBytesMax} is not a whole number ≥ 1`);
  if (spec.reply !== undefined) throw new WireError("BAD_ARGUMENT", `message type "${name}": only a one-way type may take raw bytes`);
}

export function defineMessages<const S extends MessageSpecs>(specs: S): MessageRegistry<S> {
  return new MessageRegistry(specs);
}

// Null when `value` is a well-formed envelope, or the error naming what is wrong with it.
export function checkEnvelope(value: unknown): WireError | null {
  if (envelopeCheck.Check(value)) {
    const envelope = value as Envelope;
    if (envelope.id !== undefined && envelope.reply_to !== undefined) return new WireError("BAD_MESSAGE", `frame of type "${envelope.type}" is both a request and a reply`, { messageType: envelope.type });
    return null;
  }
  const first = envelopeCheck.Errors(value).First();
  const field = first?.path || "/";
  return new WireError("BAD_MESSAGE", `frame envelope: ${field}: ${first?.message ?? "invalid"}`, { field });
}

// The protocol's own messages: the handshake, heartbeats, a clean close and
// the failure reply to a request.
export const NONCE_BYTES = 32;
export const MAC_BYTES = 32; // HMAC-SHA256
export const NODE_ID_LENGTH_MAX = 128;
export const ROLE_LENGTH_MAX = 32;
export const REASON_LENGTH_MAX = 1024;
export const CODE_LENGTH_MAX = 64;

const Reason = Type.Object({
  code: Type.String({ minLength: 1, maxLength: CODE_LENGTH_MAX }),
  message: Type.String({ maxLength: REASON_LENGTH_MAX }),
}, { additionalProperties: false });

export const protocolMessages = new MessageRegistry({
  "wire.hello": {
    body: Type.Object({
      version: Type.Integer({ minimum: 1, maximum: 0xffff }),
      node_id: Type.String({ minLength: 1, maxLength: NODE_ID_LENGTH_MAX }),
      role: Type.String({ minLength: 1, maxLength: ROLE_LENGTH_MAX }),
      nonce: Type.Uint8Array({ minByteLength: NONCE_BYTES, maxByteLength: NONCE_BYTES }),
    }, { additionalProperties: false }),
  },
  "wire.proof": { body: Type.Object({ mac: Type.Uint8Array({ minByteLength: MAC_BYTES, maxByteLength: MAC_BYTES }) }, { additionalProperties: false }) },
  "wire.ping": { body: Type.Object({}, { additionalProperties: false }) },
  "wire.close": { body: Reason },
  "wire.error": { body: Reason },
}, { protocol: true });

export type HelloBody = Static<typeof protocolMessages.specs["wire.hello"]["body"]>;
export type ReasonBody = Static<typeof Reason>;
