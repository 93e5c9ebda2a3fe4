// Random command sequences against a session: every failure is a ScriptError
// with a stable code (never an internal error or a crash), and a refused
// command leaves the images as they were.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Random, testSeed } from "../support/random.js";
import { recordedSession, run, sessionFingerprint } from "./support.js";

const PROGRAMS = 60;
const STATEMENTS = 25;
const seed = testSeed();

const IDS = ["1000", "1001", "1002", "1003", "1100", "10G0", "FF00", "$v"];
const SIZES = ["0", "512", "4KiB", "64KiB", "1MiB", "2MiB", "-1", "1x"];

function pick<T>(random: Random, items: readonly T[]): T {
  return items[random.next() % items.length];
}

function statement(random: Random): string {
  const id = () => pick(random, IDS);
  const size = () => pick(random, SIZES);
  const templates = [
    () => `mkfbvol -cap ${pick(random, ["128", "256", "0", "1.5"])} -type blocks -os ${pick(random, ["aix", "linux"])} ${id()}`,
    () => `mkfbvol -cap 128 -type blocks ${id()}-${id()}`,
    () => `rmfbvol -quiet ${id()}`,
    () => `mkflash ${pick(random, ["-nocp ", "-persist ", "-record ", "-tgtinhibit ", ""])}${id()}:${id()}`,
    () => `rmflash -quiet ${id()}:${id()}`,
    () => `lsflash ${pick(random, ["-l", "-s", "-l -s", ""])} ${pick(random, ["", id(), `${id()}:${id()}`])}`,
    () => `lsfbvol -fmt ${pick(random, ["default", "delim", "stanza", "json"])}`,
    () => `write ${id()} -offset ${size()} -len ${size()} -pattern ${pick(random, ["0xaa", "random", "0x1ff"])}`,
    () => `read ${id()} -offset ${size()} -len ${pick(random, ["16", "0", "2MiB"])}`,
    () => `checksum ${id()} -offset ${size()}`,
    () => `fill ${id()} -pattern ${pick(random, ["0", "random"])}`,
    () => `let v = ${pick(random, ["1000", "1001", "\"1100\"", "(lsfbvol)", "4KiB", "true"])}`,
    () => `assert (lsflash).length >= 0`,
    () => `expect error mkflash ${id()}:${id()}`,
    () => `echo $v (lsfbvol).length`,
    () => `let x = (lsfbvol ${id()}).${pick(random, ["Name", "ID", "Nope"])}`,
    () => `showfbvol ${id()}`,
    () => `setenv -format ${pick(random, ["default", "json"])} -banner ${pick(random, ["on", "off"])}`,
  ];
  return pick(random, templates)();
}

const RunFuzz = suite("random command sequences");

RunFuzz(`should fail only with ScriptErrors that carry a code, changing nothing on failure (seed ${seed})`, async () => {
  const random = new Random(seed);
  for (let program = 0; program < PROGRAMS; program++) {
    const recorded = recordedSession();
    try {
      await run(recorded.session, "let v = 1000");
      for (let index = 0; index < STATEMENTS; index++) {
        const source = statement(random);
        const before = (await sessionFingerprint(recorded.session));
        const error = await run(recorded.session, source);
        if (error === null) continue;
        const context = `seed ${seed}, program ${program}, statement ${JSON.stringify(source)}: ${error.message}`;
        assert.ok(error.code !== "INTERNAL", context);
        assert.ok(/^[A-Z][A-Z_]+$/.test(error.code), context);
        assert.ok([1, 2, 6].includes(error.exitCode), context);
        if (error.kind === "command") assert.is((await sessionFingerprint(recorded.session)), before, `changed on failure: ${context}`);
      }
    } finally {
      await recorded.session.close();
    }
  }
});

RunFuzz.run();
