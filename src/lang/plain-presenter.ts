// The default progress presenter: the facts of the live view as plain lines
// at a steady interval (scripts, and terminals that are not TTYs).
import type { ProgressPresenter, WatchRequest, WorkloadStats } from "./presenter.js";
import type { StorageImage } from "../engine/image.js";

const MB = 1e6;

export class PlainPresenter implements ProgressPresenter {
  constructor(private readonly write: (text: string) => void) {}

  watch(request: WatchRequest): Promise<void> {
    return new Promise((resolve) => {
      const followed = new Set(request.pairs.map((pair) => pair.toUpperCase()));
      const reported = new Set<string>();
      const seen = new Set<string>(); // with no pairs given: every copy seen so far
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(timer);
        request.signal.removeEventListener("abort", finish);
        resolve();
      };
      const tick = () => {
        if (followed.size === 0) for (const pair of activeCopies(request.image)) seen.add(pair);
        const pairs = followed.size > 0 ? [...followed] : [...seen];
        const remaining = this.reportCopies(request.image, pairs, reported);
        for (const stats of request.workloads()) if (stats.running) this.write(workloadLine(stats));
        if (request.until === "copied" && remaining === 0) {
          finish();
          return;
        }
        timer = setTimeout(tick, request.refreshMs);
      };
      if (request.signal.aborted) {
        resolve();
        return;
      }
      request.signal.addEventListener("abort", finish, { once: true });
      tick();
    });
  }

  // Writes a line per pair; returns how many still have tracks to copy.
  private reportCopies(image: StorageImage, pairs: string[], reported: Set<string>): number {
    let remaining = 0;
    for (const pair of pairs) {
      const tracksLeft = image.hasRelationship(pair) ? image.status(pair).pendingTracks : 0;
      if (tracksLeft === 0) {
        if (!reported.has(pair)) this.write(`${pair} background copy complete`);
        reported.add(pair);
        continue;
      }
      const status = image.status(pair);
      // A copy held by a failure is not waited for: the waiting command reports the failure.
      if (status.state !== "Valid" && status.fault && !status.fault.retrying) {
        this.write(`${pair} background copy held: ${status.state}: ${status.reason}`);
        continue;
      }
      remaining++;
      this.write(copyLine(pair, tracksLeft, status.trackCount, status.bytesPerSecond));
    }
    return remaining;
  }
}

function activeCopies(image: StorageImage): string[] {
  return image.listRelationships().filter((relationship) => !relationship.nocopy).map((relationship) => relationship.id);
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

const ETA_SECONDS_MAX = 100 * 3600;

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0 || seconds >= ETA_SECONDS_MAX) return "—";
  if (seconds < 1) return "<1s";
  if (seconds < 120) return `${Math.ceil(seconds)}s`;
  return `${Math.ceil(seconds / 60)}min`;
}
