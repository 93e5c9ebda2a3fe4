// Pools, volumes and listings through the DS CLI: pool accounting as host
// writes land, out of space and recovery, chfbvol, -fullid, help's note on
// options that change nothing.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { recordedSession, run, runOk, sessionFingerprint, type Recorded } from "./support.js";

const Inventory = suite("DS CLI inventory");
let recorded: Recorded;
Inventory.before.each(async () => {
  recorded = recordedSession();
  await runOk(recorded, "mksi IBM.2107-75KDR91\nsetenv -dev IBM.2107-75KDR91 -banner off");
});
Inventory.after.each(() => recorded.session.close());

Inventory("should count written 1 MiB extents in the pool's listing", async () => {
  await runOk(recorded, "mkextpool -rankgrp 0 -stgtype fb -cap 1 small\nmkfbvol -extpool P2 -cap 1 1000\nwrite 1000 -offset 0 -len 1MiB -pattern 0x11\nwrite 1000 -offset 10MiB -len 4KiB -pattern 0x22");
  assert.equal(await runOk(recorded, "lsextpool -fmt delim -hdr off P2"), ["small,P2,fb,0,below,0,0,1022,0,1"]);
  assert.equal((await runOk(recorded, "showfbvol 1000")).filter((line) => /^(real|virtual)extents/.test(line)), ["realextents     2", "virtualextents  1022"]);
});

Inventory("should allocate a -sam standard volume's whole capacity at mkfbvol and say so in showfbvol and lsfbvol -l", async () => {
  await runOk(recorded, "mkextpool -rankgrp 0 -stgtype fb -cap 1 small\nmkfbvol -extpool P2 -cap 0.5 -sam standard 1000\nmkfbvol -extpool P2 -cap 0.25 -sam ese 1002");
  assert.equal((await runOk(recorded, "showfbvol 1000")).filter((line) => /^(sam|exts|realextents|virtualextents) /.test(line)), ["exts            512", "sam             Standard", "realextents     512", "virtualextents  0"]);
  assert.equal((await runOk(recorded, "showfbvol 1002")).filter((line) => /^(sam|realextents) /.test(line)), ["sam             ESE", "realextents     0"]);
  const long = await runOk(recorded, "lsfbvol -l -fmt delim -hdr off");
  assert.equal(long.map((line) => line.split(",")[8]), ["Standard", "ESE"]);
  assert.equal(await runOk(recorded, "lsextpool -fmt delim -hdr off P2"), ["small,P2,fb,0,below,0,50,512,0,2"]);
});

Inventory("should refuse a -sam standard volume its pool cannot hold, naming it, with nothing changed", async () => {
  await runOk(recorded, "mkextpool -rankgrp 0 -stgtype fb -cap 1 small\nmkfbvol -extpool P2 -cap 0.75 -sam standard 1000");
  const before = await sessionFingerprint(recorded.session);
  const error = await run(recorded.session, "mkfbvol -extpool P2 -cap 0.5 -sam standard 1002 1004");
  assert.is(error?.code, "NO_SPACE");
  assert.match(error!.reason, /standard volume 1002/);
  assert.is(await sessionFingerprint(recorded.session), before);
});

Inventory("should fail a write to a full pool with an out-of-space error, change nothing, and work again once space is freed", async () => {
  await runOk(recorded, "mkextpool -rankgrp 1 -stgtype fb -cap 0 empty\nmkfbvol -extpool P3 -cap 1 1101\nmkfbvol -extpool P3 -cap 1 1103");
  const before = (await sessionFingerprint(recorded.session));
  const error = await run(recorded.session, "write 1101 -offset 0 -len 4KiB -pattern 0x33");
  assert.is(error?.code, "NO_SPACE");
  assert.match(error!.reason, /^CMUN02031E write: cannot write volume 1101: its extent pool P3 \(0 of 0 extents allocated\) is full/);
  assert.is((await sessionFingerprint(recorded.session)), before);
  await runOk(recorded, "rmfbvol -quiet 1101 1103\nrmextpool -quiet P3\nmkfbvol -extpool P1 -cap 1 1101\nwrite 1101 -offset 0 -len 4KiB -pattern 0x33");
  assert.equal(await runOk(recorded, "lsextpool -fmt delim -hdr off -s"), ["P0", "P1"]);
});

Inventory("should grow and rename volumes with chfbvol, refusing every volume if one cannot change", async () => {
  await runOk(recorded, "mkfbvol -extpool P0 -cap 1 -name old_#h 1000-1001\nmkfbvol -extpool P0 -cap 2 1002\nmkflash -nocp 1001:1002");
  const before = (await sessionFingerprint(recorded.session));
  assert.is((await run(recorded.session, "chfbvol -cap 2 1000-1001"))?.code, "VOLUME_IN_RELATIONSHIP");
  assert.is((await sessionFingerprint(recorded.session)), before);
  assert.equal(await runOk(recorded, "chfbvol -cap 3 -name new_#h 1000"), ["CMUC00026I chfbvol: FB volume 1000 successfully modified."]);
  assert.equal(await runOk(recorded, "lsfbvol -fmt delim -hdr off 1000"), ["new_1000,1000,Online,Normal,Normal,2107-900,FB 512,P0,3.0,-,6291456"]);
});

Inventory("should take names of 16 characters and qualify IDs under -fullid", async () => {
  await runOk(recorded, "mkfbvol -extpool P1 -cap 1 -name volume_name_#h 1100");
  assert.equal(await runOk(recorded, "lsfbvol -s -fullid -fmt delim -hdr off"), ["IBM.2107-75KDR91/1100"]);
  assert.equal(await runOk(recorded, "lsfbvol -fmt delim -hdr off -fullid IBM.2107-75KDR91/1100"), [
    "volume_name_1100,IBM.2107-75KDR91/1100,Online,Normal,Normal,2107-900,FB 512,IBM.2107-75KDR91/P1,1.0,-,2097152",
  ]);
});

Inventory("should list whatever exists in a range that spans LSSs and includes FF", async () => {
  await runOk(recorded, "mkfbvol -cap 1 0010 1000 FE01\nmkflash -nocp 0010:1000");
  assert.equal(await runOk(recorded, "lsfbvol -s -hdr off 0000-FFFF"), ["0010", "1000", "FE01"]);
  assert.equal(await runOk(recorded, "lsfbvol -s -hdr off 0F00-FEFF"), ["1000", "FE01"]);
  assert.equal(await runOk(recorded, "lsflash -s -hdr off 0000-FFFF"), ["0010:1000"]);
  assert.equal(await runOk(recorded, "lsflash -s -hdr off 0000-0FFF:0000-FFFF"), ["0010:1000"]);
  assert.equal(await runOk(recorded, "lsflash -s 1001-FFFF"), ["CMUC00234I lsflash: No Flash Copy found."]);
  assert.equal(await runOk(recorded, "lslss -s -hdr off 00-FF"), ["00", "10", "FE"]);
});

Inventory("should say in help which options DS CLI takes that change nothing in tzero", async () => {
  const lines = await runOk(recorded, "help mkfbvol");
  assert.ok(lines.some((line) => line.includes("-eam") && line.includes("changes nothing in tzero")), lines.join("\n"));
  assert.ok(!lines.some((line) => line.includes("-extpool") && line.includes("changes nothing")));
  assert.ok(!lines.some((line) => line.includes("-sam") && line.includes("changes nothing")));
});

Inventory.run();
