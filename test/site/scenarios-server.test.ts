// The examples on the server site, each compared with the embedded site's run (scenario-runs.ts).
import { scenarioSuite } from "./scenario-runs.js";

scenarioSuite("server").run();
