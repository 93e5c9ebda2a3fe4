// The examples on the embedded site, the one the other kinds are compared with (scenario-runs.ts).
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { SITE_FACTORIES } from "../support/sites.js";
import { comparable, scenarioSuite } from "./scenario-runs.js";

const Scenarios = scenarioSuite("embedded");

Scenarios("should mask only measured figures and progress lines", () => {
  assert.equal(comparable(["1000:2000 Copy Pending: 12 tracks out of sync, 4 sent", "1000:2000 copy complete (Full Duplex)"]), []);
  assert.equal(comparable(["1000:1001 background copy: 3 of 4 tracks left", "CMUC00137I mkflash: FlashCopy pair 1000:1001 successfully created."]),
    ["CMUC00137I mkflash: FlashCopy pair 1000:1001 successfully created."]);
  assert.equal(comparable(["workload w on 1000: 12 IOPS, 1.5 MB/s"]), ["workload w on #: # IOPS, # MB/s"]);
});

Scenarios("should have a scenarios file for every kind of site", () => {
  for (const factory of SITE_FACTORIES) {
    const file = join(process.cwd(), "test", "site", `scenarios-${factory.name}.test.ts`);
    assert.ok(existsSync(file), `the ${factory.name} site has no ${file}`);
  }
});

Scenarios.run();
