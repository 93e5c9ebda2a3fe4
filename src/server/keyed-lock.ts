// Mutual exclusion by key: a body runs once every body before it that holds
// any of its keys has finished. All of a body's keys are taken at once, in
// the same turn, so two bodies can never each wait for the other.
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(keys: readonly string[], body: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)];
    const before = unique.map((key) => this.tails.get(key)).filter((tail): tail is Promise<void> => tail !== undefined);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => { release = resolve; });
    for (const key of unique) this.tails.set(key, mine);
    try {
      await Promise.all(before);
      return await body();
    } finally {
      release();
      // The last holder leaves no entry behind, so the map stays as small as what is in flight.
      for (const key of unique) if (this.tails.get(key) === mine) this.tails.delete(key);
    }
  }
}
