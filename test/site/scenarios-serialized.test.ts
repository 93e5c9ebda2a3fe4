// The examples on the serialized site, each compared with the embedded site's run (scenario-runs.ts).
import { scenarioSuite } from "./scenario-runs.js";

scenarioSuite("serialized").run();
