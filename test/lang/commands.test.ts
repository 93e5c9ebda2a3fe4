// Every command's bad inputs: a clear error with a stable code, naming the
// volume, pair or option, at the culprit's position, and nothing changed.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordedSession, run, runOk, sessionFingerprint, type Recorded } from "./support.js";
import { SITE_FACTORIES } from "../support/sites.js";

const folder = mkdtempSync(join(tmpdir(), "tzero-commands-"));
writeFileSync(join(folder, "big.bin"), new Uint8Array(70_000));

// 1000/1001/1002 in LSS 10 (aix, 2 tracks), 1003 (linux), 1004 (1 track), 1100 in LSS 11;
// 1005:1006 a -nocp pair with -tgtinhibit; 1007 unusable after a withdrawn incomplete copy.
const SETUP = `
mkfbvol -cap 256 -type blocks 1000-1002
mkfbvol -cap 256 -type blocks -os linux 1003
mkfbvol -cap 128 -type blocks 1004
mkfbvol -cap 256 -type blocks 1100
mkfbvol -cap 256 -type blocks 1005-1009
mkflash -nocp -tgtinhibit 1005:1006
mkflash -nocp 1008:1007
rmflash -quiet 1008:1007
let bad_os = "beos"
mksi -model 2107
let long = "xxxxxxxxxxxxxxxx"
repeat 5 { let long = "$long$long" }
`;

interface Case {
  source: string;
  code: string;
  mentions: string[];
  col?: number; // column of the culprit on the command's line
}

const CASES: Record<string, Case[]> = {
  mkfbvol: [
    { source: "mkfbvol -cap 0 1200", code: "BAD_CAPACITY", mentions: ["capacity 0"], col: 14 },
    { source: "mkfbvol -cap 5 -type blocks 10G0", code: "BAD_VOLUME_ID", mentions: ["10G0"], col: 29 },
    { source: "mkfbvol -cap 5 -type blocks FF00", code: "BAD_VOLUME_ID", mentions: ["FF00", "reserved"] },
    { source: "mkfbvol -cap 5 -type blocks 1203-1201", code: "BAD_VOLUME_ID", mentions: ["backwards"] },
    { source: "mkfbvol -cap 5 -type blocks 1200 1200", code: "VOLUME_EXISTS", mentions: ["1200", "twice"], col: 34 },
    { source: "mkfbvol -cap 5 -type blocks 0FFE-1001", code: "BAD_VOLUME_ID", mentions: ["more than one LSS"] },
    { source: "mkfbvol -cap 5 -type blocks 0FFF-1000", code: "BAD_VOLUME_ID", mentions: ["more than one LSS"] },
    { source: "mkfbvol -cap 5 -type blocks 09FE-09FF 1001", code: "VOLUME_EXISTS", mentions: ["1001", "already exists"], col: 39 },
    { source: "mkfbvol -cap 5 -type blocks -os $bad_os 1200", code: "BAD_ARGUMENT", mentions: ["-os", "beos"], col: 33 },
    { source: "mkfbvol -cap 34359738369 -type blocks 1200", code: "BAD_CAPACITY", mentions: ["16 TiB"] },
    { source: "mkfbvol -cap 16385 -type ds 1200", code: "BAD_CAPACITY", mentions: ["16 TiB"] },
    { source: "mkfbvol -cap 5 -type blocks -1000", code: "BAD_VOLUME_ID", mentions: ["volume range -1000 has no first volume ID"], col: 29 },
    { source: "mkfbvol -cap 5 -type blocks 1200-", code: "BAD_VOLUME_ID", mentions: ["volume range 1200- has no last volume ID"] },
    { source: "mkfbvol -cap 5 -type blocks -extpool $long 1200", code: "BAD_ARGUMENT", mentions: ["-extpool is 512 characters long; it may have at most 256"], col: 38 },
    { source: "mkfbvol -cap 99999999999999999999 -type blocks 1200", code: "BAD_ARGUMENT", mentions: ["-cap 99999999999999999999 is larger than 9007199254740991"] },
    { source: "mkfbvol -cap 1 -extpool P1 1200", code: "RANKGROUP_MISMATCH", mentions: ["P1", "rank group 1", "LSS 12"], col: 28 },
    { source: "mkfbvol -cap 1 -extpool P0 1200 1301", code: "RANKGROUP_MISMATCH", mentions: ["P0", "LSS 13"], col: 33 },
    { source: "mkfbvol -cap 1 -extpool P7 1200", code: "POOL_NOT_FOUND", mentions: ["P7"], col: 25 },
    { source: "mkfbvol -cap 1 -extpool X9 1200", code: "BAD_POOL_ID", mentions: ["X9"], col: 25 },
    { source: "mkfbvol -cap 1 -name volume_names_#h 1200", code: "BAD_ARGUMENT", mentions: ["volume_names_1200", "17 characters", "16"] },
  ],
  lsfbvol: [
    { source: "lsfbvol -lss 1X", code: "BAD_ARGUMENT", mentions: ["LSS 1X"], col: 14 },
    { source: "lsfbvol -extpool P5", code: "POOL_NOT_FOUND", mentions: ["P5"], col: 18 },
    { source: "lsfbvol 2000-1000", code: "BAD_VOLUME_ID", mentions: ["2000-1000", "backwards"], col: 9 },
    { source: "lsfbvol 1000 10G0", code: "BAD_VOLUME_ID", mentions: ["10G0", "0000-FFFF"], col: 14 },
    { source: "lsfbvol -l -s", code: "BAD_ARGUMENT", mentions: ["-l and -s"] },
    { source: "lsfbvol -dev IBM.2105-75TZ001 IBM.2107-75TZ002/1000", code: "BAD_ARGUMENT", mentions: ["IBM.2107-75TZ002", "-dev IBM.2105-75TZ001"], col: 31 },
    { source: "lsfbvol IBM.2107-75TZ009/1000", code: "IMAGE_NOT_FOUND", mentions: ["IBM.2107-75TZ009"], col: 9 },
  ],
  chfbvol: [
    { source: "chfbvol 1000", code: "BAD_ARGUMENT", mentions: ["-name or -cap"] },
    { source: "chfbvol -cap 100 -type blocks 1000", code: "BAD_CAPACITY", mentions: ["1000", "never shrink"], col: 31 },
    { source: "chfbvol -cap 512 -type blocks 1000 1005", code: "VOLUME_IN_RELATIONSHIP", mentions: ["1005", "1005:1006"], col: 36 },
    { source: "chfbvol -name renamed 1000 1300", code: "VOLUME_NOT_FOUND", mentions: ["1300"], col: 28 },
    { source: "chfbvol -name name_of_17_chars_ 1000", code: "BAD_ARGUMENT", mentions: ["name_of_17_chars_", "16"], col: 33 },
  ],
  mkextpool: [
    { source: "mkextpool -rankgrp 0 -stgtype fb -cap 1 fb_pool_1", code: "POOL_EXISTS", mentions: ["fb_pool_1"], col: 41 },
    { source: "mkextpool -rankgrp 0 -stgtype fb -cap 1.5 gold", code: "BAD_ARGUMENT", mentions: ["-cap 1.5"], col: 39 },
    { source: "mkextpool -rankgrp 1 -stgtype fb a_name_of_17_char", code: "BAD_ARGUMENT", mentions: ["a_name_of_17_char", "16"], col: 34 },
  ],
  rmextpool: [
    { source: "rmextpool -quiet P0", code: "POOL_NOT_EMPTY", mentions: ["P0", "volume"], col: 18 },
    { source: "rmextpool -quiet P9", code: "POOL_NOT_FOUND", mentions: ["P9"], col: 18 },
    { source: "rmextpool -quiet P64", code: "BAD_POOL_ID", mentions: ["P64", "P63"], col: 18 },
  ],
  lsextpool: [
    { source: "lsextpool P99", code: "BAD_POOL_ID", mentions: ["P99"], col: 11 },
    { source: "lsextpool -l -s", code: "BAD_ARGUMENT", mentions: ["-l and -s"] },
  ],
  showextpool: [{ source: "showextpool P5", code: "POOL_NOT_FOUND", mentions: ["P5"], col: 13 }],
  lssi: [{ source: "lssi IBM.2107-75TZ009", code: "IMAGE_NOT_FOUND", mentions: ["IBM.2107-75TZ009"], col: 6 }],
  showsi: [
    { source: "showsi IBM.2107-75TZ009", code: "IMAGE_NOT_FOUND", mentions: ["IBM.2107-75TZ009"], col: 8 },
    { source: "showsi -dev IBM.2105-75TZ001 IBM.2105-75TZ001", code: "BAD_ARGUMENT", mentions: ["-dev", "operand"] },
  ],
  lslss: [
    { source: "lslss 1G", code: "BAD_VOLUME_ID", mentions: ["LSS ID 1G"], col: 7 },
    { source: "lslss 20-10", code: "BAD_VOLUME_ID", mentions: ["backwards"], col: 7 },
  ],
  showlss: [
    { source: "showlss 20", code: "LSS_NOT_FOUND", mentions: ["LSS 20"], col: 9 },
    { source: "showlss 1G", code: "BAD_ARGUMENT", mentions: ["LSS 1G"], col: 9 },
  ],
  lsioport: [
    { source: "lsioport X0010", code: "BAD_ARGUMENT", mentions: ["X0010", "I0010"], col: 10 },
    { source: "lsioport I0143-I0010", code: "BAD_ARGUMENT", mentions: ["backwards"], col: 10 },
  ],
  ver: [{ source: "ver -l -s", code: "BAD_ARGUMENT", mentions: ["-l and -s"] }],
  rmfbvol: [
    { source: "rmfbvol -quiet 1300", code: "VOLUME_NOT_FOUND", mentions: ["1300"], col: 16 },
    { source: "rmfbvol -quiet 1004 1005", code: "VOLUME_IN_RELATIONSHIP", mentions: ["1005", "1005:1006", "rmflash"], col: 21 },
  ],
  initfbvol: [
    { source: "initfbvol -quiet 1300", code: "VOLUME_NOT_FOUND", mentions: ["1300"], col: 18 },
    { source: "initfbvol -quiet 1007 1006", code: "VOLUME_IN_RELATIONSHIP", mentions: ["1006", "1005:1006", "before reinitialising the volume"], col: 23 },
  ],
  mksi: [
    { source: "mksi IBM.2105-75TZ001", code: "IMAGE_EXISTS", mentions: ["IBM.2105-75TZ001"] },
    { source: "mksi IBM.9999-1", code: "IMAGE_NOT_FOUND", mentions: ["IBM.9999-1", "IBM.2105-75TZ001"], col: 6 },
    { source: "mksi -model 2107 IBM.2105-75TZ009", code: "BAD_MODEL", mentions: ["2105", "2107"] },
  ],
  mkflash: [
    { source: "mkflash 1000:1100", code: "LSS_MISMATCH", mentions: ["1000:1100", "LSS 10", "LSS 11", "same LSS"], col: 9 },
    { source: "mkflash 1000:1004", code: "TARGET_TOO_SMALL", mentions: ["1000:1004", "at least as large"] },
    { source: "mkflash 1000:1003", code: "OS_MISMATCH", mentions: ["1000:1003", "aix", "linux"] },
    { source: "mkflash 1005:1000", code: "VOLUME_IN_RELATIONSHIP", mentions: ["1005", "one at a time"] },
    { source: "mkflash 1000:1000", code: "SOURCE_EQUALS_TARGET", mentions: ["1000:1000"] },
    { source: "mkflash 1000:1300", code: "VOLUME_NOT_FOUND", mentions: ["1300"] },
    { source: "mkflash 1007:1000", code: "VOLUME_UNUSABLE", mentions: ["1007"] },
    { source: "mkflash 1000-1001:1002", code: "BAD_VOLUME_ID", mentions: ["2 sources and 1 targets"] },
    { source: "mkflash 1000", code: "BAD_VOLUME_ID", mentions: ["SSSS:TTTT"] },
    { source: "mkflash -seqnum 100000000 1000:1001", code: "BAD_ARGUMENT", mentions: ["-seqnum", "hex"], col: 17 },
    { source: "mkflash -seqnum 12G 1000:1001", code: "BAD_ARGUMENT", mentions: ["-seqnum 12G"], col: 17 },
    { source: "mkflash -nocp -wait 1000:1001", code: "BAD_ARGUMENT", mentions: ["-wait", "-nocp"] },
    // The second pair breaks the one-relationship rule with the first: neither is made.
    { source: "mkflash 1000:1001 1002:1001", code: "VOLUME_IN_RELATIONSHIP", mentions: ["1001"], col: 19 },
  ],
  lsflash: [
    { source: "lsflash -l -s", code: "BAD_ARGUMENT", mentions: ["-l", "-s"] },
    { source: "lsflash 1000-0FFF", code: "BAD_VOLUME_ID", mentions: ["backwards"], col: 9 },
    { source: "lsflash 0000-FFFF:10000", code: "BAD_VOLUME_ID", mentions: ["10000"], col: 9 },
    { source: "lsflash -seqnum XYZ", code: "BAD_ARGUMENT", mentions: ["-seqnum XYZ"], col: 17 },
  ],
  rmflash: [
    { source: "rmflash -quiet 1000:1001", code: "RELATIONSHIP_NOT_FOUND", mentions: ["1000:1001"], col: 16 },
    { source: "rmflash -quiet 1005:1006 1000:1001", code: "RELATIONSHIP_NOT_FOUND", mentions: ["1000:1001"], col: 26 },
  ],
  setenv: [
    { source: "setenv -dev IBM.2107-75TZ009", code: "IMAGE_NOT_FOUND", mentions: ["IBM.2107-75TZ009", "lssi"], col: 13 },
    { source: "setenv -format json -delim ab", code: "BAD_ARGUMENT", mentions: ["-delim ab"] },
    { source: "setenv -dev IBM.2105-75TZ001 -devid IBM.2105-75TZ001", code: "BAD_ARGUMENT", mentions: ["-dev and -devid"] },
    { source: "setenv -fullid on -devid IBM.2107-75TZ009", code: "IMAGE_NOT_FOUND", mentions: ["IBM.2107-75TZ009"], col: 26 },
  ],
  write: [
    { source: "write 1000 -offset 0x -len 1 -pattern 0x01", code: "BAD_ARGUMENT", mentions: ["-offset 0x is not a hexadecimal number"], col: 20 },
    { source: "write 1000 -offset 18446744073709551617 -len 1 -pattern 0x01", code: "BAD_ARGUMENT", mentions: ["-offset 18446744073709551617 is larger than 9007199254740991"] },
    { source: "write 1000 -offset 0 -len 0x20000000000000 -pattern 0x01", code: "BAD_ARGUMENT", mentions: ["-len 0x20000000000000 is larger"] },
    { source: "write ($long) -offset 0 -len 1 -pattern 0x01", code: "BAD_ARGUMENT", mentions: ["VOLUME_ID is 512 characters long; it may have at most 64"], col: 7 },
    { source: "write 1000 -offset 130000 -len 4KiB -pattern 0xaa", code: "OUT_OF_RANGE", mentions: ["1000", "beyond its end"] },
    { source: "write 1000 -offset 0 -len 4KiB -pattern 0x100", code: "BAD_ARGUMENT", mentions: ["0x100"], col: 41 },
    { source: "write 1000 -offset 0 -len 4XB -pattern 0xaa", code: "BAD_ARGUMENT", mentions: ["4XB"], col: 27 },
    { source: "write 1006 -offset 0 -len 512 -pattern 0xaa", code: "TARGET_WRITE_INHIBITED", mentions: ["1006", "-tgtinhibit"] },
    { source: "write 1000 -offset 0 -len 512 -pattern random -seed -1", code: "BAD_ARGUMENT", mentions: ["-seed"] },
  ],
  read: [
    { source: "read 1000 -offset 0 -len 2MiB", code: "BAD_ARGUMENT", mentions: ["at most"] },
    { source: "read 1007 -offset 0 -len 16", code: "VOLUME_UNUSABLE", mentions: ["1007", "not usable"] },
  ],
  fill: [{ source: "fill 1300 -pattern 0", code: "VOLUME_NOT_FOUND", mentions: ["1300"], col: 6 }],
  checksum: [{ source: "checksum 1000 -offset 1MiB", code: "OUT_OF_RANGE", mentions: ["1000"] }],
  import: [
    { source: "import 1000 missing.bin", code: "FILE_ERROR", mentions: ["missing.bin", "no such file"] },
    { source: "import 1004 big.bin", code: "OUT_OF_RANGE", mentions: ["70000 bytes", "larger than volume 1004"] },
    { source: "import 1000 .", code: "FILE_ERROR", mentions: ["cannot read", "it is a folder, not a file"] },
  ],
  export: [
    { source: "export 1000 no-such-folder/out.bin", code: "FILE_ERROR", mentions: ["no-such-folder", "does not exist"] },
    { source: "export 1000 /proc/version", code: "FILE_ERROR", mentions: ["cannot write /proc/version: no file can be created in /proc"] },
  ],
  workload: [
    { source: "workload start w -vol 1000 -rw read -pattern seq -bs 100", code: "BAD_ARGUMENT", mentions: ["block size 100"] },
    { source: "workload start w -vol 1300 -rw read -pattern seq -bs 4KiB", code: "VOLUME_NOT_FOUND", mentions: ["1300"], col: 23 },
    { source: "workload start 9w -vol 1000 -rw read -pattern seq -bs 4KiB", code: "BAD_ARGUMENT", mentions: ["9w"], col: 16 },
    { source: "workload start w -vol 1000 -rw read -pattern seq -bs 4KiB -duration 5", code: "BAD_ARGUMENT", mentions: ["needs a unit"] },
    { source: "workload stop nobody", code: "WORKLOAD_NOT_FOUND", mentions: ["nobody"], col: 15 },
    { source: "workload wait nobody", code: "WORKLOAD_NOT_FOUND", mentions: ["nobody"] },
  ],
  "wait flash": [
    { source: "wait flash 1000:1001", code: "RELATIONSHIP_NOT_FOUND", mentions: ["1000:1001"], col: 12 },
    { source: "wait flash 1005:1006", code: "BAD_ARGUMENT", mentions: ["1005:1006", "-nocp"], col: 12 },
  ],
  sleep: [
    { source: "sleep 2", code: "BAD_ARGUMENT", mentions: ["needs a unit"], col: 7 },
    { source: "sleep 30d", code: "BAD_ARGUMENT", mentions: ["d is not a unit of duration"] },
    { source: "sleep 600h", code: "BAD_ARGUMENT", mentions: ["sleep 600h is longer than 2147483647 ms"] },
  ],
  showfbvol: [
    { source: "showfbvol 1300", code: "VOLUME_NOT_FOUND", mentions: ["1300"], col: 11 },
    { source: 'showfbvol "1\\0\\n2"', code: "BAD_VOLUME_ID", mentions: ["volume ID 1\\0\\n2 is not"] },
  ],
  help: [{ source: "help mkflsh", code: "BAD_ARGUMENT", mentions: ["mkflsh"] }],
  source: [{ source: "source nowhere.tzs", code: "FILE_ERROR", mentions: ["nowhere.tzs", "no such file"], col: 8 }],
};

// The same refusals, at the same positions, on every kind of site.
for (const factory of SITE_FACTORIES) {
  const Bad = suite(`bad inputs (${factory.name} site)`);
  let recorded: Recorded;
  Bad.before(async () => {
    recorded = recordedSession({ cwd: folder }, factory);
    const error = await run(recorded.session, SETUP, join(folder, "setup.tzs"));
    assert.is(error, null, error?.message);
  });
  Bad.after(async () => {
    await recorded.session.close();
    if (factory === SITE_FACTORIES[SITE_FACTORIES.length - 1]) rmSync(folder, { recursive: true, force: true });
  });

  for (const [command, cases] of Object.entries(CASES)) {
    for (const testCase of cases) {
      Bad(`${command}: should refuse "${testCase.source}" with ${testCase.code} and change nothing`, async () => {
        const before = (await sessionFingerprint(recorded.session));
        const error = await run(recorded.session, `\n${testCase.source}\n`, join(folder, "case.tzs"));
        assert.ok(error, "expected the command to fail");
        assert.is(error.kind, "command");
        assert.is(error.exitCode, 6);
        assert.is(error.code, testCase.code, error.message);
        assert.match(error.reason, new RegExp(`^CMUN\\d{5}E ${command}( \\w+)?: `));
        for (const mention of testCase.mentions) assert.ok(error.reason.includes(mention), `"${error.reason}" should name ${mention}`);
        assert.is(error.line, 2);
        if (testCase.col !== undefined) assert.is(error.col, testCase.col, "column of the culprit");
        assert.is((await sessionFingerprint(recorded.session)), before, "a refused command must change nothing");
      });
    }
  }

  Bad("rmfbvol: should refuse a volume a workload is running on", async () => {
    await runOk(recorded, "workload start busy -vol 1009 -rw read -pattern random -bs 4KiB -iops 100");
    const error = await run(recorded.session, "rmfbvol -quiet 1009");
    assert.is(error?.code, "BUSY");
    assert.ok(error?.reason.includes("busy"));
    await runOk(recorded, "workload stop busy\nrmfbvol -quiet 1009\nmkfbvol -cap 256 -type blocks 1009");
  });

  Bad("workload: should refuse a second workload with a running one's name, and wait on one without -duration", async () => {
    await runOk(recorded, "workload start twice -vol 1000 -rw read -pattern seq -bs 4KiB -iops 50");
    assert.is((await run(recorded.session, "workload start twice -vol 1001 -rw read -pattern seq -bs 4KiB"))?.code, "WORKLOAD_EXISTS");
    const waited = await run(recorded.session, "workload wait twice");
    assert.is(waited?.code, "BAD_ARGUMENT");
    assert.ok(waited?.reason.includes("no -duration"));
    await runOk(recorded, "workload stop twice");
  });

  Bad.run();
}
