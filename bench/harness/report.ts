// The table on stdout and the JSON record of a run.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { FigureResult } from "./suite.js";
import type { MachineInfo } from "./machine.js";

export function formatRatio(ratio: number | null): string {
  if (ratio === null) return "—";
  if (ratio >= 100) return `${Math.round(ratio).toLocaleString("en-US")}×`;
  return `${ratio.toFixed(2)}×`;
}

// The median with its rounds' min–max beside it: "0.95× (0.91–0.98)".
export function formatRatioWithSpread(result: FigureResult): string {
  if (!result.spread) return formatRatio(result.ratio);
  return `${formatRatio(result.ratio)} (${formatRatio(result.spread.min).replace("×", "")}–${formatRatio(result.spread.max)})`;
}

function verdict(result: FigureResult): string {
  if (result.met === null) return "reported";
  return result.met ? "met" : "NOT MET";
}

// Plain columns, padded; the long value column goes last so it can wrap.
export function formatTable(results: readonly FigureResult[]): string {
  const header = ["figure", "ratio (min–max)", "bar", "met", "value"];
  const rows = results.map((result) => [result.figure, formatRatioWithSpread(result), result.bar, verdict(result), result.value]);
  const widths = header.slice(0, 4).map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column < 4 ? cell.padEnd(widths[column]) : cell)).join("  ");
  return [line(header), line(widths.map((width) => "-".repeat(width)).concat("-----")), ...rows.map(line)].join("\n");
}

export function formatMarkdownTable(results: readonly FigureResult[]): string {
  const lines = ["| figure | value | bar | ratio (min–max over rounds) | met |", "| --- | --- | --- | --- | --- |"];
  for (const result of results) {
    lines.push(`| ${result.figure} | ${result.value} | ${result.bar} | ${formatRatioWithSpread(result)} | ${verdict(result)} |`);
  }
  return lines.join("\n");
}

export interface RunRecord {
  startedAt: string;
  wallSeconds: number;
  quick: boolean;
  seed: number;
  filter: string[];
  core: "release" | "debug"; // TZERO_CORE=debug runs the build with assertions
  machine: MachineInfo;
  loadAverage1mAtEnd: number;
  notes: string[];
  results: FigureResult[];
  failures: { suite: string; error: string }[];
}

export function writeRecord(path: string, record: RunRecord): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
}
