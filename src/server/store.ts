// The Copy Services Server's store: its SiteState in a journal directory
// (`--server-state DIR`, src/store/journal.ts): every change is committed as
// records (appended, fsynced, then applied), a snapshot is taken every
// `snapshotEveryAppends` commits, and a reopen brings the same state back.
// A torn last entry (a kill in the middle of an append) is cut off by the
// journal and never half-applied, since an entry is replayed whole or not
// at all; any other damage, a record that does not apply or a snapshot that
// is not a valid SiteState, is refused naming the file and what is wrong.
import { openJournal, type Journal, type JournalFileSystem, type OpenReport } from "../store/index.js";
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
    private readonly journal: Journal<SiteState, SiteRecord>,
    private readonly snapshotEveryAppends: number,
    private readonly onSnapshotError: (error: unknown) => void,
  ) {}

  static async open(directory: string, options: ServerStoreOptions = {}): Promise<ServerStore> {
    const every = options.snapshotEveryAppends ?? SNAPSHOT_EVERY_APPENDS_DEFAULT;
    if (!Number.isSafeInteger(every) || every < 1) throw new ServerError("BAD_ARGUMENT", `snapshotEveryAppends must be a whole number ≥ 1, not ${every}`);
    const journal = await openJournal<SiteState, SiteRecord>(directory, { initial: emptySiteState, apply: applySiteRecord, fileSystem: options.fileSystem });
    try {
      checkSiteState(journal.state);
      // Records carry the term they were written in; the state's own term is what commands go by.
      if (journal.term < journal.state.term) journal.raiseTerm(journal.state.term);
    } catch (error) {
      await journal.close();
      throw error instanceof ServerError ? new ServerError(error.code, `${directory}: ${error.message}`, { cause: error }) : error;
    }
    const report = (error: unknown) => console.error(`tzero server: a snapshot of ${directory} failed (the journal still holds every record): ${(error as Error).message}`);
    return new ServerStore(journal, every, options.onSnapshotError ?? report);
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
  // fsynced and applied. A record that does not apply is refused and nothing changes.
  async commit(records: readonly SiteRecord[]): Promise<Committed> {
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

  async close(): Promise<void> {
    await this.snapshotting;
    await this.journal.close();
  }
}
