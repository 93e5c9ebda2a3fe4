// A script on standard input: read as a stream from pipes that are slow,
// non-blocking or endless, with binary input and overlong lines refused as
// syntax errors (exit 2) before anything runs. Real child processes, since
// only they have a real standard input.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { PassThrough } from "node:stream";
import { join } from "node:path";
import { readScript } from "../../src/cli/script-input.js";
import { LangSyntaxError } from "../../src/lang/errors.js";

const main = join(process.cwd(), "dist", "src", "cli", "main.js");

// Runs `PRODUCER | tzero` in a shell, as a user would type it.
function piped(producer: string) {
  const command = `${producer} | "${process.execPath}" "${main}"`;
  const result = spawnSync("sh", ["-c", command], { encoding: "utf8", timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function refusal(chunks: string[]): Promise<LangSyntaxError> {
  const input = new PassThrough();
  const reading = readScript(input, "<stdin>");
  for (const chunk of chunks) input.write(chunk);
  input.end();
  try {
    await reading;
  } catch (error) {
    assert.instance(error, LangSyntaxError);
    return error as LangSyntaxError;
  }
  throw new Error("expected the script to be refused");
}

const Input = suite("script on standard input");

Input("should run a script that arrives on a pipe after a pause", () => {
  const result = piped(`(sleep 1; echo "echo hi")`);
  assert.is(result.stderr, "");
  assert.is(result.stdout, "hi\n");
  assert.is(result.status, 0);
});

Input("should refuse 50 MB of NUL bytes as binary input with exit 2, without reading it all", () => {
  const result = piped("head -c 50000000 /dev/zero");
  assert.is(result.stderr, "<stdin>:1:1: unexpected control character U+0000 (is this a binary file?)\n");
  assert.is(result.stdout, "");
  assert.is(result.status, 2);
});

Input("should refuse a line longer than the bound with exit 2", () => {
  const result = piped("head -c 5000000 /dev/zero | tr '\\0' x");
  assert.is(result.stderr, "<stdin>:1:65537: line 1 is longer than 65536 characters\n");
  assert.is(result.status, 2);
});

Input("should run nothing when a later line is refused", () => {
  const result = piped(`printf 'echo first\\nsleep 10ms\\necho "\\001"\\n'`);
  assert.is(result.stdout, "");
  assert.is(result.stderr, "<stdin>:3:7: unexpected control character U+0001\n");
  assert.is(result.status, 2);
});

Input("should count lines across chunks and catch a long line split over many", async () => {
  const nul = await refusal(["echo a\necho", " b\nec", "ho \0\n"]);
  assert.is(`${nul.line}:${nul.col} ${nul.reason}`, "3:6 unexpected control character U+0000 (is this a binary file?)");
  const long = await refusal(["echo a\n", ...Array.from({ length: 70 }, () => "x".repeat(1000))]);
  assert.is(`${long.line}:${long.col} ${long.reason}`, "2:65537 line 2 is longer than 65536 characters");
});

Input("should keep a character split between two chunks whole", async () => {
  const input = new PassThrough();
  const reading = readScript(input, "<stdin>");
  const bytes = Buffer.from("echo é\n", "utf8");
  input.write(bytes.subarray(0, 6));
  input.end(bytes.subarray(6));
  assert.is(await reading, "echo é\n");
});

Input("should run a script piped slowly line by line once it ends", async () => {
  const child = spawn(process.execPath, [main], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  for (const line of ["echo one", "echo two"]) {
    child.stdin.write(`${line}\n`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.stdin.end();
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.is(stdout, "one\ntwo\n");
  assert.is(status, 0);
});

Input.run();
