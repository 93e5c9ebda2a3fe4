// Tests that need a tool from outside the project (a browser, an NBD client):
// where the tool is missing their suite is skipped, visibly, and when
// CI=true it fails instead, because in CI nothing may be skipped.
//   const Browser = skipUnless(suite("console in Chromium"), findTool("chromium"));
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { Callback, Test } from "uvu";

export interface Tool {
  name: string;
  path: string | null; // null: not found
  missing: string; // why it was not found, for the report
}

// A command looked up on PATH, as a shell would find it.
export function findTool(command: string, searchPath = process.env.PATH ?? ""): Tool {
  for (const folder of searchPath.split(delimiter)) {
    if (folder === "") continue;
    const path = join(folder, command);
    try {
      accessSync(path, constants.X_OK);
      return { name: command, path, missing: "" };
    } catch {
      // Not in this folder: try the next one.
    }
  }
  return { name: command, path: null, missing: `${command} is not on PATH` };
}

export const inCI = (environment: NodeJS.ProcessEnv = process.env): boolean => environment.CI === "true";

// The suite itself when the tool is there. Otherwise a stand-in whose tests
// uvu counts as skipped (or, in CI, as failed), whose hooks never run (they
// would start the missing tool), and which prints one line that the runner
// repeats in its summary.
export function skipUnless<T>(test: Test<T>, tool: Tool, environment: NodeJS.ProcessEnv = process.env): Test<T> {
  if (tool.path !== null) return test;
  const strict = inCI(environment);
  let count = 0;
  const register = (name: string): void => {
    count++;
    if (!strict) test.skip(name);
    else test(name, () => { throw new Error(`${tool.name} is required when CI=true: ${tool.missing}`); });
  };
  const ignoreHook = Object.assign((_hook: Callback<T>) => undefined, { each: (_hook: Callback<T>) => undefined });
  return Object.assign((name: string, _handler: Callback<T>) => register(name), {
    only: (name: string, _handler: Callback<T>) => register(name),
    skip: test.skip,
    before: ignoreHook,
    after: ignoreHook,
    run: () => {
      if (!strict) console.log(`# skipped: ${count} tests need ${tool.name} (${tool.missing})`);
      test.run();
    },
  });
}
