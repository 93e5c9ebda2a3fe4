// Crash safety: a process killed (SIGKILL) at random moments while it saves,
// over and over; the state file must then load as the old state or the new
// one, whole, every time. (The child builds the states itself, so their
// creation times differ from the parent's copies: contents are compared.)
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { runUntilKilled } from "../support/kill-child.js";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { saveState, loadState } from "../../src/store/index.js";
import { testSeed, Random } from "../support/random.js";
import { describeContents, temporaryDirectory } from "./support.js";
import { buildState } from "./fixtures/states.js";

const seed = testSeed();
console.log(`store crash seed: ${seed} (replay with TZERO_SEED=${seed})`);

const CHILD = fileURLToPath(new URL("./fixtures/save-loop.js", import.meta.url));
const TIME_BUDGET_MS = 15_000;
const ROUNDS_MIN = 12;
const ROUNDS_MAX = 80;
const KILL_DELAY_MS_MAX = 250;

interface Killed {
  lastLine: string;
  saves: number;
}

// Starts the child, lets it save for `delayMs` after it is ready (state
// `first` first, then the other, in turn), and kills it.
async function runAndKill(file: string, first: number, delayMs: number): Promise<Killed> {
  const { output } = await runUntilKilled([CHILD, file, String(seed), String(first)], "ready\n", delayMs);
  const lines = output.trim().split("\n");
  return { lastLine: lines[lines.length - 1], saves: lines.filter((line) => line.startsWith("end")).length };
}

const Crash = suite("crash safety");

Crash("should leave the old state or the new one, whole, whenever a save is killed", async () => {
  const random = new Random(seed);
  const folder = temporaryDirectory();
  const states = [buildState(seed, 0), buildState(seed, 1)];
  try {
    const expected = states.map((state) => JSON.stringify(describeContents([state])));
    assert.is.not(expected[0], expected[1], "the two states differ");
    const file = join(folder.path, "state.tzs");
    await saveState([states[0]], file);
    const seen = [0, 0];
    let midSave = 0;
    let rounds = 0;
    const started = performance.now();
    let delayMax = KILL_DELAY_MS_MAX;
    const bothSeen = () => seen[0] > 0 && seen[1] > 0;
    while (rounds < ROUNDS_MAX && (rounds < ROUNDS_MIN || performance.now() - started < TIME_BUDGET_MS || !bothSeen())) {
      // On a loaded machine a save can outlast every delay: once the minimum
      // rounds are done without both states seen, give the child longer.
      if (rounds >= ROUNDS_MIN && !bothSeen()) delayMax = Math.min(delayMax * 2, 8_000);
      const killed = await runAndKill(file, rounds % 2, random.int(0, delayMax));
      if (killed.lastLine.startsWith("begin")) midSave++;
      const [loaded] = await loadState(file, { workers: 0 });
      const state = JSON.stringify(describeContents([loaded]));
      await loaded.close();
      const which = expected.indexOf(state);
      assert.ok(which >= 0, `round ${rounds}: the file loads as neither state (killed after ${killed.saves} saves, at "${killed.lastLine}")`);
      seen[which]++;
      rounds++;
    }
    console.log(`  ${rounds} kills, ${midSave} of them during a save; the file loaded as the first state ${seen[0]} times, the second ${seen[1]}`);
    assert.ok(midSave * 2 >= rounds, `most kills land during a save (${midSave} of ${rounds})`);
    assert.ok(seen[0] > 0, "the file held the first state after some kills");
    assert.ok(seen[1] > 0, "the file held the second state after some kills");
    // The next save removes the temporary files the killed processes left.
    await saveState([states[1]], file);
    assert.equal(readdirSync(folder.path), ["state.tzs"]);
  } finally {
    await Promise.all(states.map((state) => state.close()));
    folder.remove();
  }
});

Crash.run();
