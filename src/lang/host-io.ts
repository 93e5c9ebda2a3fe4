// NBD I/O of host connections as the live views show a workload: IOPS, MB/s
// and the mean time a request spent in the server, each a rate over the time
// since the previous sample. The site gives running totals
// (HostConnectionInfo: ios, bytes, busyNs); one sampler per view keeps the
// last totals of each host and turns the next ones into rates.
import type { Site } from "../site/site.js";
import type { HostConnectionInfo } from "../site/types.js";

export interface HostIoStats {
  name: string;
  nbd: string; // where its clients connect
  clients: number;
  iops: number;
  bytesPerSecond: number;
  meanMicros: number; // mean time in the server per request over the interval; 0 when none was served
}

interface Totals {
  ios: number;
  bytes: number;
  busyNs: number;
  atMs: number;
}

// Rates from two samples of a host's totals; null when no time has passed.
export function ratesBetween(before: Totals, after: Totals): { iops: number; bytesPerSecond: number; meanMicros: number } | null {
  const seconds = (after.atMs - before.atMs) / 1000;
  if (!(seconds > 0)) return null;
  const ios = after.ios - before.ios;
  return {
    iops: ios / seconds,
    bytesPerSecond: (after.bytes - before.bytes) / seconds,
    meanMicros: ios > 0 ? (after.busyNs - before.busyNs) / ios / 1000 : 0,
  };
}

// A sampler of the image's hosts with an NBD endpoint: hosts show once they
// have a client attached or served requests in the interval.
export function hostIoSampler(site: Site, imageId: string, now: () => number = () => performance.now()): () => Promise<HostIoStats[]> {
  const last = new Map<string, Totals>();
  return async () => {
    const hosts = (await site.listHostConnections(imageId)).filter((host): host is HostConnectionInfo & { nbd: string } => host.nbd !== null);
    const atMs = now();
    const rows: HostIoStats[] = [];
    for (const host of hosts) {
      const totals: Totals = { ios: host.ios, bytes: host.bytes, busyNs: host.busyNs, atMs };
      const before = last.get(host.id);
      last.set(host.id, totals);
      const rates = before === undefined ? null : ratesBetween(before, totals);
      if (rates === null || (host.clients === 0 && rates.iops === 0)) continue;
      rows.push({ name: host.name, nbd: host.nbd, clients: host.clients, ...rates });
    }
    return rows;
  };
}
