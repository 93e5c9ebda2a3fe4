// The WASM engine against the TypeScript reference model on mixed workloads:
// small and whole-track writes on sources and targets, reads, host-driven
// track copies, establish and withdraw, the same seeded sequence applied to
// both through their public APIs. Both run on the main thread; the engine has
// no copy workers, so the sequence means the same on both sides.
//
// Two mixes. "mixed" (the bar) copies one track per copy step, as the
// background copy's steps in design.md §12: its bytes are about half host
// writes, half copies. "copy-heavy" copies 64 tracks (4 MiB) per step, so
// that nine tenths of its bytes are track copies: there the engine moves the
// bytes with memory.copy (the copy figures hold that to memory.copy's speed)
// while the model only shares its immutable track arrays, and the ratio says
// how much a mix can lean on copies before the model's sharing wins. It is
// reported without a bar.
import { StorageImage, isEngineError } from "../../src/engine/index.js";
import { ReferenceImage } from "../../src/model/reference.js";
import { check, type FigureResult, type Suite, type SuiteContext } from "../harness/suite.js";
import { Xorshift32 } from "../harness/random.js";
import { median, spreadOf, formatCount, MiB } from "../harness/stats.js";

const TRACK_SIZE = 64 * 1024;
const BAR = 2;
const PAYLOAD_BYTES = 4 * MiB;

interface Mix {
  key: string;
  figure: string;
  copyTracks: number; // tracks per copy step
  bar: number | null;
}

const MIXES: readonly Mix[] = [
  { key: "model.mixed", figure: "WASM engine vs TypeScript reference model, mixed workload", copyTracks: 1, bar: BAR },
  { key: "model.copy-heavy", figure: "WASM engine vs TypeScript reference model, copy-heavy mix (64-track copies)", copyTracks: 64, bar: null },
];

// What both sides answer to: the engine and the model share these methods.
interface FlashCopyApi {
  createVolume(spec: { id: string; capacity: number; unit?: "blocks" }): unknown;
  establish(source: string, target: string, options?: { nocopy?: boolean; persist?: boolean }): unknown;
  withdraw(pair: string): boolean;
  write(id: string, offset: number, bytes: Uint8Array): void;
  read(id: string, offset: number, length: number): Uint8Array;
  copyTracks(pair: string, firstTrack: number, count: number): number;
}

type Operation =
  | { kind: "write"; volume: string; offset: number; payload: Uint8Array }
  | { kind: "read"; volume: string; offset: number; length: number }
  | { kind: "copy"; pair: number; firstTrack: number; count: number }
  | { kind: "toggle"; pair: number; nocopy: boolean };

interface Layout {
  pairs: { source: string; target: string; id: string }[];
  volumeBytes: number;
}

function layoutOf(pairCount: number, volumeBytes: number): Layout {
  const pairs = Array.from({ length: pairCount }, (_, index) => {
    const source = `50${(2 * index).toString(16).padStart(2, "0").toUpperCase()}`;
    const target = `50${(2 * index + 1).toString(16).padStart(2, "0").toUpperCase()}`;
    return { source, target, id: `${source}:${target}` };
  });
  return { pairs, volumeBytes };
}

// A seeded sequence: 35% 4 KiB writes, 10% whole-track writes, 10% writes of
// 10 KiB across a track boundary, 30% 4 KiB reads, 10% copies of `copyTracks`
// tracks, 5% establish or withdraw. Writes and reads hit sources and targets alike.
function operations(layout: Layout, count: number, random: Xorshift32, payload: Uint8Array, copyTracks: number): Operation[] {
  const list: Operation[] = [];
  const tracks = layout.volumeBytes / TRACK_SIZE;
  const anyVolume = () => {
    const pair = layout.pairs[random.below(layout.pairs.length)];
    return random.below(2) === 0 ? pair.source : pair.target;
  };
  const bytes = (length: number) => {
    const start = random.below(PAYLOAD_BYTES - length);
    return payload.subarray(start, start + length);
  };
  for (let index = 0; index < count; index++) {
    const draw = random.below(100);
    if (draw < 35) list.push({ kind: "write", volume: anyVolume(), offset: random.below(layout.volumeBytes / 4096) * 4096, payload: bytes(4096) });
    else if (draw < 45) list.push({ kind: "write", volume: anyVolume(), offset: random.below(tracks) * TRACK_SIZE, payload: bytes(TRACK_SIZE) });
    else if (draw < 55) list.push({ kind: "write", volume: anyVolume(), offset: (1 + random.below(tracks - 1)) * TRACK_SIZE - 5120, payload: bytes(10240) });
    else if (draw < 85) list.push({ kind: "read", volume: anyVolume(), offset: random.below(layout.volumeBytes / 4096) * 4096, length: 4096 });
    else if (draw < 95) list.push({ kind: "copy", pair: random.below(layout.pairs.length), firstTrack: random.below(tracks), count: copyTracks });
    else list.push({ kind: "toggle", pair: random.below(layout.pairs.length), nocopy: random.below(2) === 0 });
  }
  return list;
}

// The outcome of one operation, for comparing the two sides: bytes read, a
// count, a flag, or the code of the error thrown.
type Outcome = Uint8Array | number | boolean | string | null;

class Runner {
  private readonly established: boolean[];
  copiedTracks = 0; // tracks that copy operations copied, for the figure's note

  constructor(readonly api: FlashCopyApi, private readonly layout: Layout) {
    this.established = layout.pairs.map(() => false);
  }

  apply(operation: Operation): Outcome {
    try {
      switch (operation.kind) {
        case "write":
          this.api.write(operation.volume, operation.offset, operation.payload);
          return null;
        case "read":
          return this.api.read(operation.volume, operation.offset, operation.length);
        case "copy": {
          if (!this.established[operation.pair]) return null;
          const copied = this.api.copyTracks(this.layout.pairs[operation.pair].id, operation.firstTrack, operation.count);
          this.copiedTracks += copied;
          return copied;
        }
        case "toggle": {
          const pair = this.layout.pairs[operation.pair];
          if (this.established[operation.pair]) {
            this.established[operation.pair] = false;
            return this.api.withdraw(pair.id);
          }
          // Persistent: a completed copy stays until withdrawn, on both sides.
          this.api.establish(pair.source, pair.target, { nocopy: operation.nocopy, persist: true });
          this.established[operation.pair] = true;
          return true;
        }
      }
    } catch (error) {
      if (isEngineError(error)) return error.code;
      throw error;
    }
  }

  run(list: readonly Operation[]): number {
    const start = performance.now();
    for (const operation of list) this.apply(operation);
    return performance.now() - start;
  }
}

function sameOutcome(left: Outcome, right: Outcome): boolean {
  if (left instanceof Uint8Array && right instanceof Uint8Array) return Buffer.compare(left, right) === 0;
  return left === right;
}

function setUp(api: FlashCopyApi, layout: Layout, payload: Uint8Array): void {
  for (const pair of layout.pairs) {
    for (const id of [pair.source, pair.target]) {
      api.createVolume({ id, capacity: layout.volumeBytes / 512, unit: "blocks" });
      // Written in full: both sides start from the same, touched, data.
      for (let offset = 0; offset < layout.volumeBytes; offset += MiB) api.write(id, offset, payload.subarray(offset % PAYLOAD_BYTES, (offset % PAYLOAD_BYTES) + MiB));
    }
  }
}

function compareVolumes(engine: FlashCopyApi, model: FlashCopyApi, layout: Layout): void {
  for (const pair of layout.pairs) {
    for (const id of [pair.source, pair.target]) {
      const read = (api: FlashCopyApi): Outcome => {
        try {
          return api.read(id, 0, layout.volumeBytes);
        } catch (error) {
          if (isEngineError(error)) return error.code;
          throw error;
        }
      };
      check(sameOutcome(read(engine), read(model)), `volume ${id} reads the same on the engine and the model`);
    }
  }
}

// Runs one mix on a fresh image and model: a compared, untimed first chunk,
// then timed rounds of both sides back to back.
async function runMix(mix: Mix, context: SuiteContext, payload: Uint8Array, random: Xorshift32): Promise<FigureResult> {
  const layout = layoutOf(4, context.quick ? 8 * MiB : 16 * MiB);
  const image = new StorageImage({ workers: 0 });
  try {
    const model = new ReferenceImage();
    const engine = new Runner(image, layout);
    const reference = new Runner(model, layout);
    setUp(engine.api, layout, payload);
    setUp(reference.api, layout, payload);
    const chunk = context.quick ? 2000 : 4000;
    // First chunk: every outcome compared, untimed (also the warm-up).
    let compared = 0;
    for (const operation of operations(layout, chunk, random, payload, mix.copyTracks)) {
      const expected = reference.apply(operation);
      check(sameOutcome(engine.apply(operation), expected), `${mix.key}: operation ${compared} (${operation.kind}) has the same outcome on the engine and the model`);
      compared++;
    }
    compareVolumes(engine.api, reference.api, layout);
    const copiedBefore = engine.copiedTracks;
    const engineMs: number[] = [];
    const modelMs: number[] = [];
    const rounds = context.quick ? 3 : 7;
    for (let round = 0; round < rounds; round++) {
      const list = operations(layout, chunk, random, payload, mix.copyTracks);
      engineMs.push(engine.run(list));
      modelMs.push(reference.run(list));
      context.progress(`${mix.key}: round ${round + 1}: engine ${engineMs.at(-1)!.toFixed(1)} ms, model ${modelMs.at(-1)!.toFixed(1)} ms for ${chunk} operations`);
    }
    compareVolumes(engine.api, reference.api, layout);
    const engineRate = chunk / (median(engineMs) / 1000);
    const modelRate = chunk / (median(modelMs) / 1000);
    // Per round, as both sides ran the same operations back to back.
    const ratios = modelMs.map((ms, round) => ms / engineMs[round]);
    const ratio = median(ratios);
    const copiedMiB = ((engine.copiedTracks - copiedBefore) * TRACK_SIZE) / MiB / rounds;
    return {
      key: mix.key,
      figure: mix.figure,
      value: `${formatCount(engineRate)} vs ${formatCount(modelRate)} operations`,
      bar: mix.bar === null ? "reported" : `reported, ≥ ${mix.bar}×`,
      ratio,
      spread: spreadOf(ratios),
      met: mix.bar === null ? null : ratio >= mix.bar,
      verified: `${compared} operations compared one by one, and every volume compared after the timed rounds`,
      note: `${layout.pairs.length} pairs of ${layout.volumeBytes / MiB} MiB; 35% 4 KiB writes, 10% track writes, 10% 10 KiB writes across tracks, 30% 4 KiB reads, 10% copies of ${mix.copyTracks} track${mix.copyTracks === 1 ? "" : "s"}, 5% establish/withdraw; the engine's copies moved ${copiedMiB.toFixed(0)} MiB a round, the model's share its immutable track arrays`,
      details: { engineMs, modelMs, ratios, copiedMiBPerRound: copiedMiB, operationsPerRound: chunk, rounds, pairs: layout.pairs.length, volumeBytes: layout.volumeBytes, copyTracks: mix.copyTracks },
    };
  } finally {
    await image.close();
  }
}

export const modelSuite: Suite = {
  name: "model",
  figures: MIXES.map((mix) => mix.key),
  async run(context: SuiteContext) {
    const random = new Xorshift32(context.seed + 5);
    const payload = new Uint8Array(PAYLOAD_BYTES + MiB);
    for (let index = 0; index < payload.length; index++) payload[index] = random.next() & 0xff;
    const results: FigureResult[] = [];
    for (const mix of MIXES) results.push(await runMix(mix, context, payload, random));
    return results;
  },
};
