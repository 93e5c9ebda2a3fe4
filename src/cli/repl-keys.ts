// Who gets the terminal's keys while a statement runs.
//
// node:repl keeps reading keys while an asynchronous eval is in flight: typed
// text would echo into a running `wait` and Enter would start a second
// statement beside it. So while a statement runs, the line editor's keypress
// listeners are taken off the input and this gate listens instead:
//
//   idle      line editor has the keys (the prompt)
//   holding   gate has them: Ctrl-C interrupts, other keys wait for the prompt
//   asking    line editor has them again, for a y/n question at the prompt,
//             through the gate, which keeps Ctrl-D: at a question it means "no",
//             not the end of the shell's input
//   lent      ink has them (a live view reads the raw input itself)
import type { Key } from "node:readline";

type KeypressListener = (sequence: string | undefined, key: Key | undefined) => void;
type GateState = "idle" | "holding" | "asking" | "lent";

// Keys typed ahead during a statement, replayed at the next prompt (a terminal's type-ahead).
const TYPE_AHEAD_MAX = 4096;

export class KeyGate {
  private state: GateState = "idle";
  private editorListeners: KeypressListener[] = [];
  private typedAhead: Array<[string | undefined, Key | undefined]> = [];
  private onEndOfInput: (() => boolean) | null = null;
  private readonly onKeypress: KeypressListener = (sequence, key) => this.keypress(sequence, key);

  constructor(private readonly input: NodeJS.ReadableStream, private readonly onInterrupt: () => void) {}

  get current(): GateState {
    return this.state;
  }

  // A statement starts: the gate takes the keys from the line editor.
  hold(): void {
    if (this.state !== "idle") return;
    this.editorListeners = this.input.listeners("keypress") as KeypressListener[];
    for (const listener of this.editorListeners) this.input.removeListener("keypress", listener);
    this.input.on("keypress", this.onKeypress);
    this.state = "holding";
  }

  // A statement ended: the line editor gets the keys back, then the keys typed meanwhile.
  // `replay` false drops them (after Ctrl-C the user wants a clean prompt).
  release(replay: boolean): void {
    if (this.state === "idle") return;
    for (const listener of this.editorListeners) this.input.on("keypress", listener);
    this.input.removeListener("keypress", this.onKeypress);
    this.state = "idle";
    const keys = this.typedAhead;
    this.typedAhead = [];
    if (!replay) return;
    for (let index = 0; index < keys.length; index++) {
      // A replayed Enter may start the next statement, which holds the keys again: the rest waits.
      if (this.state !== "idle") {
        this.typedAhead.push(...keys.slice(index));
        return;
      }
      const [sequence, key] = keys[index];
      for (const listener of this.editorListeners) listener(sequence, key);
    }
  }

  // The shell is leaving: the gate lets go of the input without handing it back.
  dispose(): void {
    this.input.removeListener("keypress", this.onKeypress);
    this.typedAhead = [];
    this.editorListeners = [];
    this.state = "idle";
  }

  // A y/n question is asked at the prompt: the line editor reads the answer.
  // Ctrl-D goes to `onEndOfInput` instead, which returns whether it took the
  // key (on an empty answer); otherwise the editor gets it (delete forward).
  ask(onEndOfInput: () => boolean = () => false): void {
    if (this.state !== "holding") return;
    this.onEndOfInput = onEndOfInput;
    this.state = "asking";
  }

  answered(): void {
    if (this.state !== "asking") return;
    this.onEndOfInput = null;
    this.state = "holding";
  }

  // A live view reads the raw input itself until it gives the keys back.
  lend(): void {
    if (this.state === "holding") this.state = "lent";
  }

  reclaim(): void {
    if (this.state === "lent") this.state = "holding";
  }

  private keypress(sequence: string | undefined, key: Key | undefined): void {
    if (this.state === "asking") {
      if (key?.ctrl === true && key.name === "d" && this.onEndOfInput?.() === true) return;
      for (const listener of this.editorListeners) listener(sequence, key);
      return;
    }
    if (this.state !== "holding") return;
    if (key?.ctrl === true && key.name === "c") {
      this.typedAhead = [];
      this.onInterrupt();
      return;
    }
    if (this.typedAhead.length < TYPE_AHEAD_MAX) this.typedAhead.push([sequence, key]);
  }
}
