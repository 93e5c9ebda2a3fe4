// The FlashCopy V2 commands as scripts write them, on a 2107: their DS CLI
// messages, and every bad input refused with a clear error at the culprit,
// nothing changed. The 2105 refuses each of them by name.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { badInputSuites, recordedSession, runOk, type BadInputCase, type Recorded } from "./support.js";

// On the 2107 (current): 1000:1001 incremental -nocp, copy incomplete, source
// written; 1002:1003 not incremental; 1004:1005 incremental, complete, and
// 1004 also the source of 1004:100A; 1006:1007 revertible (seqnum 6);
// 1009 frozen (1009:100B); 100C:1008 complete with 1008 the larger volume.
// On the 2105: 2002:2003 made with -record -persist.
const SETUP = `
mksi -model 2107
setenv -dev IBM.2107-75TZ002
mkfbvol -cap 256 -type blocks 1000-1007 1009-100C
mkfbvol -cap 384 -type blocks 1008
mkfbvol -cap 256 -type blocks 1100
mkflash -record -persist -nocp 1000:1001
write 1000 -offset 0 -pattern 0x11 -len 4KiB
mkflash -nocp 1002:1003
mkflash -record -persist -nocp 1004:1005 1006:1007 100C:1008
fill 1004 -pattern 0x44
fill 1006 -pattern 0x66
fill 100C -pattern 0x0C
mkflash -nocp 1004:100A
setflashrevertible -seqnum 6 1006:1007
mkflash -freeze -nocp 1009:100B
mkfbvol -dev IBM.2105-75TZ001 -cap 256 -type blocks 2000-2003
mkflash -dev IBM.2105-75TZ001 -record -persist -nocp 2002:2003
`;

const ESS = "-dev IBM.2105-75TZ001";
const CASES: Record<string, BadInputCase[]> = {
  resyncflash: [
    { source: "resyncflash -record -persist 1002:1003", code: "NOT_INCREMENTAL", mentions: ["1002:1003", "-record -persist"], col: 30 },
    { source: "resyncflash -record 1000:1009", code: "RELATIONSHIP_NOT_FOUND", mentions: ["1000:1009"] },
    { source: "resyncflash -record -persist 1000:1001 1002:1003", code: "NOT_INCREMENTAL", mentions: ["1002:1003"], col: 40 },
    { source: "resyncflash -record 1006:1007", code: "REVERTIBLE", mentions: ["1006:1007", "commitflash"] },
    { source: "resyncflash -record -seqnum XYZ 1000:1001", code: "BAD_ARGUMENT", mentions: ["-seqnum", "XYZ"], col: 29 },
    { source: "resyncflash -record 1000:1001 1000:1001", code: "BAD_ARGUMENT", mentions: ["1000:1001", "twice"], col: 31 },
    { source: "resyncflash -record 10001001", code: "BAD_VOLUME_ID", mentions: ["10001001"] },
    { source: `resyncflash ${ESS} -record -persist 2002:2003`, code: "NOT_SUPPORTED", mentions: ["resyncflash", "2105"] },
  ],
  reverseflash: [
    { source: "reverseflash 1000:1001", code: "COPY_INCOMPLETE", mentions: ["1000:1001", "not yet copied"], col: 14 },
    { source: "reverseflash 1002:1003", code: "NOT_INCREMENTAL", mentions: ["1002:1003", "-record"] },
    { source: "reverseflash 1004:1005", code: "CASCADE_NOT_ALLOWED", mentions: ["1004:1005", "other targets"] },
    { source: "reverseflash 100C:1008", code: "TARGET_TOO_SMALL", mentions: ["100C:1008", "smaller"] },
    { source: "reverseflash 1006:1007", code: "REVERTIBLE", mentions: ["1006:1007"] },
    { source: `reverseflash ${ESS} 2002:2003`, code: "NOT_SUPPORTED", mentions: ["reverseflash", "2105"] },
  ],
  setflashrevertible: [
    { source: "setflashrevertible 1002:1003", code: "NOT_INCREMENTAL", mentions: ["1002:1003", "setflashrevertible"] },
    { source: "setflashrevertible 1006:1007", code: "REVERTIBLE", mentions: ["1006:1007"] },
    { source: "setflashrevertible 1000:1001 1000:1009", code: "RELATIONSHIP_NOT_FOUND", mentions: ["1000:1009"], col: 30 },
    { source: `setflashrevertible ${ESS} 2002:2003`, code: "NOT_SUPPORTED", mentions: ["setflashrevertible", "2105"] },
  ],
  commitflash: [
    { source: "commitflash 1000", code: "NOT_REVERTIBLE", mentions: ["1000", "setflashrevertible"], col: 13 },
    { source: "commitflash -seqnum 5 1006", code: "NOT_REVERTIBLE", mentions: ["1006", "sequence number 5"] },
    { source: "commitflash 1006 1000", code: "NOT_REVERTIBLE", mentions: ["1000"], col: 18 },
    { source: "commitflash 1300", code: "VOLUME_NOT_FOUND", mentions: ["1300"] },
    { source: "commitflash 1002:1003", code: "NOT_REVERTIBLE", mentions: ["1002:1003"] },
    { source: "commitflash 1006 1006:1007", code: "BAD_ARGUMENT", mentions: ["1006:1007", "twice"], col: 18 },
    { source: `commitflash ${ESS} 2002`, code: "NOT_SUPPORTED", mentions: ["commitflash", "2105"] },
  ],
  revertflash: [
    { source: "revertflash 1000", code: "NOT_REVERTIBLE", mentions: ["1000"] },
    { source: "revertflash 1006 1004", code: "NOT_REVERTIBLE", mentions: ["1004"], col: 18 },
    { source: `revertflash ${ESS} 2002`, code: "NOT_SUPPORTED", mentions: ["revertflash", "2105"] },
  ],
  unfreezeflash: [
    { source: "unfreezeflash 1X", code: "BAD_ARGUMENT", mentions: ["LSS 1X"], col: 15 },
    { source: "unfreezeflash FF", code: "BAD_ARGUMENT", mentions: ["LSS FF"] },
    { source: "unfreezeflash 10 20", code: "LSS_NOT_FOUND", mentions: ["LSS 20"], col: 18 },
    { source: `unfreezeflash ${ESS} 20`, code: "NOT_SUPPORTED", mentions: ["unfreezeflash", "2105"] },
  ],
  mkflash: [
    { source: "mkflash -cp -nocp 1100:1009", code: "BAD_ARGUMENT", mentions: ["-cp", "-nocp"] },
    { source: `mkflash ${ESS} -freeze 2000:2001`, code: "NOT_SUPPORTED", mentions: ["mkflash -freeze", "2105"] },
    { source: `mkflash ${ESS} -tgtpprc 2000:2001`, code: "NOT_SUPPORTED", mentions: ["mkflash -tgtpprc", "2105"] },
  ],
  rmflash: [{ source: "rmflash -quiet 1002:1003 1006:1007", code: "REVERTIBLE", mentions: ["1006:1007", "rmflash"], col: 26 }],
  write: [
    { source: "write 1009 -offset 0 -pattern 0x22 -len 512", code: "LONG_BUSY", mentions: ["1009", "1009:100B", "long busy", "unfreezeflash 10"] },
    { source: "write 1007 -offset 0 -pattern 0x22 -len 512", code: "TARGET_WRITE_INHIBITED", mentions: ["1007", "revertible", "commitflash"] },
  ],
};

// The same refusals, at the same positions, on every kind of site.
badInputSuites("FlashCopy V2", SETUP, CASES);

const Lines = suite("FlashCopy V2 messages");
let live: Recorded;
Lines.before(async () => {
  live = recordedSession({ workers: 1 });
  await runOk(live, "mksi -model 2107\nsetenv -dev IBM.2107-75TZ002\nmkfbvol -cap 2048 -type blocks 1000-1003\nmkfbvol -cap 2048 -type blocks 1100");
});
Lines.after(() => live.session.close());

Lines("should resync as scripts write it, with DS CLI's message, copying only what changed", async () => {
  await runOk(live, "fill 1000 -pattern random -seed 3\nmkflash -record -persist -cp 1000:1100\nwait flash 1000:1100");
  const lines = await runOk(live, [
    "write 1000 -offset 64KiB -pattern 0x5A -len 4KiB",
    "let now = checksum 1000",
    "resyncflash -record -persist 1000:1100",
    "assert (lsflash -l 1000:1100)[0].OutOfSyncTracks <= 1",
    "assert checksum 1100 == $now",
  ].join("\n"));
  assert.ok(lines.includes("CMUC00168I resyncflash: FlashCopy volume pair 1000:1100 successfully resynchronized."), lines.join("\n"));
});

Lines("should reverse, restore the source and name the pair as given", async () => {
  await runOk(live, "wait flash 1000:1100\nlet saved = checksum 1100\nwrite 1000 -offset 0 -pattern 0xEE -len 64KiB");
  const lines = await runOk(live, "reverseflash -record -persist 1000:1100\nassert checksum 1000 == $saved\nwait flash 1100:1000\nassert checksum 1000 == $saved");
  assert.ok(lines.includes("CMUC00169I reverseflash: FlashCopy volume pair 1000:1100 successfully reversed."), lines.join("\n"));
  const listed = await runOk(live, "lsflash -s");
  assert.ok(listed.some((line) => line.trim() === "1100:1000"), listed.join("\n"));
});

Lines("should make revertible, revert and commit by source volume", async () => {
  await runOk(live, "let before = checksum 1000\nwrite 1100 -offset 0 -pattern 0x01 -len 64KiB");
  const made = await runOk(live, "setflashrevertible -seqnum 0A 1100:1000\nassert (lsflash -l 1100:1000)[0].Revertible == \"Enabled\"");
  assert.ok(made.includes("CMUC00167I setflashrevertible: FlashCopy volume pair 1100:1000 successfully made revertible."));
  const reverted = await runOk(live, "revertflash -seqnum 0A 1100\nassert checksum 1000 == $before");
  assert.ok(reverted.includes("CMUC00171I revertflash: FlashCopy volume pair 1100:1000 successfully reverted."));
  const committed = await runOk(live, "setflashrevertible 1100:1000\ncommitflash 1100:1000\nassert (lsflash -l 1100:1000)[0].Revertible == \"Disabled\"");
  assert.ok(committed.includes("CMUC00170I commitflash: FlashCopy volume pair 1100:1000 successfully committed."));
});

Lines("should freeze a consistency group and unfreeze its LSS", async () => {
  const frozen = await runOk(live, [
    "mkflash -freeze -nocp -tgtpprc 1001:1002",
    "assert (lsflash -l 1001:1002)[0].SourceWriteEnabled == \"Disabled\"",
    "expect error LONG_BUSY write 1001 -offset 0 -pattern 0x01 -len 512",
    "unfreezeflash 10",
    "write 1001 -offset 0 -pattern 0x01 -len 512",
  ].join("\n"));
  assert.ok(frozen.includes("CMUC00172I unfreezeflash: FlashCopy consistency group for logical subsystem 10 successfully reset."), frozen.join("\n"));
});

Lines.run();
