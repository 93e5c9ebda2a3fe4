// Drives the watch view: samples, ends when the copies settle (until
// "copied"), on q, on Ctrl-C or when the request's signal aborts.
import { useEffect, useState } from "react";
import { useApp } from "ink";
import type { WatchRequest } from "../../../lang/presenter.js";
import { CopyTracker } from "../copy-tracker.js";
import { useWatchSample, type WatchSample } from "../hooks/use-watch-sample.js";
import { useWatchKeys } from "../hooks/use-watch-keys.js";
import { WatchView } from "./watch-view.js";

export interface WatchAppProps {
  request: WatchRequest;
  tracker: CopyTracker; // the app's to dispose of
  first: WatchSample;
  readsKeys: boolean;
  onInterrupt: () => void;
}

export function WatchApp({ request, tracker, first, readsKeys, onInterrupt }: WatchAppProps) {
  const { exit } = useApp();
  const sample = useWatchSample(request, tracker, first);
  const [ending, setEnding] = useState(false);
  const settled = request.until === "copied" && sample.sampled && CopyTracker.settled(sample.copies);
  useWatchKeys({
    active: readsKeys && !ending,
    onQuit: () => setEnding(true),
    onInterrupt: () => {
      onInterrupt();
      setEnding(true);
    },
  });
  useEffect(() => {
    const onAbort = () => setEnding(true);
    if (request.signal.aborted) onAbort();
    request.signal.addEventListener("abort", onAbort, { once: true });
    return () => request.signal.removeEventListener("abort", onAbort);
  }, [request.signal]);
  // Exits after the frame with the final figures (and without the key hint) has rendered.
  useEffect(() => {
    if (ending || settled) exit();
  }, [ending, settled, exit]);
  return <WatchView imageId={request.imageId} copies={sample.copies} workloads={sample.workloads} hosts={sample.hosts} showKeys={readsKeys && !ending && !settled} />;
}
