// A child process killed with SIGKILL `delayMs` after it first prints
// `marker`: what crash tests run. Resolves with everything it wrote to stdout
// once the stream has closed ("close", not "exit": only then has all of it
// been read, so the last line is the last one it wrote); rejects if the child
// ended by itself.
import { spawn } from "node:child_process";

export interface KilledChild {
  pid: number;
  output: string;
}

export function runUntilKilled(argv: readonly string[], marker: string, delayMs: number): Promise<KilledChild> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...argv], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let errors = "";
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text: string) => { errors += text; });
    child.stdout.on("data", (text: string) => {
      const seen = output.includes(marker);
      output += text;
      if (!seen && output.includes(marker)) timer = setTimeout(() => child.kill("SIGKILL"), delayMs);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") reject(new Error(`the child exited by itself (code ${code}): ${errors}`));
      else resolve({ pid: child.pid!, output });
    });
  });
}
