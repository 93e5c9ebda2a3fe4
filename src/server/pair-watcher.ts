// What PPRC pairs and paths do by themselves, for the catalog and the event log: a pair that
// finishes its Copy Pending and goes Full Duplex, a path whose links fail, a
// pair that a failed link or secondary suspends. Nodes report only the
// changes their commands make, so the server looks at its images' pairs and
// paths every interval, under each image's lock (so a look never crosses a
// command), and compares each primary pair's and each path's state with what
// it last saw: the listing after each PPRC command (router.ts) counts as
// seen, so that a command's own effect is its event, not this one's. What is
// seen for the first time (the server just started) is not a change for the
// event log; the catalog's pairs and paths are brought to what each look lists.
import type { Site } from "../site/site.js";
import type { PairInfo, PathInfo } from "../site/types.js";
import { pairEvent, pairState, pathEvent, pathState, type PairChange, type PathChange } from "./console-events.js";
import type { PprcListing, Router } from "./router.js";
import { findImage, type SiteRecord } from "./site-state.js";
import { catalogChange, catalogPair, catalogPath } from "./catalog.js";

export interface PairWatcherOptions {
  router: Router;
  intervalMs: number;
  now: () => number;
  commit: (records: SiteRecord[]) => Promise<void>;
  failed: (error: unknown) => void; // a commit that did not go through
}

interface Seen {
  pairs: Map<string, string>; // primary pair id → state
  paths: Map<string, string>; // "10:20" → state
}

export class PairWatcher {
  private readonly seen = new Map<string, Seen>(); // by image
  private readonly timer: NodeJS.Timeout;
  private polling = false;

  constructor(private readonly options: PairWatcherOptions) {
    this.timer = setInterval(() => void this.poll(), options.intervalMs);
    this.timer.unref();
  }

  // What `imageId` lists after a command: that command's doing.
  noteCommand(imageId: string, listed: PprcListing | null): void {
    if (listed === null) this.seen.delete(imageId);
    else this.seen.set(imageId, seenOf(listed));
  }

  // One look at every connected image; a look still under way when the next is due makes it wait.
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const records: SiteRecord[] = [];
      for (const { nodeId, site } of this.connected()) {
        for (const image of this.options.router.state.images.filter((each) => each.nodeId === nodeId)) {
          records.push(...await this.look(site, image.info.id));
        }
      }
      if (records.length > 0) await this.options.commit(records);
    } catch (error) {
      this.options.failed(error);
    } finally {
      this.polling = false;
    }
  }

  // The comparison runs under the image's lock too: a command's listing never lands between.
  private look(site: Site, imageId: string): Promise<SiteRecord[]> {
    return this.options.router.exclusive([imageId], async () => {
      const [pairs, paths] = await Promise.all([site.listPairs(imageId), site.listPaths(imageId)]);
      return this.changes(imageId, { pairs, paths });
    }).catch(() => []); // a node that does not answer: its loss is an event of its own
  }

  private connected(): Array<{ nodeId: string; site: Site }> {
    try {
      return this.options.router.connectedNodes();
    } catch {
      return []; // the server no longer serves
    }
  }

  private changes(imageId: string, listed: PprcListing): SiteRecord[] {
    const before = this.seen.get(imageId);
    const now = seenOf(listed);
    this.seen.set(imageId, now);
    const catalog = this.catalogChange(imageId, listed);
    if (before === undefined) return catalog;
    const pairs: PairChange[] = listed.pairs.filter((pair) => changed(before.pairs, now.pairs, pair.id)).map((pair) => ({ pair, was: before.pairs.get(pair.id)! }));
    const paths: PathChange[] = listed.paths.filter((path) => changed(before.paths, now.paths, pathId(path))).map((path) => ({ path, was: before.paths.get(pathId(path))! }));
    const records: SiteRecord[] = [...catalog];
    if (paths.length > 0) records.push(pathEvent(imageId, paths, this.options.now()));
    if (pairs.length > 0) records.push(pairEvent(imageId, pairs, this.options.now()));
    return records;
  }

  // The catalog's pairs and paths brought to what the image lists now: what a
  // pair did by itself, and what a command issued to the other end of a pair did here.
  private catalogChange(imageId: string, listed: PprcListing): SiteRecord[] {
    const held = findImage(this.options.router.state, imageId)?.catalog;
    if (held === undefined) return [];
    const change = catalogChange(imageId, held, { ...held, pairs: listed.pairs.map(catalogPair), paths: listed.paths.map(catalogPath) });
    return change === null ? [] : [change];
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function changed(before: Map<string, string>, now: Map<string, string>, key: string): boolean {
  return before.has(key) && now.has(key) && before.get(key) !== now.get(key);
}

function pathId(path: PathInfo): string {
  return `${path.sourceLss}:${path.targetLss}`;
}

function seenOf(listed: PprcListing): Seen {
  return {
    pairs: new Map(listed.pairs.filter((pair: PairInfo) => pair.role === "primary").map((pair) => [pair.id, pairState(pair)])),
    paths: new Map(listed.paths.map((path) => [pathId(path), pathState(path)])),
  };
}
