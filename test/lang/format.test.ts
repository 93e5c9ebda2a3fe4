// Output formats as golden text: default tables, delim, stanza, json, the
// header and banner switches, setenv defaults, and the DS CLI messages.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { recordedSession, runOk, type Recorded } from "./support.js";
import { COMMANDS } from "../../src/lang/commands.js";

const BANNER = "Date/Time: November 25, 2026 3:04:05 PM UTC IBM DSCLI Version: 0.1.0 (tzero) DS: IBM.2105-75TZ001";
const SETUP = `
mkfbvol -cap 1 -name db_#h -extpool P0 1000-1001
mkfbvol -cap 2 -type ess 1002
mkfbvol -cap 4096 -type blocks -os linux 1003
mkflash -nocp -seqnum 1F -tgtinhibit 1000:1001
`;

const Formats = suite("output formats");
let recorded: Recorded;
Formats.before.each(async () => {
  recorded = recordedSession();
  await runOk(recorded, SETUP);
});
Formats.after.each(() => recorded.session.close());

Formats("should print DS CLI messages for made volumes and pairs", async () => {
  assert.equal(recorded.lines, [
    "CMUC00025I mkfbvol: FB volume 1000 successfully created.",
    "CMUC00025I mkfbvol: FB volume 1001 successfully created.",
    "CMUC00025I mkfbvol: FB volume 1002 successfully created.",
    "CMUC00025I mkfbvol: FB volume 1003 successfully created.",
    "CMUC00137I mkflash: FlashCopy pair 1000:1001 successfully created.",
  ]);
});

Formats("should print lsflash as a default table with a banner", async () => {
  assert.equal(await runOk(recorded, "lsflash"), [
    BANNER,
    "ID        SrcLSS SequenceNum Timeout ActiveCopy Recording Persistent Revertible SourceWriteEnabled TargetWriteEnabled BackgroundCopy",
    "=".repeat(132),
    "1000:1001 10     1F          -       Disabled   Disabled  Disabled   Disabled   Enabled            Disabled           Disabled",
  ]);
});

Formats("should add the long columns with lsflash -l", async () => {
  const [header, rule, row] = await runOk(recorded, "lsflash -l -bnr off");
  assert.is(
    header,
    "ID        SrcLSS SequenceNum Timeout ActiveCopy Recording Persistent Revertible SourceWriteEnabled TargetWriteEnabled BackgroundCopy OutOfSyncTracks DateCreated                  DateSynced                   State Reason",
  );
  assert.is(rule, "=".repeat(header.length));
  assert.match(row, /^1000:1001 10 +1F .* 16384 +\w{3} \w{3} \d\d \d\d:\d\d:\d\d UTC \d{4} +\w{3} .* Valid +-$/);
});

Formats("should print only IDs with lsflash -s, and say when nothing is found", async () => {
  assert.equal(await runOk(recorded, "lsflash -s -bnr off"), ["ID", "=========", "1000:1001"]);
  assert.equal(await runOk(recorded, "lsflash 1002"), ["CMUC00234I lsflash: No Flash Copy found."]);
  assert.equal(await runOk(recorded, "lsfbvol -lss 20"), ["CMUC00234I lsfbvol: No FB Volume found."]);
});

Formats("should print lsfbvol with capacities in each volume's unit", async () => {
  assert.equal(await runOk(recorded, "lsfbvol -bnr off"), [
    "Name    ID   accstate datastate configstate deviceMTM datatype extpool cap (2^30B) cap (10^9B) cap (blocks)",
    "=".repeat(107),
    "db_1000 1000 Online   Normal    Normal      2105-900  FB 512   P0      1.0         -           2097152",
    "db_1001 1001 Online   Normal    Normal      2105-900  FB 512   P0      1.0         -           2097152",
    "-       1002 Online   Normal    Normal      2105-900  FB 512   P0      -           2.0         3906250",
    "-       1003 Online   Normal    Normal      2105-900  FB 512   P0      -           -           4096",
  ]);
});

Formats("should print -fmt delim with -delim, and drop the header with -hdr off", async () => {
  assert.equal(await runOk(recorded, "lsflash -s -fmt delim -bnr off 1000:1001"), ["ID", "==", "1000:1001"]);
  assert.equal(await runOk(recorded, "lslss -fmt delim -delim | -bnr off"), [
    "ID|Group|addrgrp|stgtype|confgvols",
    "==================================",
    "10|0|1|fb|4",
  ]);
  assert.equal(await runOk(recorded, "lslss -fmt delim -hdr off -bnr off"), ["10,0,1,fb,4"]);
  assert.equal(await runOk(recorded, "lslss -hdr off -bnr off"), ["10 0     1       fb      4"]);
});

Formats("should quote a -fmt delim value holding the delimiter or a quote, as CSV does", async () => {
  const quoted = recordedSession();
  await runOk(quoted, 'mkfbvol -cap 1 -name "a,b" 1000\nmkfbvol -cap 1 -name \'say "hi"\' 1001');
  const rows = await runOk(quoted, "lsfbvol -fmt delim -hdr off -bnr off");
  assert.equal(rows, [
    '"a,b",1000,Online,Normal,Normal,2105-900,FB 512,P0,1.0,-,2097152',
    '"say ""hi""",1001,Online,Normal,Normal,2105-900,FB 512,P0,1.0,-,2097152',
  ]);
  // The header is quoted by the same rule: with a space as delimiter, "cap (2^30B)" is one field.
  const spaced = await runOk(quoted, 'lsfbvol -fmt delim -delim " " -bnr off 1000');
  assert.is(spaced[0], 'Name ID accstate datastate configstate deviceMTM datatype extpool "cap (2^30B)" "cap (10^9B)" "cap (blocks)"');
  assert.is(spaced[2], 'a,b 1000 Online Normal Normal 2105-900 "FB 512" P0 1.0 - 2097152');
  await quoted.session.close();
});

Formats("should show control characters in listings as escapes, and keep them in JSON", async () => {
  const escaped = recordedSession();
  await runOk(escaped, 'mkfbvol -cap 1 -name "a\\0b\\tc" 1000');
  assert.is((await runOk(escaped, "lsfbvol -fmt delim -hdr off -bnr off"))[0].split(",")[0], "a\\0b\\tc");
  assert.is(JSON.parse((await runOk(escaped, "lsfbvol -fmt json -bnr off"))[0]).data.lsfbvol[0].Name, "a\u0000b\tc");
  await escaped.session.close();
});

Formats("should print -fmt stanza as name-value blocks", async () => {
  assert.equal(await runOk(recorded, "lsfbvol -fmt stanza -bnr off 1002-1003"), [
    "Name         -",
    "ID           1002",
    "accstate     Online",
    "datastate    Normal",
    "configstate  Normal",
    "deviceMTM    2105-900",
    "datatype     FB 512",
    "extpool      P0",
    "cap (2^30B)  -",
    "cap (10^9B)  2.0",
    "cap (blocks) 3906250",
    "",
    "Name         -",
    "ID           1003",
    "accstate     Online",
    "datastate    Normal",
    "configstate  Normal",
    "deviceMTM    2105-900",
    "datatype     FB 512",
    "extpool      P0",
    "cap (2^30B)  -",
    "cap (10^9B)  -",
    "cap (blocks) 4096",
  ]);
});

Formats("should print -fmt json with every value a string", async () => {
  assert.equal(await runOk(recorded, "lslss -fmt json -bnr off"), [
    '{"data":{"lslss":[{"ID":"10","Group":"0","addrgrp":"1","stgtype":"fb","confgvols":"4"}]}}',
  ]);
});

Formats("should take the defaults from setenv, and let options override them", async () => {
  await runOk(recorded, "setenv -banner off -format delim -delim : -header off");
  assert.equal(await runOk(recorded, "lslss"), ["10:0:1:fb:4"]);
  assert.equal(await runOk(recorded, "lslss -fmt default -hdr on"), ["ID Group addrgrp stgtype confgvols", "==================================", "10 0     1       fb      4"]);
});

Formats("should show one volume as a stanza by default", async () => {
  const lines = await runOk(recorded, "showfbvol -bnr off 1001");
  assert.equal(lines.slice(0, 2), ["Name            db_1001", "ID              1001"]);
  assert.ok(lines.includes("extpool         P0"));
  assert.ok(lines.includes("OS              aix"));
  assert.ok(lines.includes("FlashCopy       1000:1001"));
});

Formats("should list storage images, with one added by mksi", async () => {
  await runOk(recorded, "mksi -model 2107");
  assert.equal(await runOk(recorded, "lssi -bnr off"), [
    "Name ID               Storage Unit     Model WWNN             State  ESSNet",
    "============================================================================",
    "-    IBM.2105-75TZ001 IBM.2105-75TZ000 800   5005076303FFC001 Online Enabled",
    "-    IBM.2107-75TZ002 IBM.2107-75TZ000 921   5005076303FFC002 Online Enabled",
  ]);
});

Formats("should print a hex dump for read", async () => {
  await runOk(recorded, "write 1003 -offset 16 -len 4 -pattern 0x41");
  assert.equal(await runOk(recorded, "read 1003 -offset 0 -len 24"), [
    "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|",
    "00000010  41 41 41 41 00 00 00 00                           |AAAA....|",
  ]);
});

const Help = suite("help");

Help("should list every command of the table, by group", async () => {
  const recorded = recordedSession();
  const lines = await runOk(recorded, "help");
  for (const spec of COMMANDS) assert.ok(lines.some((line) => line.trimStart().startsWith(`${spec.name} `)), spec.name);
  assert.is(lines[0], "DS CLI commands:");
  await recorded.session.close();
});

Help("should describe one command's usage, operands and options", async () => {
  const recorded = recordedSession();
  const lines = await runOk(recorded, "help workload");
  assert.is(lines[0], "workload: host I/O workloads in worker threads: start, stop, wait");
  assert.ok(lines.includes("workload start: start a workload on a volume"));
  assert.ok(lines.some((line) => /^ {2}-rw read\|write\|mixed +reads, writes/.test(line)));
  assert.ok(lines.some((line) => /^ {2}-bs SIZE +bytes per I\/O .*\(required\)$/.test(line)));
  await recorded.session.close();
});

Help("should describe a subcommand", async () => {
  const recorded = recordedSession();
  const lines = await runOk(recorded, "help workload stop");
  assert.equal(lines, ["workload stop: stop a workload", "usage: workload stop NAME", "operands:", "  NAME                  the workload"]);
  await recorded.session.close();
});

Formats.run();
Help.run();
