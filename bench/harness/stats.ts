// Order statistics and units for benchmark figures.

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

// The lowest and highest sample: a figure's spread over its rounds.
export function spreadOf(samples: readonly number[]): { min: number; max: number } {
  if (samples.length === 0) throw new Error("spread of no samples");
  return { min: Math.min(...samples), max: Math.max(...samples) };
}

// Ratios of medians over `blocks` consecutive blocks of paired samples (round
// i of both sides ran side by side): for sides timed in microseconds, where a
// ratio of single samples is mostly timer noise, the spread of these is the
// spread of the figure.
export function blockRatios(numerator: readonly number[], denominator: readonly number[], blocks: number): number[] {
  if (numerator.length !== denominator.length) throw new Error("block ratios of unpaired samples");
  const size = Math.floor(numerator.length / blocks);
  if (size === 0) throw new Error(`${numerator.length} samples cannot fill ${blocks} blocks`);
  return Array.from({ length: blocks }, (_, block) => {
    const range = [block * size, (block + 1) * size] as const;
    return median(numerator.slice(...range)) / median(denominator.slice(...range));
  });
}

// Nearest-rank percentile (no interpolation: every reported latency was observed).
export function percentile(samples: readonly number[], percent: number): number {
  if (samples.length === 0) throw new Error("percentile of no samples");
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function percentileOfSorted(sorted: Float64Array, percent: number): number {
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export function formatBytes(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB) return `${+(bytes / MiB).toFixed(1)} MiB`;
  return `${+(bytes / KiB).toFixed(1)} KiB`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / GiB).toFixed(2)} GiB/s`;
}

export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  if (ms >= 0.001) return `${(ms * 1000).toFixed(1)} µs`;
  return `${Math.round(ms * 1e6)} ns`;
}

export function formatCount(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}
