// One running workload: IOPS, MB/s and latency percentiles.
import { Box, Text } from "ink";
import type { WorkloadStats } from "../../../lang/presenter.js";
import { formatCount, formatLatency, formatMegabytesPerSecond } from "../format.js";

export function WorkloadLine({ workload }: { workload: WorkloadStats }) {
  return (
    <Box>
      <Text bold>{`workload ${workload.name} on ${workload.volumeId}`}</Text>
      <Text>{`  ${formatCount(workload.iops)} IOPS`}</Text>
      <Text>{`  ${formatMegabytesPerSecond(workload.bytesPerSecond)} MB/s`}</Text>
      <Text>{`  p50 ${formatLatency(workload.p50Micros)}`}</Text>
      <Text>{`  p99 ${formatLatency(workload.p99Micros)}`}</Text>
    </Box>
  );
}
