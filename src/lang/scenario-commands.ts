// tzero's own commands: data on volumes, workloads, waiting and watching.
import { hostIoSampler } from "./host-io.js";
import { existsSync } from "node:fs";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { EngineError, STAGING_SIZE } from "../site/shared.js";
import type { FillSource, ImageInfo, VolumeDetail, WorkloadInfo, WorkloadSpec } from "../site/types.js";
import type { CommandContext, CommandResult } from "./context.js";
import { waitWithView } from "./wait-view.js";
import type { CommandHandler } from "./ds-commands.js";
import { INFO, infoLine } from "./messages.js";
import {
  CommandFailure, dataPattern, durationMs, formatValue, pairIds, sizeBytes, volumeId, wholeNumber, type ValueRecord,
} from "./values.js";
import { workloadLine } from "./plain-presenter.js";

const READ_SHOWN_MAX = 1 << 20; // a hex dump longer than this is a mistake: use checksum or export
const WAIT_TIMEOUT_MS = 10 * 60 * 1000;
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function seed(context: CommandContext, fallback: number): number {
  return context.convert("seed", (value) => wholeNumber(value, "-seed", 0, 0xffffffff)) ?? fallback;
}

function range(context: CommandContext, volumeBytes: number): { offset: number; length: number } {
  const offset = context.convert("offset", (value) => sizeBytes(value, "-offset")) ?? 0;
  const length = context.convert("len", (value) => sizeBytes(value, "-len")) ?? Math.max(0, volumeBytes - offset);
  return { offset, length };
}

// The pattern option as what the site's fill writes.
function fillSource(context: CommandContext): FillSource {
  const pattern = context.convert("pattern", dataPattern)!;
  return pattern.kind === "random" ? { kind: "pattern", seed: seed(context, 0) } : { kind: "byte", value: pattern.value };
}

// The volume of operand 0 on the command's image, blamed on the operand when it does not exist.
async function volumeOperand(context: CommandContext): Promise<{ image: ImageInfo; volume: VolumeDetail }> {
  const image = await context.image();
  const id = context.operand(0, volumeId);
  return { image, volume: await context.callAt(context.operands[0].at, context.site.volume(image.id, id)) };
}

// Chunked, so that Ctrl-C (the command's signal) stops a write of any size
// and the error says how much was written.
async function write(context: CommandContext): Promise<CommandResult> {
  const { image, volume } = await volumeOperand(context);
  const { offset, length } = range(context, volume.sizeBytes);
  await context.call(context.site.fill(image.id, volume.id, { offset, length }, fillSource(context), { signal: context.signal }));
  return {
    lines: [infoLine(INFO.bytesWritten, "write", `${length} bytes written to volume ${volume.id} at offset ${offset}.`)],
    value: length,
  };
}

async function fill(context: CommandContext): Promise<CommandResult> {
  const { image, volume } = await volumeOperand(context);
  await context.call(context.site.fill(image.id, volume.id, { offset: 0, length: volume.sizeBytes }, fillSource(context), { signal: context.signal }));
  return { lines: [infoLine(INFO.volumeFilled, "fill", `volume ${volume.id} filled (${volume.sizeBytes} bytes).`)], value: volume.sizeBytes };
}

async function read(context: CommandContext): Promise<CommandResult> {
  const { image, volume } = await volumeOperand(context);
  const { offset, length } = range(context, volume.sizeBytes);
  if (length > READ_SHOWN_MAX) {
    throw new EngineError("BAD_ARGUMENT", `read shows at most ${READ_SHOWN_MAX} bytes, not ${length}; use checksum or export for more`);
  }
  const bytes = await context.call(context.site.read(image.id, volume.id, offset, length));
  return { lines: hexDump(bytes, offset), value: Buffer.from(bytes).toString("hex") };
}

export function hexDump(bytes: Uint8Array, offset: number): string[] {
  const lines: string[] = [];
  for (let start = 0; start < bytes.length; start += 16) {
    const row = bytes.subarray(start, start + 16);
    const hex = [...row].map((byte) => byte.toString(16).padStart(2, "0"));
    const text = [...row].map((byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : ".")).join("");
    const left = hex.slice(0, 8).join(" ");
    const right = hex.slice(8).join(" ");
    lines.push(`${(offset + start).toString(16).padStart(8, "0")}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${text}|`);
  }
  return lines;
}

async function checksum(context: CommandContext): Promise<CommandResult> {
  const { image, volume } = await volumeOperand(context);
  const { offset, length } = range(context, volume.sizeBytes);
  const sum = await context.call(context.site.checksum(image.id, volume.id, offset, length));
  return { lines: [sum], value: sum };
}

// ---- files -------------------------------------------------------------------------------

const FILE_REASONS: Record<string, string> = {
  ENOENT: "no such file", EISDIR: "it is a folder, not a file", ENOTDIR: "a part of the path is not a folder",
  EACCES: "permission denied", EPERM: "permission denied", EROFS: "the file system is read-only", ENOSPC: "no space left on the device",
};

function fileError(path: string, action: string, error: unknown): CommandFailure {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  return new CommandFailure("FILE_ERROR", `cannot ${action} ${path}: ${FILE_REASONS[code] ?? (error as Error).message}`);
}

// An export writes a temporary file beside its target first: say so when that fails.
function temporaryError(path: string, error: unknown): CommandFailure {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  if (code !== "ENOENT") return fileError(path, "write", error);
  const folder = dirname(path);
  const reason = existsSync(folder) ? `no file can be created in ${folder}` : `folder ${folder} does not exist`;
  return new CommandFailure("FILE_ERROR", `cannot write ${path}: ${reason}`);
}

function fileOperand(context: CommandContext): string {
  const operand = context.operands[1];
  return resolve(context.dir, formatValue(operand.value));
}

// Read and written a chunk at a time through the thread pool, so that the
// event loop runs between chunks (a 1 GiB file is seconds of I/O) and Ctrl-C
// (the command's signal) stops it, saying how much was written.
async function importFile(context: CommandContext): Promise<CommandResult> {
  const { image, volume } = await volumeOperand(context);
  const path = fileOperand(context);
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    throw fileError(path, "read", error);
  }
  try {
    const fileBytes = (await handle.stat()).size;
    if (fileBytes > volume.sizeBytes) {
      throw new CommandFailure("OUT_OF_RANGE", `file ${path} is ${fileBytes} bytes, larger than volume ${volume.id} (${volume.sizeBytes} bytes)`);
    }
    const chunk = new Uint8Array(STAGING_SIZE);
    for (let done = 0; done < fileBytes;) {
      if (context.signal.aborted) {
        throw new CommandFailure("CANCELLED", `import of ${path} cancelled after ${done} of ${fileBytes} bytes; bytes 0 to ${done - 1} of volume ${volume.id} were written`);
      }
      const count = await readChunk(path, handle, chunk, Math.min(chunk.length, fileBytes - done), done);
      if (count === 0) break;
      await context.call(context.site.write(image.id, volume.id, done, chunk.subarray(0, count)));
      done += count;
    }
    return { lines: [infoLine(INFO.imported, "import", `${fileBytes} bytes of ${path} written to volume ${volume.id}.`)], value: fileBytes };
  } finally {
    await handle.close();
  }
}

async function readChunk(path: string, handle: FileHandle, chunk: Uint8Array, length: number, position: number): Promise<number> {
  try {
    return (await handle.read(chunk, 0, length, position)).bytesRead;
  } catch (error) {
    throw fileError(path, "read", error);
  }
}

// Written to a temporary file and renamed, so a failed or cancelled export
// leaves no half file; a chunk at a time, as import is.
async function exportFile(context: CommandContext): Promise<CommandResult> {
  const { image, volume } = await volumeOperand(context);
  const path = fileOperand(context);
  const temporary = `${path}.${process.pid}.tmp`;
  let handle: FileHandle;
  try {
    handle = await open(temporary, "w");
  } catch (error) {
    throw temporaryError(path, error);
  }
  try {
    for (let done = 0; done < volume.sizeBytes; done += STAGING_SIZE) {
      if (context.signal.aborted) throw new CommandFailure("CANCELLED", `export of volume ${volume.id} to ${path} cancelled after ${done} of ${volume.sizeBytes} bytes; ${path} was not written`);
      const bytes = await context.call(context.site.read(image.id, volume.id, done, Math.min(STAGING_SIZE, volume.sizeBytes - done)));
      await handle.write(bytes, 0, bytes.byteLength, done);
    }
    await handle.close();
    await rename(temporary, path);
  } catch (error) {
    await handle.close().catch(() => undefined); // already closed, or failing already: that error is the one to report
    await unlink(temporary).catch(() => undefined);
    if (error instanceof CommandFailure) throw error;
    throw fileError(path, "write", error);
  }
  return { lines: [infoLine(INFO.exported, "export", `volume ${volume.id} (${volume.sizeBytes} bytes) written to ${path}.`)], value: volume.sizeBytes };
}

// ---- workloads ---------------------------------------------------------------------------

function workloadName(context: CommandContext): string {
  const operand = context.operands[0];
  const name = formatValue(operand.value);
  if (!NAME.test(name)) throw new CommandFailure("BAD_ARGUMENT", `workload name ${name} is not a name (letters, digits, _ and -)`, operand.at);
  return name;
}

// Site calls about the workload named by operand 0, blamed on the name when there is none.
function workloadCall<T>(context: CommandContext, call: Promise<T>): Promise<T> {
  return context.call(call, [{ at: context.operands[0].at }]);
}

async function workloadStart(context: CommandContext): Promise<CommandResult> {
  const name = workloadName(context);
  const image = await context.image();
  const volume = context.convert("vol", volumeId)!;
  const spec: WorkloadSpec = {
    name,
    volumeId: volume,
    rw: context.convert("rw", formatValue)!.toLowerCase() as WorkloadSpec["rw"],
    pattern: context.convert("pattern", formatValue)!.toLowerCase() as WorkloadSpec["pattern"],
    blockBytes: context.convert("bs", (value) => sizeBytes(value, "-bs"))!,
    iopsMax: context.convert("iops", (value) => wholeNumber(value, "-iops", 1, 100_000_000)),
    durationMs: context.convert("duration", (value) => durationMs(value, "-duration")),
    seed: seed(context, 1),
  };
  await workloadCall(context, context.site.startWorkload(image.id, spec));
  return {
    lines: [infoLine(INFO.workloadStarted, "workload", `workload ${name} started on volume ${volume} (${spec.rw}, ${spec.pattern}, ${spec.blockBytes}-byte I/Os).`)],
    value: name,
  };
}

async function workloadStop(context: CommandContext): Promise<CommandResult> {
  const workload = await workloadCall(context, context.site.stopWorkload(workloadName(context)));
  return { lines: [infoLine(INFO.workloadStopped, "workload", `${workloadLine(workload.stats)}.`)], value: workload.spec.name };
}

async function workloadWait(context: CommandContext): Promise<CommandResult> {
  const name = workloadName(context);
  const timeoutMs = context.convert("timeout", (value) => durationMs(value, "-timeout"));
  const workload = await workloadCall(context, context.site.waitWorkload(name, timeoutMs, { signal: context.signal }));
  return { lines: [infoLine(INFO.workloadEnded, "workload", `${workloadLine(workload.stats)}.`)], value: workload.spec.name };
}

async function lsworkload(context: CommandContext): Promise<CommandResult> {
  const wanted = new Set(context.operands.map((operand) => formatValue(operand.value)));
  const rows: ValueRecord[] = (await context.site.listWorkloads())
    .filter((workload) => wanted.size === 0 || wanted.has(workload.spec.name))
    .map((workload: WorkloadInfo) => {
      const stats = workload.stats;
      return {
        Name: workload.spec.name,
        Volume: workload.spec.volumeId,
        RW: workload.spec.rw,
        Pattern: workload.spec.pattern,
        BlockSize: workload.spec.blockBytes,
        State: workload.state,
        Reason: workload.failureReason ?? "-",
        IOPS: Math.round(stats.iops),
        MBps: Number((stats.bytesPerSecond / 1e6).toFixed(1)),
        P50us: Number(stats.p50Micros.toFixed(1)),
        P99us: Number(stats.p99Micros.toFixed(1)),
        IOs: stats.ios,
      };
    });
  // Reason says why a failed workload failed, as soon as its thread has said so ("-" otherwise).
  const columns = ["Name", "Volume", "RW", "Pattern", "BlockSize", "State", "IOPS", "MBps", "P50us", "P99us", "IOs", "Reason"];
  return context.listing({ command: "lsworkload", columns, rows }, null, infoLine(INFO.nothingFound, "lsworkload", "No Workload found."));
}

// ---- waiting -----------------------------------------------------------------------------

async function waitFlash(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const items = context.operandItems(pairIds);
  const ids = items.map(({ item }) => item);
  const timeoutMs = context.convert("timeout", (value) => durationMs(value, "-timeout")) ?? WAIT_TIMEOUT_MS;
  const pending = await context.call(context.site.pendingFlash(image.id, ids), items);
  const relationships = await context.site.listFlash(image.id);
  for (const { item, at } of items) {
    const relationship = relationships.find((candidate) => candidate.id === item);
    if (pending.includes(item) && relationship?.nocopy) {
      throw new CommandFailure("BAD_ARGUMENT", `FlashCopy pair ${item} was established with -nocp: it has no background copy to wait for`, at);
    }
  }
  const wanted = ids.length > 0 ? pending : relationships.filter((relationship) => !relationship.nocopy).map((relationship) => relationship.id);
  if (wanted.length > 0) {
    await waitWithView(
      context,
      (signal) => context.session.watchCopies(image.id, wanted, signal),
      () => context.call(context.site.waitForCopy(image.id, wanted, { timeoutMs, signal: context.signal })),
      "cancelled",
    );
  }
  const shown = ids.length > 0 ? ids : wanted;
  return {
    lines: shown.map((id) => infoLine(INFO.copyComplete, "wait", `FlashCopy pair ${id} background copy complete.`)),
    value: shown,
  };
}

async function watch(context: CommandContext): Promise<CommandResult> {
  const image = await context.image();
  const items = context.operandItems(pairIds);
  const ids = items.map(({ item }) => item);
  const forMs = context.convert("for", (value) => durationMs(value, "-for"));
  const pending = await context.call(context.site.pendingFlash(image.id, ids));
  const copying = (await context.site.listFlash(image.id)).some((relationship) => !relationship.nocopy);
  const until = (ids.length > 0 && pending.length > 0) || (ids.length === 0 && copying) ? "copied" : "cancel";
  const stop = new AbortController();
  const timer = forMs === undefined ? undefined : setTimeout(() => stop.abort(), forMs);
  try {
    await context.session.presenter.watch({
      site: context.site, imageId: image.id, pairs: ids.length > 0 ? pending : [], workloads: () => context.session.workloadStats(), hosts: hostIoSampler(context.site, image.id), until,
      signal: AbortSignal.any([context.signal, stop.signal]), refreshMs: context.session.refreshMs,
    });
  } finally {
    clearTimeout(timer);
  }
  return { lines: [], value: null };
}

async function sleep(context: CommandContext): Promise<CommandResult> {
  const ms = context.operand(0, (value) => durationMs(value, "sleep"));
  try {
    await delay(ms, undefined, { signal: context.signal });
  } catch (error) {
    if (context.signal.aborted) throw new CommandFailure("CANCELLED", "cancelled");
    throw error;
  }
  return { lines: [], value: null };
}

function echo(context: CommandContext): CommandResult {
  const text = context.operands.map((operand) => formatValue(operand.value)).join(" ");
  return { lines: [text], value: text };
}

export const SCENARIO_COMMANDS: Readonly<Record<string, CommandHandler>> = {
  write, read, fill, checksum, import: importFile, export: exportFile,
  "workload start": workloadStart, "workload stop": workloadStop, "workload wait": workloadWait, lsworkload,
  "wait flash": waitFlash, watch, sleep, echo,
};
