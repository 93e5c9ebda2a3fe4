// Failures as the language shows them: lsflash -l State and Reason, waits
// that fail at once naming the pair and the cause, lsworkload's Reason.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { currentEngineImage, recordedSession, run, runOk, type Recorded } from "./support.js";

const SETUP = "mkfbvol -cap 1024 -type blocks 1000-1001\nwrite 1000 -offset 0 -pattern random -seed 3 -len 65536";

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// A session of one copy worker whose core will abort at its first copy.
async function abortingSession(): Promise<Recorded> {
  const recorded = recordedSession({ workers: 1 });
  await runOk(recorded, SETUP);
  currentEngineImage(recorded.session).core.exports.fault_arm_abort(1);
  return recorded;
}

const Flash = suite("FlashCopy failures");

Flash("wait flash should fail at once naming the pair and the cause, and lsflash -l should show why", async () => {
  const recorded = await abortingSession();
  try {
    await runOk(recorded, "mkflash 1000:1001");
    const error = await run(recorded.session, "wait flash -timeout 60s 1000:1001");
    assert.ok(error, "the wait failed");
    assert.is(error!.code, "CORE_ABORT");
    assert.match(error!.message, /1000:1001 is Tgt Failed/);
    assert.match(error!.message, /fault injection/);
    const [header, , row] = await runOk(recorded, "lsflash -l -bnr off -fmt default");
    assert.ok(header.endsWith("State      Reason") || /State\s+Reason$/.test(header), header);
    assert.match(row, /Tgt Failed +the core aborted in copy worker \d+ \(.*fault injection.*\); the copy is not retried: withdraw the pair \(rmflash\)$/);
    // The default listing keeps DS CLI's columns; the held copy is not active.
    const [, , plain] = await runOk(recorded, "lsflash -bnr off");
    assert.match(plain, /^1000:1001 10 +0 +- +Disabled /);
    await runOk(recorded, "rmflash -quiet 1000:1001");
  } finally {
    await recorded.session.close();
  }
});

Flash("mkflash -wait should fail once its copy cannot go on", async () => {
  const recorded = await abortingSession();
  try {
    const error = await run(recorded.session, "mkflash -wait 1000:1001");
    assert.ok(error, "mkflash -wait failed");
    assert.is(error!.code, "CORE_ABORT");
    assert.match(error!.message, /1000:1001/);
    assert.ok(recorded.lines.some((line) => /1000:1001 background copy held: Tgt Failed/.test(line)), recorded.lines.join("\n"));
  } finally {
    await recorded.session.close();
  }
});

Flash("the reproducer of issue 9 should fail its wait with NO_SPACE naming the pair, not time out", async () => {
  // Two 2 GiB volumes, the source written in full: the target cannot get its 2 GiB of the image's 4.
  const recorded = recordedSession({ workers: 2 });
  try {
    await runOk(recorded, "mkfbvol -cap 2 1000-1001\nfill 1000 -pattern random -seed 1\nmkflash 1000:1001");
    const error = await run(recorded.session, "wait flash -timeout 600s 1000:1001");
    assert.ok(error, "the wait failed");
    assert.is(error!.code, "NO_SPACE");
    assert.match(error!.message, /FlashCopy pair 1000:1001 is Validation Required: its background copy cannot go on \(\d+ of 32768 tracks left\): the storage image has no free space left/);
    const [, , row] = await runOk(recorded, "lsflash -l -bnr off");
    assert.match(row, /Validation Required +the storage image has no free space left .*(next retry in|a retry is under way)/);
    const lines = await runOk(recorded, "rmflash -quiet 1000:1001");
    assert.match(lines.join("\n"), /1001 was not completely copied and is now unusable/);
  } finally {
    await recorded.session.close();
  }
});

const Workloads = suite("workload failures");

Workloads("lsworkload should show a failed workload's reason at once, before workload stop", async () => {
  const recorded = await abortingSession();
  try {
    await runOk(recorded, "mkflash -nocp 1000:1001\nworkload start w -vol 1000 -rw write -pattern seq -bs 4KiB -seed 1");
    let row = "";
    // The state word turns failed at once; the abort's own text follows as the
    // worker's message, and until it lands the reason says the core aborted.
    await until(async () => {
      const lines = await runOk(recorded, "lsworkload -bnr off -fmt delim -hdr off");
      row = lines[0] ?? "";
      if (row.includes("failed") && !row.includes("stopped:")) assert.match(row, /,failed,.*,the core aborted; the worker is ending$/);
      return row.includes("stopped:");
    }, "lsworkload shows why the workload failed");
    assert.match(row, /^w,1000,write,seq,4096,failed,.*,workload w on volume 1000 stopped: the core aborted \(.*fault injection/);
    const error = await run(recorded.session, "workload stop w");
    assert.is(error?.code, "CORE_ABORT");
  } finally {
    await recorded.session.close();
  }
});

Flash.run();
Workloads.run();
