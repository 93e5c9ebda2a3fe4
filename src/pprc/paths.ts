// PPRC paths: from an LSS of one storage image to an LSS of another, over one
// to eight port pairs (DS CLI mkpprcpath replaces an LSS pair's whole set).
// The table is plain data; the links that carry the paths live in pprc.ts.
import { EngineError } from "../engine/errors.js";
import { IO_PORT_IDS } from "../engine/ports.js";

export const PORT_PAIRS_MAX = 8;

export interface PortPair {
  readonly local: string; // "I0010"
  readonly remote: string; // "I0143"
}

export interface Path {
  readonly sourceImageId: string;
  readonly targetImageId: string;
  readonly sourceLss: string; // "10"
  readonly targetLss: string;
  readonly targetWwnn: string;
  readonly ports: readonly PortPair[];
  readonly consistgrp: boolean;
}

const LSS = /^[0-9A-Fa-f]{2}$/;

export function parseLss(text: string, what: string): string {
  if (!LSS.test(text)) throw new EngineError("BAD_ARGUMENT", `${what} ${text} is not an LSS (two hex digits, 00 to FE)`);
  const lss = text.toUpperCase();
  if (lss === "FF") throw new EngineError("BAD_ARGUMENT", `${what} FF is reserved; LSSs run from 00 to FE`);
  return lss;
}

function parsePort(text: string): string {
  const id = text.toUpperCase();
  if (!(IO_PORT_IDS as readonly string[]).includes(id)) {
    throw new EngineError("BAD_PORT", `I/O port ${text} does not exist; the ports are ${IO_PORT_IDS.join(", ")} (lsioport, lsavailpprcport)`);
  }
  return id;
}

// "I0010:I0143" → a port pair, each port checked.
export function parsePortPair(text: string): PortPair {
  const parts = text.split(":");
  if (parts.length !== 2) throw new EngineError("BAD_PORT", `port pair ${text} is not LOCAL_PORT:REMOTE_PORT such as I0010:I0143`);
  return { local: parsePort(parts[0]), remote: parsePort(parts[1]) };
}

export function checkPortPairs(ports: readonly PortPair[]): void {
  if (ports.length === 0) throw new EngineError("BAD_PORT", "a path needs at least one port pair (LOCAL_PORT:REMOTE_PORT)");
  if (ports.length > PORT_PAIRS_MAX) throw new EngineError("BAD_PORT", `a path has at most ${PORT_PAIRS_MAX} port pairs, not ${ports.length}`);
  const seen = new Set<string>();
  for (const pair of ports) {
    const key = `${pair.local}:${pair.remote}`;
    if (seen.has(key)) throw new EngineError("BAD_PORT", `port pair ${key} is given twice`);
    seen.add(key);
  }
}

export function pathKey(sourceImageId: string, sourceLss: string, targetImageId: string, targetLss: string): string {
  return `${sourceImageId}/${sourceLss}>${targetImageId}/${targetLss}`;
}

export class PathTable {
  private readonly paths = new Map<string, Path>();

  set(path: Path): void {
    this.paths.set(pathKey(path.sourceImageId, path.sourceLss, path.targetImageId, path.targetLss), path);
  }

  get(sourceImageId: string, sourceLss: string, targetImageId: string, targetLss: string): Path | undefined {
    return this.paths.get(pathKey(sourceImageId, sourceLss, targetImageId, targetLss));
  }

  delete(path: Path): void {
    this.paths.delete(pathKey(path.sourceImageId, path.sourceLss, path.targetImageId, path.targetLss));
  }

  // From one image (to `targetImageId` only, when given), by source LSS then target LSS.
  from(sourceImageId: string, targetImageId?: string): Path[] {
    return [...this.paths.values()]
      .filter((path) => path.sourceImageId === sourceImageId && (targetImageId === undefined || path.targetImageId === targetImageId))
      .sort((a, b) => a.sourceLss.localeCompare(b.sourceLss) || a.targetLss.localeCompare(b.targetLss) || a.targetImageId.localeCompare(b.targetImageId));
  }

  between(sourceImageId: string, targetImageId: string): boolean {
    return this.from(sourceImageId, targetImageId).length > 0;
  }
}
