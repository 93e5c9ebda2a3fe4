// Seeded xorshift32: every benchmark workload is reproducible from its seed.
export class Xorshift32 {
  private state: number;

  constructor(seed: number) {
    this.state = (seed >>> 0) || 0x9e3779b9;
  }

  next(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return x;
  }

  // Uniform in [0, bound) for bound <= 2^32 (modulo bias is irrelevant here).
  below(bound: number): number {
    return this.next() % bound;
  }

  // Fisher-Yates permutation of 0..count-1.
  permutation(count: number): Uint32Array {
    const order = new Uint32Array(count);
    for (let index = 0; index < count; index++) order[index] = index;
    for (let index = count - 1; index > 0; index--) {
      const other = this.below(index + 1);
      const kept = order[index];
      order[index] = order[other];
      order[other] = kept;
    }
    return order;
  }
}
