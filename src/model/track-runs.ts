// A set of tracks kept as sorted, disjoint, non-adjacent runs [start, end), so
// that "every track of a 16 TiB volume" is one run: the reference model's
// record of which tracks of a relationship have been copied.
export class TrackRuns {
  private runs: [number, number][] = [];
  private total = 0;

  get size(): number {
    return this.total;
  }

  // Index of the first run that ends after `track`.
  private firstEndingAfter(track: number): number {
    let low = 0;
    let high = this.runs.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.runs[middle][1] <= track) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  has(track: number): boolean {
    const run = this.runs[this.firstEndingAfter(track)];
    return run !== undefined && run[0] <= track;
  }

  // Tracks of [start, end) in the set.
  countIn(start: number, end: number): number {
    let count = 0;
    for (let index = this.firstEndingAfter(start); index < this.runs.length && this.runs[index][0] < end; index++) {
      count += Math.min(end, this.runs[index][1]) - Math.max(start, this.runs[index][0]);
    }
    return count;
  }

  // Adds [start, end), merging with the runs it touches.
  add(start: number, end: number): void {
    if (end <= start) return;
    const first = this.firstEndingAfter(start - 1); // a run ending at start touches it
    let last = first;
    let low = start;
    let high = end;
    while (last < this.runs.length && this.runs[last][0] <= end) {
      low = Math.min(low, this.runs[last][0]);
      high = Math.max(high, this.runs[last][1]);
      this.total -= this.runs[last][1] - this.runs[last][0];
      last++;
    }
    this.runs.splice(first, last - first, [low, high]);
    this.total += high - low;
  }

  // Removes [start, end), splitting the runs it cuts.
  remove(start: number, end: number): void {
    if (end <= start) return;
    const first = this.firstEndingAfter(start);
    let last = first;
    const kept: [number, number][] = [];
    while (last < this.runs.length && this.runs[last][0] < end) {
      const [low, high] = this.runs[last];
      this.total -= high - low;
      if (low < start) kept.push([low, start]);
      if (high > end) kept.push([end, high]);
      last++;
    }
    for (const [low, high] of kept) this.total += high - low;
    this.runs.splice(first, last - first, ...kept);
  }
}
