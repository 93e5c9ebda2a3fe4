// FlashCopy V2 on a storage image (model 2107): resync, reverse, revertible
// increments, and the write holds of mkflash -freeze with their per-LSS
// timeout. The data-plane work is the core's (assembly/increment.ts); this
// module checks the rules, keeps the relationships' host-side records and
// runs the freeze timers. Every operation checks everything before the core
// changes anything.
import { CoreCode, RelFlag, TRACK_SIZE } from "../core/codes.js";
import { EngineError } from "./errors.js";
import { lssOf, pairId } from "./ids.js";
import {
  checkV2Supported, checkIncremental, checkNotRevertible, checkRevertible, checkReverse,
  type IncrementFacts, type V2Operation, type VolumeFacts,
} from "./rules.js";
import { coreError } from "./core-errors.js";
import type { StorageImage, Relationship } from "./image.js";

// assembly/increment.ts keeps a revertible increment's saved tracks in one allocation of at most 1 GiB.
const SAVED_TRACKS_MAX = 2 ** 30 / TRACK_SIZE;

// DS8000 fixed-block LSSs hold a consistency group's writes (long busy) for 60 s by default.
export const FREEZE_TIMEOUT_MS_DEFAULT = 60_000;

export interface IncrementOptions {
  record?: boolean;
  persist?: boolean;
  tgtinhibit?: boolean;
  tgtpprc?: boolean;
  seqnum?: number;
  freeze?: boolean; // resyncflash -freeze: hold the source's writes after the new T0
}

export interface ReverseOptions extends Omit<IncrementOptions, "freeze"> {
  fast?: boolean; // no background copy: tracks come back as they are written or read
}

export function incrementFacts(relationship: Relationship, pendingTracks: number): IncrementFacts {
  return {
    id: relationship.id, record: relationship.record, persist: relationship.persist,
    revertible: relationship.revertible, pendingTracks,
  };
}

export function relationshipFlags(options: { nocopy: boolean; tgtinhibit: boolean; record: boolean; persist: boolean; freeze: boolean }): number {
  return (options.nocopy ? 0 : RelFlag.BACKGROUND)
    | (options.tgtinhibit ? RelFlag.TGTINHIBIT : 0)
    | (options.record ? RelFlag.RECORD : 0)
    | (options.persist ? RelFlag.PERSIST : 0)
    | (options.freeze ? RelFlag.HOLD_WRITES : 0);
}

export class FlashV2 {
  private readonly freezeTimers = new Map<string, NodeJS.Timeout>();
  // When each held LSS's timer ends the hold (ms since 1970): a state file keeps it.
  private readonly freezeDeadlines = new Map<string, number>();

  constructor(private readonly image: StorageImage, private readonly freezeTimeoutMs = FREEZE_TIMEOUT_MS_DEFAULT) {
    if (!Number.isInteger(freezeTimeoutMs) || freezeTimeoutMs <= 0) {
      throw new EngineError("BAD_ARGUMENT", `freeze timeout ${freezeTimeoutMs} ms is not a whole number of milliseconds above 0`);
    }
  }

  private supported(operation: V2Operation): void {
    checkV2Supported(this.image.model, operation, this.image.id);
  }

  private facts(relationship: Relationship): IncrementFacts {
    return incrementFacts(relationship, this.image.core.exports.rel_pending(relationship.slot));
  }

  // mkflash -freeze / -tgtpprc are V2: refused by name on a 2105.
  checkEstablishOptions(options: { freeze?: boolean; tgtpprc?: boolean }): void {
    if (options.freeze) this.supported("mkflash -freeze");
    if (options.tgtpprc) this.supported("mkflash -tgtpprc");
  }

  // Checks what `operation` would check of the pair, changing nothing (commands check every pair first).
  check(operation: V2Operation | "rmflash", idText: string): Relationship {
    if (operation !== "rmflash") this.supported(operation);
    const relationship = this.image.relationship(idText);
    const facts = this.facts(relationship);
    if (operation === "resyncflash" || operation === "setflashrevertible") checkIncremental(operation, facts);
    else if (operation === "reverseflash") checkReverse(facts, this.volumeFacts(relationship.sourceId), this.volumeFacts(relationship.targetId));
    else if (operation === "commitflash" || operation === "revertflash") checkRevertible(operation, facts);
    else if (operation === "rmflash") checkNotRevertible("rmflash", facts);
    return relationship;
  }

  resync(idText: string, options: IncrementOptions = {}): Relationship {
    const relationship = this.check("resyncflash", idText);
    const seqnum = checkSequenceNumber(relationship.id, options.seqnum ?? relationship.seqnum);
    const next: Relationship = {
      ...relationship,
      record: options.record ?? false, persist: options.persist ?? false, tgtinhibit: options.tgtinhibit ?? false,
      tgtpprc: options.tgtpprc ?? false, writesHeld: options.freeze ?? false, seqnum, syncedAt: null,
    };
    const flags = relationshipFlags({ ...next, freeze: next.writesHeld });
    const code = this.image.core.exports.rel_resync(relationship.slot, flags);
    if (code < 0) throw coreError(code, `resynchronise FlashCopy pair ${relationship.id}`);
    this.image.replaceRelationship(relationship, next);
    if (next.writesHeld) this.startFreezeTimer(lssOf(next.sourceId));
    return next;
  }

  reverse(idText: string, options: ReverseOptions = {}): Relationship {
    const relationship = this.check("reverseflash", idText);
    const seqnum = checkSequenceNumber(relationship.id, options.seqnum ?? relationship.seqnum);
    const next: Relationship = {
      ...relationship,
      id: pairId(relationship.targetId, relationship.sourceId),
      sourceId: relationship.targetId, targetId: relationship.sourceId,
      nocopy: options.fast ?? false, record: options.record ?? false, persist: options.persist ?? false,
      tgtinhibit: options.tgtinhibit ?? false, tgtpprc: options.tgtpprc ?? false, writesHeld: false, seqnum, syncedAt: null,
    };
    const code = this.image.core.exports.rel_reverse(relationship.slot, relationshipFlags({ ...next, freeze: false }));
    if (code < 0) throw coreError(code, `reverse FlashCopy pair ${relationship.id}`);
    this.image.replaceRelationship(relationship, next);
    return next;
  }

  // setflashrevertible: an increment (a new T0, as resyncflash) that commitflash keeps and revertflash rolls back.
  setRevertible(idText: string, options: { seqnum?: number } = {}): Relationship {
    const relationship = this.check("setflashrevertible", idText);
    const seqnum = checkSequenceNumber(relationship.id, options.seqnum ?? relationship.seqnum);
    const code = this.image.core.exports.rel_make_revertible(relationship.slot);
    if (code === CoreCode.NO_SPACE) {
      throw new EngineError(
        "NO_SPACE",
        `FlashCopy pair ${relationship.id}: setflashrevertible keeps the target's previous image of every track changed since the last T0, and there is no room for it (at most ${SAVED_TRACKS_MAX} tracks, or the storage image is full)`,
      );
    }
    if (code < 0) throw coreError(code, `make FlashCopy pair ${relationship.id} revertible`);
    const next: Relationship = { ...relationship, revertible: true, seqnum, syncedAt: null };
    this.image.replaceRelationship(relationship, next);
    return next;
  }

  commit(idText: string): Relationship {
    return this.endWindow("commitflash", idText);
  }

  revert(idText: string): Relationship {
    return this.endWindow("revertflash", idText);
  }

  private endWindow(operation: "commitflash" | "revertflash", idText: string): Relationship {
    const relationship = this.check(operation, idText);
    const exports = this.image.core.exports;
    const code = operation === "commitflash" ? exports.rel_commit(relationship.slot) : exports.rel_revert(relationship.slot);
    if (code < 0) throw coreError(code, `${operation} FlashCopy pair ${relationship.id}`);
    const next: Relationship = { ...relationship, revertible: false };
    this.image.replaceRelationship(relationship, next);
    return next;
  }

  // unfreezeflash LSS: every relationship whose source is in the LSS takes writes again.
  // An LSS with volumes but nothing frozen is accepted and nothing happens, as on DS8000.
  unfreeze(lssText: string): string[] {
    return this.release(this.checkUnfreeze(lssText));
  }

  checkUnfreeze(lssText: string): string {
    this.supported("unfreezeflash");
    const lss = lssText.toUpperCase();
    if (!/^[0-9A-F]{2}$/.test(lss) || lss === "FF") throw new EngineError("BAD_ARGUMENT", `LSS ${lssText} is not two hex digits 00 to FE`);
    if (!this.image.listLss().includes(lss)) throw new EngineError("LSS_NOT_FOUND", `LSS ${lss} does not exist on ${this.image.id}`);
    return lss;
  }

  private release(lss: string): string[] {
    const timer = this.freezeTimers.get(lss);
    if (timer) clearTimeout(timer);
    this.freezeTimers.delete(lss);
    this.freezeDeadlines.delete(lss);
    const released: string[] = [];
    for (const relationship of this.image.listRelationships()) {
      if (!relationship.writesHeld || lssOf(relationship.sourceId) !== lss) continue;
      const code = this.image.core.exports.rel_release_writes(relationship.slot);
      if (code !== CoreCode.OK) throw coreError(code, `unfreeze FlashCopy pair ${relationship.id}`);
      this.image.replaceRelationship(relationship, { ...relationship, writesHeld: false });
      released.push(relationship.id);
    }
    return released;
  }

  // The LSS's timer starts at its first freeze and is not restarted by later
  // ones: the hold is bounded from the moment writes first stopped. A hold
  // loaded from a state file keeps the deadline it had (`deadlineMs`).
  startFreezeTimer(lss: string, deadlineMs = Date.now() + this.freezeTimeoutMs): void {
    if (this.freezeTimers.has(lss)) return;
    const timer = setTimeout(() => {
      this.freezeTimers.delete(lss);
      if (this.image.isClosed) return;
      const released = this.release(lss);
      this.image.emit("unfrozen", { lss, released, reason: "timeout" });
    }, Math.max(0, deadlineMs - Date.now()));
    timer.unref();
    this.freezeTimers.set(lss, timer);
    this.freezeDeadlines.set(lss, deadlineMs);
  }

  // When the hold of `lss` ends at the latest (ms since 1970), or null when nothing holds it.
  freezeDeadline(lss: string): number | null {
    return this.freezeDeadlines.get(lss) ?? null;
  }

  private volumeFacts(id: string): VolumeFacts {
    const volume = this.image.volume(id);
    const relationships = this.image.relationshipsOf(volume.id);
    return {
      id: volume.id, blocks: volume.blocks, os: volume.os, usable: this.image.dataState(volume.id) === "Normal",
      sourceOf: relationships.filter((r) => r.sourceId === volume.id).length,
      targetOf: relationships.filter((r) => r.targetId === volume.id).length,
    };
  }

  close(): void {
    for (const timer of this.freezeTimers.values()) clearTimeout(timer);
    this.freezeTimers.clear();
    this.freezeDeadlines.clear();
  }
}

export function checkSequenceNumber(pair: string, seqnum: number): number {
  if (!Number.isInteger(seqnum) || seqnum < 0 || seqnum > 0xffffffff) {
    throw new EngineError("BAD_ARGUMENT", `FlashCopy pair ${pair}: sequence number ${seqnum} is not a whole number from 0 to FFFFFFFF`);
  }
  return seqnum;
}
