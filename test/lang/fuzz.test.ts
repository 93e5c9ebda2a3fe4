// Random input never crashes the parser: every string is a Program or a
// LangSyntaxError with a position inside the input.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { parse } from "../../src/lang/parser.js";
import { LangSyntaxError } from "../../src/lang/errors.js";
import { testSeed } from "../support/random.js";

const RUNS = 12_000;
const seed = testSeed() % 2 ** 31;

// Pieces of the language, so random strings get deep into the parser.
const PIECES = [
  "mkfbvol", "mkflash", "lsflash", "rmflash", "workload", "start", "wait", "flash", "let", "assert", "expect", "error",
  "repeat", "echo", "source", "help", "-cap", "-nocp", "-l", "-fmt", "json", "-dev", "IBM.2105-75TZ001", "1000", "1000:1001",
  "1000-1003", "0100", "4KiB", "2s", "0xff", "$x", "${y}", "x", "=", "==", "!=", "<", ">=", "&&", "||", "+", "-", "*", "/",
  "%", "!", "(", ")", "[", "]", "{", "}", ",", ".", ";", "\"", "'", "\\", "#", "\n", " ", "\t", "true", "LSS_MISMATCH",
  ".OutOfSyncTracks", "\"a $x b\"", "db_#h", "@", "é", "\r\n",
];

const Fuzz = suite("parser fuzz");

function check(source: string): void {
  try {
    const program = parse(source, "fuzz.tzs");
    assert.ok(Array.isArray(program.body));
  } catch (error) {
    if (!(error instanceof LangSyntaxError)) throw error;
    const lines = source.split("\n").length;
    assert.ok(error.line >= 1 && error.line <= lines, `line ${error.line} outside 1..${lines}`);
    assert.ok(error.col >= 1, `col ${error.col}`);
    assert.is(typeof error.incomplete, "boolean");
  }
}

Fuzz(`should parse or report a syntax error for ${RUNS} random strings (seed ${seed})`, () => {
  const token = fc.constantFrom(...PIECES);
  const source = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.array(token, { maxLength: 24 }), fc.constantFrom(" ", "")).map(([pieces, gap]) => pieces.join(gap)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60, unit: "binary" }) },
    { weight: 1, arbitrary: fc.array(token, { maxLength: 16 }).map((pieces) => pieces.join(" ")) },
  );
  try {
    fc.assert(fc.property(source, (text) => check(text)), { seed, numRuns: RUNS });
  } catch (error) {
    console.error(`parser fuzz failed with seed ${seed} (rerun with TZERO_SEED=${seed})`);
    throw error;
  }
});

Fuzz("should survive deep nesting with a syntax error, not a stack overflow", () => {
  const long = "let x = " + Array(20_000).fill("1").join("+");
  for (const source of ["(".repeat(10_000), "repeat 1 {".repeat(10_000), "let x = " + "-".repeat(10_000) + "1", "!".repeat(5000), long]) {
    try {
      parse(source, "deep.tzs");
    } catch (error) {
      assert.instance(error, LangSyntaxError);
    }
  }
});

Fuzz.run();
