// The NBD handshake, fixed newstyle only (proto.md "Fixed newstyle
// negotiation"): the greeting, the client's flags, then options until the
// client picks an export (NBD_OPT_GO or NBD_OPT_EXPORT_NAME) or leaves.
// Oldstyle and plain newstyle clients are refused by closing, as the
// specification allows a server that requires fixed newstyle.
import type { Socket } from "node:net";
import * as N from "./nbd-constants.js";
import type { SocketReader } from "./socket-reader.js";

export interface NbdExport {
  name: string; // the volume ID, "1000"
  fullName: string; // its fully qualified ID, "IBM.2105-75TZ001/1000"
  imageId: string; // the storage image whose core serves it
  description: string;
  slot: number;
  sizeBytes: number;
  readOnly: boolean; // a -tgtinhibit target (or a PPRC secondary)
  stats: SharedArrayBuffer; // the figures of the export's host connection (nbd-stats.ts)
}

export interface Negotiated {
  volume: NbdExport;
  structured: boolean; // NBD_OPT_STRUCTURED_REPLY was acknowledged
  noZeroes: boolean;
}

// A handshake that the client broke: the connection is closed with this reason.
export class ProtocolViolation extends Error {
  readonly code = "PROTOCOL_VIOLATION";
}

export function findExport(exports: readonly NbdExport[], name: string): NbdExport | undefined {
  const wanted = name.toUpperCase();
  return exports.find((volume) => volume.name.toUpperCase() === wanted || volume.fullName.toUpperCase() === wanted);
}

export function transmissionFlags(volume: NbdExport): number {
  const flags = N.NBD_FLAG_HAS_FLAGS | N.NBD_FLAG_SEND_FLUSH | N.NBD_FLAG_SEND_FUA | N.NBD_FLAG_SEND_TRIM
    | N.NBD_FLAG_SEND_WRITE_ZEROES | N.NBD_FLAG_SEND_DF | N.NBD_FLAG_CAN_MULTI_CONN;
  return volume.readOnly ? flags | N.NBD_FLAG_READ_ONLY : flags;
}

function greeting(): Buffer {
  const bytes = Buffer.alloc(18);
  bytes.writeBigUInt64BE(N.NBDMAGIC, 0);
  bytes.writeBigUInt64BE(N.IHAVEOPT, 8);
  bytes.writeUInt16BE(N.NBD_FLAG_FIXED_NEWSTYLE | N.NBD_FLAG_NO_ZEROES, 16);
  return bytes;
}

// "Option reply": magic, the option, the reply type, the data.
export function optionReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(20);
  header.writeBigUInt64BE(N.OPTION_REPLY_MAGIC, 0);
  header.writeUInt32BE(option, 8);
  header.writeUInt32BE(type, 12);
  header.writeUInt32BE(data.length, 16);
  return Buffer.concat([header, data]);
}

function errorReply(option: number, type: number, message: string): Buffer {
  return optionReply(option, type, Buffer.from(message, "utf8"));
}

export async function negotiate(socket: Socket, reader: SocketReader, exports: () => readonly NbdExport[]): Promise<Negotiated | null> {
  socket.write(greeting());
  const clientFlags = (await reader.read(4)).readUInt32BE(0);
  if ((clientFlags & N.NBD_FLAG_C_FIXED_NEWSTYLE) === 0) throw new ProtocolViolation("the client does not speak fixed newstyle negotiation");
  if ((clientFlags & ~(N.NBD_FLAG_C_FIXED_NEWSTYLE | N.NBD_FLAG_C_NO_ZEROES)) !== 0) {
    throw new ProtocolViolation(`the client sent unknown flags 0x${clientFlags.toString(16)}`);
  }
  const state = { structured: false, noZeroes: (clientFlags & N.NBD_FLAG_C_NO_ZEROES) !== 0 };
  for (let count = 0; count < N.OPTIONS_MAX; count++) {
    const header = await reader.read(16);
    if (header.readBigUInt64BE(0) !== N.IHAVEOPT) throw new ProtocolViolation("an option request without the IHAVEOPT magic");
    const option = header.readUInt32BE(8);
    const length = header.readUInt32BE(12);
    if (length > N.OPTION_DATA_MAX_BYTES) throw new ProtocolViolation(`option ${option} carries ${length} bytes, more than ${N.OPTION_DATA_MAX_BYTES}`);
    const data = await reader.read(length);
    const outcome = handleOption(socket, option, data, exports(), state);
    if (outcome === "abort") return null;
    if (outcome !== "continue") return { volume: outcome, structured: state.structured, noZeroes: state.noZeroes };
  }
  throw new ProtocolViolation(`more than ${N.OPTIONS_MAX} options without choosing an export`);
}

type Outcome = "continue" | "abort" | NbdExport;

function handleOption(socket: Socket, option: number, data: Buffer, exports: readonly NbdExport[], state: { structured: boolean; noZeroes: boolean }): Outcome {
  switch (option) {
    case N.NBD_OPT_EXPORT_NAME: return exportName(socket, data, exports, state.noZeroes);
    case N.NBD_OPT_ABORT:
      socket.write(optionReply(option, N.NBD_REP_ACK));
      return "abort";
    case N.NBD_OPT_LIST: return list(socket, data, exports);
    case N.NBD_OPT_INFO:
    case N.NBD_OPT_GO: return info(socket, option, data, exports);
    case N.NBD_OPT_STRUCTURED_REPLY:
      if (data.length !== 0) socket.write(errorReply(option, N.NBD_REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data"));
      else {
        state.structured = true;
        socket.write(optionReply(option, N.NBD_REP_ACK));
      }
      return "continue";
    case N.NBD_OPT_SET_META_CONTEXT:
    case N.NBD_OPT_LIST_META_CONTEXT:
      // No metadata context is offered: an ACK with no NBD_REP_META_CONTEXT before it selects none.
      socket.write(optionReply(option, N.NBD_REP_ACK));
      return "continue";
    case N.NBD_OPT_STARTTLS:
      socket.write(errorReply(option, N.NBD_REP_ERR_POLICY, "TLS is not offered on this endpoint"));
      return "continue";
    default:
      socket.write(errorReply(option, N.NBD_REP_ERR_UNSUP, `option ${option} is not supported`));
      return "continue";
  }
}

// "NBD_OPT_EXPORT_NAME": no error reply exists; an unknown export closes the connection.
function exportName(socket: Socket, data: Buffer, exports: readonly NbdExport[], noZeroes: boolean): Outcome {
  const name = data.toString("utf8");
  const volume = findExport(exports, name);
  if (volume === undefined) throw new ProtocolViolation(`NBD_OPT_EXPORT_NAME asked for ${JSON.stringify(name)}, not an export of this host`);
  const reply = Buffer.alloc(noZeroes ? 10 : 134);
  reply.writeBigUInt64BE(BigInt(volume.sizeBytes), 0);
  reply.writeUInt16BE(transmissionFlags(volume), 8);
  socket.write(reply);
  return volume;
}

function list(socket: Socket, data: Buffer, exports: readonly NbdExport[]): Outcome {
  if (data.length !== 0) {
    socket.write(errorReply(N.NBD_OPT_LIST, N.NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data"));
    return "continue";
  }
  for (const volume of exports) {
    const name = Buffer.from(volume.name, "utf8");
    const description = Buffer.from(volume.description, "utf8");
    const entry = Buffer.alloc(4 + name.length + description.length);
    entry.writeUInt32BE(name.length, 0);
    name.copy(entry, 4);
    description.copy(entry, 4 + name.length);
    socket.write(optionReply(N.NBD_OPT_LIST, N.NBD_REP_SERVER, entry));
  }
  socket.write(optionReply(N.NBD_OPT_LIST, N.NBD_REP_ACK));
  return "continue";
}

// "NBD_OPT_INFO and NBD_OPT_GO": name length, name, count of requests, each a u16.
function info(socket: Socket, option: number, data: Buffer, exports: readonly NbdExport[]): Outcome {
  const parsed = parseInfoRequest(data);
  if (typeof parsed === "string") {
    socket.write(errorReply(option, N.NBD_REP_ERR_INVALID, parsed));
    return "continue";
  }
  const volume = findExport(exports, parsed.name);
  if (volume === undefined) {
    socket.write(errorReply(option, N.NBD_REP_ERR_UNKNOWN, `${parsed.name} is not a volume of this host's volume group`));
    return "continue";
  }
  socket.write(optionReply(option, N.NBD_REP_INFO, infoExport(volume)));
  socket.write(optionReply(option, N.NBD_REP_INFO, infoBlockSize()));
  if (parsed.requests.includes(N.NBD_INFO_NAME)) socket.write(optionReply(option, N.NBD_REP_INFO, infoText(N.NBD_INFO_NAME, volume.name)));
  if (parsed.requests.includes(N.NBD_INFO_DESCRIPTION)) socket.write(optionReply(option, N.NBD_REP_INFO, infoText(N.NBD_INFO_DESCRIPTION, volume.description)));
  socket.write(optionReply(option, N.NBD_REP_ACK));
  return option === N.NBD_OPT_GO ? volume : "continue";
}

function parseInfoRequest(data: Buffer): { name: string; requests: number[] } | string {
  if (data.length < 6) return `the request has ${data.length} bytes, fewer than the 6 of an empty one`;
  const nameLength = data.readUInt32BE(0);
  if (nameLength > N.EXPORT_NAME_MAX_BYTES || 4 + nameLength + 2 > data.length) return `the export name's length ${nameLength} does not fit the request`;
  const name = data.subarray(4, 4 + nameLength).toString("utf8");
  const count = data.readUInt16BE(4 + nameLength);
  if (data.length !== 4 + nameLength + 2 + 2 * count) return `the request announces ${count} information requests but carries ${data.length - 6 - nameLength} bytes of them`;
  const requests: number[] = [];
  for (let index = 0; index < count; index++) requests.push(data.readUInt16BE(4 + nameLength + 2 + 2 * index));
  return { name, requests };
}

function infoExport(volume: NbdExport): Buffer {
  const bytes = Buffer.alloc(12);
  bytes.writeUInt16BE(N.NBD_INFO_EXPORT, 0);
  bytes.writeBigUInt64BE(BigInt(volume.sizeBytes), 2);
  bytes.writeUInt16BE(transmissionFlags(volume), 10);
  return bytes;
}

function infoBlockSize(): Buffer {
  const bytes = Buffer.alloc(14);
  bytes.writeUInt16BE(N.NBD_INFO_BLOCK_SIZE, 0);
  bytes.writeUInt32BE(N.BLOCK_MIN_BYTES, 2);
  bytes.writeUInt32BE(N.BLOCK_PREFERRED_BYTES, 6);
  bytes.writeUInt32BE(N.PAYLOAD_MAX_BYTES, 10);
  return bytes;
}

function infoText(type: number, text: string): Buffer {
  const body = Buffer.from(text, "utf8");
  const bytes = Buffer.alloc(2 + body.length);
  bytes.writeUInt16BE(type, 0);
  body.copy(bytes, 2);
  return bytes;
}
