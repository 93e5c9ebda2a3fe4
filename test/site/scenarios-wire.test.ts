// The examples on the wire site, each compared with the embedded site's run (scenario-runs.ts).
import { scenarioSuite } from "./scenario-runs.js";

scenarioSuite("wire").run();
