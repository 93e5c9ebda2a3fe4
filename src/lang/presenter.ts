// How long-running statements (`watch`, `mkflash -wait`, `wait flash`, `wait pprc`) show
// progress. The interpreter calls the session's presenter; scripts and
// non-TTY output get plain lines at a steady interval, the REPL plugs in its
// ink live view. This file is the contract between src/lang and src/cli.
import type { Site } from "../site/site.js";
import type { WorkloadStats } from "../site/types.js";
import type { HostIoStats } from "./host-io.js";

export type { WorkloadStats, HostIoStats };

export interface WatchRequest {
  site: Site;
  imageId: string;
  // Pairs to follow ("1000:1001"); empty means every background copy of the image, unless `mirrors` is given.
  pairs: string[];
  // PPRC pairs whose Copy Pending progress to follow ("1000:2000", primaries on the image): `wait pprc`, `mkpprc -wait`.
  mirrors?: string[];
  // Live workload figures, sampled at each refresh.
  workloads: () => Promise<WorkloadStats[]>;
  // NBD I/O of the image's host connections, sampled at each refresh (rates since the last sample).
  hosts?: () => Promise<HostIoStats[]>;
  // "copied": end when the pairs' background copies complete; "cancel": only on q / Ctrl-C / signal.
  until: "copied" | "cancel";
  signal: AbortSignal;
  refreshMs: number;
}

export interface ProgressPresenter {
  // Resolves when the view ends (copies complete, or cancelled through the signal / q).
  watch(request: WatchRequest): Promise<void>;
}
