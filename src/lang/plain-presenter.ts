// The default progress presenter: the facts of the live view as plain lines
// at a steady interval (scripts, and terminals that are not TTYs).
import type { HostIoStats, ProgressPresenter, WatchRequest, WorkloadStats } from "./presenter.js";
import type { FlashInfo, PairInfo } from "../site/types.js";

const MB = 1e6;

export class PlainPresenter implements ProgressPresenter {
  constructor(private readonly write: (text: string) => void) {}

  // Each tick asks the site once; a tick under way when the view ends still
  // writes its lines, and the view resolves after it.
  watch(request: WatchRequest): Promise<void> {
    return new Promise((resolve) => {
      const followed = new Set(request.pairs.map((pair) => pair.toUpperCase()));
      const reported = new Set<string>();
      const seen = new Set<string>(); // with no pairs given: every copy seen so far
      let timer: NodeJS.Timeout | undefined;
      let ended = false;
      let ticking: Promise<void> = Promise.resolve();
      const finish = () => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        request.signal.removeEventListener("abort", finish);
        void ticking.then(() => resolve());
      };
      const mirrors = (request.mirrors ?? []).map((pair) => pair.toUpperCase());
      const tick = async () => {
        const relationships = mirrors.length > 0 && followed.size === 0 ? [] : await request.site.listFlash(request.imageId);
        const workloads = await request.workloads();
        const hosts = (await request.hosts?.()) ?? [];
        if (followed.size === 0 && mirrors.length === 0) for (const pair of activeCopies(relationships)) seen.add(pair);
        const pairs = followed.size > 0 ? [...followed] : [...seen];
        let remaining = this.reportCopies(relationships, pairs, reported);
        if (mirrors.length > 0) remaining += this.reportMirrors(await request.site.listPairs(request.imageId), mirrors, reported);
        for (const stats of workloads) if (stats.running) this.write(workloadLine(stats));
        for (const stats of hosts) this.write(hostIoLine(stats));
        if (request.until === "copied" && remaining === 0) {
          finish();
          return;
        }
        if (!ended) timer = setTimeout(run, request.refreshMs);
      };
      // A site that fails (its image closed under the view) ends the view; the waiting command reports why.
      const run = () => {
        ticking = tick().catch(finish);
      };
      if (request.signal.aborted) {
        resolve();
        return;
      }
      request.signal.addEventListener("abort", finish, { once: true });
      run();
    });
  }

  // Writes a line per pair; returns how many still have tracks to copy.
  private reportCopies(relationships: FlashInfo[], pairs: string[], reported: Set<string>): number {
    const byId = new Map(relationships.map((relationship) => [relationship.id, relationship]));
    let remaining = 0;
    for (const pair of pairs) {
      const status = byId.get(pair);
      const tracksLeft = status ? status.pendingTracks : 0;
      if (status === undefined || tracksLeft === 0) {
        if (!reported.has(pair)) this.write(`${pair} background copy complete`);
        reported.add(pair);
        continue;
      }
      // A copy held by a failure is not waited for: the waiting command reports the failure.
      if (status.state !== "Valid" && status.held) {
        this.write(`${pair} background copy held: ${status.state}: ${status.reason}`);
        continue;
      }
      remaining++;
      this.write(copyLine(pair, tracksLeft, status.trackCount, status.bytesPerSecond));
    }
    return remaining;
  }

  // A line per PPRC pair; returns how many are still Copy Pending. A suspended pair is not waited for.
  private reportMirrors(pairs: PairInfo[], ids: string[], reported: Set<string>): number {
    const byId = new Map(pairs.filter((pair) => pair.role === "primary").map((pair) => [pair.id, pair]));
    let remaining = 0;
    for (const id of ids) {
      const pair = byId.get(id);
      if (pair === undefined || mirrorSynced(pair)) {
        if (!reported.has(id)) this.write(pair === undefined ? `${id} is no longer a PPRC pair` : `${id} copy complete (${pair.state})`);
        reported.add(id);
        continue;
      }
      if (pair.state === "Suspended") {
        this.write(`${id} Copy Pending held: Suspended: ${pair.reason}`);
        continue;
      }
      remaining++;
      this.write(`${id} Copy Pending: ${pair.outOfSyncTracks} tracks out of sync, ${pair.sentTracks} sent`);
    }
    return remaining;
  }
}

// PPRC pairs in Copy Pending: their out-of-sync tracks are what is left to send.
function mirrorSynced(pair: PairInfo): boolean {
  return pair.state === "Full Duplex" || (pair.type === "gcp" && pair.firstPassDone);
}

function activeCopies(relationships: FlashInfo[]): string[] {
  return relationships.filter((relationship) => !relationship.nocopy).map((relationship) => relationship.id);
}

// The ETA is "—" while the copy makes no progress (no rate, or one so small its ETA means nothing).
export function copyLine(pair: string, tracksLeft: number, trackCount: number, bytesPerSecond: number): string {
  const done = trackCount === 0 ? 100 : (100 * (trackCount - tracksLeft)) / trackCount;
  const eta = ` ETA ${formatSeconds((tracksLeft * 65536) / bytesPerSecond)}`;
  return `${pair} background copy: ${tracksLeft} of ${trackCount} tracks left (${done.toFixed(1)}% done), ${(bytesPerSecond / MB).toFixed(1)} MB/s${eta}`;
}

export function workloadLine(stats: WorkloadStats): string {
  const state = stats.running ? "" : " (ended)";
  return `workload ${stats.name} on ${stats.volumeId}${state}: ${Math.round(stats.iops)} IOPS, ${(stats.bytesPerSecond / MB).toFixed(1)} MB/s, `
    + `p50 ${stats.p50Micros.toFixed(1)} us, p99 ${stats.p99Micros.toFixed(1)} us`;
}

// A host's NBD I/O, like a workload's; its latency is the mean time in the server (no percentiles are kept).
export function hostIoLine(stats: HostIoStats): string {
  const clients = `${stats.clients} client${stats.clients === 1 ? "" : "s"}`;
  return `nbd host ${stats.name} (${stats.nbd}, ${clients}): ${Math.round(stats.iops)} IOPS, ${(stats.bytesPerSecond / MB).toFixed(1)} MB/s, `
    + `mean ${stats.meanMicros.toFixed(1)} us in the server`;
}

const ETA_SECONDS_MAX = 100 * 3600;

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0 || seconds >= ETA_SECONDS_MAX) return "—";
  if (seconds < 1) return "<1s";
  if (seconds < 120) return `${Math.ceil(seconds)}s`;
  return `${Math.ceil(seconds / 60)}min`;
}
