// Samples the followed copies and the running workloads every refreshMs,
// one sample at a time: each asks the site, which may be remote.
import { useEffect, useState } from "react";
import type { WatchRequest, WorkloadStats } from "../../../lang/presenter.js";
import { CopyTracker, type CopyRow } from "../copy-tracker.js";

export interface WatchSample {
  copies: CopyRow[];
  workloads: WorkloadStats[];
  sampled: boolean; // false until the first sample arrived: nothing is known, nothing is settled
}

async function takeSample(tracker: CopyTracker, request: WatchRequest): Promise<WatchSample> {
  const copies = await tracker.sample();
  const workloads = (await request.workloads()).filter((workload) => workload.running);
  return { copies, workloads, sampled: true };
}

export function useWatchSample(request: WatchRequest): WatchSample {
  const [tracker] = useState(() => new CopyTracker(request.site, request.imageId, request.pairs));
  const [sample, setSample] = useState<WatchSample>({ copies: [], workloads: [], sampled: false });
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
    refresh();
    const timer = setInterval(refresh, request.refreshMs);
    return () => {
      live = false;
      clearInterval(timer);
      tracker.dispose();
    };
  }, [tracker, request]);
  return sample;
}
