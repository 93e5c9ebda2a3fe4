// One FlashCopy relationship or PPRC pair in Copy Pending: bar, percent copied, tracks left, MB/s, ETA.
import { Box, Text } from "ink";
import { TRACK_SIZE } from "../../../site/shared.js";
import type { CopyRow } from "../copy-tracker.js";
import { formatCount, formatEta, formatMegabytesPerSecond, formatPercent, progressBar } from "../format.js";

export const BAR_WIDTH = 24;

const STATE_COLOR = { copying: "cyan", copied: "green", withdrawn: "red", nocopy: "yellow", held: "red" } as const;

function stateText(row: CopyRow): string {
  if (row.state === "copied") return row.kind === "pprc" ? "in sync" : "copied";
  if (row.state === "withdrawn") return row.kind === "pprc" ? "no longer a PPRC pair" : "withdrawn before its copy completed";
  if (row.state === "nocopy") return "-nocp: no background copy";
  if (row.state === "held") return `held: ${row.reason ?? "its copy cannot go on"}`;
  return `ETA ${formatEta(row.tracksLeft * TRACK_SIZE, row.bytesPerSecond)}`;
}

export function CopyLine({ row }: { row: CopyRow }) {
  const copied = row.trackCount - row.tracksLeft;
  const fraction = row.trackCount === 0 ? 1 : copied / row.trackCount;
  return (
    <Box>
      <Text bold>{row.id.padEnd(10)}</Text>
      <Text color={STATE_COLOR[row.state]}>{progressBar(fraction, BAR_WIDTH)}</Text>
      <Text>{` ${formatPercent(copied, row.trackCount).padStart(6)}`}</Text>
      <Text>{`  ${formatCount(row.tracksLeft)} of ${formatCount(row.trackCount)} tracks left`}</Text>
      <Text>{`  ${formatMegabytesPerSecond(row.bytesPerSecond)} MB/s${row.state === "copied" ? " avg" : ""}`}</Text>
      <Text color={STATE_COLOR[row.state]}>{`  ${stateText(row)}`}</Text>
    </Box>
  );
}
