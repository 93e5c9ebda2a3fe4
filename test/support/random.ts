// Seeded randomness for tests: every random test prints its seed, and
// TZERO_SEED=<n> replays it.
export function testSeed(): number {
  const fromEnv = process.env.TZERO_SEED;
  if (fromEnv !== undefined && fromEnv !== "") return Number(fromEnv) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}

// mulberry32: small, fast, good enough to drive tests.
export class Random {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let value = this.state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return (value ^ (value >>> 14)) >>> 0;
  }
  // Whole number in [low, high].
  int(low: number, high: number): number {
    return low + (this.next() % (high - low + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.next() % items.length];
  }
  bytes(length: number): Uint8Array {
    const words = new Uint32Array(Math.ceil(length / 4));
    for (let index = 0; index < words.length; index++) words[index] = this.next();
    return new Uint8Array(words.buffer, 0, length);
  }
}
