// Figures of the live views as text: one function per kind of figure, so the
// ink view and its tests agree on exactly what a person reads.

const BAR_FILLED = "█";
const BAR_EMPTY = "░";
const BYTES_PER_MB = 1_000_000;

// A bar of `width` cells, filled in proportion to `fraction` (clamped to 0..1).
// A partly copied relationship never shows a full bar, nor a finished one an empty cell.
export function progressBar(fraction: number, width: number): string {
  const clamped = Math.min(1, Math.max(0, fraction));
  let filled = Math.floor(clamped * width);
  if (clamped < 1 && filled === width) filled = width - 1;
  return BAR_FILLED.repeat(filled) + BAR_EMPTY.repeat(width - filled);
}

// "52.3%"; 100.0% only once every track is copied.
export function formatPercent(tracksCopied: number, trackCount: number): string {
  if (trackCount === 0) return "100.0%";
  const tenths = Math.floor((tracksCopied * 1000) / trackCount);
  return `${(tenths / 10).toFixed(1)}%`;
}

export function formatCount(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

export function formatMegabytesPerSecond(bytesPerSecond: number): string {
  return (bytesPerSecond / BYTES_PER_MB).toFixed(1);
}

// Shown for an ETA that cannot be known: no rate yet, or a copy making no progress.
export const NO_ETA = "—";
const ETA_SECONDS_MAX = 100 * 3600; // beyond 99:59:59 a figure is noise, not a forecast

// Time left as m:ss or h:mm:ss; NO_ETA while no progress gives a rate.
export function formatEta(bytesLeft: number, bytesPerSecond: number): string {
  if (bytesLeft <= 0) return "0:00";
  if (!(bytesPerSecond > 0)) return NO_ETA;
  const seconds = Math.ceil(bytesLeft / bytesPerSecond);
  if (!Number.isFinite(seconds) || seconds >= ETA_SECONDS_MAX) return NO_ETA;
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = String(seconds % 60).padStart(2, "0");
  if (hours > 0) return `${hours}:${String(minutes).padStart(2, "0")}:${rest}`;
  return `${minutes}:${rest}`;
}

// A latency in microseconds as µs below a millisecond, else ms with one decimal.
export function formatLatency(micros: number): string {
  if (micros < 1000) return `${Math.round(micros)} µs`;
  return `${(micros / 1000).toFixed(1)} ms`;
}
