// The storage image the macro suites share, with its pre-touched data pair:
// touching fresh memory costs seconds per GiB here, so it is paid once per run.
import { StorageImage } from "../../src/engine/index.js";
import { touchedPair, type TouchedPair } from "./fixtures.js";
import { MiB, GiB } from "./stats.js";

export class SharedImage {
  private imageValue: StorageImage | null = null;
  private pairValue: TouchedPair | null = null;

  constructor(private readonly quick: boolean, private readonly seed: number, private readonly progress: (line: string) => void) {}

  // No copy workers of its own: the suites start exactly the pools they time.
  // A 2107, so that the FlashCopy V2 figures (resync) can use the same pair.
  get image(): StorageImage {
    this.imageValue ??= new StorageImage({ model: "2107", workers: 0 });
    return this.imageValue;
  }

  // 256 MiB (quick) or 1 GiB source and target, both written in full.
  pair(): TouchedPair {
    if (!this.pairValue) {
      const bytes = this.quick ? 256 * MiB : GiB;
      this.progress(`pre-touching a ${bytes / MiB} MiB source and target (first touch of memory is slow on this VM)`);
      const start = performance.now();
      this.pairValue = touchedPair(this.image, "1000", "1001", bytes, this.seed);
      this.progress(`pre-touched ${(2 * bytes) / MiB} MiB in ${((performance.now() - start) / 1000).toFixed(1)} s`);
    }
    return this.pairValue;
  }

  async close(): Promise<void> {
    await this.imageValue?.close();
    this.imageValue = null;
    this.pairValue = null;
  }
}
