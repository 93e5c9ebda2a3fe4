// Volume groups and host connections through the DS CLI, on every kind of
// site: listings with DS CLI's columns, every refusal naming what was wrong
// and changing nothing, and an NBD endpoint that listens where it was told.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "node:net";
import { SITE_FACTORIES } from "../support/sites.js";
import { recordedSession, run, runOk, type Recorded } from "./support.js";

for (const factory of SITE_FACTORIES) {
  const Hosts = suite(`volume groups and host connections (${factory.name} site)`);
  let recorded: Recorded;
  Hosts.before.each(async () => {
    recorded = recordedSession({}, factory);
    await runOk(recorded, "setenv -banner off\nmkfbvol -cap 1 -os aix -name prod 1000-1002\nmkfbvol -cap 1 -os aix 1100");
  });
  Hosts.after.each(() => recorded.session.close());

  Hosts("should make, list, show, change and remove volume groups with DS CLI's columns", async () => {
    assert.equal(await runOk(recorded, 'mkvolgrp -volume 1000-1001 prodgrp\nmkvolgrp -type scsimap256 -volume "1002,1100" other'), [
      "CMUC09050I mkvolgrp: Volume group V0 successfully created.", "CMUC09050I mkvolgrp: Volume group V1 successfully created.",
    ]);
    assert.equal(await runOk(recorded, "lsvolgrp -fmt delim -hdr off"), ["prodgrp,V0,scsimask", "other,V1,scsimap256"]);
    assert.equal(await runOk(recorded, "chvolgrp -action add -volume 1002 V0\nshowvolgrp -fmt delim -hdr off V0"), [
      "CMUC09051I chvolgrp: Volume group V0 successfully modified.", "prodgrp,V0,scsimask,1000 1001 1002",
    ]);
    assert.equal(await runOk(recorded, "chvolgrp -action remove -volume 1000-1001 V0\nlsvolgrp -l -fmt delim -hdr off -fullid V0"), [
      "CMUC09051I chvolgrp: Volume group V0 successfully modified.", "prodgrp,IBM.2105-75TZ001/V0,scsimask,1002",
    ]);
    assert.equal(await runOk(recorded, "rmvolgrp -quiet V1 V0\nlsvolgrp"), [
      "CMUC09053I rmvolgrp: Volume group V1 successfully deleted.", "CMUC09053I rmvolgrp: Volume group V0 successfully deleted.",
      "CMUC00234I lsvolgrp: No Volume Group found.",
    ]);
  });

  Hosts("should refuse bad volume groups, naming what was wrong, and change nothing", async () => {
    await runOk(recorded, "mkvolgrp -volume 1000 prodgrp");
    const cases: Array<[string, string, RegExp]> = [
      ["mkvolgrp -volume 1000-1003 x", "VOLUME_NOT_FOUND", /1003/],
      ["mkvolgrp -volume 1000 prodgrp", "VOLGRP_EXISTS", /prodgrp already exists/],
      ['mkvolgrp -volume "1000,1000" x', "BAD_ARGUMENT", /1000 is given twice/],
      ["mkvolgrp -volume 1000 a_name_of_17_char", "BAD_ARGUMENT", /1 to 16 printable/],
      ["chvolgrp -action add -volume 1000 V0", "BAD_ARGUMENT", /already in the volume group/],
      ["chvolgrp -action remove -volume 1001 V0", "VOLUME_NOT_FOUND", /1001 is not in volume group V0/],
      ["chvolgrp -action add -volume 1001 V7", "VOLGRP_NOT_FOUND", /V7 does not exist/],
      ["chvolgrp -action add V0", "BAD_ARGUMENT", /-action and -volume go together/],
      ["rmvolgrp -quiet V0 V3", "VOLGRP_NOT_FOUND", /V3 does not exist/],
      ["rmfbvol -quiet 1000", "VOLUME_MAPPED", /1000 is in volume group V0 \(prodgrp\)/],
    ];
    for (const [source, code, reason] of cases) {
      const error = await run(recorded.session, source);
      assert.is(error?.code, code, source);
      assert.match(error!.reason, reason, source);
    }
    assert.equal(await runOk(recorded, "lsvolgrp -l -fmt delim -hdr off"), ["prodgrp,V0,scsimask,1000"]);
  });

  Hosts("should make host connections with an NBD endpoint on 127.0.0.1 and refuse bad ones", async () => {
    await runOk(recorded, "mkvolgrp -volume 1000 prodgrp");
    const made = await runOk(recorded, 'mkhostconnect -hosttype LinuxRHEL -wwname 10000000c9a1b2c3 -volgrp V0 -nbd "127.0.0.1:0" prodhost');
    const address = /NBD endpoint (127\.0\.0\.1:\d+)\.$/.exec(made[0])?.[1];
    assert.ok(address, made[0]);
    const listed = await runOk(recorded, "lshostconnect -fmt delim");
    assert.equal(listed, [
      "Name,ID,WWPN,HostType,Profile,portgrp,volgrpID,ESSIOport,NBD,Clients", "=".repeat(68),
      `prodhost,0000,10000000C9A1B2C3,LinuxRHEL,Intel - Linux RHEL,0,V0,all,${address},0`,
    ]);
    const [host, port] = address!.split(":");
    const greeting = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect(Number(port), host, () => undefined);
      socket.once("data", (data) => { socket.destroy(); resolve(data); });
      socket.once("error", reject);
    });
    assert.is(greeting.subarray(0, 16).toString("latin1"), "NBDMAGICIHAVEOPT");
    const cases: Array<[string, string, RegExp]> = [
      ["mkhostconnect -hosttype Amiga x", "BAD_HOST_TYPE", /Amiga is not one of/],
      ["mkhostconnect -hosttype LinuxRHEL -wwname 12 x", "BAD_WWPN", /12 is not 16 hex digits/],
      ["mkhostconnect -hosttype LinuxRHEL -wwname 10000000C9A1B2C3 x", "HOST_EXISTS", /already belongs/],
      ["mkhostconnect -hosttype LinuxRHEL -volgrp V9 x", "VOLGRP_NOT_FOUND", /V9 does not exist/],
      ["mkhostconnect -hosttype LinuxRHEL -nbd nowhere x", "BAD_ARGUMENT", /neither HOST:PORT nor a unix socket path/],
      [`mkhostconnect -hosttype LinuxRHEL -nbd "${address}" x`, "BAD_ARGUMENT", /cannot listen for NBD on .*EADDRINUSE/],
      ["mkhostconnect -hosttype LinuxRHEL prodhost", "HOST_EXISTS", /prodhost already exists/],
      ["mkhostconnect -hosttype LinuxRHEL prod/siteb", "BAD_ARGUMENT", /has a \/, which separates the parts of NBD export names/],
      ["rmvolgrp -quiet V0", "VOLGRP_IN_USE", /host connection 0000 \(prodhost\)/],
      ["rmhostconnect -quiet 0000 0009", "HOST_NOT_FOUND", /0009 does not exist/],
    ];
    for (const [source, code, reason] of cases) {
      const error = await run(recorded.session, source);
      assert.is(error?.code, code, source);
      assert.match(error!.reason, reason, source);
    }
    assert.equal(await runOk(recorded, "lshostconnect -fmt delim"), listed);
    assert.equal(await runOk(recorded, "rmhostconnect -quiet 0000\nlshostconnect"), [
      "CMUC09056I rmhostconnect: Host connection 0000 successfully deleted.", "CMUC00234I lshostconnect: No Host Connection found.",
    ]);
  });

  Hosts.run();
}
