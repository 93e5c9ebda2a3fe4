// Samples the followed copies and the running workloads every refreshMs,
// one sample at a time: each asks the site, which may be remote.
import { useEffect, useState } from "react";
import type { HostIoStats, WatchRequest, WorkloadStats } from "../../../lang/presenter.js";
import { CopyTracker, type CopyRow } from "../copy-tracker.js";

export interface WatchSample {
  copies: CopyRow[];
  workloads: WorkloadStats[];
  hosts: HostIoStats[];
  sampled: boolean; // false until the first sample arrived: nothing is known, nothing is settled
}

export async function takeSample(tracker: CopyTracker, request: WatchRequest): Promise<WatchSample> {
  const copies = await tracker.sample();
  const workloads = (await request.workloads()).filter((workload) => workload.running);
  const hosts = (await request.hosts?.()) ?? [];
  return { copies, workloads, hosts, sampled: true };
}

// `first` is a sample taken before the view was drawn, so its first frame already shows the copies.
export function useWatchSample(request: WatchRequest, tracker: CopyTracker, first: WatchSample): WatchSample {
  const [sample, setSample] = useState<WatchSample>(first);
  useEffect(() => {
    let live = true;
    let sampling = false;
    const refresh = () => {
      if (sampling) return;
      sampling = true;
      // A failed sample (the image closed under the view) keeps the last figures; the waiting command reports why.
      takeSample(tracker, request).then((next) => {
        if (live) setSample(next);
      }, () => undefined).finally(() => {
        sampling = false;
      });
    };
    const timer = setInterval(refresh, request.refreshMs);
    return () => {
      live = false;
      clearInterval(timer);
      tracker.dispose();
    };
  }, [tracker, request]);
  return sample;
}
