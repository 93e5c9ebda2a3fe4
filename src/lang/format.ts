// Output formats of listings, as DS CLI prints them: `-fmt default` (a
// header, a row of `=`, aligned columns), `delim`, `stanza` and `json`,
// with `-hdr on|off`, `-bnr on|off` and `-delim C`; `setenv` sets the defaults.
import { escapeControl } from "./messages.js";
import { formatValue, type ValueRecord } from "./values.js";

export type OutputFormat = "default" | "delim" | "stanza" | "json";

export interface OutputSettings {
  format: OutputFormat;
  delim: string;
  header: boolean;
  banner: boolean;
  fullid: boolean; // IDs as IBM.2107-75KDR91/1000
}

export const DEFAULT_SETTINGS: OutputSettings = { format: "default", delim: ",", header: true, banner: true, fullid: false };

export interface Listing {
  command: string; // "lsflash": names the JSON member
  columns: readonly string[];
  rows: ValueRecord[]; // fields are the columns
}

export const TZERO_VERSION = "0.1.0";

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const MONTHS_SHORT = MONTHS.map((month) => month.slice(0, 3));
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const pad2 = (value: number) => String(value).padStart(2, "0");

// `Date/Time: November 25, 2026 3:04:05 PM UTC IBM DSCLI Version: 0.1.0 (tzero) DS: IBM.2105-75TZ001`
export function bannerLine(now: Date, imageId: string | null): string {
  const hours = now.getUTCHours();
  const clock = `${hours % 12 === 0 ? 12 : hours % 12}:${pad2(now.getUTCMinutes())}:${pad2(now.getUTCSeconds())} ${hours < 12 ? "AM" : "PM"}`;
  const date = `${MONTHS[now.getUTCMonth()]} ${now.getUTCDate()}, ${now.getUTCFullYear()} ${clock} UTC`;
  return `Date/Time: ${date} IBM DSCLI Version: ${TZERO_VERSION} (tzero)${imageId ? ` DS: ${imageId}` : ""}`;
}

// DS CLI's date columns: `Wed Nov 25 15:04:05 UTC 2026`.
export function dsDate(date: Date): string {
  const time = `${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}`;
  return `${DAYS[date.getUTCDay()]} ${MONTHS_SHORT[date.getUTCMonth()]} ${pad2(date.getUTCDate())} ${time} UTC ${date.getUTCFullYear()}`;
}

export function enabled(flag: boolean): string {
  return flag ? "Enabled" : "Disabled";
}

// The lines of a listing; the banner, when on, comes first.
export function formatListing(listing: Listing, settings: OutputSettings, banner: string): string[] {
  const lines = settings.banner ? [banner] : [];
  const text = (value: string) => (settings.format === "json" ? value : escapeControl(value));
  const cells = listing.rows.map((row) => listing.columns.map((column) => text(formatValue(row[column] ?? "-"))));
  switch (settings.format) {
    case "default":
      return lines.concat(table(listing.columns, cells, settings.header));
    case "delim":
      return lines.concat(delimited(listing.columns, cells, settings));
    case "stanza":
      return lines.concat(stanzas(listing.columns, cells));
    case "json":
      return lines.concat(json(listing, cells));
  }
}

function table(columns: readonly string[], cells: string[][], header: boolean): string[] {
  const widths = columns.map((column, index) => Math.max(column.length, ...cells.map((row) => row[index].length)));
  const line = (row: readonly string[]) => row.map((cell, index) => cell.padEnd(widths[index])).join(" ").trimEnd();
  const lines: string[] = [];
  if (header) {
    const headerLine = line(columns);
    lines.push(headerLine, "=".repeat(widths.reduce((sum, width) => sum + width, 0) + widths.length - 1));
  }
  for (const row of cells) lines.push(line(row));
  return lines;
}

function delimited(columns: readonly string[], cells: string[][], settings: OutputSettings): string[] {
  const lines: string[] = [];
  const join = (row: readonly string[]) => row.map((cell) => delimitedCell(cell, settings.delim)).join(settings.delim);
  if (settings.header) {
    const headerLine = join(columns);
    lines.push(headerLine, "=".repeat(headerLine.length));
  }
  for (const row of cells) lines.push(join(row));
  return lines;
}

// CSV's rule (RFC 4180): a value holding the delimiter, a double quote or a
// line break is put in double quotes, its quotes doubled, so every row of
// -fmt delim has exactly as many fields as the listing has columns.
export function delimitedCell(cell: string, delim: string): string {
  if (!cell.includes(delim) && !/["\r\n]/.test(cell)) return cell;
  return `"${cell.replace(/"/g, '""')}"`;
}

function stanzas(columns: readonly string[], cells: string[][]): string[] {
  const width = Math.max(...columns.map((column) => column.length)) + 1;
  const lines: string[] = [];
  cells.forEach((row, index) => {
    if (index > 0) lines.push("");
    columns.forEach((column, columnIndex) => lines.push(`${column.padEnd(width)}${row[columnIndex]}`.trimEnd()));
  });
  return lines;
}

// DS CLI's JSON: every value a string, under data.COMMAND.
function json(listing: Listing, cells: string[][]): string[] {
  const rows = cells.map((row) => Object.fromEntries(listing.columns.map((column, index) => [column, row[index]])));
  return [JSON.stringify({ data: { [listing.command]: rows } })];
}
