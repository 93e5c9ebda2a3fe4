// A script piped to standard input, or a -script FILE, read as a stream.
//
// Standard input may be a pipe that has no data yet, or a non-blocking one
// (a synchronous read then fails with EAGAIN), or endless (`/dev/zero`). So it
// is read chunk by chunk until its end, and each chunk is checked as it
// arrives: the first control character (a NUL: a binary file) or line longer
// than the lexer's bound stops the reading at once with the syntax error the
// lexer would give, and so does a script over SCRIPT_LENGTH_MAX. The script
// runs after its end, so that a syntax error anywhere means nothing ran, as
// with -script FILE.
import { open } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import { LangSyntaxError } from "../lang/errors.js";
import { checkSource, LINE_LENGTH_MAX } from "../lang/lexer.js";

export const SCRIPT_LENGTH_MAX = 64 * 1024 * 1024; // characters

export async function readScript(input: NodeJS.ReadableStream, file: string): Promise<string> {
  const decoder = new StringDecoder("utf8");
  const pieces: string[] = [];
  let length = 0;
  // The text since the last newline seen: a line longer than the bound is
  // caught without waiting for its end.
  let tail = "";
  let lineCount = 0;
  try {
    for await (const chunk of input) {
      const text = typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer);
      length += text.length;
      if (length > SCRIPT_LENGTH_MAX) {
        throw new LangSyntaxError(`the script is longer than ${SCRIPT_LENGTH_MAX} characters`, file, lineCount + 1, 1, false);
      }
      const lastNewline = text.lastIndexOf("\n");
      checkChunk(tail + text, file, lineCount);
      if (lastNewline >= 0) {
        lineCount += countNewlines(tail + text.slice(0, lastNewline + 1));
        tail = text.slice(lastNewline + 1);
      } else {
        tail += text;
      }
      pieces.push(text);
    }
  } finally {
    // Stop reading an endless input once it has been refused.
    (input as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  }
  pieces.push(decoder.end());
  return pieces.join("");
}

// A script file, read the same way: a FILE may be a FIFO or a device such as
// /dev/zero, which a whole-file read would never finish.
export async function readScriptFile(path: string): Promise<string> {
  const handle = await open(path, "r");
  try {
    return await readScript(handle.createReadStream({ autoClose: false }), path);
  } finally {
    await handle.close();
  }
}

// The lexer's checks on the lines of one chunk, whose first line is line
// `linesBefore + 1` of the script; a last line without its newline yet is
// checked for length only.
function checkChunk(text: string, file: string, linesBefore: number): void {
  try {
    checkSource(text, file);
  } catch (error) {
    if (!(error instanceof LangSyntaxError)) throw error;
    throw new LangSyntaxError(error.reason.replace(/^line \d+/, `line ${error.line + linesBefore}`), file, error.line + linesBefore, error.col, false);
  }
  if (text.length - text.lastIndexOf("\n") - 1 > LINE_LENGTH_MAX) {
    const line = linesBefore + countNewlines(text) + 1;
    throw new LangSyntaxError(`line ${line} is longer than ${LINE_LENGTH_MAX} characters`, file, line, LINE_LENGTH_MAX + 1, false);
  }
}

function countNewlines(text: string): number {
  let count = 0;
  for (let index = text.indexOf("\n"); index >= 0; index = text.indexOf("\n", index + 1)) count++;
  return count;
}
