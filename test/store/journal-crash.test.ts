// Crash safety of the journal: a child process appending from 1, 8 or 64
// concurrent loops (records of a few bytes to 64 KiB, snapshots now and then) is killed with SIGKILL at
// random moments, over and over, in one directory. After each kill the
// journal must open with every record the child saw acknowledged, in order,
// without a gap, and the dead child's lock taken over.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { runUntilKilled } from "../support/kill-child.js";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openJournal } from "../../src/store/index.js";
import { testSeed, Random } from "../support/random.js";
import { temporaryDirectory } from "./support.js";
import { tallyOptions } from "./journal-support.js";

const seed = testSeed();
console.log(`journal crash seed: ${seed} (replay with TZERO_SEED=${seed})`);

const CHILD = fileURLToPath(new URL("./fixtures/journal-append-loop.js", import.meta.url));
const ROUNDS = 12;
const KILL_DELAY_MS_MAX = 200;
const APPENDERS = [1, 8, 64];
const SNAPSHOT_EVERY = [7, 100, 1_000_000];
const PADDING_BYTES = [0, 256, 64 * 1024];

interface Killed {
  pid: number;
  openedAt: number; // the sequence the child found when it opened
  acked: number[]; // sequences it saw acknowledged
}

interface ChildOptions {
  appenders: number;
  snapshotEvery: number;
  paddingBytes: number;
}

async function runAndKill(directory: string, options: ChildOptions, delayMs: number): Promise<Killed> {
  const argv = [CHILD, directory, String(options.appenders), String(options.snapshotEvery), String(options.paddingBytes)];
  const { pid, output } = await runUntilKilled(argv, "open ", delayMs);
  const lines = output.split("\n").filter((line) => line.length > 0);
  const opened = lines.find((line) => line.startsWith("open "));
  return {
    pid,
    openedAt: Number(opened?.split(" ")[1] ?? NaN),
    acked: lines.filter((line) => line.startsWith("ack ")).map((line) => Number(line.slice(4))),
  };
}

const Crash = suite("the journal, killed in the middle of appends");

Crash("should hold every acknowledged record, in order, after each of many kills", async () => {
  const random = new Random(seed);
  const folder = temporaryDirectory();
  const directory = join(folder.path, "server-state");
  let durable = 0; // the last sequence found after the previous kill
  let tornTails = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const options = { appenders: random.pick(APPENDERS), snapshotEvery: random.pick(SNAPSHOT_EVERY), paddingBytes: random.pick(PADDING_BYTES) };
      const killed = await runAndKill(directory, options, random.int(0, KILL_DELAY_MS_MAX));
      const where = `round ${round} (${JSON.stringify(options)}, seed ${seed})`;
      assert.is(killed.openedAt, durable, `${where}: the child opened what the last reopen found`);
      const journal = await openJournal(directory, tallyOptions());
      const highest = Math.max(durable, ...killed.acked);
      assert.ok(journal.sequence >= highest, `${where}: ${journal.sequence} records, but ${highest} was acknowledged`);
      assert.equal(journal.state.values, Array.from({ length: journal.sequence }, (_, index) => index + 1), `${where}: every record, in order, no gap`);
      assert.is(journal.report.staleLockPid, killed.pid, `${where}: the dead child's lock is taken over`);
      durable = journal.sequence;
      if (journal.report.tornTail !== null) tornTails++;
      await journal.close();
    }
    assert.ok(durable > 0, "the children appended something");
    console.log(`journal crash: ${ROUNDS} kills, ${durable} records, ${tornTails} torn tails cut`);
  } finally {
    folder.remove();
  }
});

Crash.run();
