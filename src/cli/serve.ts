// `tzero serve ...`: runs a node (src/server/node-service.ts) until SIGTERM,
// SIGINT or SIGHUP, then stops it cleanly (the --state save included) and
// exits 0. Logs go to stderr, one line per event, each stamped with the time
// and the node. Argument errors name the flag and exit 2.
import { END_SIGNALS } from "./lifetime.js";
import { parseServeArgs, SERVE_USAGE } from "./serve-args.js";
import { ServeArgumentError } from "../server/http.js";
import { NodeService, type Log } from "../server/node-service.js";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

// Stamped with the node's ID once it is known (it may come from the --state file).
function logTo(named: { nodeId: string | null }): Log {
  return (line) => process.stderr.write(`${new Date().toISOString()} ${named.nodeId ?? "tzero"} ${line}\n`);
}

export async function runServe(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return EXIT_OK;
  }
  let config;
  try {
    config = parseServeArgs(argv);
  } catch (error) {
    if (!(error instanceof ServeArgumentError)) throw error;
    process.stderr.write(`tzero serve: ${error.message}\n${SERVE_USAGE}\n`);
    return EXIT_USAGE;
  }
  const named = { nodeId: config.nodeId };
  const log = logTo(named);
  // Signals are taken before the start, so that one during it still stops cleanly.
  let signalled: (name: string) => void = () => {};
  const stopRequested = new Promise<string>((resolve) => { signalled = resolve; });
  const handlers = END_SIGNALS.map((name) => [name, () => signalled(name)] as const);
  for (const [name, handler] of handlers) process.on(name, handler);
  let service: NodeService;
  try {
    service = await NodeService.start(config, log, (nodeId) => { named.nodeId = nodeId; });
  } catch (error) {
    for (const [name, handler] of handlers) process.off(name, handler);
    if (error instanceof ServeArgumentError) {
      process.stderr.write(`tzero serve: ${error.message}\n`);
      return EXIT_USAGE;
    }
    log(`error: could not start: ${(error as { code?: string }).code ?? ""} ${(error as Error).message}`);
    return EXIT_FAILED;
  }
  const name = await stopRequested;
  log(`${name}: stopping`);
  let exitCode = EXIT_OK;
  try {
    await service.stop();
  } catch (error) {
    log(`error: stopping: ${(error as Error).message}`);
    exitCode = EXIT_FAILED;
  }
  for (const [signal, handler] of handlers) process.off(signal, handler);
  log("stopped");
  return exitCode;
}
