// The PPRC commands as scripts write them, on two images of one embedded
// site: their DS CLI messages and listings, and every bad input refused with
// a clear error at the culprit, nothing changed.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { badInputSuites, currentEngineImage, embeddedSite, recordedSession, runOk, type BadInputCase, type Recorded } from "./support.js";

const LOCAL = "IBM.2105-75TZ001";
const REMOTE = "IBM.2107-75TZ002";
const WWNN = "5005076303FFC002";
const TO = `-remotedev ${REMOTE}`;

// 1000:2000 Full Duplex (nocp); 1001:2001 paused; 1002, 2002 unpaired; 2004 smaller; 1100 in LSS 11 (no path).
const SETUP = `
mksi -model 2107
mkfbvol -cap 256 -type blocks 1000-1002 1100
mkfbvol -dev ${REMOTE} -cap 256 -type blocks 2000-2003
mkfbvol -dev ${REMOTE} -cap 128 -type blocks 2004
mkpprcpath ${TO} -remotewwnn ${WWNN} -srclss 10 -tgtlss 20 I0010:I0143
mkpprc ${TO} -type mmir -mode nocp 1000:2000 1001:2001
pausepprc ${TO} 1001:2001
`;

const CASES: Record<string, BadInputCase[]> = {
  mkpprcpath: [
    { source: `mkpprcpath ${TO} -remotewwnn 5005076303FFC009 -srclss 10 -tgtlss 20 I0010:I0143`, code: "BAD_ARGUMENT", mentions: ["-remotewwnn", WWNN] },
    { source: `mkpprcpath ${TO} -remotewwnn ${WWNN} -srclss 10 -tgtlss 20 I0010:I0999`, code: "BAD_PORT", mentions: ["I0999"], col: 91 },
    { source: `mkpprcpath ${TO} -remotewwnn ${WWNN} -srclss 10 -tgtlss 20 I0010:I0143 I0010:I0143`, code: "BAD_PORT", mentions: ["I0010:I0143", "twice"] },
    { source: `mkpprcpath ${TO} -remotewwnn ${WWNN} -srclss 1X -tgtlss 20 I0010:I0143`, code: "BAD_ARGUMENT", mentions: ["-srclss", "1X"] },
    { source: `mkpprcpath -remotedev ${LOCAL} -remotewwnn 5005076303FFC001 -srclss 10 -tgtlss 20 I0010:I0143`, code: "BAD_ARGUMENT", mentions: ["-remotedev", "itself"] },
  ],
  rmpprcpath: [
    { source: `rmpprcpath -quiet ${TO} 10:20`, code: "PATH_IN_USE", mentions: ["10:20", "1000:2000", "-force"], col: 47 },
    { source: `rmpprcpath -quiet ${TO} 10:21`, code: "PATH_NOT_FOUND", mentions: ["10:21"] },
    { source: `rmpprcpath -quiet ${TO} 1020`, code: "BAD_ARGUMENT", mentions: ["1020", "10:20"] },
  ],
  mkpprc: [
    { source: `mkpprc ${TO} -type mmir 1002`, code: "BAD_VOLUME_ID", mentions: ["PPRC pair 1002"] },
    { source: `mkpprc ${TO} -type mmir 1002:2002 1100:2003`, code: "PATH_NOT_FOUND", mentions: ["1100:2003", "11:20", "mkpprcpath"], col: 57 },
    { source: `mkpprc ${TO} -type mmir 1002:2004`, code: "TARGET_TOO_SMALL", mentions: ["1002:2004", "smaller"] },
    { source: `mkpprc ${TO} -type mmir 1002:2000`, code: "VOLUME_IN_PAIR", mentions: ["2000", "1000:2000"] },
    { source: `mkpprc ${TO} -type mmir 1002:2002 1002:2003`, code: "VOLUME_IN_PAIR", mentions: ["1002", "given earlier"], col: 57 },
    { source: `mkpprc ${TO} -type gcp -critmode 1002:2002`, code: "BAD_ARGUMENT", mentions: ["-critmode", "Metro Mirror"] },
    { source: `mkpprc ${TO} -type mmir 1002:2009`, code: "VOLUME_NOT_FOUND", mentions: ["2009"] },
  ],
  lspprc: [{ source: "lspprc 1000", code: "BAD_VOLUME_ID", mentions: ["PPRC pair 1000", "SSSS:TTTT"] }],
  pausepprc: [
    { source: `pausepprc ${TO} 1000`, code: "BAD_VOLUME_ID", mentions: ["PPRC pair 1000"] },
    { source: `pausepprc ${TO} 1002:2002`, code: "PAIR_NOT_FOUND", mentions: ["1002:2002", "lspprc"] },
    { source: `pausepprc ${TO} 1000:2000 1000:2000`, code: "BAD_ARGUMENT", mentions: ["1000:2000", "twice"], col: 49 },
  ],
  resumepprc: [
    { source: `resumepprc ${TO} 1000:2000`, code: "PAIR_STATE", mentions: ["1000:2000", "Full Duplex", "nothing to resume"] },
  ],
  rmpprc: [{ source: `rmpprc -quiet ${TO} 1001:2001 1002:2002`, code: "PAIR_NOT_FOUND", mentions: ["1002:2002"], col: 53 }],
  failoverpprc: [
    { source: `failoverpprc -dev ${REMOTE} -remotedev ${LOCAL} -type mmir 2002:1002`, code: "PAIR_NOT_FOUND", mentions: ["2002", "failoverpprc"] },
  ],
  failbackpprc: [
    { source: `failbackpprc -dev ${REMOTE} -remotedev ${LOCAL} -type mmir 2000:1000`, code: "PAIR_NOT_FOUND", mentions: ["2000:1000"] },
    { source: `failbackpprc ${TO} -type mmir 1000:2000`, code: "PAIR_STATE", mentions: ["1000:2000", "failoverpprc first"] },
  ],
  write: [
    { source: `write 2000 -dev ${REMOTE} -offset 0 -len 4KiB -pattern 0x11`, code: "PPRC_SECONDARY", mentions: ["2000", "PPRC secondary"] },
  ],
  read: [{ source: `read 2000 -dev ${REMOTE} -offset 0 -len 512`, code: "PPRC_SECONDARY", mentions: ["2000", "-tgtread"] }],
  rmfbvol: [{ source: "rmfbvol -quiet 1000", code: "VOLUME_IN_PAIR", mentions: ["1000", "1000:2000", "rmpprc"] }],
  mkflash: [
    { source: `mkflash -dev ${REMOTE} 2003:2000`, code: "VOLUME_IN_PAIR", mentions: ["2000", "1000:2000", "secondary"] },
    { source: "mkflash 1002:1000", code: "VOLUME_IN_PAIR", mentions: ["1000", "1000:2000", "-tgtpprc"] },
  ],
  freezepprc: [
    { source: `freezepprc ${TO} 11:20`, code: "PATH_NOT_FOUND", mentions: ["11:20", "lspprcpath"] },
    { source: `freezepprc ${TO} 10:20 10:20`, code: "BAD_ARGUMENT", mentions: ["10:20", "twice"] },
    { source: `freezepprc ${TO} 1020`, code: "BAD_ARGUMENT", mentions: ["1020", "10:20"] },
  ],
  unfreezepprc: [{ source: `unfreezepprc ${TO} 30:20`, code: "LSS_NOT_FOUND", mentions: ["30"] }],
};

badInputSuites("PPRC", SETUP, CASES, async (recorded) => (await runOk(recorded, "lspprc -l -fmt delim")).slice(1));

const Lines = suite("PPRC messages and listings");
let live: Recorded;
Lines.before(async () => {
  live = recordedSession({});
  await runOk(live, SETUP);
});
Lines.after(() => live.session.close());

Lines("should list paths with DS CLI's columns", async () => {
  const lines = await runOk(live, "lspprcpath -bnr off");
  assert.equal(lines.map((line) => line.trimEnd()), [
    "Src Tgt State   SS   Port  Attached Port Tgt WWNN",
    "=========================================================",
    `10  20  Success FF20 I0010 I0143         ${WWNN}`,
  ]);
});

Lines("should list pairs on both images, the secondary's as Target states", async () => {
  const primary = await runOk(live, "lspprc -fmt delim -bnr off");
  assert.equal(primary, [
    "ID,State,Reason,Type,SourceLSS,Timeout (secs),Critical Mode,First Pass Status",
    "=".repeat(77),
    "1000:2000,Full Duplex,-,Metro Mirror,10,60,Disabled,Invalid",
    "1001:2001,Suspended,Host Source,Metro Mirror,10,60,Disabled,Invalid",
  ]);
  const secondary = await runOk(live, `lspprc -dev ${REMOTE} -fmt delim -bnr off -state target_full_duplex`);
  assert.equal(secondary.slice(2), ["1000:2000,Target Full Duplex,-,Metro Mirror,10,60,Disabled,Invalid"]);
});

Lines("should make, resume and remove pairs with DS CLI's messages", async () => {
  const made = await runOk(live, `mkpprc ${TO} -type gcp 1002:2002`);
  assert.equal(made, ["CMUC00153I mkpprc: Remote Mirror and Copy volume pair relationship 1002:2002 successfully created."]);
  const resumed = await runOk(live, `resumepprc ${TO} 1001:2001`);
  assert.equal(resumed, ["CMUC00158I resumepprc: Remote Mirror and Copy volume pair 1001:2001 relationship successfully resumed. This message is being returned before the copy completes."]);
  const paused = await runOk(live, `pausepprc ${TO} 1001:2001`);
  assert.equal(paused, ["CMUC00157I pausepprc: Remote Mirror and Copy volume pair 1001:2001 relationship successfully paused."]);
  const removed = await runOk(live, `rmpprc -quiet ${TO} 1002:2002`);
  assert.equal(removed, ["CMUC00155I rmpprc: Remote Mirror and Copy volume pair 1002:2002 relationship successfully withdrawn."]);
  assert.equal(await runOk(live, "lspprc 1002:2002"), ["CMUC00234I lspprc: No Remote Mirror and Copy found."]);
});

Lines("should freeze and thaw LSS pairs with DS CLI's messages", async () => {
  const frozen = await runOk(live, `freezepprc ${TO} 10:20`);
  assert.equal(frozen, ["CMUC00161W freezepprc: Remote Mirror and Copy consistency group 10:20 successfully created."]);
  const pairs = await runOk(live, "lspprc -fmt delim -bnr off -hdr off 1000:2000");
  assert.equal(pairs, ["1000:2000,Suspended,Freeze,Metro Mirror,10,60,Disabled,Invalid"]);
  assert.equal(await runOk(live, "lspprcpath"), ["CMUC00234I lspprcpath: No Remote Mirror and Copy Path found."]);
  const thawed = await runOk(live, `unfreezepprc ${TO} 10:20`);
  assert.equal(thawed, ["CMUC00198I unfreezepprc: Remote Mirror and Copy pair 10:20 successfully thawed."]);
});

Lines.run();

// A Metro Mirror pair whose primary host writes never leave idle: mkpprc
// -wait returns while the writes go on, and lspprc shows it Full Duplex with
// 0 tracks out of sync (a write in flight holds its track's bit until the
// secondary has it, but that is no backlog), LOOKS times in a row, some of
// which must catch a write in flight for the test to mean anything.
const Steady = suite("PPRC under steady host writes");
const LOOKS = 40;
Steady("should return from mkpprc -wait and list the pair Full Duplex with 0 tracks out of sync while workloads write", async () => {
  const recorded = recordedSession({});
  try {
    await runOk(recorded, `mksi -model 2107
mkfbvol -cap 8192 -type blocks 1000
mkfbvol -dev ${REMOTE} -cap 8192 -type blocks 2000
mkpprcpath ${TO} -remotewwnn ${WWNN} -srclss 10 -tgtlss 20 I0010:I0143
workload start w0 -vol 1000 -rw write -pattern random -bs 4KiB -seed 1
workload start w1 -vol 1000 -rw write -pattern seq -bs 4KiB -seed 2
workload start w2 -vol 1000 -rw write -pattern random -bs 4KiB -seed 3`);
    const waited = await runOk(recorded, `mkpprc ${TO} -type mmir -wait 1000:2000`);
    assert.is(waited[waited.length - 1], "CMUC09031I mkpprc: Remote Mirror and Copy volume pair 1000:2000 copy complete.");
    const image = currentEngineImage(recorded.session);
    const slot = image.volume("1000").slot;
    const before = new Map((await embeddedSite(recorded.session).listWorkloads()).map((workload) => [workload.spec.name, workload.stats.ios]));
    let caught = 0;
    for (let look = 0; look < LOOKS; look++) {
      if (image.core.exports.pprc_out_of_sync(slot) > 0) caught++;
      const [header, , row] = await runOk(recorded, "lspprc -l -fmt delim -bnr off 1000:2000");
      const columns = header.split(",");
      const values = row.split(",");
      const field = (name: string) => values[columns.indexOf(name)];
      assert.is(field("State"), "Full Duplex", `look ${look}: ${row}`);
      assert.is(field("Out Of Sync Tracks"), "0", `look ${look}: ${row}`);
    }
    assert.ok(caught > 0, `no look of ${LOOKS} caught a write in flight`);
    const after = await embeddedSite(recorded.session).listWorkloads();
    assert.is(after.filter((workload) => workload.running && workload.stats.ios > before.get(workload.spec.name)!).length, 3, "every workload wrote on meanwhile");
    await runOk(recorded, "workload stop w0\nworkload stop w1\nworkload stop w2");
  } finally {
    await recorded.session.close();
  }
});

Steady.run();
