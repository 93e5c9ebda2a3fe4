// The live view of `watch`, `mkflash -wait` and `wait pprc`: a line per followed
// relationship or PPRC pair, a line per running workload, a line per host
// connection doing NBD I/O, and how to leave.
import { Box, Text } from "ink";
import type { HostIoStats, WorkloadStats } from "../../../lang/presenter.js";
import type { CopyRow } from "../copy-tracker.js";
import { CopyLine } from "./copy-line.js";
import { WorkloadLine } from "./workload-line.js";
import { HostIoLine } from "./host-io-line.js";

export interface WatchViewProps {
  imageId: string;
  copies: CopyRow[];
  workloads: WorkloadStats[];
  hosts?: HostIoStats[];
  // Shows the key hint while the view still reads keys.
  showKeys: boolean;
}

export function WatchView({ imageId, copies, workloads, hosts = [], showKeys }: WatchViewProps) {
  return (
    <Box flexDirection="column">
      <Text dimColor>{copies.some((row) => row.kind === "pprc") ? `Remote Mirror and Copy: Copy Pending on ${imageId}` : `FlashCopy background copy on ${imageId}`}</Text>
      {copies.length === 0 ? <Text>no background copy running</Text> : null}
      {copies.map((row) => <CopyLine key={row.id} row={row} />)}
      {workloads.map((workload) => <WorkloadLine key={workload.name} workload={workload} />)}
      {hosts.map((host) => <HostIoLine key={host.name} host={host} />)}
      {showKeys ? <Text dimColor>q stops watching · Ctrl-C cancels</Text> : null}
    </Box>
  );
}
