// A node's --state saved while it runs, not only at its stop, so that a
// `kill -9` brings it back to its last save (README "A node's state file").
//
//   - After a configuration change (a call that changes the node's images:
//     mkfbvol, mkflash, mkpprc, pausepprc, a load, …; or a primary's node
//     making, clearing or failing back a secondary here over the link), once no other change
//     has come for SETTLE_MS, and at most SETTLE_MS_MAX after the first one
//     not yet saved, so that a script of many commands is saved once.
//   - Every `intervalMs` while volumes change (host writes, mirrored writes
//     received, background copies): the images' change bitmaps say whether
//     any track changed since the last save took its bit.
//   - Never two saves at once, never one beside a configuration change: the
//     save requires the volumes not to be created, removed or changed while it
//     runs (src/store/save.ts). A call that changes the configuration
//     abandons a save in flight (its temporary file removed, the file as it
//     was), waits for it to unwind, and runs; the change then asks for a save.
//   - Skipped when nothing changed. A save that fails stays owed, and is tried
//     again at the next interval; each failure is logged.
//
// Host I/O is held only as long as any save holds it (save.ts's pass 4, within
// its frozen budget): the saver calls the same save as the stop does.
import type { EmbeddedSite } from "../site/embedded.js";
import { isSiteError } from "../site/errors.js";
import type { SiteMethod } from "../site/protocol-methods.js";
import type { Site } from "../site/site.js";
import { hasUnsavedChanges } from "../engine/snapshot.js";
import type { LinkControl } from "../pprc/link-receiver.js";

export const SAVE_INTERVAL_S_DEFAULT = 30;
const SETTLE_MS = 500;
const SETTLE_MS_MAX = 5000;

// What a Site call does to what the state file holds: "reads" leaves the
// configuration alone (data-plane calls included: the change bitmaps see
// their writes), "changes" changes it. Every method is named, so a method
// added to Site does not build until it is placed here.
const METHOD_EFFECTS: Record<SiteMethod, "reads" | "changes"> = {
  listImages: "reads", addImage: "changes", listLss: "reads", listPorts: "reads",
  listVolumes: "reads", volume: "reads", createVolumes: "changes", checkVolumesIdle: "reads", removeVolumes: "changes",
  reinitVolumes: "changes", changeVolumes: "changes",
  listPools: "reads", pool: "reads", createPool: "changes", checkPoolsRemovable: "reads", removePools: "changes",
  listFlash: "reads", establishFlash: "changes", checkFlash: "reads", withdrawFlash: "changes", incrementFlash: "changes",
  settleRevertible: "changes", unfreezeFlash: "changes", pendingFlash: "reads", waitForCopy: "reads",
  listAvailablePorts: "reads", makePath: "changes", listPaths: "reads", checkRemovePaths: "reads", removePaths: "changes",
  makePairs: "changes", listPairs: "reads", checkPairs: "reads", changePairs: "changes", waitForPairs: "reads", setLink: "changes",
  fill: "reads", write: "reads", read: "reads", checksum: "reads",
  startWorkload: "reads", stopWorkload: "reads", waitWorkload: "reads", listWorkloads: "reads", stopWorkloads: "reads",
  listVolumeGroups: "reads", createVolumeGroup: "changes", changeVolumeGroup: "changes", removeVolumeGroups: "changes",
  listHostConnections: "reads", createHostConnection: "changes", removeHostConnections: "changes",
  // A save to another file takes the change bits this saver goes by: the state file then owes a save.
  save: "changes", load: "changes",
  listUsers: "reads", user: "reads", createUser: "reads", changeUser: "reads", removeUser: "reads", // an embedded site has no users
};

// The link control requests of the primaries' nodes that change this node's pairs (its secondaries).
const CONTROL_EFFECTS: Record<keyof LinkControl, "reads" | "changes"> = {
  "link.volumes": "reads", "link.make-secondary": "changes", "link.clear-secondary": "changes", "link.pair-status": "reads", "link.failback-target": "changes",
};

export interface NodeSaverOptions {
  site: EmbeddedSite;
  file: string;
  intervalMs: number; // > 0
  log: (line: string) => void;
}

interface RunningSave {
  done: Promise<void>;
  abort: AbortController;
}

export class NodeSaver {
  private owed = false; // a configuration change not yet in the file
  private owedSinceMs: number | null = null;
  private running: RunningSave | null = null;
  private changing = 0; // configuration-changing calls in flight
  private settleTimer: NodeJS.Timeout | null = null;
  private readonly intervalTimer: NodeJS.Timeout;
  private stopped = false;
  private readonly unlisten: () => void;

  constructor(private readonly options: NodeSaverOptions) {
    this.intervalTimer = setInterval(() => this.saveIfChanged(), options.intervalMs);
    this.intervalTimer.unref();
    // What changes by itself: a background copy that ends, a pair a command elsewhere changed.
    this.unlisten = options.site.events((event) => {
      if (event.type !== "flash-progress") this.changed();
    });
  }

  // The node's site as the server and its shells reach it: calls that change the configuration pass through the saver.
  served(): Site {
    const site = this.options.site;
    return new Proxy(site, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        const effect = METHOD_EFFECTS[property as SiteMethod];
        if (effect !== "changes") return value.bind(target);
        return (...args: unknown[]) => this.change(() => value.apply(target, args) as Promise<unknown>);
      },
    });
  }

  // The node's answers to other nodes' link control requests: those that change its pairs pass through the saver too.
  control(answers: LinkControl): LinkControl {
    const passed = { ...answers };
    for (const type of Object.keys(CONTROL_EFFECTS) as (keyof LinkControl)[]) {
      if (CONTROL_EFFECTS[type] !== "changes") continue;
      const answer = answers[type] as (body: unknown, peerNodeId: string) => Promise<unknown>;
      (passed as Record<string, unknown>)[type] = (body: unknown, peerNodeId: string) => this.change(() => answer.call(answers, body, peerNodeId));
    }
    return passed;
  }

  // Runs a configuration change with no save beside it, then owes one.
  private async change<T>(call: () => Promise<T>): Promise<T> {
    this.changing++;
    try {
      await this.abandonRunning();
      return await call();
    } finally {
      this.changing--;
      this.changed();
    }
  }

  // A change the file does not hold yet: saved once changes settle.
  changed(): void {
    if (this.stopped) return;
    this.owed = true;
    this.owedSinceMs ??= Date.now();
    if (this.settleTimer !== null) clearTimeout(this.settleTimer);
    const waitMs = Math.min(SETTLE_MS, Math.max(0, this.owedSinceMs + SETTLE_MS_MAX - Date.now()));
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      this.start("the configuration changed");
    }, waitMs);
    this.settleTimer.unref();
  }

  private saveIfChanged(): void {
    try {
      if (this.owed) this.start("a change was not saved yet");
      else if (this.options.site.engineImages().some(hasUnsavedChanges)) this.start("volumes changed");
    } catch (error) {
      // An image a load replaced may close under the look: the load owes a save of its own.
      this.options.log(`error: looking for changes to save in ${this.options.file}: ${(error as Error).message}`);
    }
  }

  // One save, unless one runs or a configuration change does (it asks again when it ends).
  private start(reason: string): void {
    if (this.stopped || this.running !== null || this.changing > 0) return;
    const abort = new AbortController();
    this.owed = false;
    this.owedSinceMs = null;
    const done = this.options.site.save(this.options.file, { signal: abort.signal }).then(
      (report) => this.options.log(`saved ${report.file} (${reason}): ${report.volumes} volumes, ${report.relationships} relationships, held host I/O ${report.frozenMs.toFixed(1)} ms`),
      (error: unknown) => this.failed(error),
    ).finally(() => { this.running = null; });
    this.running = { done, abort };
  }

  private failed(error: unknown): void {
    this.owed = true; // the file still lacks what this save was for
    this.owedSinceMs ??= Date.now();
    if (isSiteError(error) && error.code === "ABANDONED") return; // a configuration change came: it asks again
    this.options.log(`error: saving ${this.options.file}: ${(error as Error).message}; trying again within ${Math.round(this.options.intervalMs / 1000)} s`);
  }

  private async abandonRunning(): Promise<void> {
    const running = this.running;
    if (running === null) return;
    running.abort.abort();
    await running.done;
  }

  // No more saves from here on; one in flight is abandoned (the stop saves last, itself).
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.intervalTimer);
    if (this.settleTimer !== null) clearTimeout(this.settleTimer);
    this.unlisten();
    await this.abandonRunning();
  }
}
