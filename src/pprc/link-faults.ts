// Seeded faults of an in-process link (tests only; off unless a site is made
// with `linkFaults`): each frame the sender thread handles, a mirrored write
// or a copied track, is passed, dropped, delayed or cuts the link, as a pure
// function of the seed and the frame's index, so a failing run names the
// frames that failed and its seed replays the same faults at the same points
// (which write a frame carries depends on thread timing; where faults fall
// in the sequence does not).
//
// What the receiver does with them (link-worker.ts): a dropped frame is one
// it never sees; the next frame's sequence number (its ring ticket) shows the
// gap, or the idle sender notices it, and the link is cut then: the missing
// writes fail (never acknowledged, their tracks out of sync) and the pairs
// suspend. No frame after a gap is applied. A dropped copy is not applied and
// its track stays out of sync, to be sent again.

export interface LinkFaults {
  seed: number; // 32 bits
  dropPerMille: number;
  delayPerMille: number;
  delayMsMax: number; // a delayed frame waits 1 .. delayMsMax ms
  cutPerMille: number;
}

export type LinkFault = "pass" | "drop" | "delay" | "cut";

const PER_MILLE = 1000;
const DELAY_MS_LIMIT = 60_000;

export function checkLinkFaults(faults: LinkFaults): void {
  const rates = [faults.dropPerMille, faults.delayPerMille, faults.cutPerMille];
  if (!Number.isInteger(faults.seed) || faults.seed < 0 || faults.seed > 0xffffffff) throw new RangeError(`link fault seed ${faults.seed} is not a 32-bit whole number`);
  if (rates.some((rate) => !Number.isInteger(rate) || rate < 0) || rates.reduce((sum, rate) => sum + rate, 0) > PER_MILLE) {
    throw new RangeError(`link fault rates ${rates.join(", ")} are not whole numbers per mille adding up to at most ${PER_MILLE}`);
  }
  if (!Number.isInteger(faults.delayMsMax) || faults.delayMsMax < 1 || faults.delayMsMax > DELAY_MS_LIMIT) {
    throw new RangeError(`link fault delay ${faults.delayMsMax} ms is not a whole number from 1 to ${DELAY_MS_LIMIT}`);
  }
}

// A 32-bit hash of (seed, frame): splitmix32 steps, so neighbouring frames draw unrelated values.
function draw(seed: number, frame: number, salt: number): number {
  let z = (seed ^ Math.imul(frame + 1, 0x9e3779b9) ^ Math.imul(salt, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97) >>> 0;
  return (z ^ (z >>> 15)) >>> 0;
}

export class FaultPlan {
  private frame = 0;

  constructor(private readonly faults: LinkFaults) {}

  // The next frame's index and fault.
  next(): { frame: number; fault: LinkFault; delayMs: number } {
    const frame = this.frame++;
    const { seed, dropPerMille, delayPerMille, cutPerMille, delayMsMax } = this.faults;
    const roll = draw(seed, frame, 1) % PER_MILLE;
    const delayMs = 1 + (draw(seed, frame, 2) % delayMsMax);
    if (roll < dropPerMille) return { frame, fault: "drop", delayMs: 0 };
    if (roll < dropPerMille + delayPerMille) return { frame, fault: "delay", delayMs };
    if (roll < dropPerMille + delayPerMille + cutPerMille) return { frame, fault: "cut", delayMs: 0 };
    return { frame, fault: "pass", delayMs: 0 };
  }
}
