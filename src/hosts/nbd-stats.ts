// The figures of one NBD endpoint, in a small shared buffer its worker
// thread fills and the main thread reads (lshostconnect, the progress views):
//
//   byte  0  i32  clients      connections past their handshake, now
//   byte  4  i32  (reserved)
//   byte  8  i64  ios          requests served (reads, writes, zeroes, trims, flushes)
//   byte 16  i64  bytes        bytes read and written
//   byte 24  i64  connections  connections accepted, ever
//   byte 32  i64  refused      connections closed for a protocol violation
//   byte 40  i64  busy_ns      the sum over requests of the time each spent in the
//                              server, from its bytes' arrival to its reply's send
//   byte 48  i64  queued_peak  the most reply bytes one connection has had queued for
//                              its client, handed to the socket and not yet sent
//                              (nbd-transmission.ts bounds it)
//
// The worker is the only writer of an endpoint's own figures; a host's may
// have two (its own endpoint and the node's default one).
export const STATS_BYTES = 56;
export const WORD_CLIENTS = 0;
export const BIG_IOS = 1;
export const BIG_BYTES = 2;
export const BIG_CONNECTIONS = 3;
export const BIG_REFUSED = 4;
export const BIG_BUSY_NS = 5;
export const BIG_QUEUED_PEAK = 6;

export interface EndpointCounters {
  clients: number;
  ios: number;
  bytes: number;
  connections: number;
  refused: number;
  busyNs: number;
  queuedPeakBytes: number;
}

export function readCounters(buffer: SharedArrayBuffer): EndpointCounters {
  const words = new Int32Array(buffer, 0, 2);
  const big = new BigInt64Array(buffer);
  return {
    clients: Atomics.load(words, WORD_CLIENTS),
    ios: Number(Atomics.load(big, BIG_IOS)),
    bytes: Number(Atomics.load(big, BIG_BYTES)),
    connections: Number(Atomics.load(big, BIG_CONNECTIONS)),
    refused: Number(Atomics.load(big, BIG_REFUSED)),
    busyNs: Number(Atomics.load(big, BIG_BUSY_NS)),
    queuedPeakBytes: Number(Atomics.load(big, BIG_QUEUED_PEAK)),
  };
}
