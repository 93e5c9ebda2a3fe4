// Replication of the Copy Services Server to its backup, and takeover
// (design.md §7). One ReplicatedServer runs in each of the two server nodes;
// it is the primary (it has a CopyServicesServer, `server`) or the backup
// (it keeps a copy of the primary's store and watches its heartbeat).
//
//   const replicated = await ReplicatedServer.start({ store, nodeId, role: "primary" | "backup", ... })
//   await replicated.attach(connection)   a wire Connection to the other server, either way round
//   replicated.server                      the CopyServicesServer while primary, else null
//   replicated.events(listener)            takeover, backup-joined, backup-lost, demoted
//
// On a connection the dialer sends repl.hello (its term, sequence and role);
// the acceptor decides who leads and says so in its reply: a primary leads a
// backup; of two primaries the one with the higher term leads (on a tie the
// acceptor; takeovers raise the term, so a tie means a misconfigured site);
// two backups refuse each other. The one that leads sends the whole state
// (repl.snapshot, in chunks) and then every entry it commits (repl.append,
// batched while one is on its way); the follower installs the state, commits
// each entry to its own store (fsync) and acks (repl.ack, acked_sequence). The
// primary answers a command only once the backup has acked its entry.
//
// Split brain, the choice made: availability first, with terms to fence.
// - A primary whose backup does not ack within ackTimeoutMs (or whose backup
//   connection closes) drops the backup, says so (backup-lost) and serves
//   alone: it is the only server with its term. What it commits while alone
//   is not on any backup.
// - A backup takes over only after heartbeatTimeoutMs without a word from
//   its primary, only once it has been in step with it (a backup that never
//   synced since it started does not know what the primary acknowledged), and
//   with the term raised by one. A backup cut off from a primary that is still
//   alive (a partition) thus becomes a second primary with a higher term:
//   nodes and shells that have seen the higher term refuse the lower one, and
//   when the two servers meet again the one with the lower term steps down
//   (demoted) and becomes the backup of the other, resyncing from its snapshot.
import { Type } from "@sinclair/typebox";
import { Packr } from "msgpackr";
import { defineMessages, type BodyOf, type Connection, type MessageSpecs } from "../wire/index.js";
import { CopyServicesServer, type CopyServicesServerOptions, type ServerEvent, type ServerListener } from "./server.js";
import { ServerError } from "./server-errors.js";
import type { SiteRecord, SiteState } from "./site-state.js";
import { joinBytes } from "../store/frame-buffer.js";
import type { Committed, ServerStore } from "./store.js";

export const REPLICATION_CHUNK_BYTES_MAX = 512 * 1024;
export const REPLICATION_BATCH_BYTES_MAX = 8 * 1024 * 1024;
export const REPLICATION_BATCH_ENTRIES_MAX = 4096;
export const HEARTBEAT_INTERVAL_MS_DEFAULT = 1000;
export const HEARTBEAT_TIMEOUT_MS_DEFAULT = 5000;

const Term = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
const Sequence = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Role = Type.Union([Type.Literal("primary"), Type.Literal("backup")]);
const Hello = { term: Term, sequence: Sequence, role: Role };

// The replication's messages, as a spec table "serve" can merge with the
// Site RPC's on one /cs/node connection (defineMessages({ ...site, ...REPLICATION_MESSAGE_SPECS })).
export const REPLICATION_MESSAGE_SPECS = {
  "repl.hello": { body: Type.Object(Hello, { additionalProperties: false }), reply: "repl.welcome" },
  "repl.welcome": { body: Type.Object({ ...Hello, leader: Type.Union([Type.Literal("dialer"), Type.Literal("acceptor")]) }, { additionalProperties: false }) },
  // Chunk `index` of `count` of the msgpack encoding of the state as of `sequence`.
  "repl.snapshot": {
    body: Type.Object({
      term: Term, sequence: Sequence, index: Type.Integer({ minimum: 0, maximum: 1 << 20 }), count: Type.Integer({ minimum: 1, maximum: 1 << 20 }),
      bytes: Type.Uint8Array({ maxByteLength: REPLICATION_CHUNK_BYTES_MAX }),
    }, { additionalProperties: false }),
    reply: "repl.ack",
  },
  // `count` entries from `first_sequence` on: the msgpack encoding of [{ term, records }, ...].
  "repl.append": {
    body: Type.Object({
      term: Term, first_sequence: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
      count: Type.Integer({ minimum: 1, maximum: REPLICATION_BATCH_ENTRIES_MAX }), entries: Type.Uint8Array({ maxByteLength: REPLICATION_BATCH_BYTES_MAX }),
    }, { additionalProperties: false }),
    reply: "repl.ack",
  },
  "repl.ack": { body: Type.Object({ term: Term, acked_sequence: Sequence }, { additionalProperties: false }) },
  "repl.heartbeat": { body: Type.Object({ term: Term, sequence: Sequence }, { additionalProperties: false }) },
} as const satisfies MessageSpecs;

export const replicationMessages = defineMessages(REPLICATION_MESSAGE_SPECS);
type Specs = typeof REPLICATION_MESSAGE_SPECS;
type HelloBody = BodyOf<Specs, "repl.hello">;
type ReplicationConnection = Connection<any>;

export type ReplicationRole = "primary" | "backup" | "closed";

export interface ReplicatedServerOptions {
  store: ServerStore;
  nodeId: string;
  role: "primary" | "backup"; // how it starts
  heartbeatIntervalMs?: number; // the primary's repl.heartbeat; default 1000
  heartbeatTimeoutMs?: number; // the backup's silence before it takes over; default 5000
  ackTimeoutMs?: number; // the primary's wait for the backup's ack before it serves alone; default heartbeatTimeoutMs
  server?: Omit<CopyServicesServerOptions, "store" | "nodeId" | "afterCommit">;
  // A backup whose primary's connection closed dials again with this, every
  // heartbeat interval until it is in step again or takes over.
  dial?: () => Promise<ReplicationConnection>;
  log?: (line: string) => void; // default: stderr, one line per event
}

const packr = new Packr({ useRecords: false });

export class ReplicatedServer {
  server: CopyServicesServer | null = null;
  private currentRole: ReplicationRole;
  private follower: FollowerLink | null = null; // while primary: the backup
  private leader: LeaderLink | null = null; // while backup: the primary
  private synced = false; // in step with a primary at least once since start
  private takeoverTimer: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<ServerListener>();
  private readonly heartbeatIntervalMs: number;
  private readonly heartbeatTimeoutMs: number;
  private readonly ackTimeoutMs: number;
  private readonly log: (line: string) => void;

  private constructor(private readonly options: ReplicatedServerOptions) {
    this.currentRole = options.role;
    this.heartbeatIntervalMs = positive("heartbeatIntervalMs", options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS_DEFAULT);
    this.heartbeatTimeoutMs = positive("heartbeatTimeoutMs", options.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS_DEFAULT);
    this.ackTimeoutMs = positive("ackTimeoutMs", options.ackTimeoutMs ?? this.heartbeatTimeoutMs);
    if (this.heartbeatTimeoutMs <= this.heartbeatIntervalMs) {
      throw new ServerError("BAD_ARGUMENT", `heartbeatTimeoutMs ${this.heartbeatTimeoutMs} must exceed heartbeatIntervalMs ${this.heartbeatIntervalMs}, or a live primary would be taken over`);
    }
    this.log = options.log ?? ((line) => console.error(`tzero server ${options.nodeId}: ${line}`));
  }

  static async start(options: ReplicatedServerOptions): Promise<ReplicatedServer> {
    const replicated = new ReplicatedServer(options);
    if (options.role === "primary") replicated.server = replicated.newServer();
    return replicated;
  }

  get role(): ReplicationRole {
    return this.currentRole;
  }

  get store(): ServerStore {
    return this.options.store;
  }

  // The primary's sequence this backup has (null before its first snapshot); for a primary its own.
  get sequence(): number | null {
    return this.currentRole === "primary" ? this.store.sequence : this.leader?.sequence ?? null;
  }

  events(listener: ServerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // Meets the other server over `connection` (either end) and leads or follows
  // it. Call it as soon as the connection exists: the dialer says hello once open.
  async attach(connection: ReplicationConnection): Promise<"lead" | "follow"> {
    this.assertOpen();
    if (this.joining.has(connection) || this.welcomed.has(connection)) throw new ServerError("BAD_ARGUMENT", "this connection is attached already");
    // A snapshot may arrive while the dialer is still acting on the welcome: the handlers wait for that first.
    connection.handle("repl.hello", (body: HelloBody) => this.welcome(connection, body));
    connection.handle("repl.snapshot", async (body: BodyOf<Specs, "repl.snapshot">) => {
      await this.joining.get(connection);
      return this.leaderOf(connection).snapshot(body);
    });
    connection.handle("repl.append", async (body: BodyOf<Specs, "repl.append">) => {
      await this.joining.get(connection);
      return this.leaderOf(connection).append(body);
    });
    connection.on("message", (type: string) => {
      if (type === "repl.heartbeat" && this.leader?.connection === connection) this.heard();
    });
    if (connection.side === "acceptor") {
      return new Promise((resolve, reject) => {
        this.welcomed.set(connection, { resolve, reject });
        connection.closed.then((cause) => reject(cause));
      });
    }
    const decided = (async () => {
      await connection.opened;
      const welcome = await connection.request("repl.hello", this.hello(), { timeoutMs: this.heartbeatTimeoutMs });
      if (welcome.leader === "acceptor") this.follow(connection, welcome.term);
      return welcome;
    })();
    this.joining.set(connection, decided.catch(() => undefined));
    try {
      const welcome = await decided;
      if (welcome.leader === "acceptor") return "follow";
      await this.lead(connection, welcome.term);
      return "lead";
    } catch (error) {
      connection.close(`replication refused: ${(error as Error).message}`);
      throw error;
    } finally {
      this.joining.delete(connection);
    }
  }

  private readonly joining = new Map<ReplicationConnection, Promise<unknown>>();
  private readonly welcomed = new Map<ReplicationConnection, { resolve(how: "lead" | "follow"): void; reject(error: unknown): void }>();

  private hello(): HelloBody {
    return { term: this.store.term, sequence: this.store.sequence, role: this.currentRole === "primary" ? "primary" : "backup" };
  }

  // The acceptor's decision, acted on once the reply is on its way.
  private welcome(connection: ReplicationConnection, peer: HelloBody): BodyOf<Specs, "repl.welcome"> {
    this.assertOpen();
    const mine = this.hello();
    if (mine.role === "backup" && peer.role === "backup") {
      this.welcomed.get(connection)?.reject(new ServerError("NOT_PRIMARY", "both servers are backups"));
      this.welcomed.delete(connection);
      throw new ServerError("NOT_PRIMARY", `both servers are backups (terms ${mine.term} and ${peer.term}): a backup joins the primary`);
    }
    const acceptorLeads = mine.role === "primary" && (peer.role === "backup" || mine.term >= peer.term);
    const pending = this.welcomed.get(connection);
    this.welcomed.delete(connection);
    if (!acceptorLeads) {
      // Following at once: the dialer's snapshot comes only after it has this reply.
      this.follow(connection, peer.term);
      pending?.resolve("follow");
      return { ...mine, leader: "dialer" };
    }
    // Leading once the reply is on its way, so the dialer knows to follow before the snapshot comes.
    setImmediate(() => {
      this.lead(connection, peer.term).then(() => pending?.resolve("lead"), (error) => {
        this.log(`replication with ${connection.peer?.nodeId ?? "a peer"} failed: ${(error as Error).message}`);
        pending?.reject(error);
      });
    });
    return { ...mine, leader: "acceptor" };
  }

  // ---- leading: this server is (or stays) primary and `connection` goes to its backup ----

  private async lead(connection: ReplicationConnection, peerTerm: number): Promise<void> {
    if (this.currentRole !== "primary") throw new ServerError("NOT_PRIMARY", "only a primary leads a backup");
    // A follower never goes back in term: a backup that saw a higher one is caught up first.
    if (peerTerm > this.store.term) await this.server!.raiseTerm(peerTerm);
    this.follower?.fail("another backup joined");
    const link = new FollowerLink(connection, this.store, this.heartbeatIntervalMs, (reason) => this.followerLost(link, reason));
    this.follower = link;
    await link.start();
    const peer = connection.peer?.nodeId ?? "?";
    this.log(`backup ${peer} in step at sequence ${link.baseSequence} (term ${this.store.term})`);
    this.emit({ type: "backup-joined", nodeId: peer, sequence: link.baseSequence });
  }

  private followerLost(link: FollowerLink, reason: string): void {
    if (this.follower !== link) return;
    this.follower = null;
    const peer = link.connection.peer?.nodeId ?? "?";
    this.log(`backup ${peer} lost (${reason}): serving alone until a backup joins`);
    this.emit({ type: "backup-lost", nodeId: peer, reason });
  }

  // The afterCommit of this primary's CopyServicesServer: waits (bounded) for the backup's ack.
  private async replicate(committed: Committed): Promise<void> {
    const link = this.follower;
    if (link === null) return;
    const acked = await link.replicate(committed, this.ackTimeoutMs);
    if (!acked) link.fail(`no ack for entry ${committed.sequence} within ${this.ackTimeoutMs} ms`);
  }

  // ---- following: this server is (or becomes) backup of the one at the other end ----

  private follow(connection: ReplicationConnection, leaderTerm: number): void {
    if (this.currentRole === "primary") this.demote(leaderTerm, connection.peer?.nodeId ?? "?");
    this.leader?.connection.close("this backup follows another connection of its primary");
    const link = new LeaderLink(connection, this.store, () => {
      this.synced = true;
      this.heard();
    }, () => this.heard());
    this.leader = link;
    this.heard();
    connection.closed.then((cause) => {
      if (this.leader !== link) return;
      this.log(`primary ${connection.peer?.nodeId ?? "?"} unreachable (${cause.message}); taking over after ${this.heartbeatTimeoutMs} ms of silence`);
      this.redial();
    });
  }

  private demote(term: number, leader: string): void {
    this.follower?.fail("this server steps down");
    this.follower = null;
    this.server?.retire(`server ${leader} leads the site with term ${term}`);
    this.server?.emitServer({ type: "demoted", nodeId: this.options.nodeId, term });
    this.server = null;
    this.currentRole = "backup";
    this.log(`server ${leader} has term ${term}, above this one's: stepping down to be its backup`);
    this.emit({ type: "demoted", nodeId: this.options.nodeId, term });
  }

  private leaderOf(connection: ReplicationConnection): LeaderLink {
    if (this.currentRole !== "backup" || this.leader?.connection !== connection) {
      throw new ServerError("NOT_PRIMARY", "this server does not follow the sender: send repl.hello first");
    }
    return this.leader;
  }

  // Anything from the primary restarts the count to a takeover.
  private heard(): void {
    if (this.takeoverTimer !== null) clearTimeout(this.takeoverTimer);
    this.takeoverTimer = setTimeout(() => this.silence(), this.heartbeatTimeoutMs);
  }

  private silence(): void {
    this.takeoverTimer = null;
    if (this.currentRole !== "backup") return;
    if (!this.synced) {
      this.log(`no word from a primary for ${this.heartbeatTimeoutMs} ms, but this backup was never in step with one: not taking over`);
      return;
    }
    this.takeover().catch((error) => this.log(`takeover failed: ${(error as Error).message}`));
  }

  // Dials the primary again, once a heartbeat interval, until in step or taken over.
  private redial(): void {
    const dial = this.options.dial;
    if (dial === undefined) return;
    const attempt = () => {
      if (this.currentRole !== "backup" || (this.leader !== null && this.leader.connection.isOpen)) return;
      dial().then((connection) => this.attach(connection)).catch(() => setTimeout(attempt, this.heartbeatIntervalMs).unref());
    };
    setTimeout(attempt, this.heartbeatIntervalMs).unref();
  }

  private async takeover(): Promise<void> {
    this.leader?.connection.close("this backup takes over");
    this.leader = null;
    const term = this.store.term + 1;
    await this.store.commit([{ type: "term.raised", term }], { term });
    this.currentRole = "primary";
    this.server = this.newServer();
    const event: ServerEvent = { type: "takeover", nodeId: this.options.nodeId, term };
    this.log(`took over as primary with term ${term}`);
    this.server.emitServer(event);
    this.emit(event);
  }

  private newServer(): CopyServicesServer {
    return new CopyServicesServer({ ...this.options.server, store: this.store, nodeId: this.options.nodeId, afterCommit: (committed) => this.replicate(committed) });
  }

  private emit(event: ServerEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private assertOpen(): void {
    if (this.currentRole === "closed") throw new ServerError("CLOSED", "the replicated server is closed");
  }

  async close(): Promise<void> {
    if (this.currentRole === "closed") return;
    this.currentRole = "closed";
    if (this.takeoverTimer !== null) clearTimeout(this.takeoverTimer);
    this.follower?.fail("the server closes");
    this.leader?.connection.close("the server closes");
    const server = this.server;
    this.server = null;
    if (server !== null) await server.close();
    else await this.store.close();
  }
}

// The primary's end of its backup's connection: the snapshot, then every
// committed entry in order, batched while an append is on its way.
class FollowerLink {
  baseSequence = 0; // the snapshot's: entries up to it need not be sent
  private acked = 0;
  private sent = 0;
  private ready = false;
  private sending = false;
  private gone = false;
  private readonly queue: Committed[] = []; // by sequence, after `sent`
  private readonly waiters: Array<{ sequence: number; settle(acked: boolean): void }> = [];
  private readonly heartbeat: NodeJS.Timeout;

  constructor(readonly connection: ReplicationConnection, private readonly store: ServerStore, heartbeatIntervalMs: number, private readonly lost: (reason: string) => void) {
    this.heartbeat = setInterval(() => {
      if (this.connection.isOpen) this.connection.send("repl.heartbeat", { term: this.store.term, sequence: this.store.sequence });
    }, heartbeatIntervalMs);
    connection.closed.then((cause) => this.fail(`its connection closed: ${cause.message}`));
  }

  async start(): Promise<void> {
    const state = this.store.state;
    const sequence = this.store.sequence;
    this.baseSequence = this.acked = this.sent = sequence;
    const encoded = packr.pack(state);
    const count = Math.max(1, Math.ceil(encoded.byteLength / REPLICATION_CHUNK_BYTES_MAX));
    for (let index = 0; index < count; index++) {
      const bytes = encoded.subarray(index * REPLICATION_CHUNK_BYTES_MAX, (index + 1) * REPLICATION_CHUNK_BYTES_MAX);
      await this.connection.request("repl.snapshot", { term: this.store.term, sequence, index, count, bytes });
    }
    this.ready = true;
    this.pump();
  }

  // Resolves true once the backup has `committed`, false if it is lost or `timeoutMs` pass first.
  replicate(committed: Committed, timeoutMs: number): Promise<boolean> {
    if (this.gone) return Promise.resolve(false);
    if (committed.sequence <= this.acked) return Promise.resolve(true);
    if (committed.sequence > this.sent && !this.queue.some((entry) => entry.sequence === committed.sequence)) {
      this.queue.push(committed);
      this.queue.sort((left, right) => left.sequence - right.sequence);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(false), timeoutMs);
      const settle = (acked: boolean) => {
        clearTimeout(timer);
        resolve(acked);
      };
      this.waiters.push({ sequence: committed.sequence, settle });
      this.pump();
    });
  }

  // Sends the entries that follow the last one sent without a gap, as one append.
  private pump(): void {
    if (!this.ready || this.sending || this.gone) return;
    const batch: Committed[] = [];
    while (this.queue.length > 0 && this.queue[0].sequence === this.sent + batch.length + 1 && batch.length < REPLICATION_BATCH_ENTRIES_MAX) batch.push(this.queue.shift()!);
    if (batch.length === 0) return;
    const entries = packr.pack(batch.map((entry) => ({ term: entry.term, records: entry.records })));
    if (entries.byteLength > REPLICATION_BATCH_BYTES_MAX) {
      this.fail(`entries ${batch[0].sequence} to ${this.sent + batch.length} are ${entries.byteLength} bytes, more than one append carries`);
      return;
    }
    this.sending = true;
    this.sent += batch.length;
    this.connection.request("repl.append", { term: this.store.term, first_sequence: batch[0].sequence, count: batch.length, entries }).then((ack) => {
      this.sending = false;
      this.acknowledged(ack.acked_sequence);
      this.pump();
    }, (error: Error) => this.fail(`append refused: ${error.message}`));
  }

  private acknowledged(sequence: number): void {
    this.acked = Math.max(this.acked, sequence);
    for (let index = this.waiters.length - 1; index >= 0; index--) {
      if (this.waiters[index].sequence > this.acked) continue;
      this.waiters[index].settle(true);
      this.waiters.splice(index, 1);
    }
  }

  fail(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    clearInterval(this.heartbeat);
    for (const waiter of this.waiters.splice(0)) waiter.settle(false);
    if (this.connection.isOpen) this.connection.close(reason);
    this.lost(reason);
  }
}

// The backup's end of its primary's connection: installs the snapshot,
// commits each entry to the backup's own store in order, and acks.
class LeaderLink {
  sequence: number | null = null; // the primary's last sequence this backup holds (null before a snapshot)
  private chunks: Uint8Array[] = [];
  private chain: Promise<unknown> = Promise.resolve(); // snapshots and appends, one after another

  constructor(readonly connection: ReplicationConnection, private readonly store: ServerStore, private readonly installed: () => void, private readonly heard: () => void) {}

  snapshot(body: BodyOf<Specs, "repl.snapshot">): Promise<BodyOf<Specs, "repl.ack">> {
    this.heard();
    return this.serially(async () => {
      this.checkTerm(body.term);
      if (body.index !== this.chunks.length || body.index >= body.count) {
        throw new ServerError("REPLICATION", `snapshot chunk ${body.index} of ${body.count} came after ${this.chunks.length} chunks`);
      }
      this.chunks.push(body.bytes.slice());
      if (this.chunks.length < body.count) return { term: this.store.term, acked_sequence: this.sequence ?? 0 };
      const state = packr.unpack(joinBytes(this.chunks)) as SiteState;
      this.chunks = [];
      await this.store.replaceState(state);
      this.sequence = body.sequence;
      this.installed();
      return { term: this.store.term, acked_sequence: body.sequence };
    });
  }

  append(body: BodyOf<Specs, "repl.append">): Promise<BodyOf<Specs, "repl.ack">> {
    this.heard();
    return this.serially(async () => {
      this.checkTerm(body.term);
      if (this.sequence === null) throw new ServerError("REPLICATION", "entries came before a snapshot");
      if (body.first_sequence !== this.sequence + 1) {
        throw new ServerError("REPLICATION", `entries from ${body.first_sequence} came, but this backup holds up to ${this.sequence}`);
      }
      const entries = packr.unpack(body.entries) as Array<{ term: number; records: SiteRecord[] }>;
      if (!Array.isArray(entries) || entries.length !== body.count) throw new ServerError("REPLICATION", `an append said ${body.count} entries but held ${Array.isArray(entries) ? entries.length : "none"}`);
      for (const entry of entries) {
        await this.store.commit(entry.records, { term: entry.term });
        this.sequence++;
      }
      return { term: this.store.term, acked_sequence: this.sequence };
    });
  }

  // A primary of a lower term than this backup has seen is one that lost the site.
  private checkTerm(term: number): void {
    if (term < this.store.term) throw new ServerError("STALE_TERM", `the sender's term ${term} is below this backup's ${this.store.term}`);
  }

  private serially<T>(body: () => Promise<T>): Promise<T> {
    const next = this.chain.then(body);
    this.chain = next.catch(() => undefined);
    return next;
  }
}


function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new ServerError("BAD_ARGUMENT", `${name} must be a whole number ≥ 1, not ${value}`);
  return value;
}
