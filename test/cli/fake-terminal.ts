// A fake terminal for the shell and the live views: a keyboard that can be in
// raw mode (what ink and readline ask of a TTY) and a screen that keeps
// everything written to it, readable with colour and cursor codes stripped.
import { PassThrough, Writable } from "node:stream";

export class FakeKeyboard extends PassThrough {
  isTTY: boolean;
  isRaw = false;
  rawModeChanges: boolean[] = [];

  constructor(tty = true) {
    super();
    this.isTTY = tty;
  }

  setRawMode(mode: boolean): this {
    this.isRaw = mode;
    this.rawModeChanges.push(mode);
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  type(text: string): void {
    this.write(text);
  }
}

export class FakeScreen extends Writable {
  isTTY: boolean;
  columns = 120;
  rows = 40;
  private chunks: string[] = [];

  constructor(tty = true) {
    super({ decodeStrings: false });
    this.isTTY = tty;
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(typeof chunk === "string" ? chunk : chunk.toString("utf8"));
    callback();
  }

  get raw(): string {
    return this.chunks.join("");
  }

  // What was written, without ANSI colour, cursor and erase sequences.
  get text(): string {
    return stripAnsi(this.raw);
  }

  // Text written from now on is what `since(mark)` returns.
  mark(): number {
    return this.raw.length;
  }

  since(mark: number): string {
    return stripAnsi(this.raw.slice(mark));
  }
}

// CSI sequences (colours, cursor moves, erases), OSC sequences, and two-byte escapes.
const ANSI = /\u001b\[[0-9;?<>=]*[ -\/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[78=>c]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, "");
}

// Waits until `check` holds, polling; fails with `what` after timeoutMs.
export async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
