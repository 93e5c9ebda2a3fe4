// The Copy Services Server (design.md §7): the site's Site as the server
// sees it. It holds the Site of every node of the site (an EmbeddedSite for
// its own node, a ConnectedSite over the wire for another), routes each call
// to the node hosting its image, merges the site-wide calls over the nodes,
// names images uniquely across the site, and records the outcome of every
// mutating call in its store (store.ts) before it answers (router.ts).
//
//   const server = new CopyServicesServer({ store, nodeId })
//   await server.registerNode(nodeId, url, site)    a node (re)joins with its images
//   await server.nodeLost(nodeId, reason)           its images answer CONNECTION_LOST
//   server.forCaller({ user, requestId })           a Site whose calls carry who asked and the request id
//   server.login / authenticate / logout            journaled sessions (tokens) over the journaled users
//   server.listUsersAs / createUserAs / changeUserAs / removeUserAs(actor, ...)   users (also on the Site: forCaller({ user }).listUsers()...)
//   server.serverEvents(listener)                   node joined / lost, takeover, backup state
//
// The server never holds the nodes' data: host I/O, background copies and
// workloads go on in the nodes while it is away. Closing the server closes
// its store and lets go of the nodes' Sites; whoever registered a Site closes it.
import { parseImageId, imageId as formatImageId } from "../engine/ids.js";
import { SiteError } from "../site/errors.js";
import type { CallOptions, Site } from "../site/site.js";
import type { ImageInfo, LoadReport, ModelName, SaveReport, SiteEvent, SiteListener } from "../site/types.js";
import { Router, IMAGES_LOCK, type CallerContext } from "./router.js";
import { PairWatcher } from "./pair-watcher.js";
import { RoutedSite, type SiteCore } from "./routed-site.js";
import { ServerError } from "./server-errors.js";
import { nodeEvent, serverEvent, type EventCaller, type EventFacts } from "./console-events.js";
import { relinkPaths } from "./path-relink.js";
import {
  eventLog, findImage, findNode, findTask, sessionsOf, tasksOf,
  type EventSource, type LoggedEvent, type SiteRecord, type SiteState, type Task, type TaskKindName, type TaskRun,
} from "./site-state.js";
import type { Committed, ServerStore } from "./store.js";
import { Sessions, type SessionOptions } from "./sessions.js";
import { UserError } from "./user-errors.js";
import {
  applyUserRecord, authenticate, authorize, chuser, findUser, firstStart, lsuser, mkuser, rmuser,
  type ChuserArguments, type MkuserArguments, type UserAccount, type UserRecord, type UserRow, type UsersConfig, type UsersState,
} from "./users.js";
import type { UserInfo } from "../site/types.js";

export type ServerEvent =
  | { type: "node-joined"; nodeId: string; url: string; images: string[] }
  | { type: "node-lost"; nodeId: string; reason: string }
  | { type: "takeover"; nodeId: string; term: number } // this server became primary
  | { type: "backup-joined"; nodeId: string; sequence: number }
  | { type: "backup-lost"; nodeId: string; reason: string } // the primary serves alone
  | { type: "demoted"; nodeId: string; term: number } // a server with a higher term leads: this one is its backup now
  | { type: "event-log-failed"; reason: string } // what the nodes reported could not be logged
  | { type: "session-journal-failed"; reason: string }; // a session's use or end could not be journaled

export type ServerListener = (event: ServerEvent) => void;
export type LoggedEventListener = (event: LoggedEvent) => void;

export interface CopyServicesServerOptions {
  store: ServerStore;
  nodeId: string; // the node this server runs in: addImage puts images there unless told otherwise
  now?: () => number; // milliseconds; default Date.now
  users?: UsersConfig; // scrypt parameters (tests use cheap ones)
  sessions?: SessionOptions;
  // Runs after every local commit and before the command is answered:
  // replication.ts sends the entry to the backup and waits for its ack.
  afterCommit?: (committed: Committed) => Promise<void>;
  // How often the pairs are looked at for the changes they make by themselves
  // (pair-watcher.ts), for the event log; default: not looked at.
  pairWatchMs?: number;
}

export interface LoginResult {
  token: string;
  expiresAt: number;
  user: string;
  passwordExpired: boolean; // only chuser -pw of one's own password until it is changed
  idleMs: number; // how long the token may go unused (the REST login's max_idle_interval)
}

const USERS_LOCK = "site:users";
const TASKS_LOCK = "site:tasks";
const NODE_TEXT_LENGTH_MAX = 256;

// A WWNN per image by its place in the site, as an embedded site numbers its own.
export function siteWwnn(index: number): string {
  return `5005076303FFC${(index + 1).toString(16).toUpperCase().padStart(3, "0")}`;
}

export class CopyServicesServer extends RoutedSite {
  protected readonly caller: CallerContext = {};
  readonly nodeId: string;
  private readonly store: ServerStore;
  private readonly router: Router;
  private readonly sessions: Sessions;
  private readonly usersConfig: UsersConfig;
  private readonly now: () => number;
  private readonly afterCommit: ((committed: Committed) => Promise<void>) | undefined;
  private readonly nodeEvents = new Map<string, () => void>(); // unsubscribes, by node id
  private readonly siteListeners = new Set<SiteListener>();
  private readonly eventListeners = new Set<LoggedEventListener>();
  private publishedSeq: number; // the last logged event given to eventListeners
  private nodeRecords: SiteRecord[] = []; // events the nodes reported, to be committed together
  private nodeFlush: Promise<void> | null = null;
  private readonly pairWatcher: PairWatcher | null;
  private readonly serverListeners = new Set<ServerListener>();
  private readonly siteCore: SiteCore;
  private closed = false;
  private retired: string | null = null; // why this server no longer takes changes

  constructor(options: CopyServicesServerOptions) {
    super();
    this.store = options.store;
    this.nodeId = nodeText("nodeId", options.nodeId);
    this.now = options.now ?? Date.now;
    this.usersConfig = options.users ?? {};
    this.sessions = new Sessions({
      now: this.now, ...options.sessions,
      journal: {
        entries: () => sessionsOf(this.store.state),
        commit: (records) => this.commit(records),
        failed: (error) => this.emitServer({ type: "session-journal-failed", reason: (error as Error).message }),
      },
    });
    this.afterCommit = options.afterCommit;
    this.publishedSeq = this.store.state.eventSeq ?? 0;
    this.router = new Router({
      state: () => this.store.state, commit: (records) => this.commit(records), now: this.now, assertServing: () => this.assertServing(),
      pprcAfterCommand: (imageId, listed) => this.pairWatcher?.noteCommand(imageId, listed),
    });
    this.pairWatcher = options.pairWatchMs === undefined ? null : new PairWatcher({
      router: this.router, intervalMs: options.pairWatchMs, now: this.now, commit: (records) => this.commit(records),
      failed: (error) => this.emitServer({ type: "event-log-failed", reason: (error as Error).message }),
    });
    this.siteCore = {
      router: this.router,
      listImages: () => {
        this.assertServing();
        return this.imageInfos();
      },
      addImage: (caller, request, nodeId) => this.addImageFor(caller, request, nodeId ?? this.nodeId),
      save: (file, callOptions) => this.saveSite(file, callOptions),
      load: (caller, file, callOptions) => this.loadFor(caller, file, callOptions),
      events: (listener) => this.subscribe(listener),
      users: {
        list: (actor) => {
          lsuser(this.state.users, actor); // the authority to list
          return this.state.users.users.map((account) => userInfo(account));
        },
        show: (actor, name) => {
          if (name !== actor) authorize(this.state.users, actor, "security");
          return userInfo(requireAccount(this.state.users, name));
        },
        create: async (actor, request, caller) => {
          await this.createUserAs(actor, request, caller?.source);
          return userInfo(requireAccount(this.state.users, request.name));
        },
        change: async (actor, request, caller) => {
          await this.changeUserAs(actor, request, caller?.source);
          return userInfo(requireAccount(this.state.users, request.name));
        },
        remove: (actor, name, caller) => this.removeUserAs(actor, name, caller?.source),
      },
    };
  }

  protected core(): SiteCore {
    return this.siteCore;
  }

  get state(): SiteState {
    return this.store.state;
  }

  get term(): number {
    return this.store.term;
  }

  // A Site whose calls carry `caller`: its user is journaled with each
  // outcome, and its request id makes a retried call answer as the first did.
  forCaller(caller: CallerContext): Site {
    if (caller.requestId !== undefined && (typeof caller.requestId !== "string" || caller.requestId.length === 0 || caller.requestId.length > 128)) {
      throw new SiteError({ code: "BAD_ARGUMENT", message: "a request id is a string of 1 to 128 characters" });
    }
    return new CallerSite(this.siteCore, { ...caller });
  }

  // ---- nodes ----

  // A node joins (or rejoins after a reconnect or a takeover) with the images
  // its Site lists; their catalogs are brought up to date from it.
  async registerNode(nodeId: string, url: string, site: Site): Promise<void> {
    nodeText("nodeId", nodeId);
    if (typeof url !== "string" || url.length > NODE_TEXT_LENGTH_MAX) throw new SiteError({ code: "BAD_ARGUMENT", message: `a node's url is a string of at most ${NODE_TEXT_LENGTH_MAX} characters` });
    // Its images' locks too: a command still running on one must not read back the catalog meanwhile.
    const hosted = this.state.images.filter((image) => image.nodeId === nodeId).map((image) => image.info.id);
    await this.router.exclusive([IMAGES_LOCK, ...hosted], async () => {
      const images = (await site.listImages()).map((image) => ({ id: image.id, model: image.model, wwnn: image.wwnn }));
      for (const image of images) {
        const other = findImage(this.state, image.id);
        if (other !== undefined && other.nodeId !== nodeId) {
          throw new SiteError({ code: "IMAGE_EXISTS", message: `node ${nodeId} hosts storage image ${image.id}, which node ${other.nodeId} hosts already` });
        }
      }
      const known = images.filter((image) => findImage(this.state, image.id) !== undefined).map((image) => image.id);
      const fresh = images.filter((image) => !known.includes(image.id)).map((image) => image.id);
      const records: SiteRecord[] = [{ type: "node.joined", nodeId, url, images }];
      records.push(...await this.router.resyncCatalogs(site, known));
      records.push(...await this.router.freshCatalogs(site, fresh));
      const hostedText = images.length === 0 ? "no storage image" : images.map((image) => image.id).join(", ");
      records.push(this.serverRecord({ kind: "node.joined", image: null, ids: [nodeId], text: `node ${nodeId} joined from ${url} with ${hostedText}` }));
      await this.commit(records);
      this.attach(nodeId, site);
      this.emitServer({ type: "node-joined", nodeId, url, images: images.map((image) => image.id) });
    });
    void this.relink(nodeId);
  }

  // After a registration, and without holding it up: the paths between the
  // node's images and other nodes' link where their targets' nodes take links now (path-relink.ts).
  private async relink(nodeId: string): Promise<void> {
    try {
      const records = await relinkPaths(this.router, nodeId, this.now);
      if (records.length > 0 && this.retired === null && !this.closed) await this.commit(records);
    } catch (error) {
      this.emitServer({ type: "event-log-failed", reason: `the paths of node ${nodeId}'s images were not re-linked: ${(error as Error).message}` });
    }
  }

  private attach(nodeId: string, site: Site): void {
    this.nodeEvents.get(nodeId)?.();
    this.router.connect(nodeId, site);
    this.nodeEvents.set(nodeId, site.events((event) => {
      this.emitSite(event);
      this.logNodeEvent(event);
    }));
  }

  // The node's connection is gone: its images answer CONNECTION_LOST until it registers again.
  async nodeLost(nodeId: string, reason = "its connection closed"): Promise<void> {
    this.nodeEvents.get(nodeId)?.();
    this.nodeEvents.delete(nodeId);
    this.router.disconnect(nodeId);
    const node = findNode(this.state, nodeId);
    if (node === undefined || !node.online) return;
    await this.commit([{ type: "node.lost", nodeId }, this.serverRecord({ kind: "node.lost", image: null, ids: [nodeId], text: `node ${nodeId} lost: ${reason}` })]);
    this.emitServer({ type: "node-lost", nodeId, reason });
  }

  // ---- images ----

  // Adds an image on node `nodeId` (addImage puts it on the server's own), for `caller`.
  addImageOn(nodeId: string, request: { model?: ModelName; id?: string }, caller: CallerContext = {}): Promise<ImageInfo> {
    return this.addImageFor({ ...caller }, request, nodeId);
  }

  private imageInfos(): ImageInfo[] {
    return this.state.images.map((entry, index) => ({ id: entry.info.id, model: entry.info.model, wwnn: siteWwnn(index) }));
  }

  private async addImageFor(caller: CallerContext, request: { model?: ModelName; id?: string }, nodeId: string): Promise<ImageInfo> {
    const site = this.router.nodeSite(nodeId, "the node to add the image on");
    const added = await this.router.mutateSite(caller, "addImage", [], () => site.addImage(this.imageRequest(request)), async (image) => [
      { type: "image.added", nodeId, image: { id: image.id, model: image.model, wwnn: image.wwnn } },
      ...await this.router.freshCatalogs(site, [image.id]),
    ]);
    return this.imageInfos().find((image) => image.id === added.id) ?? added;
  }

  // The request for the node: the next serial free across the site when none
  // is given (as an embedded site numbers its own), refused if the site has it.
  private imageRequest(request: { model?: ModelName; id?: string }): { model?: ModelName; id?: string } {
    const ids = this.state.images.map((image) => image.info.id);
    if (request.id === undefined) {
      const model = request.model ?? "2105";
      let number = ids.length + 1;
      while (ids.some((id) => id.endsWith(`-75TZ${String(number).padStart(3, "0")}`))) number++;
      return { model, id: formatImageId(model, `75TZ${String(number).padStart(3, "0")}`) };
    }
    let canonical: string;
    try {
      const parts = parseImageId(request.id);
      canonical = formatImageId(parts.model, parts.serial);
    } catch {
      return request; // the node refuses a malformed ID with its own message
    }
    if (ids.includes(canonical) && (request.model === undefined || canonical.startsWith(`IBM.${request.model}-`))) {
      throw new SiteError({ code: "IMAGE_EXISTS", message: `storage image ${canonical} already exists` });
    }
    return request;
  }

  // ---- state files: one node's images, when the site's are all on one node ----

  private singleNode(what: string): string {
    const nodes = [...new Set(this.state.images.map((image) => image.nodeId))];
    if (nodes.length > 1) {
      throw new SiteError({ code: "BAD_ARGUMENT", message: `${what} covers every image of the site, but its images are on nodes ${nodes.join(", ")}: each node keeps its own (tzero serve --state FILE)` });
    }
    return nodes[0] ?? this.nodeId;
  }

  private saveSite(file: string, options: CallOptions): Promise<SaveReport> {
    try {
      const nodeId = this.singleNode("save");
      return this.router.nodeSite(nodeId, "the site's images").save(file, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private async loadFor(caller: CallerContext, file: string, options: CallOptions): Promise<LoadReport> {
    const nodeId = this.singleNode("load");
    const site = this.router.nodeSite(nodeId, "the site's images");
    const held = this.state.images.map((image) => image.info.id);
    return this.router.mutateSite(caller, "load", held, () => site.load(file, options), async () => {
      const images = (await site.listImages()).map((image) => ({ id: image.id, model: image.model, wwnn: image.wwnn }));
      return [{ type: "images.replaced", nodeId, images }, ...await this.router.freshCatalogs(site, images.map((image) => image.id))];
    });
  }

  // ---- users (not on the Site interface: the shell's and the REST API's own calls) ----

  // On a site without users: creates admin, with the password of the file or
  // a random one, which is returned (to show once); null otherwise.
  async firstStart(options: { passwordFile?: string } = {}): Promise<{ created: boolean; password: string | null }> {
    return this.router.exclusive([USERS_LOCK], async () => {
      const start = await firstStart(this.state.users, { ...this.usersConfig, passwordFile: options.passwordFile });
      if (start === null) return { created: false, password: null };
      await this.commit([start.record]);
      return { created: true, password: start.password };
    });
  }

  listUsersAs(actor: string): UserRow[] {
    return lsuser(this.state.users, actor);
  }

  // `source`: where the change came from, for the event log (default: a shell).
  createUserAs(actor: string, input: MkuserArguments, source?: EventSource): Promise<void> {
    return this.router.exclusive([USERS_LOCK], async () => {
      const record = await mkuser(this.state.users, actor, input, this.usersConfig);
      await this.commit([record, ...userEvents([record], { user: actor, source }, this.now())]);
    });
  }

  changeUserAs(actor: string, input: ChuserArguments, source?: EventSource): Promise<void> {
    return this.router.exclusive([USERS_LOCK], async () => {
      const records = await chuser(this.state.users, actor, input, this.usersConfig);
      await this.commit([...records, ...userEvents(records, { user: actor, source }, this.now()), ...this.sessionsEndedBy(records, actor)]);
    });
  }

  removeUserAs(actor: string, name: string, source?: EventSource): Promise<void> {
    return this.router.exclusive([USERS_LOCK], async () => {
      const record = rmuser(this.state.users, actor, name);
      await this.commit([record, ...userEvents([record], { user: actor, source }, this.now()), ...this.sessions.endRecordsOf(record.name)]);
    });
  }

  // ---- the console's tasks (journaled: they survive restarts and takeovers) ----

  listTasks(): Task[] {
    this.assertServing();
    return tasksOf(this.state);
  }

  task(name: string): Task | undefined {
    this.assertServing();
    return findTask(this.state, name);
  }

  // Makes or replaces task `name` (its history stays); the caller's class is checked by the route.
  saveTask(caller: EventCaller, task: { name: string; kind: TaskKindName; body: string }): Promise<void> {
    return this.router.exclusive([TASKS_LOCK], async () => {
      const existed = findTask(this.state, task.name) !== undefined;
      const lines = task.body.split("\n").filter((line) => line.trim() !== "").length;
      await this.commit([
        { type: "task.saved", name: task.name, kind: task.kind, body: task.body },
        this.serverRecord({ kind: existed ? "task.changed" : "task.created", image: null, ids: [task.name], text: `task ${task.name} ${existed ? "changed" : "saved"} (${task.kind}, ${lines} ${lines === 1 ? "line" : "lines"})` }, caller),
      ]);
    });
  }

  removeTask(caller: EventCaller, name: string): Promise<void> {
    return this.router.exclusive([TASKS_LOCK], async () => {
      if (findTask(this.state, name) === undefined) throw new ServerError("TASK_NOT_FOUND", `there is no task ${JSON.stringify(name)}`);
      await this.commit([{ type: "task.removed", name }, this.serverRecord({ kind: "task.removed", image: null, ids: [name], text: `task ${name} removed` }, caller)]);
    });
  }

  // A run of task `name` ended: kept in its history (unless the task was removed meanwhile) and logged.
  recordTaskRun(caller: EventCaller, name: string, run: TaskRun): Promise<void> {
    return this.router.exclusive([TASKS_LOCK], async () => {
      const text = `task ${name} ran: exit code ${run.exitCode} after ${((run.finishedMs - run.startedMs) / 1000).toFixed(1)} s`;
      const event = this.serverRecord({ kind: "task.ran", image: null, ids: [name], text }, caller);
      await this.commit(findTask(this.state, name) === undefined ? [event] : [{ type: "task.ran", name, ...run }, event]);
    });
  }

  // The failed login that locks an account is a change of the site: its event, logged with it.
  private lockoutEvent(record: UserRecord): SiteRecord[] {
    const before = findUser(this.state.users, record.name);
    const after = findUser(applyUserRecord(this.state.users, record), record.name);
    if (before === undefined || before.locked || after?.locked !== true) return [];
    return [this.serverRecord({ kind: "user.locked", image: null, ids: [record.name], text: `user ${record.name} locked after ${this.state.users.failedLoginsMax} failed logins` })];
  }

  // A locked user's sessions end, and so do those of a user whose password an
  // administrator set (it is temporary), in the same commit as the change.
  // One's own new password keeps one's sessions: the account says it is no longer expired.
  private sessionsEndedBy(records: readonly UserRecord[], actor: string): SiteRecord[] {
    const ended = records.filter((record) => record.type === "user.lock" || (record.type === "user.password" && record.name !== actor));
    return [...new Set(ended.map((record) => record.name))].flatMap((name) => this.sessions.endRecordsOf(name));
  }

  // Checks the password, journals the attempt where it counts (lockout), and issues a token.
  async login(name: string, password: string): Promise<LoginResult> {
    const outcome = await authenticate(this.state.users, name, password, this.usersConfig);
    if (outcome.record !== null) {
      const record = outcome.record;
      await this.router.exclusive([USERS_LOCK], () => this.commit([record, ...this.lockoutEvent(record)]));
    }
    if (!outcome.ok) throw outcome.error;
    const issued = await this.sessions.issue(outcome.name);
    return { token: issued.token, expiresAt: issued.expiresAt, user: outcome.name, passwordExpired: outcome.passwordExpired, idleMs: this.sessions.idleMs };
  }

  // The user of a live token (its idle time restarted), or a UserError TOKEN_*.
  authenticate(token: string): { user: string; passwordExpired: boolean; expiresAt: number } {
    const session = this.sessions.check(token);
    const account = findUser(this.state.users, session.user);
    if (account === undefined || account.locked) {
      this.sessions.endSessionsOf(session.user);
      throw new UserError("TOKEN_UNKNOWN", `the session of ${session.user} ended: the account is ${account === undefined ? "removed" : "locked"}`, "token");
    }
    return { user: session.user, passwordExpired: account.passwordExpired, expiresAt: session.expiresAt };
  }

  // Ends the token's session, journaled: it is refused on every server of the site from now on.
  logout(token: string): Promise<void> {
    this.assertServing();
    return this.sessions.logout(token);
  }

  // ---- terms, commits, events ----

  // A backup that takes over raises the term: every record from now on carries it.
  async raiseTerm(term: number): Promise<void> {
    await this.commit([{ type: "term.raised", term }]);
  }

  // ---- the event log (console-events.ts) ----

  // The event of a change the server made itself (no user, source "server").
  private serverRecord(facts: EventFacts, caller: EventCaller = {}): SiteRecord {
    return serverEvent(facts, caller, this.now());
  }

  // The published events after `since`, oldest first, at most `limit` of them.
  // An event is published once its commit is replicated, so that a stream's
  // backlog and its live events meet without a gap or a repeat.
  eventsSince(since: number, limit: number): LoggedEvent[] {
    return this.loggedBetween(since, this.publishedSeq, limit);
  }

  // The seq of the last published event.
  get lastEventSeq(): number {
    return this.publishedSeq;
  }

  private loggedBetween(after: number, upTo: number, limit: number): LoggedEvent[] {
    const events = eventLog(this.state);
    let last = events.length;
    while (last > 0 && events[last - 1].seq > upTo) last--;
    let first = last;
    while (first > 0 && events[first - 1].seq > after) first--;
    return events.slice(first, Math.min(last, first + limit));
  }

  // Hears every event once it is committed (and replicated), in seq order.
  loggedEvents(listener: LoggedEventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  private publishEvents(): void {
    const fresh = this.loggedBetween(this.publishedSeq, this.state.eventSeq ?? 0, Number.MAX_SAFE_INTEGER);
    if (fresh.length === 0) return;
    this.publishedSeq = fresh[fresh.length - 1].seq;
    for (const event of fresh) for (const listener of this.eventListeners) listener(event);
  }

  // What a node did by itself (a copy ended, failed or went on) is logged as
  // the server's; what it reports of a command (pprc-changed) is left to that
  // command's own event. The reports are committed in batches.
  private logNodeEvent(event: SiteEvent): void {
    const record = nodeEvent(event, this.now());
    if (record === null) return;
    this.nodeRecords.push(record);
    this.nodeFlush ??= this.flushNodeEvents().finally(() => { this.nodeFlush = null; });
  }

  // Commits the nodes' events in batches until none is left; a server that no
  // longer serves drops them (the primary in charge logs what its nodes report).
  private async flushNodeEvents(): Promise<void> {
    await Promise.resolve(); // the reports of one turn go in one commit
    while (this.nodeRecords.length > 0) {
      const batch = this.nodeRecords.splice(0);
      if (this.retired !== null || this.closed) continue;
      try {
        await this.commit(batch);
      } catch (error) {
        this.emitServer({ type: "event-log-failed", reason: (error as Error).message });
      }
    }
  }

  // Another server leads the site now (it has a higher term): this one takes
  // no more changes and lets go of its nodes, but leaves its store open for
  // the replication that makes it the new primary's backup.
  retire(reason: string): void {
    this.retired = reason;
    this.pairWatcher?.stop();
    for (const unsubscribe of this.nodeEvents.values()) unsubscribe();
    this.nodeEvents.clear();
    this.router.disconnectAll();
  }

  private assertServing(): void {
    if (this.retired !== null) throw new SiteError({ code: "NOT_PRIMARY", message: `this Copy Services Server is no longer the primary: ${this.retired}` });
    if (this.closed) throw new SiteError({ code: "CLOSED", message: "the Copy Services Server is closed" });
  }

  private async commit(records: SiteRecord[]): Promise<void> {
    this.assertServing();
    const committed = await this.store.commit(records);
    await this.afterCommit?.(committed);
    this.publishEvents();
  }

  private subscribe(listener: SiteListener): () => void {
    this.siteListeners.add(listener);
    return () => this.siteListeners.delete(listener);
  }

  serverEvents(listener: ServerListener): () => void {
    this.serverListeners.add(listener);
    return () => this.serverListeners.delete(listener);
  }

  private emitSite(event: SiteEvent): void {
    for (const listener of this.siteListeners) listener(event);
  }

  emitServer(event: ServerEvent): void {
    if (event.type === "takeover") this.logTakeover(event.nodeId, event.term);
    for (const listener of this.serverListeners) listener(event);
  }

  private logTakeover(nodeId: string, term: number): void {
    const record = this.serverRecord({ kind: "server.takeover", image: null, ids: [nodeId], text: `node ${nodeId} took over as the primary Copy Services Server (term ${term})` });
    this.commit([record]).catch((error: Error) => this.emitServer({ type: "event-log-failed", reason: error.message }));
  }

  // Stops serving: lets go of the nodes (their Sites are closed by whoever
  // registered them) and closes the store.
  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pairWatcher?.stop();
    if (this.retired !== null) return; // the store is the replication's now
    for (const unsubscribe of this.nodeEvents.values()) unsubscribe();
    this.nodeEvents.clear();
    this.router.disconnectAll();
    await this.store.close();
  }
}

// One caller's view of the server.
class CallerSite extends RoutedSite {
  constructor(private readonly siteCore: SiteCore, protected readonly caller: CallerContext) {
    super();
  }

  protected core(): SiteCore {
    return this.siteCore;
  }

  // A caller's view holds nothing of its own: closing it ends nothing of the server's.
  override async close(): Promise<void> {}
}

// One event for a user command's records, saying what changed.
function userEvents(records: readonly UserRecord[], caller: EventCaller, atMs: number): SiteRecord[] {
  const texts = records.map((record) => {
    switch (record.type) {
      case "user.create": return `user ${record.name} created (${record.groups.join(", ")})`;
      case "user.password": return record.expired ? `password of ${record.name} set (temporary)` : `password of ${record.name} changed`;
      case "user.groups": return `groups of ${record.name} set to ${record.groups.join(", ")}`;
      case "user.lock": return `user ${record.name} locked`;
      case "user.unlock": return `user ${record.name} unlocked`;
      case "user.remove": return `user ${record.name} removed`;
      default: return null;
    }
  }).filter((text): text is string => text !== null);
  if (texts.length === 0) return [];
  const first = records[0];
  const kind = first.type === "user.create" ? "user.created" : first.type === "user.remove" ? "user.removed" : "user.changed";
  return [serverEvent({ kind, image: null, ids: [first.name], text: texts.join("; ") }, caller, atMs)];
}

// What lsuser and showuser show of an account: never its password.
function userInfo(account: UserAccount): UserInfo {
  return { name: account.name, groups: [...account.groups], state: account.locked ? "locked" : "active", failedLogins: account.failedLogins, passwordExpired: account.passwordExpired };
}

function requireAccount(users: UsersState, name: string): UserAccount {
  const account = findUser(users, name);
  if (account === undefined) throw new UserError("NO_SUCH_USER", `there is no user named ${JSON.stringify(name)}`, "name");
  return account;
}

function nodeText(name: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > NODE_TEXT_LENGTH_MAX) {
    throw new ServerError("BAD_ARGUMENT", `${name} must be a string of 1 to ${NODE_TEXT_LENGTH_MAX} characters`);
  }
  return value;
}
