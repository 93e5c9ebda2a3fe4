// The Copy Services Server's routing: which node's Site answers a call, and
// the recording of every mutating call's outcome before it is answered.
//
// A call that names an image goes to the node hosting it; a node that is not
// connected makes its images answer CONNECTION_LOST naming the node (its data
// plane goes on: the server is never in the data path). A mutating call runs
// under its image's lock, so that the catalog the server holds is the one
// the call started from; afterwards the server reads back what the call could
// have changed and commits the difference, with the request id and the
// outcome when the caller gave one, before it answers. A retried request id
// (a shell failing over to the backup) gets the recorded answer and is not run again.
import { SiteError, type SiteErrorData } from "../site/errors.js";
import type { Site } from "../site/site.js";
import type { PairInfo, PathInfo } from "../site/types.js";
import { catalogChange, readCatalog, TOUCHES_ALL, type Touches } from "./catalog.js";
import { commandEvent } from "./console-events.js";
import { KeyedLock } from "./keyed-lock.js";
import {
  emptyCatalog, findImage, findNode, findRequest, type EventSource, type ImageEntry, type Outcome, type SiteRecord, type SiteState,
} from "./site-state.js";

export interface CallerContext {
  user?: string; // who asked (journaled with the outcome)
  requestId?: string; // the same id on a retry gets the same answer
  source?: EventSource; // where the call came from, for the event log (default: shell with a user, server without)
}

export const CONNECTION_LOST = "CONNECTION_LOST";
// Failures that say the answer never came, not what it was: a request that
// ends in one is not recorded, so that its retry runs (and finds out).
const NO_ANSWER_CODES = new Set([CONNECTION_LOST, "NOT_PRIMARY", "CLOSED", "PEER_CLOSED", "HEARTBEAT_TIMEOUT", "REQUEST_TIMEOUT", "NOT_OPEN"]);
export const IMAGES_LOCK = "site:images"; // held while the set of images changes

export interface RouterOptions {
  state: () => SiteState; // the acknowledged state
  commit: (records: SiteRecord[]) => Promise<void>; // journaled (and replicated) when it resolves
  now: () => number;
  assertServing: () => void; // throws when this server no longer answers for the site (retired, closed)
  // After a PPRC command: the pairs and paths its image lists now (null: they could not be read), the command's doing.
  pprcAfterCommand?: (imageId: string, listed: PprcListing | null) => void;
}

export interface PprcListing {
  pairs: PairInfo[];
  paths: PathInfo[];
}

// The commands that change PPRC pairs and paths: their event says the pairs' states they left.
const PPRC_METHODS = new Set(["makePairs", "pausepprc", "resumepprc", "rmpprc", "failoverpprc", "failbackpprc", "makePath", "removePaths"]);

export interface Mutation {
  method: string; // the Site method, for the request record
  imageId: string;
  touches: Touches;
}

// A mutating call's effect beyond one image's catalog: an image added, a load.
export type Effect<T> = (result: T) => Promise<SiteRecord[]>;

export class Router {
  private readonly sites = new Map<string, Site>(); // the connected nodes' Sites by node id
  private readonly locks = new KeyedLock();
  private readonly inFlight = new Map<string, { method: string; done: Promise<unknown> }>();

  constructor(private readonly options: RouterOptions) {}

  get state(): SiteState {
    return this.options.state();
  }

  connect(nodeId: string, site: Site): void {
    this.sites.set(nodeId, site);
  }

  disconnect(nodeId: string): Site | undefined {
    const site = this.sites.get(nodeId);
    this.sites.delete(nodeId);
    return site;
  }

  disconnectAll(): void {
    this.sites.clear();
  }

  connectedSite(nodeId: string): Site | undefined {
    return this.sites.get(nodeId);
  }

  // The connected nodes, in the order they first joined.
  connectedNodes(): Array<{ nodeId: string; site: Site }> {
    this.options.assertServing();
    return this.state.nodes.filter((node) => this.sites.has(node.id)).map((node) => ({ nodeId: node.id, site: this.sites.get(node.id)! }));
  }

  image(imageId: string): ImageEntry {
    this.options.assertServing();
    const entry = findImage(this.state, imageId);
    if (entry === undefined) throw new SiteError({ code: "IMAGE_NOT_FOUND", message: `storage image ${imageId} does not exist (lssi lists them; mksi adds one)` });
    return entry;
  }

  nodeSite(nodeId: string, what: string): Site {
    this.options.assertServing();
    const site = this.sites.get(nodeId);
    if (site !== undefined) return site;
    const node = findNode(this.state, nodeId);
    const where = node === undefined ? "" : ` at ${node.url}`;
    throw new SiteError({ code: CONNECTION_LOST, message: `${what} is on node ${nodeId}${where}, which is not connected to the Copy Services Server` });
  }

  // Why `imageId`'s node cannot answer for it now (it is not connected), or null when it can.
  unreachable(imageId: string): string | null {
    const { nodeId } = this.image(imageId);
    if (this.sites.has(nodeId)) return null;
    const url = findNode(this.state, nodeId)?.url;
    return `node ${nodeId}${url === undefined ? "" : ` at ${url}`} is not connected: this is the Copy Services Server's last known state`;
  }

  siteOf(imageId: string): Site {
    return this.nodeSite(this.image(imageId).nodeId, `storage image ${imageId}`);
  }

  // Runs `body` holding `keys` (IMAGES_LOCK, image ids, "users"), after every body holding any of them.
  exclusive<T>(keys: readonly string[], body: () => Promise<T>): Promise<T> {
    return this.locks.run(keys, body);
  }

  // A call that changes nothing the server records.
  read<T>(imageId: string, body: (site: Site) => Promise<T>): Promise<T> {
    try {
      return body(this.siteOf(imageId));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // A call that may change `mutation.imageId`'s catalog.
  mutate<T>(caller: CallerContext, mutation: Mutation, body: (site: Site) => Promise<T>): Promise<T> {
    return this.once(caller, mutation.method, () => this.locks.run([mutation.imageId], async () => {
      const entry = this.image(mutation.imageId);
      const site = this.nodeSite(entry.nodeId, `storage image ${mutation.imageId}`);
      const settled = await settle(() => body(site));
      // The pairs' listing before the read-back: a pair that goes on by itself
      // (Copy Pending to Full Duplex) between the two is then in the catalog at
      // least as far as the command's event says, and the pair watcher records
      // the rest as a change of its own.
      const listed = await this.pprcAfter(site, mutation, settled.outcome.ok);
      const change = await this.readBack(site, entry, mutation.touches, settled.outcome.ok);
      return this.record(caller, mutation.method, mutation.imageId, settled, change === null ? [] : [change], listed?.pairs ?? null);
    }));
  }

  private async pprcAfter(site: Site, mutation: Mutation, succeeded: boolean): Promise<PprcListing | null> {
    if (!succeeded || !PPRC_METHODS.has(mutation.method)) return null;
    const listed = await Promise.all([site.listPairs(mutation.imageId), site.listPaths(mutation.imageId)]).then(([pairs, paths]) => ({ pairs, paths }), () => null);
    this.options.pprcAfterCommand?.(mutation.imageId, listed);
    return listed;
  }


  // A call that changes the set of images (addImage, load): `effect` gives its records.
  mutateSite<T>(caller: CallerContext, method: string, lockKeys: string[], body: () => Promise<T>, effect: Effect<T>): Promise<T> {
    return this.once(caller, method, () => this.locks.run([IMAGES_LOCK, ...lockKeys], async () => {
      const settled = await settle(body);
      const records = settled.outcome.ok ? await effect(settled.outcome.result as T) : [];
      return this.record(caller, method, null, settled, records);
    }));
  }

  // The records bringing the catalog of each of `imageIds` (on `nodeId`) from empty to what the node lists.
  async freshCatalogs(site: Site, imageIds: readonly string[]): Promise<SiteRecord[]> {
    const records: SiteRecord[] = [];
    for (const imageId of imageIds) {
      const change = catalogChange(imageId, emptyCatalog(), await readCatalog(site, imageId, TOUCHES_ALL, emptyCatalog()));
      if (change !== null) records.push(change);
    }
    return records;
  }

  // The records bringing the held catalogs of `imageIds` up to date with what their (re)joining node lists.
  async resyncCatalogs(site: Site, imageIds: readonly string[]): Promise<SiteRecord[]> {
    const records: SiteRecord[] = [];
    for (const entry of this.state.images.filter((image) => imageIds.includes(image.info.id))) {
      const change = catalogChange(entry.info.id, entry.catalog, await readCatalog(site, entry.info.id, TOUCHES_ALL, entry.catalog));
      if (change !== null) records.push(change);
    }
    return records;
  }

  // Reads back what a call could have changed. A successful call whose effect
  // cannot be read back is answered as a connection failure: it may have been
  // carried out, and the node's next registration brings the catalog up to date.
  private async readBack(site: Site, entry: ImageEntry, touches: Touches, succeeded: boolean) {
    try {
      return catalogChange(entry.info.id, entry.catalog, await readCatalog(site, entry.info.id, touches, entry.catalog));
    } catch (error) {
      if (!succeeded) return null; // the call's own error is the one to report
      throw new SiteError({
        code: CONNECTION_LOST,
        message: `storage image ${entry.info.id}: the command may have been carried out on node ${entry.nodeId}, but the server could not read back its effect: ${(error as Error).message}`,
      });
    }
  }

  // Commits the call's records, its request's outcome and, when it succeeded, its event.
  private async record<T>(caller: CallerContext, method: string, imageId: string | null, settled: Settled<T>, records: SiteRecord[], pairs: PairInfo[] | null = null): Promise<T> {
    const answered = settled.outcome.ok || !NO_ANSWER_CODES.has(settled.outcome.error.code);
    const event = settled.outcome.ok ? commandEvent(method, imageId ?? imageOf(settled.outcome.result), settled.outcome.result, caller, this.options.now(), pairs) : null;
    if (event !== null) records.push(event);
    if (caller.requestId !== undefined && answered) {
      records.push({ type: "request.done", requestId: caller.requestId, method, user: caller.user ?? null, atMs: this.options.now(), outcome: settled.outcome });
    }
    if (records.length > 0) await this.options.commit(records);
    if (settled.outcome.ok) return settled.outcome.result as T;
    throw settled.error;
  }

  // Runs `body` once per request id: a recorded one answers as it did, one in flight is waited for.
  private async once<T>(caller: CallerContext, method: string, body: () => Promise<T>): Promise<T> {
    const requestId = caller.requestId;
    if (requestId === undefined) return body();
    const recorded = findRequest(this.state, requestId);
    if (recorded !== undefined) {
      checkSameMethod(requestId, recorded.method, method);
      if (recorded.outcome.ok) return recorded.outcome.result as T;
      throw new SiteError(recorded.outcome.error);
    }
    const running = this.inFlight.get(requestId);
    if (running !== undefined) {
      checkSameMethod(requestId, running.method, method);
      return running.done as Promise<T>;
    }
    const done = body().finally(() => this.inFlight.delete(requestId));
    this.inFlight.set(requestId, { method, done });
    return done;
  }
}

// The image a site-wide call's result names (addImage's), if any.
function imageOf(result: unknown): string | null {
  const id = (result as { id?: unknown } | null)?.id;
  return typeof id === "string" ? id : null;
}

function checkSameMethod(requestId: string, recorded: string, method: string): void {
  if (recorded !== method) throw new SiteError({ code: "BAD_ARGUMENT", message: `request id ${requestId} was used for ${recorded}, not ${method}` });
}

interface Settled<T> {
  outcome: Outcome;
  error?: unknown; // the error itself, to rethrow as it was
  result?: T;
}

async function settle<T>(body: () => Promise<T>): Promise<Settled<T>> {
  try {
    const result = await body();
    return { outcome: { ok: true, result }, result };
  } catch (error) {
    return { outcome: { ok: false, error: errorData(error) }, error };
  }
}

function errorData(error: unknown): SiteErrorData {
  if (error instanceof SiteError) return error.toData();
  return { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) };
}
