// Samples the followed copies and the running workloads every refreshMs.
import { useEffect, useState } from "react";
import type { WatchRequest, WorkloadStats } from "../../../lang/presenter.js";
import { CopyTracker, type CopyRow } from "../copy-tracker.js";

export interface WatchSample {
  copies: CopyRow[];
  workloads: WorkloadStats[];
}

function takeSample(tracker: CopyTracker, request: WatchRequest): WatchSample {
  return { copies: tracker.sample(), workloads: request.workloads().filter((workload) => workload.running) };
}

export function useWatchSample(request: WatchRequest): WatchSample {
  const [tracker] = useState(() => new CopyTracker(request.image, request.pairs));
  const [sample, setSample] = useState(() => takeSample(tracker, request));
  useEffect(() => {
    const timer = setInterval(() => setSample(takeSample(tracker, request)), request.refreshMs);
    return () => {
      clearInterval(timer);
      tracker.dispose();
    };
  }, [tracker, request]);
  return sample;
}
