// One host connection's NBD I/O, as a workload line shows a workload: IOPS,
// MB/s, and the mean time a request spent in the server.
import { Box, Text } from "ink";
import type { HostIoStats } from "../../../lang/presenter.js";
import { formatCount, formatLatency, formatMegabytesPerSecond } from "../format.js";

export function HostIoLine({ host }: { host: HostIoStats }) {
  return (
    <Box>
      <Text bold>{`nbd host ${host.name} (${host.nbd}, ${host.clients} client${host.clients === 1 ? "" : "s"})`}</Text>
      <Text>{`  ${formatCount(host.iops)} IOPS`}</Text>
      <Text>{`  ${formatMegabytesPerSecond(host.bytesPerSecond)} MB/s`}</Text>
      <Text>{`  mean ${formatLatency(host.meanMicros)} in the server`}</Text>
    </Box>
  );
}
