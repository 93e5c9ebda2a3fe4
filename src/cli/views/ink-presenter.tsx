// The REPL's ProgressPresenter: draws the watch view with ink on a terminal.
import { render } from "ink";
import type { ProgressPresenter, WatchRequest } from "../../lang/presenter.js";
import { WatchApp } from "./components/watch-app.js";
import { CopyTracker } from "./copy-tracker.js";
import { takeSample, type WatchSample } from "./hooks/use-watch-sample.js";

export interface InkPresenterOptions {
  stdout: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  // Ctrl-C in the view: the caller cancels the statement that opened it.
  onInterrupt: () => void;
  // Around the view: the REPL hands the terminal's keys to ink and takes them back.
  takeTerminal?: () => void;
  releaseTerminal?: () => void;
}

type TtyInput = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

export class InkPresenter implements ProgressPresenter {
  constructor(private readonly options: InkPresenterOptions) {}

  async watch(request: WatchRequest): Promise<void> {
    const stdin = this.options.stdin as TtyInput;
    const readsKeys = stdin.isTTY === true && typeof stdin.setRawMode === "function";
    // The first sample comes before the first frame: a view ended at once still shows the copies.
    const tracker = new CopyTracker(request.site, request.imageId, request.pairs, request.mirrors);
    const first: WatchSample = await takeSample(tracker, request).catch(() => ({ copies: [], workloads: [], hosts: [], sampled: false }));
    this.options.takeTerminal?.();
    try {
      // ink reads only write, columns and resize events of stdout, and of stdin
      // the TTY members checked above, so any stream with those serves.
      const instance = render(
        <WatchApp request={request} tracker={tracker} first={first} readsKeys={readsKeys} onInterrupt={this.options.onInterrupt} />,
        {
          stdout: this.options.stdout as NodeJS.WriteStream,
          stdin: this.options.stdin as NodeJS.ReadStream,
          exitOnCtrlC: false,
          patchConsole: false,
        },
      );
      await instance.waitUntilExit();
    } finally {
      tracker.dispose();
      this.options.releaseTerminal?.();
    }
  }
}
