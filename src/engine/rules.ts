// FlashCopy rules of the storage image models.
//
// 2105 (ESS, the seed): source and target in the same LSS; target at least as
// large as the source; a volume in at most one relationship; same OS type.
// 2107 (DS8000, FlashCopy V2): any LSS; up to 12 targets per source; one
// source per target; no volume both source and target; target at least as large.

import { EngineError } from "./errors.js";
import { lssOf, pairId } from "./ids.js";

export type Model = "2105" | "2107";
export const MODELS: readonly Model[] = ["2105", "2107"];
export const TARGETS_PER_SOURCE_MAX = 12;

export interface VolumeFacts {
  id: string;
  blocks: number;
  os: string;
  sourceOf: number; // relationships where it is the source
  targetOf: number; // relationships where it is the target (0 or 1)
  usable: boolean; // false after a withdrawn incomplete copy onto it
}

export function checkEstablish(model: Model, source: VolumeFacts, target: VolumeFacts, pairExists: boolean): void {
  const pair = pairId(source.id, target.id);
  if (source.id === target.id) {
    throw new EngineError("SOURCE_EQUALS_TARGET", `FlashCopy pair ${pair}: source and target are the same volume`);
  }
  if (!source.usable) {
    throw new EngineError(
      "VOLUME_UNUSABLE",
      `FlashCopy pair ${pair}: source ${source.id} is not usable (a FlashCopy onto it was withdrawn before completing); it cannot be copied from`,
    );
  }
  if (model === "2105" && lssOf(source.id) !== lssOf(target.id)) {
    throw new EngineError(
      "LSS_MISMATCH",
      `FlashCopy pair ${pair}: source is in LSS ${lssOf(source.id)} and target in LSS ${lssOf(target.id)}; a 2105 requires both in the same LSS`,
    );
  }
  if (target.blocks < source.blocks) {
    throw new EngineError(
      "TARGET_TOO_SMALL",
      `FlashCopy pair ${pair}: target ${target.id} has ${target.blocks} blocks, fewer than source ${source.id} (${source.blocks}); the target must be at least as large`,
    );
  }
  if (model === "2105") checkOneRelationship(pair, source, target);
  else checkV2(pair, source, target, pairExists);
  if (model === "2105" && source.os !== target.os) {
    throw new EngineError(
      "OS_MISMATCH",
      `FlashCopy pair ${pair}: source ${source.id} is for ${source.os} and target ${target.id} for ${target.os}; a 2105 requires the same operating system type`,
    );
  }
}

function checkOneRelationship(pair: string, source: VolumeFacts, target: VolumeFacts): void {
  for (const volume of [source, target]) {
    if (volume.sourceOf + volume.targetOf > 0) {
      throw new EngineError(
        "VOLUME_IN_RELATIONSHIP",
        `FlashCopy pair ${pair}: volume ${volume.id} is already in a FlashCopy relationship; a 2105 allows one at a time`,
      );
    }
  }
}

function checkV2(pair: string, source: VolumeFacts, target: VolumeFacts, pairExists: boolean): void {
  if (pairExists) {
    throw new EngineError("VOLUME_IN_RELATIONSHIP", `FlashCopy pair ${pair} already exists`);
  }
  if (target.targetOf > 0) {
    throw new EngineError("TARGET_HAS_SOURCE", `FlashCopy pair ${pair}: target ${target.id} is already the target of another relationship`);
  }
  if (target.sourceOf > 0) {
    throw new EngineError("CASCADE_NOT_ALLOWED", `FlashCopy pair ${pair}: target ${target.id} is the source of another relationship; a volume cannot be both`);
  }
  if (source.targetOf > 0) {
    throw new EngineError("CASCADE_NOT_ALLOWED", `FlashCopy pair ${pair}: source ${source.id} is the target of another relationship; a volume cannot be both`);
  }
  if (source.sourceOf >= TARGETS_PER_SOURCE_MAX) {
    throw new EngineError(
      "TOO_MANY_TARGETS",
      `FlashCopy pair ${pair}: source ${source.id} already has ${TARGETS_PER_SOURCE_MAX} targets, the most a 2107 allows`,
    );
  }
}

export const OS_TYPES = ["aix", "linux", "windows", "hpux", "solaris", "os400", "vms", "tru64", "netware"] as const;
export type OsType = (typeof OS_TYPES)[number];
export const DEFAULT_OS: OsType = "aix";

export function parseOsType(text: string): OsType {
  const os = text.toLowerCase();
  if (!(OS_TYPES as readonly string[]).includes(os)) {
    throw new EngineError("BAD_OS_TYPE", `OS type ${text} is not one of ${OS_TYPES.join(", ")}`);
  }
  return os as OsType;
}

// ---- FlashCopy V2 (model 2107) ------------------------------------------------------------
//
// Rules of resyncflash, reverseflash, setflashrevertible, commitflash,
// revertflash, unfreezeflash and mkflash -freeze / -tgtpprc, as pure checks
// over facts, shared by the engine and the reference model.

export type V2Operation =
  | "resyncflash" | "reverseflash" | "setflashrevertible" | "commitflash" | "revertflash" | "unfreezeflash"
  | "mkflash -freeze" | "mkflash -tgtpprc";

export interface IncrementFacts {
  id: string;
  record: boolean;
  persist: boolean;
  revertible: boolean;
  pendingTracks: number;
}

export function checkV2Supported(model: Model, operation: V2Operation, imageId: string): void {
  if (model === "2107") return;
  throw new EngineError(
    "NOT_SUPPORTED",
    `${operation} is FlashCopy V2, which storage image ${imageId} (model ${model}) does not support; use a 2107`,
  );
}

// resyncflash and setflashrevertible need the change recording of -record -persist.
export function checkIncremental(operation: V2Operation, facts: IncrementFacts): void {
  if (!facts.record || !facts.persist) {
    const missing = [facts.record ? "" : "-record", facts.persist ? "" : "-persist"].filter(Boolean).join(" and ");
    throw new EngineError(
      "NOT_INCREMENTAL",
      `FlashCopy pair ${facts.id}: ${operation} needs a relationship made with -record -persist; it has no ${missing}`,
    );
  }
  checkNotRevertible(operation, facts);
}

export function checkNotRevertible(operation: V2Operation | "rmflash", facts: IncrementFacts): void {
  if (facts.revertible) {
    throw new EngineError(
      "REVERTIBLE",
      `FlashCopy pair ${facts.id} is revertible: commitflash or revertflash its last increment before ${operation}`,
    );
  }
}

export function checkRevertible(operation: V2Operation, facts: IncrementFacts): void {
  if (!facts.revertible) {
    throw new EngineError(
      "NOT_REVERTIBLE",
      `FlashCopy pair ${facts.id} is not revertible: ${operation} needs setflashrevertible first`,
    );
  }
}

// reverseflash: the change recording tells which tracks differ, the target
// must hold its whole image (nothing pending), and reversed the pair must
// still keep the rules: the old source in no other relationship (it becomes
// a target), and the new target as large as the new source.
export function checkReverse(facts: IncrementFacts, source: VolumeFacts, target: VolumeFacts): void {
  checkIncremental("reverseflash", facts);
  if (facts.pendingTracks > 0) {
    throw new EngineError(
      "COPY_INCOMPLETE",
      `FlashCopy pair ${facts.id}: ${facts.pendingTracks} tracks are not yet copied to target ${target.id}; reverseflash needs its copy complete`,
    );
  }
  if (source.sourceOf > 1) {
    throw new EngineError(
      "CASCADE_NOT_ALLOWED",
      `FlashCopy pair ${facts.id}: source ${source.id} has other targets; reversed, it would be both source and target`,
    );
  }
  if (source.blocks < target.blocks) {
    throw new EngineError(
      "TARGET_TOO_SMALL",
      `FlashCopy pair ${facts.id}: reversed, target ${source.id} (${source.blocks} blocks) would be smaller than source ${target.id} (${target.blocks} blocks)`,
    );
  }
}
