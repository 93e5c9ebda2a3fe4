// The Copy Services Server's authoritative state of the site (design.md §7):
// plain data (msgpackr-safe, kept by src/store/journal.ts), changed only by
// records through applySiteRecord, both live and when the journal replays.
//
//   SiteState
//     term        the server's term: a backup that takes over raises it
//     nodes       the tzero processes of the site: id, url, online, the images they host
//     images      in the order they were added: the image as its node reports it, the
//                 node, and its Copy Services catalog (volumes, extent pools, FlashCopy
//                 relationships, each reduced to what does not change by itself; PPRC
//                 pairs and paths as last listed, refreshed after each PPRC command and
//                 by the pair watcher when they change by themselves)
//     users       the site's users (users.ts, through applyUserRecord)
//     requests    recent request ids and their outcome, oldest first, so that a
//                 command retried after a failover gets the same answer and is not
//                 run twice: the last REQUESTS_KEPT_MAX, none older than REQUEST_KEPT_MS
//                 before the newest
//     eventSeq    the sequence number of the last event logged (0: none yet)
//     events      the site's event log (console-events.ts): who changed what, from
//                 where, oldest first, the last EVENTS_KEPT_MAX
//     tasks       the console's saved tasks (named action lists or scripts), by
//                 name, each with its last TASK_HISTORY_MAX runs
//     sessions    the login sessions (sessions.ts, through applySessionRecord): each
//                 token's SHA-256, its user, expiry and last use journaled
//
// eventSeq, events, tasks and sessions came after the first states were
// written: a snapshot without them reads as having none (eventLog, tasksOf,
// sessionsOf).

// applySiteRecord(state, record) is pure (a new state, its arguments left
// alone) and refuses a malformed record, or one that does not fit the state,
// with ServerError BAD_RECORD naming what is wrong; checkSiteState refuses a
// malformed state (a snapshot) the same way.
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { applyUserRecord, emptyUsers, type UserRecord, type UsersState } from "./users.js";
import { applySessionRecord, SESSION_KEY_PATTERN, type SessionEntry } from "./sessions.js";
import { isUserError } from "./user-errors.js";
import { ServerError } from "./server-errors.js";

export const SITE_STATE_FORMAT = 1;
export const REQUESTS_KEPT_MAX = 10_000;
export const REQUEST_KEPT_MS = 60 * 60 * 1000;
export const REQUEST_ID_LENGTH_MAX = 128;
export const EVENTS_KEPT_MAX = 2000;
export const EVENT_IDS_MAX = 64; // an event names at most this many objects; its text says how many more
export const EVENT_TEXT_LENGTH_MAX = 1024;
export const TASKS_MAX = 200;
export const TASK_HISTORY_MAX = 20;
export const TASK_NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$";
export const TASK_BODY_LENGTH_MAX = 64 * 1024;
export const EVENT_SOURCES = ["shell", "script", "rest", "console", "server"] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];

const Id = Type.String({ minLength: 1, maxLength: 256 });
const Text = Type.String({ maxLength: 4096 });
const Whole = Type.Integer({ minimum: 0 });

export const ImageInfoSchema = Type.Object({
  id: Id,
  model: Type.Union([Type.Literal("2105"), Type.Literal("2107")]),
  wwnn: Type.String({ minLength: 16, maxLength: 16 }),
}, { additionalProperties: false });

export const CatalogVolumeSchema = Type.Object({
  id: Id, blocks: Whole, pool: Type.Union([Id, Type.Null()]), name: Text,
}, { additionalProperties: false });

export const CatalogPoolSchema = Type.Object({
  id: Id, name: Text, rankGroup: Type.Union([Type.Literal(0), Type.Literal(1)]),
}, { additionalProperties: false });

// A relationship's identity and the options it was established (or last changed) with.
export const CatalogFlashSchema = Type.Object({
  id: Id, sourceId: Id, targetId: Id, nocopy: Type.Boolean(), persist: Type.Boolean(), record: Type.Boolean(),
  tgtinhibit: Type.Boolean(), tgtpprc: Type.Boolean(), revertible: Type.Boolean(), seqnum: Whole,
}, { additionalProperties: false });

// A PPRC pair as its image lists it (lspprc -l), keyed by its ID "1000:2000"
// (a volume is in at most one pair, so an image lists each ID once). Its
// out-of-sync count is the one at its last change of anything else: a count
// alone changing (every write to a suspended primary) is not journaled.
export const CatalogPairSchema = Type.Object({
  id: Id, role: Type.Union([Type.Literal("primary"), Type.Literal("secondary")]), primaryImageId: Id, secondaryImageId: Id,
  state: Type.Union([
    Type.Literal("Copy Pending"), Type.Literal("Full Duplex"), Type.Literal("Suspended"),
    Type.Literal("Target Copy Pending"), Type.Literal("Target Full Duplex"), Type.Literal("Target Suspended"),
  ]),
  reason: Type.Union([Text, Type.Null()]), type: Type.Union([Type.Literal("mmir"), Type.Literal("gcp")]), outOfSyncTracks: Whole,
  tgtread: Type.Boolean(), critmode: Type.Boolean(), suspendedAtMs: Type.Union([Whole, Type.Null()]), sourceLss: Id, firstPassDone: Type.Boolean(),
  detail: Type.Union([Text, Type.Null()]),
}, { additionalProperties: false });

// A PPRC path as its source image lists it (lspprcpath), keyed "TARGETIMAGE/10:20".
export const CatalogPathSchema = Type.Object({
  id: Id, targetImageId: Id, sourceLss: Id, targetLss: Id, targetWwnn: Text,
  ports: Type.Array(Type.Object({ local: Id, remote: Id }, { additionalProperties: false })), consistgrp: Type.Boolean(),
  state: Type.Union([Type.Literal("Success"), Type.Literal("Failed")]), reason: Type.Union([Text, Type.Null()]),
}, { additionalProperties: false });

// pairs and paths came after the first catalogs were journaled: one without them holds none.
const CatalogSchema = Type.Object({
  volumes: Type.Array(CatalogVolumeSchema), pools: Type.Array(CatalogPoolSchema), flash: Type.Array(CatalogFlashSchema),
  pairs: Type.Optional(Type.Array(CatalogPairSchema)), paths: Type.Optional(Type.Array(CatalogPathSchema)),
}, { additionalProperties: false });

const NodeSchema = Type.Object({
  id: Id, url: Text, online: Type.Boolean(), images: Type.Array(Id),
}, { additionalProperties: false });

const ImageEntrySchema = Type.Object({
  info: ImageInfoSchema, nodeId: Id, catalog: CatalogSchema,
}, { additionalProperties: false });

const SiteErrorDataSchema = Type.Object({
  code: Id, message: Text, item: Type.Optional(Whole), option: Type.Optional(Text), bytesWritten: Type.Optional(Whole),
}, { additionalProperties: false });

const OutcomeSchema = Type.Union([
  Type.Object({ ok: Type.Literal(true), result: Type.Unknown() }, { additionalProperties: false }),
  Type.Object({ ok: Type.Literal(false), error: SiteErrorDataSchema }, { additionalProperties: false }),
]);

const RequestId = Type.String({ minLength: 1, maxLength: REQUEST_ID_LENGTH_MAX });

const RequestOutcomeSchema = Type.Object({
  requestId: RequestId, method: Id, user: Type.Union([Id, Type.Null()]), atMs: Whole, outcome: OutcomeSchema,
}, { additionalProperties: false });

const EventSourceSchema = Type.Union(EVENT_SOURCES.map((source) => Type.Literal(source)));

// What an event says: the change (kind, as "object.action"), the image it
// happened on (none for users, tasks, nodes), the objects it names, who made it
// (none: the server itself) and from where, and one readable line.
const EventFields = {
  atMs: Whole,
  kind: Type.String({ minLength: 1, maxLength: 64 }),
  image: Type.Union([Id, Type.Null()]),
  ids: Type.Array(Id, { maxItems: EVENT_IDS_MAX }),
  user: Type.Union([Id, Type.Null()]),
  source: EventSourceSchema,
  text: Type.String({ maxLength: EVENT_TEXT_LENGTH_MAX }),
};

export const LoggedEventSchema = Type.Object({ seq: Type.Integer({ minimum: 1 }), ...EventFields }, { additionalProperties: false });

const TaskName = Type.String({ pattern: TASK_NAME_PATTERN });
const TaskKind = Type.Union([Type.Literal("actions"), Type.Literal("script")]);
const TaskBody = Type.String({ maxLength: TASK_BODY_LENGTH_MAX });

const TaskRunSchema = Type.Object({
  startedMs: Whole, finishedMs: Whole, exitCode: Whole, user: Id,
}, { additionalProperties: false });

export const TaskSchema = Type.Object({
  name: TaskName, kind: TaskKind, body: TaskBody, history: Type.Array(TaskRunSchema, { maxItems: TASK_HISTORY_MAX }),
}, { additionalProperties: false });

const SessionKey = Type.String({ pattern: SESSION_KEY_PATTERN });
const SessionKeys = Type.Array(SessionKey, { minItems: 1 });

const SessionEntrySchema = Type.Object({
  key: SessionKey, user: Id, issuedAtMs: Whole, expiresAtMs: Whole, touchedAtMs: Whole,
}, { additionalProperties: false });

// Users are checked by applyUserRecord itself (users.ts): here only their envelope.
const UsersSchema = Type.Object({ failedLoginsMax: Whole, users: Type.Array(Type.Unknown()) }, { additionalProperties: false });

const SiteStateSchema = Type.Object({
  format: Type.Literal(SITE_STATE_FORMAT),
  term: Type.Integer({ minimum: 1 }),
  nodes: Type.Array(NodeSchema),
  images: Type.Array(ImageEntrySchema),
  users: UsersSchema,
  requests: Type.Array(RequestOutcomeSchema),
  eventSeq: Type.Optional(Whole),
  events: Type.Optional(Type.Array(LoggedEventSchema, { maxItems: EVENTS_KEPT_MAX })),
  tasks: Type.Optional(Type.Array(TaskSchema, { maxItems: TASKS_MAX })),
  sessions: Type.Optional(Type.Array(SessionEntrySchema)),
}, { additionalProperties: false });

function keyedChange<T extends TSchema>(item: T) {
  return Type.Object({ set: Type.Array(item), remove: Type.Array(Id) }, { additionalProperties: false });
}

// The records other than the users' (those are UserRecord, "user.*").
const SiteRecordSchemas = {
  "term.raised": Type.Object({ type: Type.Literal("term.raised"), term: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
  // A node (re)registered: online, hosting exactly `images` (any it hosted before and does not list are gone).
  "node.joined": Type.Object({ type: Type.Literal("node.joined"), nodeId: Id, url: Text, images: Type.Array(ImageInfoSchema) }, { additionalProperties: false }),
  "node.lost": Type.Object({ type: Type.Literal("node.lost"), nodeId: Id }, { additionalProperties: false }),
  "image.added": Type.Object({ type: Type.Literal("image.added"), nodeId: Id, image: ImageInfoSchema }, { additionalProperties: false }),
  // A load on a node replaced every image it hosts.
  "images.replaced": Type.Object({ type: Type.Literal("images.replaced"), nodeId: Id, images: Type.Array(ImageInfoSchema) }, { additionalProperties: false }),
  "catalog.changed": Type.Object({
    type: Type.Literal("catalog.changed"), imageId: Id,
    volumes: keyedChange(CatalogVolumeSchema), pools: keyedChange(CatalogPoolSchema), flash: keyedChange(CatalogFlashSchema),
    // Since PPRC joined the catalog: a record of an older journal has neither.
    pairs: Type.Optional(keyedChange(CatalogPairSchema)), paths: Type.Optional(keyedChange(CatalogPathSchema)),
  }, { additionalProperties: false }),
  // One change of the site, for its event log: the record's apply gives it the next seq.
  "event.logged": Type.Object({ type: Type.Literal("event.logged"), ...EventFields }, { additionalProperties: false }),
  // A console task saved (made or replaced: its history stays), removed, or run to its end.
  "task.saved": Type.Object({ type: Type.Literal("task.saved"), name: TaskName, kind: TaskKind, body: TaskBody }, { additionalProperties: false }),
  "task.removed": Type.Object({ type: Type.Literal("task.removed"), name: TaskName }, { additionalProperties: false }),
  "task.ran": Type.Object({ type: Type.Literal("task.ran"), name: TaskName, ...TaskRunSchema.properties }, { additionalProperties: false }),
  // A login's session began, its use was journaled (coarsely: sessions.ts), or it ended (logout, expiry, its user's change).
  "session.issued": Type.Object({ type: Type.Literal("session.issued"), key: SessionKey, user: Id, issuedAtMs: Whole, expiresAtMs: Whole }, { additionalProperties: false }),
  "session.touched": Type.Object({ type: Type.Literal("session.touched"), keys: SessionKeys, atMs: Whole }, { additionalProperties: false }),
  "session.ended": Type.Object({ type: Type.Literal("session.ended"), keys: SessionKeys }, { additionalProperties: false }),
  "request.done": Type.Object({
    type: Type.Literal("request.done"), requestId: RequestId, method: Id, user: Type.Union([Id, Type.Null()]), atMs: Whole, outcome: OutcomeSchema,
  }, { additionalProperties: false }),
} as const;

export type ImageInfoRecord = Static<typeof ImageInfoSchema>;
export type CatalogVolume = Static<typeof CatalogVolumeSchema>;
export type CatalogPool = Static<typeof CatalogPoolSchema>;
export type CatalogFlash = Static<typeof CatalogFlashSchema>;
export type CatalogPair = Static<typeof CatalogPairSchema>;
export type CatalogPath = Static<typeof CatalogPathSchema>;
export type ImageCatalog = Static<typeof CatalogSchema>;
export type NodeEntry = Static<typeof NodeSchema>;
export type ImageEntry = Static<typeof ImageEntrySchema>;
export type RequestOutcome = Static<typeof RequestOutcomeSchema>;
export type Outcome = Static<typeof OutcomeSchema>;
export type CatalogChange = Static<typeof SiteRecordSchemas["catalog.changed"]>;
export type LoggedEvent = Static<typeof LoggedEventSchema>;
export type EventRecord = Static<typeof SiteRecordSchemas["event.logged"]>;
export type Task = Static<typeof TaskSchema>;
export type TaskRun = Static<typeof TaskRunSchema>;
export type TaskKindName = Static<typeof TaskKind>;

export interface SiteState {
  format: typeof SITE_STATE_FORMAT;
  term: number;
  nodes: NodeEntry[];
  images: ImageEntry[];
  users: UsersState;
  requests: RequestOutcome[];
  eventSeq?: number;
  events?: LoggedEvent[];
  tasks?: Task[];
  sessions?: SessionEntry[];
}

type ServerRecordType = keyof typeof SiteRecordSchemas;
export type ServerRecord = { [K in ServerRecordType]: Static<typeof SiteRecordSchemas[K]> }[ServerRecordType];
export type SiteRecord = ServerRecord | UserRecord;

const recordChecks = new Map<string, TypeCheck<TSchema>>(Object.entries(SiteRecordSchemas).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]));
const stateCheck = TypeCompiler.Compile(SiteStateSchema);

export function emptySiteState(): SiteState {
  return { format: SITE_STATE_FORMAT, term: 1, nodes: [], images: [], users: emptyUsers(), requests: [], eventSeq: 0, events: [], tasks: [], sessions: [] };
}

export function emptyCatalog(): ImageCatalog {
  return { volumes: [], pools: [], flash: [], pairs: [], paths: [] };
}

function firstProblem(check: TypeCheck<TSchema>, value: unknown): string {
  const first = check.Errors(value).First();
  return `${first?.path || "/"}: ${first?.message ?? "invalid"}`;
}

// Throws ServerError BAD_STATE naming the first thing wrong with `value` as a SiteState.
export function checkSiteState(value: unknown): SiteState {
  if (!stateCheck.Check(value)) throw new ServerError("BAD_STATE", `not a valid site state: ${firstProblem(stateCheck, value)}`);
  const state = value as SiteState;
  for (const image of state.images) {
    const node = state.nodes.find((each) => each.id === image.nodeId);
    if (node === undefined || !node.images.includes(image.info.id)) {
      throw new ServerError("BAD_STATE", `not a valid site state: image ${image.info.id} names node ${image.nodeId}, which does not list it`);
    }
  }
  const hosted = state.nodes.flatMap((node) => node.images);
  if (hosted.length !== state.images.length || new Set(hosted).size !== hosted.length) {
    throw new ServerError("BAD_STATE", "not a valid site state: the nodes' image lists and the images do not match one to one");
  }
  return state;
}

function refuse(record: { type: string }, message: string): never {
  throw new ServerError("BAD_RECORD", `${record.type}: ${message}`);
}

// The next state: pure. Throws ServerError BAD_RECORD for a record that is malformed or does not fit.
export function applySiteRecord(state: SiteState, record: SiteRecord): SiteState {
  const type = (record as { type?: unknown } | null)?.type;
  if (typeof type === "string" && type.startsWith("user.")) return applyUsers(state, record as UserRecord);
  const check = typeof type === "string" ? recordChecks.get(type) : undefined;
  if (check === undefined) throw new ServerError("BAD_RECORD", `not a valid site record: no known type (${JSON.stringify(type)})`);
  if (!check.Check(record)) throw new ServerError("BAD_RECORD", `not a valid ${type} record: ${firstProblem(check, record)}`);
  const server = record as ServerRecord;
  switch (server.type) {
    case "term.raised":
      if (server.term <= state.term) refuse(server, `the term only goes up: ${server.term} is not above ${state.term}`);
      return { ...state, term: server.term };
    case "node.joined":
      return nodeHosts({ ...state, nodes: upsertNode(state.nodes, server.nodeId, server.url) }, server, server.images);
    case "node.lost":
      requireNode(state, server, server.nodeId);
      return { ...state, nodes: state.nodes.map((node) => (node.id === server.nodeId ? { ...node, online: false } : node)) };
    case "image.added": {
      const node = requireNode(state, server, server.nodeId);
      return nodeHosts(state, server, [...imagesOf(state, node.id), server.image]);
    }
    case "images.replaced":
      requireNode(state, server, server.nodeId);
      return nodeHosts(state, server, server.images, true);
    case "catalog.changed":
      return applyCatalog(state, server);
    case "request.done":
      return applyRequest(state, server);
    case "event.logged":
      return applyEvent(state, server);
    case "task.saved":
    case "task.removed":
    case "task.ran":
      return applyTask(state, server);
    case "session.issued":
      if (sessionsOf(state).some((entry) => entry.key === server.key)) refuse(server, "a session with this key exists already");
      return { ...state, sessions: applySessionRecord(sessionsOf(state), server) };
    case "session.touched":
    case "session.ended":
      return { ...state, sessions: applySessionRecord(sessionsOf(state), server) };
  }
}

function applyEvent(state: SiteState, record: EventRecord): SiteState {
  const { type: _type, ...fields } = record;
  const seq = (state.eventSeq ?? 0) + 1;
  return { ...state, eventSeq: seq, events: [...eventLog(state), { seq, ...fields }].slice(-EVENTS_KEPT_MAX) };
}

type TaskRecord = Static<typeof SiteRecordSchemas["task.saved" | "task.removed" | "task.ran"]>;

function applyTask(state: SiteState, record: TaskRecord): SiteState {
  const tasks = tasksOf(state);
  const index = tasks.findIndex((task) => task.name === record.name);
  if (record.type === "task.saved") {
    const history = index < 0 ? [] : tasks[index].history;
    if (index < 0 && tasks.length >= TASKS_MAX) refuse(record, `the site has ${TASKS_MAX} tasks already: remove one first`);
    const task: Task = { name: record.name, kind: record.kind, body: record.body, history };
    const next = index < 0 ? [...tasks, task].sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0)) : tasks.map((each, at) => (at === index ? task : each));
    return { ...state, tasks: next };
  }
  if (index < 0) refuse(record, `there is no task ${JSON.stringify(record.name)}`);
  if (record.type === "task.removed") return { ...state, tasks: tasks.filter((_task, at) => at !== index) };
  const { type: _type, name: _name, ...run } = record;
  const task = tasks[index];
  return { ...state, tasks: tasks.map((each, at) => (at === index ? { ...task, history: [...task.history, run].slice(-TASK_HISTORY_MAX) } : each)) };
}

// The event log and the tasks of a state, also of one written before they existed.
export function eventLog(state: SiteState): LoggedEvent[] {
  return state.events ?? [];
}

export function tasksOf(state: SiteState): Task[] {
  return state.tasks ?? [];
}

export function sessionsOf(state: SiteState): SessionEntry[] {
  return state.sessions ?? [];
}

export function findTask(state: SiteState, name: string): Task | undefined {
  return tasksOf(state).find((task) => task.name === name);
}

function applyUsers(state: SiteState, record: UserRecord): SiteState {
  try {
    return { ...state, users: applyUserRecord(state.users, record) };
  } catch (error) {
    if (isUserError(error)) throw new ServerError("BAD_RECORD", error.message, { cause: error });
    throw error;
  }
}

function requireNode(state: SiteState, record: { type: string }, nodeId: string): NodeEntry {
  const node = state.nodes.find((each) => each.id === nodeId);
  if (node === undefined) refuse(record, `there is no node ${nodeId}`);
  return node;
}

function upsertNode(nodes: readonly NodeEntry[], id: string, url: string): NodeEntry[] {
  const entry: NodeEntry = { id, url, online: true, images: nodes.find((node) => node.id === id)?.images ?? [] };
  return nodes.some((node) => node.id === id) ? nodes.map((node) => (node.id === id ? entry : node)) : [...nodes, entry];
}

function imagesOf(state: SiteState, nodeId: string): ImageInfoRecord[] {
  return state.images.filter((image) => image.nodeId === nodeId).map((image) => image.info);
}

// Node `record.nodeId` hosts exactly `images` now. Images it keeps keep their
// place and catalog (unless `fresh`: a load replaced them), new ones go last
// with an empty catalog, the rest are gone. An image another node hosts is refused.
function nodeHosts(state: SiteState, record: { type: string; nodeId: string }, images: readonly ImageInfoRecord[], fresh = false): SiteState {
  const ids = images.map((image) => image.id);
  if (new Set(ids).size !== ids.length) refuse(record, `an image is listed twice (${ids.join(", ")})`);
  for (const image of state.images) {
    if (image.nodeId !== record.nodeId && ids.includes(image.info.id)) refuse(record, `image ${image.info.id} is hosted by node ${image.nodeId}`);
  }
  const kept = state.images
    .filter((image) => image.nodeId !== record.nodeId || (!fresh && ids.includes(image.info.id)))
    .map((image) => (image.nodeId === record.nodeId ? { ...image, info: { ...images.find((each) => each.id === image.info.id)! } } : image));
  const added = images
    .filter((image) => !kept.some((each) => each.info.id === image.id))
    .map((image): ImageEntry => ({ info: { ...image }, nodeId: record.nodeId, catalog: emptyCatalog() }));
  const nodes = state.nodes.map((node) => (node.id === record.nodeId ? { ...node, images: ids } : node));
  return { ...state, nodes, images: [...kept, ...added] };
}

function applyCatalog(state: SiteState, record: CatalogChange): SiteState {
  const index = state.images.findIndex((image) => image.info.id === record.imageId);
  if (index < 0) refuse(record, `there is no image ${record.imageId}`);
  const image = state.images[index];
  const catalog: ImageCatalog = {
    volumes: changeKeyed(image.catalog.volumes, record.volumes, record, "volume"),
    pools: changeKeyed(image.catalog.pools, record.pools, record, "pool"),
    flash: changeKeyed(image.catalog.flash, record.flash, record, "relationship"),
    pairs: changeKeyed(image.catalog.pairs ?? [], record.pairs ?? NO_CHANGE, record, "PPRC pair"),
    paths: changeKeyed(image.catalog.paths ?? [], record.paths ?? NO_CHANGE, record, "PPRC path"),
  };
  const images = state.images.slice();
  images[index] = { ...image, catalog };
  return { ...state, images };
}

const NO_CHANGE = { set: [], remove: [] };

// Removes then sets (adds or replaces) entries by id, keeping the list sorted by id.
function changeKeyed<T extends { id: string }>(items: readonly T[], change: { set: T[]; remove: string[] }, record: { type: string }, what: string): T[] {
  const byId = new Map(items.map((item) => [item.id, item]));
  for (const id of change.remove) {
    if (!byId.delete(id)) refuse(record, `there is no ${what} ${id} to remove`);
  }
  let added = false;
  for (const item of change.set) {
    if (change.remove.includes(item.id)) refuse(record, `${what} ${item.id} is both removed and set`);
    added ||= !byId.has(item.id);
    byId.set(item.id, { ...item });
  }
  // A Map keeps its keys in insertion order: only new ids can break the order.
  const changed = [...byId.values()];
  return added ? changed.sort((left, right) => (left.id < right.id ? -1 : left.id > right.id ? 1 : 0)) : changed;
}

function applyRequest(state: SiteState, record: Static<typeof SiteRecordSchemas["request.done"]>): SiteState {
  if (state.requests.some((each) => each.requestId === record.requestId)) refuse(record, `request ${record.requestId} is recorded already`);
  const { type: _type, ...outcome } = record;
  const oldest = record.atMs - REQUEST_KEPT_MS;
  const recent = state.requests.filter((each) => each.atMs > oldest);
  return { ...state, requests: [...recent, outcome].slice(-REQUESTS_KEPT_MAX) };
}

export function findRequest(state: SiteState, requestId: string): RequestOutcome | undefined {
  // Newest last: a retry is most likely among the recent ones.
  for (let index = state.requests.length - 1; index >= 0; index--) if (state.requests[index].requestId === requestId) return state.requests[index];
  return undefined;
}

export function findImage(state: SiteState, imageId: string): ImageEntry | undefined {
  return state.images.find((image) => image.info.id === imageId);
}

export function findNode(state: SiteState, nodeId: string): NodeEntry | undefined {
  return state.nodes.find((node) => node.id === nodeId);
}
