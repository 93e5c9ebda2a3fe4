// The console's one store (style.md: one store fed by the event stream; no
// view fetches on its own timer). It holds the site as DS CLI's listings
// show it, image by image, and refreshes a part of it when an event says
// that part changed; progress messages move the bars and feed the chart
// without any request. Views read it through useStore (hooks.ts).
import { Api, type ConsoleEvent, type Row, type TaskRecord } from "./api.js";
import { EventStream, type ProgressMessage, type StreamMessage, type StreamState } from "./stream.js";

export const TRACK_BYTES = 64 * 1024;
const BLOCK_BYTES = 512;
const GIB = 1024 ** 3;
const EXTENTS_PER_GIB = 1024;
export const EVENTS_KEPT = 2000;
export const THROUGHPUT_SECONDS = 600; // the chart's last ten minutes
const TASK_LINES_KEPT = 2000;
const REFRESH_DELAY_MS = 60; // events of one command arrive together: one refresh for them
// A copy the listing shows under way but no progress message covers (it may
// end between two of the stream's ticks, and a copy's end is not an event):
// its listing is read again after this long, for as long as that holds.
const FOLLOW_COPY_MS = 1000;

export interface Image {
  id: string;
  name: string;
  model: string; // "2107" from the image ID
  mtm: string; // lssi's Model column
  state: string;
  wwnn: string;
  capacityBytes: number;
  allocatedBytes: number;
  volumeCount: number;
  pools: Row[];
}

export interface Volume {
  image: string;
  id: string;
  lss: string;
  name: string;
  pool: string;
  sizeBytes: number;
  dataState: string;
  os: string;
}

export interface Flash {
  image: string;
  id: string;
  source: string;
  target: string;
  outOfSyncTracks: number;
  state: string;
  reason: string;
  options: string[];
  row: Row;
}

export interface Pair {
  image: string;
  id: string;
  state: string;
  reason: string;
  type: string;
  outOfSyncTracks: number;
  firstPass: string;
  row: Row;
}

export interface Path {
  image: string;
  source: string;
  target: string;
  state: string;
  ports: string[];
  targetWwnn: string;
  reason: string;
}

export interface Port {
  image: string;
  id: string;
  state: string;
  wwpn: string;
  type: string;
}

export interface FlashProgress {
  tracksLeft: number;
  trackCount: number;
  bytesPerSecond: number;
}

export interface TaskRun {
  runId: string;
  name: string;
  lines: string[];
  exitCode: number | null;
}

export type Section = "images" | "volumes" | "flash" | "pprc" | "paths" | "ports" | "tasks";
const SECTIONS: readonly Section[] = ["images", "volumes", "flash", "pprc", "paths", "ports", "tasks"];

export interface ConsoleState {
  signedIn: boolean;
  user: string | null;
  signedOutBecause: string | null; // shown on the login page: why the console asks again
  connection: { state: StreamState; detail: string };
  images: Image[];
  volumes: Volume[];
  flash: Flash[];
  pairs: Pair[];
  paths: Path[];
  ports: Port[];
  tasks: TaskRecord[];
  loaded: Record<Section, boolean>;
  errors: Partial<Record<Section | "events", string>>;
  events: ConsoleEvent[]; // oldest first, at most EVENTS_KEPT
  flashProgress: Map<string, FlashProgress>; // by `${image} ${id}`
  pairRates: Map<string, number>; // bytes per second, by `${image} ${id}`
  throughput: { seconds: number[]; flash: number[]; pprc: number[] };
  runs: TaskRun[];
}

export const progressKey = (image: string, id: string): string => `${image} ${id}`;

const number = (text: string | undefined): number => {
  const value = Number(text);
  return Number.isFinite(value) ? value : 0;
};
const enabled = (row: Row, column: string): boolean => row[column] === "Enabled";

function imageOf(row: Row, pools: Row[], volumeCount: number): Image {
  const capacityBytes = pools.reduce((sum, pool) => sum + number(pool["totlstor (2^30B)"]) * GIB, 0);
  const allocatedBytes = pools.reduce((sum, pool) => sum + number(pool.allocated) * (GIB / EXTENTS_PER_GIB), 0);
  return {
    id: row.ID, name: row.Name, model: /^IBM\.(\d{4})-/.exec(row.ID)?.[1] ?? "-", mtm: row.Model, state: row.State, wwnn: row.WWNN,
    capacityBytes, allocatedBytes, volumeCount, pools,
  };
}

const volumeOf = (image: string, row: Row): Volume => ({
  image, id: row.ID, lss: row.ID.slice(0, 2), name: row.Name, pool: row.extpool, sizeBytes: number(row["cap (blocks)"]) * BLOCK_BYTES,
  dataState: row.datastate, os: row.OS ?? "",
});

function flashOf(image: string, row: Row): Flash {
  const [source, target] = row.ID.split(":");
  const options = [
    enabled(row, "BackgroundCopy") ? "background copy" : "nocp",
    ...(enabled(row, "Persistent") ? ["persist"] : []), ...(enabled(row, "Recording") ? ["record"] : []),
    ...(row.TargetWriteEnabled === "Disabled" ? ["tgtinhibit"] : []), ...(enabled(row, "Revertible") ? ["revertible"] : []),
    ...(row.SourceWriteEnabled === "Disabled" ? ["writes held"] : []), ...(number(row.SequenceNum) > 0 ? [`seqnum ${row.SequenceNum}`] : []),
  ];
  return { image, id: row.ID, source, target, outOfSyncTracks: number(row.OutOfSyncTracks), state: row.State, reason: row.Reason, options, row };
}

const pairOf = (image: string, row: Row): Pair => ({
  image, id: row.ID, state: row.State, reason: row.Reason, type: row.Type, outOfSyncTracks: number(row["Out Of Sync Tracks"]),
  firstPass: row["First Pass Status"] ?? "-", row,
});

const pathOf = (image: string, row: Row): Path => ({
  image, source: row.Src, target: row.Tgt, state: row.State, ports: [`${row.Port}:${row["Attached Port"]}`],
  targetWwnn: row["Tgt WWNN"], reason: row["Failed Reason"] ?? "-",
});

const portOf = (image: string, row: Row): Port => ({ image, id: row.ID, state: row.State, wwpn: row.WWPN, type: row.Type });

// lspprcpath lists a path once per port pair: one Path per LSS pair, its port pairs together.
export function joinPaths(paths: Path[]): Path[] {
  const joined = new Map<string, Path>();
  for (const path of paths) {
    const key = `${path.image} ${path.source} ${path.target}`;
    const seen = joined.get(key);
    if (seen === undefined) joined.set(key, { ...path });
    else seen.ports = [...seen.ports, ...path.ports];
  }
  return [...joined.values()];
}

// Which parts of the site an event's kind touches; a kind not known here refreshes everything.
export function sectionsOf(kind: string): Section[] {
  if (/task/i.test(kind)) return ["tasks"];
  if (/user|host/i.test(kind)) return [];
  if (/path/i.test(kind)) return ["paths", "pprc"];
  if (/pprc|pair|mirror|freeze/i.test(kind)) return ["pprc", "paths"];
  if (/flash/i.test(kind)) return ["flash", "images"];
  if (/vol/i.test(kind)) return ["volumes", "images"];
  return [...SECTIONS];
}

type Listener = () => void;

export class Store {
  state: ConsoleState;
  private listeners = new Set<Listener>();
  private readonly stream: EventStream;
  private pending = new Set<Section>();
  private refreshing = new Set<Section>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private followers = new Map<Section, ReturnType<typeof setTimeout>>();
  private streamOpened = false; // start() has read every listing; a later "ready" is a reconnect

  constructor(readonly api: Api) {
    this.state = {
      signedIn: api.token !== null, user: api.user, signedOutBecause: null, connection: { state: "connecting", detail: "not connected" },
      images: [], volumes: [], flash: [], pairs: [], paths: [], ports: [], tasks: [],
      loaded: { images: false, volumes: false, flash: false, pprc: false, paths: false, ports: false, tasks: false }, errors: {},
      events: [], flashProgress: new Map(), pairRates: new Map(), throughput: { seconds: [], flash: [], pprc: [] }, runs: [],
    };
    this.stream = new EventStream(api, {
      message: (message) => this.receive(message),
      state: (state, detail) => this.set({ connection: { state, detail } }),
      refused: () => api.signOut("the server no longer knows this session (it expired, idled out or was logged out): log in again"),
    });
    api.onSignedOut((reason) => {
      this.stream.stop();
      this.streamOpened = false;
      this.set({ signedIn: false, user: null, signedOutBecause: reason });
    });
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private set(change: Partial<ConsoleState>): void {
    this.state = { ...this.state, ...change };
    for (const listener of this.listeners) listener();
  }

  async signIn(user: string, password: string): Promise<void> {
    await this.api.login(user, password);
    this.set({ signedIn: true, user, signedOutBecause: null });
    this.start();
  }

  start(): void {
    if (!this.state.signedIn) return;
    this.stream.start();
    this.refresh(...SECTIONS);
    void this.loadEvents();
  }

  // Runs one DS CLI line for an action, then refreshes what it may have
  // changed (the event stream would too; this keeps the page right if it is down).
  async run(command: string, sections: Section[] = [...SECTIONS]) {
    const result = await this.api.run(command);
    this.refresh(...sections);
    return result;
  }

  refresh(...sections: Section[]): void {
    for (const section of sections) this.pending.add(section);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, REFRESH_DELAY_MS);
  }

  private async flush(): Promise<void> {
    const sections = [...this.pending].filter((section) => !this.refreshing.has(section));
    for (const section of sections) {
      this.pending.delete(section);
      this.refreshing.add(section);
    }
    // Images first: every other listing is per image.
    if (sections.includes("images") || this.state.images.length === 0) await this.load("images");
    await Promise.all(sections.filter((section) => section !== "images").map((section) => this.load(section)));
    for (const section of sections) this.refreshing.delete(section);
    if (this.pending.size > 0) this.refresh();
  }

  // A section's listing; images that do not answer (their node is away) are
  // left out of it and named in its error, so the others still show.
  private async load(section: Section): Promise<void> {
    try {
      const problems: string[] = [];
      const change = await this.fetch(section, problems);
      const error = problems.length === 0 ? undefined : problems.join("\n");
      this.set({ ...change, loaded: { ...this.state.loaded, [section]: true }, errors: { ...this.state.errors, [section]: error } });
      this.followCopies(section);
    } catch (error) {
      // A CommandError's message is DS CLI's own lines; any other says what failed on the way.
      this.set({ errors: { ...this.state.errors, [section]: (error as Error).message } });
    }
  }

  private followCopies(section: Section): void {
    const { flash, pairs, flashProgress, pairRates } = this.state;
    const uncovered = section === "flash"
      ? flash.some((relation) => relation.row.BackgroundCopy === "Enabled" && relation.outOfSyncTracks > 0 && !flashProgress.has(progressKey(relation.image, relation.id)))
      : section === "pprc" && pairs.some((pair) => /Copy Pending/.test(pair.state) && !pairRates.has(progressKey(pair.image, pair.id)));
    if (!uncovered || this.followers.has(section) || !this.state.signedIn) return;
    this.followers.set(section, setTimeout(() => {
      this.followers.delete(section);
      this.refresh(section, ...(section === "flash" ? ["images" as const] : []));
    }, FOLLOW_COPY_MS));
  }

  private async perImage<T>(command: (image: string) => string, map: (image: string, row: Row) => T, problems: string[]): Promise<T[]> {
    const lists = await Promise.allSettled(this.state.images.map(async (image) => (await this.api.list(command(image.id))).map((row) => map(image.id, row))));
    for (const list of lists) if (list.status === "rejected") problems.push((list.reason as Error).message);
    return lists.flatMap((list) => (list.status === "fulfilled" ? list.value : []));
  }

  private async fetch(section: Section, problems: string[]): Promise<Partial<ConsoleState>> {
    const api = this.api;
    switch (section) {
      case "images": {
        const rows = await api.list("lssi");
        const images = await Promise.all(rows.map(async (row) => {
          const pools = await api.list(`lsextpool -l -dev ${row.ID}`);
          return imageOf(row, pools, pools.reduce((sum, pool) => sum + number(pool.numvols), 0));
        }));
        return { images };
      }
      case "volumes": return { volumes: await this.perImage((image) => `lsfbvol -dev ${image}`, volumeOf, problems) };
      case "flash": return { flash: await this.perImage((image) => `lsflash -l -dev ${image} 0000-FFFF`, flashOf, problems) };
      case "pprc": return { pairs: await this.perImage((image) => `lspprc -l -dev ${image}`, pairOf, problems) };
      case "paths": return { paths: joinPaths(await this.perImage((image) => `lspprcpath -l -dev ${image}`, pathOf, problems)) };
      case "ports": return { ports: await this.perImage((image) => `lsioport -dev ${image}`, portOf, problems) };
      case "tasks": return { tasks: await api.tasks() };
    }
  }

  private async loadEvents(): Promise<void> {
    try {
      const events = await this.api.events(0, EVENTS_KEPT);
      this.addEvents(events);
      this.set({ errors: { ...this.state.errors, events: undefined } });
    } catch (error) {
      this.set({ errors: { ...this.state.errors, events: `event log: ${(error as Error).message}` } });
    }
  }

  private addEvents(events: ConsoleEvent[]): void {
    const bySeq = new Map(this.state.events.map((event) => [event.seq, event]));
    for (const event of events) bySeq.set(event.seq, event);
    const sorted = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    this.set({ events: sorted.slice(-EVENTS_KEPT) });
  }

  private receive(message: StreamMessage): void {
    switch (message.type) {
      case "ready":
        // After a reconnect the site may have changed in ways the missed events do not all say (a restart).
        if (this.streamOpened) this.refresh(...SECTIONS);
        this.streamOpened = true;
        // The list for the next takeover; should this fail, the page keeps the list it had.
        void this.api.loadServers().catch(() => undefined);
        return;
      case "event":
        this.addEvents([message]);
        this.refresh(...sectionsOf(message.kind));
        return;
      case "progress":
        this.progress(message);
        return;
      case "task-output":
        this.taskRun(message.runId, (run) => ({ ...run, lines: [...run.lines, message.line].slice(-TASK_LINES_KEPT) }));
        return;
      case "task-finished":
        this.taskRun(message.runId, (run) => ({ ...run, exitCode: message.exitCode }));
        this.refresh("tasks");
        return;
    }
  }

  // The run's output may have come on the stream before its POST answered: then it only gets its name.
  startedRun(runId: string, name: string): void {
    this.taskRun(runId, (run) => ({ ...run, name }));
  }

  private taskRun(runId: string, change: (run: TaskRun) => TaskRun): void {
    const runs = this.state.runs.some((run) => run.runId === runId) ? this.state.runs : [...this.state.runs, { runId, name: "", lines: [], exitCode: null }];
    this.set({ runs: runs.map((run) => (run.runId === runId ? change(run) : run)) });
  }

  private progress(message: ProgressMessage): void {
    const flashProgress = new Map<string, FlashProgress>();
    for (const flash of message.flash) flashProgress.set(progressKey(flash.image, flash.id), flash);
    const pairRates = new Map<string, number>();
    for (const pair of message.pprc) pairRates.set(progressKey(pair.image, pair.id), pair.bytesPerSecond);
    // A copy that stopped or is not listed yet: that listing is out of date.
    const flashListed = new Set(this.state.flash.map((flash) => progressKey(flash.image, flash.id)));
    if (changedKeys(this.state.flashProgress, flashProgress, flashListed)) this.refresh("flash", "images");
    const pairsListed = new Set(this.state.pairs.map((pair) => progressKey(pair.image, pair.id)));
    if (changedKeys(this.state.pairRates, pairRates, pairsListed)) this.refresh("pprc");
    const outOfSync = new Map(message.pprc.map((pair) => [progressKey(pair.image, pair.id), pair.outOfSyncTracks]));
    const pairs = this.state.pairs.map((pair) => {
      const tracks = outOfSync.get(progressKey(pair.image, pair.id));
      return tracks === undefined ? pair : { ...pair, outOfSyncTracks: tracks };
    });
    this.set({ flashProgress, pairRates, pairs, throughput: addSample(this.state.throughput, message) });
  }
}

// One point per progress message. The stream is silent while nothing copies,
// so a gap between two messages was idle: it is drawn as zero, not as a line across.
export function addSample(throughput: ConsoleState["throughput"], message: ProgressMessage): ConsoleState["throughput"] {
  const time = Math.floor(Date.parse(message.time) / 1000) || Math.floor(Date.now() / 1000);
  const sum = (rates: Array<{ bytesPerSecond: number }>) => rates.reduce((total, rate) => total + rate.bytesPerSecond, 0);
  const seconds = [...throughput.seconds];
  const flash = [...throughput.flash];
  const pprc = [...throughput.pprc];
  const last = seconds[seconds.length - 1];
  if (last !== undefined && time - last > 2) {
    seconds.push(last + 1, time - 1);
    flash.push(0, 0);
    pprc.push(0, 0);
  }
  if (last !== undefined && time <= last) return throughput;
  seconds.push(time);
  flash.push(sum(message.flash));
  pprc.push(sum(message.pprc));
  const from = Math.max(0, seconds.length - THROUGHPUT_SECONDS);
  return { seconds: seconds.slice(from), flash: flash.slice(from), pprc: pprc.slice(from) };
}

const changedKeys = (before: Map<string, unknown>, now: Map<string, unknown>, listed: Set<string>): boolean =>
  [...before.keys()].some((key) => !now.has(key)) || [...now.keys()].some((key) => !listed.has(key));
