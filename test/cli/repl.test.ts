// The interactive shell driven through a fake keyboard and screen: what a
// person types, and what the screen shows back (colour and cursor codes stripped).
import { currentEngineImage } from "../lang/support.js";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session } from "../../src/lang/index.js";
import { promptFor, startRepl, type ReplOptions } from "../../src/cli/repl.js";
import { FakeKeyboard, FakeScreen, until } from "./fake-terminal.js";

const PROMPT = promptFor("IBM.2105-75TZ001");
const CONTINUATION = "... ";
const CTRL_C = "\u0003";
const CTRL_D = "\u0004";
const UP = "\u001b[A";
// 16 tracks of 64 KiB: copies in a moment with workers, never without.
const SMALL_VOLUMES = "mkfbvol -cap 2048 -type blocks 1000 1001";

class Shell {
  readonly keyboard: FakeKeyboard;
  readonly screen: FakeScreen;
  readonly exit: Promise<number>;

  constructor(options: ReplOptions & { tty?: boolean } = {}) {
    const tty = options.tty ?? true;
    this.keyboard = new FakeKeyboard(tty);
    this.screen = new FakeScreen(tty);
    this.exit = startRepl({ input: this.keyboard, output: this.screen, terminal: tty, historyFile: historyFile(), ...options });
  }

  async ready(): Promise<void> {
    await until("the first prompt", () => this.screen.text.endsWith(PROMPT));
  }

  // Types a line and Enter; resolves with what the screen showed until the next prompt.
  async enter(line: string, prompt = PROMPT): Promise<string> {
    const mark = this.screen.mark();
    this.keyboard.type(`${line}\r`);
    await until(`"${prompt}" after ${line}`, () => this.screen.since(mark).endsWith(prompt));
    return this.screen.since(mark);
  }

  // Types keys and waits until the screen shows `shown` after them.
  async keys(keys: string, shown: string | RegExp): Promise<string> {
    const mark = this.screen.mark();
    this.keyboard.type(keys);
    const seen = () => (typeof shown === "string" ? this.screen.since(mark).includes(shown) : shown.test(this.screen.since(mark)));
    await until(`${String(shown)} after ${JSON.stringify(keys)}`, seen);
    return this.screen.since(mark);
  }

  async quit(): Promise<number> {
    this.keyboard.type("quit\r");
    return this.exit;
  }
}

let folder: string;
function historyFile(): string {
  return join(folder, "history");
}

function session(screen: FakeScreen, workers: number): Session {
  return new Session({ write: (line) => screen.write(`${line}\n`), workers, refreshMs: 20 });
}

const Shell_ = suite("shell");
Shell_.before.each(() => {
  folder = mkdtempSync(join(tmpdir(), "tzero-repl-"));
});
Shell_.after.each(() => {
  rmSync(folder, { recursive: true, force: true });
});

Shell_("should greet with how to get help and name the current image in the prompt", async () => {
  const shell = new Shell();
  await shell.ready();
  assert.match(shell.screen.text, /storage image IBM\.2105-75TZ001 \(model 2105\)\nType help for the commands, help CMD for one of them/);
  const output = await shell.enter("mksi -model 2107");
  assert.match(output, /IBM\.2107/);
  assert.is(await shell.quit(), 0);
});

Shell_("should start on the image and output settings of a DS CLI profile", async () => {
  const shell = new Shell({ profile: { devid: "IBM.2107-75KDR91", format: "delim", banner: false, header: false } });
  const prompt = promptFor("IBM.2107-75KDR91");
  await until("the profile's prompt", () => shell.screen.text.endsWith(prompt));
  assert.match(shell.screen.text, /storage image IBM\.2107-75KDR91 \(model 2107\)/);
  assert.match(await shell.enter("lsextpool -s", prompt), /P0\nP1\n/);
  assert.is(await shell.quit(), 0);
});

Shell_("should run commands with their DS CLI messages and list help from the table", async () => {
  const shell = new Shell();
  await shell.ready();
  const created = await shell.enter(SMALL_VOLUMES);
  assert.match(created, /CMUC00025I mkfbvol: FB volume 1000 successfully created\.\nCMUC00025I mkfbvol: FB volume 1001 successfully created\./);
  assert.match(await shell.enter("help mkflash"), /usage: mkflash .*\n(.|\n)*-nocp/);
  assert.is(await shell.quit(), 0);
});

Shell_("should complete command names, options and volume IDs on Tab", async () => {
  const shell = new Shell();
  await shell.ready();
  await shell.enter(SMALL_VOLUMES);
  await shell.keys("lsfb\t", "lsfbvol ");
  assert.match(await shell.enter("-s"), /1000\n1001/);
  // Two volumes share "100": the first Tab fills that in, the second lists both.
  await shell.keys("showfbvol 10\t", "showfbvol 100");
  const listed = await shell.keys("\t", /1000\s+1001/);
  assert.match(listed, /1000\s+1001/);
  assert.match(await shell.enter("1"), /ID\s+1001/);
  await shell.keys("mkflash -no\t", "mkflash -nocp ");
  await shell.keys("1000:\t", "1000:1001 ");
  assert.match(await shell.enter(""), /FlashCopy pair 1000:1001 successfully created/);
  await shell.keys("rmflash -quiet 1\t", "rmflash -quiet 1000:1001 ");
  assert.match(await shell.enter(""), /FlashCopy pair 1000:1001 successfully removed\./);
  assert.is(await shell.quit(), 0);
});

Shell_("should take a repeat block over several lines through recoverable input", async () => {
  const shell = new Shell();
  await shell.ready();
  assert.is(await shell.enter("repeat 3 {", CONTINUATION), "repeat 3 {\r\n... ");
  await shell.enter("echo round", CONTINUATION);
  const output = await shell.enter("}");
  assert.is(output.match(/^round$/gm)?.length, 3, output);
  assert.is(await shell.quit(), 0);
});

Shell_("should print an error with a caret under its column and keep running", async () => {
  const shell = new Shell();
  await shell.ready();
  const syntax = await shell.enter("mkfbvol -cap 1 -colour red 1000");
  assert.match(syntax, /repl:1:16: .*colour.*\nmkfbvol -cap 1 -colour red 1000\n {15}\^\n/);
  const failed = await shell.enter("mkflash 1000:1001");
  assert.match(failed, /repl:1:\d+: .*1000.*\nmkflash 1000:1001\n *\^\n/);
  // A value missing at the end of the line is an error of that line, not a reason to ask for more.
  const missing = await shell.enter("mkfbvol -cap 1 -os ");
  assert.match(missing, /repl:1:\d+: .*-os needs a value.*\nmkfbvol -cap 1 -os \n *\^\n/);
  assert.match(await shell.enter("echo still here"), /still here\n/);
  assert.is(await shell.quit(), 0);
});

Shell_("should stop a fill on Ctrl-C and say how much of the volume it filled", async () => {
  const screen = new FakeScreen();
  const keyboard = new FakeKeyboard();
  const running = session(screen, 0);
  const exit = startRepl({ session: running, input: keyboard, output: screen, terminal: true, historyFile: historyFile() });
  await until("prompt", () => screen.text.endsWith(PROMPT));
  keyboard.type("mkfbvol -cap 1 1000\r");
  await until("the volume", () => currentEngineImage(running).hasVolume("1000"));
  const mark = screen.mark();
  keyboard.type("fill 1000 -pattern random\r");
  // A 1 GiB fill takes seconds of first touches: it is still running once it has begun.
  await until("the fill under way", () => currentEngineImage(running).allocatedBytes("1000") > 0);
  keyboard.type(CTRL_C);
  await until("the prompt after Ctrl-C", () => screen.since(mark).endsWith(PROMPT));
  assert.match(screen.since(mark), /filling volume 1000 cancelled after \d+ of 1073741824 bytes/);
  assert.ok(currentEngineImage(running).allocatedBytes("1000") < 2 ** 30, "the fill stopped before the end of the volume");
  keyboard.type(CTRL_D);
  assert.is(await exit, 0);
});

Shell_("should cancel a running wait on Ctrl-C and come back to the prompt", async () => {
  const screen = new FakeScreen();
  const keyboard = new FakeKeyboard();
  const running = session(screen, 0);
  const exit = startRepl({ session: running, input: keyboard, output: screen, terminal: true, historyFile: historyFile() });
  await until("prompt", () => screen.text.endsWith(PROMPT));
  keyboard.type(`${SMALL_VOLUMES}\rmkflash 1000:1001\r`);
  await until("the pair", () => screen.text.includes("1000:1001 successfully created"));
  const mark = screen.mark();
  keyboard.type("wait flash 1000:1001\r");
  // Without workers the copy never advances: the wait runs until Ctrl-C.
  await until("progress lines", () => /16 of 16 tracks left/.test(screen.since(mark)));
  keyboard.type("echo typed ahead");
  keyboard.type(CTRL_C);
  await until("the prompt after Ctrl-C", () => screen.since(mark).endsWith(PROMPT));
  assert.match(screen.since(mark), /repl:1:1: .*cancelled/);
  assert.not.match(screen.since(mark), /typed ahead/, "keys typed before Ctrl-C are dropped with the statement");
  assert.ok(currentEngineImage(running).hasRelationship("1000:1001"), "cancelling a wait leaves the copy in place");
  keyboard.type("echo after\r");
  await until("echo after", () => /\nafter\n/.test(screen.since(mark)));
  keyboard.type(CTRL_D);
  assert.is(await exit, 0);
  assert.ok(currentEngineImage(running).isClosed, "leaving closes the session");
});

Shell_("should ask y/n at the prompt before rmfbvol and rmflash, and keep answers out of history", async () => {
  const shell = new Shell({ sessionOptions: { workers: 0 } });
  await shell.ready();
  await shell.enter(SMALL_VOLUMES);
  await shell.keys("rmfbvol 1001\r", "Are you sure you want to delete FB volume 1001? [y/n]: ");
  assert.match(await shell.enter("n"), /FB volume 1001 not deleted/);
  await shell.keys("rmfbvol 1001\r", "[y/n]: ");
  assert.match(await shell.enter("y"), /FB volume 1001 successfully deleted/);
  await shell.enter("mkfbvol -cap 2048 -type blocks 1001");
  await shell.enter("mkflash -nocp 1000:1001");
  await shell.keys("rmflash 1000:1001\r", "[y/n]: ");
  // Ctrl-C at the question is a no, and the statement ends.
  const cancelled = await shell.keys(CTRL_C, PROMPT);
  assert.match(cancelled, /FlashCopy pair 1000:1001 not removed\./);
  assert.match(await shell.enter("lsflash -s"), /1000:1001/);
  await shell.keys("rmflash 1000:1001\r", "[y/n]: ");
  assert.match(await shell.enter("Y"), /FlashCopy pair 1000:1001 successfully removed\./);
  assert.is(await shell.quit(), 0);
  await until("history written", () => readFileSync(historyFile(), "utf8").includes("rmflash 1000:1001"));
  const history = readFileSync(historyFile(), "utf8").split(/\r?\n/);
  for (const answer of ["y", "Y", "n"]) assert.not.ok(history.includes(answer), `answer ${answer} is no command for the history`);
});

Shell_("should keep a line that sets a password out of the history file", async () => {
  const shell = new Shell({ sessionOptions: { workers: 0 } });
  await shell.ready();
  assert.match(await shell.enter("chuser -pw N3wsecret cody"), /NO_USERS|CMUN04000E/);
  await shell.enter("lssi -s");
  assert.is(await shell.quit(), 0);
  await until("history written", () => existsSync(historyFile()) && readFileSync(historyFile(), "utf8").includes("lssi -s"));
  assert.not.ok(readFileSync(historyFile(), "utf8").includes("N3wsecret"), "the password is not in the history file");
});

Shell_("should take Ctrl-D at a y/n question as no, and go on as a whole shell", async () => {
  const shell = new Shell({ sessionOptions: { workers: 0 } });
  await shell.ready();
  await shell.enter(SMALL_VOLUMES);
  await shell.keys("rmfbvol 1001\r", "[y/n]: ");
  const declined = await shell.keys(CTRL_D, PROMPT);
  assert.match(declined, /^n\r?\nCMUC09002W rmfbvol: FB volume 1001 not deleted\.\n/);
  // The shell's input is still open: one echo per line, and quit leaves.
  const echoed = await shell.enter("echo once");
  assert.is(echoed.match(/^once$/gm)?.length, 1, echoed);
  assert.match(await shell.enter("lsfbvol -s"), /1000\n1001/);
  // Ctrl-D after a typed answer deletes forward, as on a line: no answer yet.
  await shell.keys("rmfbvol 1001\r", "[y/n]: ");
  shell.keyboard.type("y");
  shell.keyboard.type(CTRL_D);
  assert.match(await shell.enter(""), /FB volume 1001 successfully deleted/);
  assert.is(await shell.quit(), 0);
});

Shell_("should keep node:repl's own words out: .exit is quit, other dot-commands are syntax errors", async () => {
  const shell = new Shell();
  await shell.ready();
  const help = await shell.enter(".help");
  assert.match(help, /repl:1:1: expected a command or statement, found \.\n\.help\n\^\n/);
  assert.not.match(help, /Invalid REPL keyword|\.break/);
  assert.match(await shell.enter(".editor"), /repl:1:1: expected a command or statement/);
  shell.keyboard.type(".exit\r");
  assert.is(await shell.exit, 0);
});

Shell_("should clear the line on Ctrl-C at the prompt with tzero's hint, never leaving", async () => {
  const shell = new Shell();
  await shell.ready();
  const emptyLine = await shell.keys(CTRL_C, PROMPT);
  assert.match(emptyLine, /\(quit or Ctrl-D leaves the shell\)\n/);
  const twice = await shell.keys(CTRL_C, PROMPT);
  assert.not.match(shell.screen.text, /To exit, press Ctrl\+C again/);
  assert.match(twice, /quit or Ctrl-D/);
  // Text typed and dropped does not run, nor a block half entered.
  await shell.keys("echo dropped", "dropped");
  assert.not.match(await shell.keys(CTRL_C, PROMPT), /quit or Ctrl-D/);
  await shell.enter("repeat 2 {", CONTINUATION);
  await shell.keys(CTRL_C, PROMPT);
  const after = await shell.enter("echo fresh");
  assert.is(after.match(/^fresh$/gm)?.length, 1, after);
  assert.not.match(shell.screen.text, /^dropped$/m);
  assert.is(await shell.quit(), 0);
});

for (const signal of ["SIGTERM", "SIGHUP", "SIGINT"] as const) {
  Shell_(`should leave on ${signal}, cancelling what runs and saving the --state file`, async () => {
    const stateFile = join(folder, "shell.tz0");
    const shell = new Shell({ signals: true, sessionOptions: { workers: 0, stateFile } });
    await shell.ready();
    await shell.enter("mkfbvol -cap 2048 -type blocks 1000");
    shell.keyboard.type("sleep 60s\r");
    await until("sleep running", () => shell.screen.text.includes("sleep 60s"));
    process.emit(signal, signal);
    assert.is(await shell.exit, 0);
    assert.match(shell.screen.text, new RegExp(`tzero: ${signal}: leaving the shell\n`));
    assert.match(shell.screen.text, new RegExp(`CMUN09005E sleep: cancelled \\(${signal}\\)`));
    assert.match(shell.screen.text, /CMUC09040I save: 1 volume and 0 FlashCopy relationships/);
    assert.ok(existsSync(stateFile));
    assert.is(process.listenerCount(signal), 0, "the shell's handlers are gone");
  });
}

Shell_("should leave and save when its terminal goes away (EIO), even during a question", async () => {
  const stateFile = join(folder, "gone.tz0");
  const shell = new Shell({ sessionOptions: { workers: 0, stateFile } });
  await shell.ready();
  await shell.enter("mkfbvol -cap 2048 -type blocks 1000");
  await shell.keys("rmfbvol 1000\r", "[y/n]: ");
  shell.keyboard.emit("error", Object.assign(new Error("read EIO"), { code: "EIO" }));
  assert.is(await shell.exit, 0);
  assert.match(shell.screen.text, /FB volume 1000 not deleted/);
  assert.match(shell.screen.text, /CMUC09040I save: 1 volume and 0 FlashCopy relationships/);
  assert.ok(existsSync(stateFile));
});

Shell_("should keep history across sessions in the history file", async () => {
  writeFileSync(historyFile(), "echo from the last session\nlsfbvol -s");
  const shell = new Shell();
  await shell.ready();
  // The newest line comes first.
  await shell.keys(UP, "echo from the last session");
  assert.match(await shell.enter(""), /\nfrom the last session\n/);
  await shell.enter("echo remembered");
  assert.is(await shell.quit(), 0);
  await until("history written", () => readFileSync(historyFile(), "utf8").startsWith("quit"));
  assert.equal(readFileSync(historyFile(), "utf8").split(/\r?\n/), [
    "quit", "echo remembered", "echo from the last session", "lsfbvol -s",
  ]);
});

Shell_("should leave on Ctrl-D, and on exit, closing the session", async () => {
  for (const leave of [CTRL_D, "exit\r"]) {
    const screen = new FakeScreen();
    const keyboard = new FakeKeyboard();
    const running = session(screen, 1);
    const exit = startRepl({ session: running, input: keyboard, output: screen, terminal: true, historyFile: historyFile() });
    await until("prompt", () => screen.text.endsWith(PROMPT));
    keyboard.type(leave);
    assert.is(await exit, 0);
    assert.ok(currentEngineImage(running).isClosed);
  }
});

Shell_("should draw mkflash -wait as a live view, then give the prompt back as before", async () => {
  const shell = new Shell({ sessionOptions: { workers: 1, refreshMs: 20 } });
  await shell.ready();
  await shell.enter(SMALL_VOLUMES);
  const output = await shell.enter("mkflash -wait 1000:1001");
  assert.match(output, /FlashCopy pair 1000:1001 successfully created/);
  assert.match(output, /1000:1001\s+█{24}\s+100\.0%\s+0 of 16 tracks left\s+[\d.]+ MB\/s avg\s+copied/);
  assert.match(output, /FlashCopy pair 1000:1001 background copy complete/);
  assert.ok(shell.keyboard.isRaw, "raw mode is back for line editing");
  // Echo, completion and history work as before the view.
  await shell.keys("ech\t", "echo ");
  assert.match(await shell.enter("back"), /\nback\n/);
  await shell.keys(UP, "echo back");
  assert.match(await shell.enter(""), /\nback\n/);
  assert.is(await shell.quit(), 0);
});

Shell_("should end watch on q or Ctrl-C in the live view and keep the shell running", async () => {
  const shell = new Shell({ sessionOptions: { workers: 0, refreshMs: 20 } });
  await shell.ready();
  await shell.enter(SMALL_VOLUMES);
  await shell.enter("mkflash 1000:1001");
  for (const key of ["q", CTRL_C]) {
    // ink takes the keys when it sets raw mode itself (frames are not drawn live under CI).
    const rawModeChanges = shell.keyboard.rawModeChanges.length;
    shell.keyboard.type("watch\r");
    await until("the view reading keys", () => shell.keyboard.rawModeChanges.length > rawModeChanges);
    const output = await shell.keys(key, PROMPT);
    assert.match(output, /0\.0%\s+16 of 16 tracks left/);
    assert.match(await shell.enter("echo after the view"), /\nafter the view\n/);
  }
  assert.is(await shell.quit(), 0);
});

Shell_("should cancel mkflash -wait on Ctrl-C in its live view, leaving the pair established", async () => {
  const shell = new Shell({ sessionOptions: { workers: 0, refreshMs: 20 } });
  await shell.ready();
  await shell.enter(SMALL_VOLUMES);
  const rawModeChanges = shell.keyboard.rawModeChanges.length;
  shell.keyboard.type("mkflash -wait 1000:1001\r");
  await until("the view reading keys", () => shell.keyboard.rawModeChanges.length > rawModeChanges);
  const output = await shell.keys(CTRL_C, PROMPT);
  assert.match(output, /0\.0%\s+16 of 16 tracks left/);
  assert.match(output, /repl:1:1: .*cancelled/);
  assert.not.match(output, /background copy complete/);
  assert.match(await shell.enter("lsflash -s"), /1000:1001/);
  assert.is(await shell.quit(), 0);
});

Shell_("should give plain progress lines at a steady interval when the screen is not a terminal", async () => {
  const shell = new Shell({ tty: false, sessionOptions: { workers: 0, refreshMs: 20 } });
  await until("prompt", () => shell.screen.text.endsWith(PROMPT));
  await shell.enter(SMALL_VOLUMES);
  await shell.enter("mkflash 1000:1001");
  const output = await shell.enter("watch -for 200ms");
  const lines = output.match(/^1000:1001 background copy: 16 of 16 tracks left \(0\.0% done\), 0\.0 MB\/s ETA —$/gm) ?? [];
  assert.ok(lines.length >= 3, output);
  assert.not.match(shell.screen.raw, /\u001b/, "no escape codes for a screen that is not a terminal");
  assert.is(await shell.quit(), 0);
});
Shell_.run();
