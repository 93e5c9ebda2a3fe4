// The Copy Services Server's store: its SiteState in a journal directory
// (`--server-state DIR`, src/store/journal.ts): every change is committed as
// records (appended, fsynced, then applied), a snapshot is taken every
// `snapshotEveryAppends` commits, and a reopen brings the same state back.
// A torn last entry (a kill in the middle of an append) is cut off by the
// journal and never half-applied, since an entry is replayed whole or not
// at all; any other damage, a record that does not apply or a snapshot that
// is not a valid SiteState, is refused naming the file and what is wrong.
//
// A backup that (re)joins its primary is handed the whole state
// (replaceState): it is written as a new journal beside the directory
// (DIR.incoming: a snapshot, fsynced), which then takes the directory's place
// by two renames. An open finishes or undoes a replacement a crash interrupted:
// DIR missing but DIR.incoming present means the first rename was done, so the
// second is; a DIR.incoming beside DIR never took its place and goes, and so
// does a DIR.replaced left behind.
import { existsSync } from "node:fs";
import { cp, open as openFile, readdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isJournalFile, openJournal, type Journal, type JournalFileSystem, type OpenReport } from "../store/index.js";
import { applySiteRecord, checkSiteState, emptySiteState, type SiteRecord, type SiteState } from "./site-state.js";
import { ServerError } from "./server-errors.js";

export const SNAPSHOT_EVERY_APPENDS_DEFAULT = 1000;

export interface ServerStoreOptions {
  snapshotEveryAppends?: number; // commits between snapshots; default 1000
  fileSystem?: JournalFileSystem; // tests record or fail its calls
  // Told when a background snapshot fails; the journal keeps every record, so
  // nothing is lost, but the next open replays more. Default: stderr.
  onSnapshotError?: (error: unknown) => void;
}

export interface Committed {
  sequence: number; // of the entry the records became
  term: number; // the term it was written in
  records: readonly SiteRecord[];
}

export class ServerStore {
  private appendsSinceSnapshot = 0;
  private snapshotting: Promise<void> | null = null;

  private constructor(
    private journal: Journal<SiteState, SiteRecord>,
    private readonly options: ServerStoreOptions,
    private readonly snapshotEveryAppends: number,
    private readonly onSnapshotError: (error: unknown) => void,
  ) {}

  static async open(directory: string, options: ServerStoreOptions = {}): Promise<ServerStore> {
    const every = options.snapshotEveryAppends ?? SNAPSHOT_EVERY_APPENDS_DEFAULT;
    if (!Number.isSafeInteger(every) || every < 1) throw new ServerError("BAD_ARGUMENT", `snapshotEveryAppends must be a whole number ≥ 1, not ${every}`);
    await settleReplacement(directory);
    const journal = await ServerStore.openChecked(directory, options);
    const report = (error: unknown) => console.error(`tzero server: a snapshot of ${directory} failed (the journal still holds every record): ${(error as Error).message}`);
    return new ServerStore(journal, options, every, options.onSnapshotError ?? report);
  }

  private static async openChecked(directory: string, options: ServerStoreOptions): Promise<Journal<SiteState, SiteRecord>> {
    const journal = await openJournal<SiteState, SiteRecord>(directory, { initial: emptySiteState, apply: applySiteRecord, fileSystem: options.fileSystem });
    try {
      checkSiteState(journal.state);
      // Records carry the term they were written in; the state's own term is what commands go by.
      if (journal.term < journal.state.term) journal.raiseTerm(journal.state.term);
    } catch (error) {
      await journal.close();
      throw error instanceof ServerError ? new ServerError(error.code, `${directory}: ${error.message}`, { cause: error }) : error;
    }
    return journal;
  }

  get state(): SiteState {
    return this.journal.state;
  }

  get sequence(): number {
    return this.journal.sequence;
  }

  get term(): number {
    return this.state.term;
  }

  get directory(): string {
    return this.journal.directory;
  }

  get openReport(): OpenReport {
    return this.journal.report;
  }

  // Appends the records as one entry (all or nothing), resolves once it is
  // fsynced and applied. A record that does not apply is refused and nothing
  // changes. `term`: the entry's term when it is at least the journal's (a
  // backup writes its primary's entries in the primary's term).
  async commit(records: readonly SiteRecord[], options: { term?: number } = {}): Promise<Committed> {
    if (options.term !== undefined && options.term > this.journal.term) this.journal.raiseTerm(options.term);
    const raised = records.find((record) => record.type === "term.raised");
    if (raised !== undefined && raised.type === "term.raised" && raised.term > this.journal.term) {
      // Validates the record against the head first, so a refused raise leaves the term alone.
      if (raised.term <= this.state.term) throw new ServerError("BAD_RECORD", `term.raised: the term only goes up: ${raised.term} is not above ${this.state.term}`);
      this.journal.raiseTerm(raised.term);
    }
    const term = this.journal.term;
    const sequence = await this.journal.appendAll(records);
    this.appendsSinceSnapshot++;
    if (this.appendsSinceSnapshot >= this.snapshotEveryAppends && this.snapshotting === null) this.startSnapshot();
    return { sequence, term, records };
  }

  private startSnapshot(): void {
    this.appendsSinceSnapshot = 0;
    this.snapshotting = this.journal.snapshot().then(() => undefined, this.onSnapshotError).finally(() => {
      this.snapshotting = null;
    });
  }

  // Writes a snapshot now (and waits for one already under way).
  async snapshot(): Promise<void> {
    await this.snapshotting;
    this.appendsSinceSnapshot = 0;
    await this.journal.snapshot();
  }

  // Replaces the whole state (a backup (re)joining its primary), crash-safely
  // (see the top of this file). Commits must not run meanwhile: the backup
  // takes no records while it installs.
  async replaceState(state: SiteState): Promise<void> {
    checkSiteState(state);
    const directory = this.directory;
    const incoming = `${directory}.incoming`;
    await rm(incoming, { recursive: true, force: true });
    const fresh = await openJournal<SiteState, SiteRecord>(incoming, { initial: () => state, apply: applySiteRecord, fileSystem: this.options.fileSystem });
    await fresh.snapshot();
    await fresh.close();
    // The directory also holds what is not the journal's (the site key, the
    // TLS pair, the peer server's address): copied, modes kept, so the swap
    // below replaces the state and nothing else.
    for (const name of await readdir(directory)) {
      if (!isJournalFile(name)) await cp(join(directory, name), join(incoming, name), { recursive: true, errorOnExist: true, force: false, preserveTimestamps: true });
    }
    await this.snapshotting;
    await this.journal.close();
    await rename(directory, `${directory}.replaced`);
    await rename(incoming, directory);
    await syncDirectory(dirname(directory));
    await rm(`${directory}.replaced`, { recursive: true, force: true });
    this.journal = await ServerStore.openChecked(directory, this.options);
    this.appendsSinceSnapshot = 0;
  }

  async close(): Promise<void> {
    await this.snapshotting;
    await this.journal.close();
  }
}

// Finishes or undoes a replaceState that a crash interrupted (see the top of this file).
async function settleReplacement(directory: string): Promise<void> {
  const incoming = `${directory}.incoming`;
  if (!existsSync(directory) && existsSync(incoming)) {
    await rename(incoming, directory);
    await syncDirectory(dirname(directory));
  }
  await rm(incoming, { recursive: true, force: true });
  await rm(`${directory}.replaced`, { recursive: true, force: true });
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await openFile(directory, "r");
  try {
    await handle.sync();
  } catch (cause) {
    // File systems that cannot fsync a directory say so with EINVAL (or ENOTSUP).
    const code = (cause as NodeJS.ErrnoException).code;
    if (code !== "EINVAL" && code !== "ENOTSUP") throw cause;
  } finally {
    await handle.close();
  }
}
