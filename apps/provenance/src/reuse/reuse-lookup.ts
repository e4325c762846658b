import {
  AcaiError,
  RunProblems,
  type ReusableResult,
  type ReuseLookupStep,
  type ReuseStepLookup,
} from '@acai/contracts';
import { describeError, type CommittedBatch, type EventingLogger } from '@acai/eventing';
import { lookUpSteps } from '@acai/runs';
import { ResultsIndex, type IndexedJob } from './results-index.js';

/** An in-memory copy of a SQL projection's table, told what the projection runner committed. */
export interface TableFollower {
  /** A transaction that moved the projection's checkpoint committed (see `CommittedBatch`). */
  committed(batch: CommittedBatch): void;
  /** A replay's build took the live table's place (in a transaction not committed yet). */
  replaced(): void;
}

/** `job_signatures` and `reuse_sharing` as of one moment, with their projections' checkpoints. */
export interface IndexSnapshot {
  readonly signatures: {
    readonly checkpoint: number;
    readonly jobs: readonly IndexedJob[];
    /**
     * The content of the versions jobs committed (from the lineage graph, which may be behind or
     * ahead of the signatures: a version never changes, and one not known only means a step that
     * reads it is not signed by provenance).
     */
    readonly manifests?: readonly VersionManifest[];
  };
  readonly sharing: {
    readonly checkpoint: number;
    readonly projects: readonly { project: string; with: readonly string[] }[];
  };
  /**
   * When a replay of either projection was last swapped in (null: never), by any process: a swap
   * by another process is seen when this changes (see `ReuseLookupSource.lastSwap`).
   */
  readonly swappedAt?: string | null;
}

/** A version a job committed, and its manifest's hash. */
export interface VersionManifest {
  readonly project: string;
  readonly fileset: string;
  readonly version: number;
  readonly sha256: string;
}

/** Where the lookup loads its index from and asks while the index may not answer. */
export interface ReuseLookupSource {
  snapshot(): Promise<IndexSnapshot>;
  /**
   * When a replay of either projection was last swapped in, by any process (null: never), as
   * `IndexSnapshot.swappedAt` says it. Without it, only swaps this process makes, and those that
   * leave a gap in the batches it applies, are seen.
   */
  lastSwap?(): Promise<string | null>;
  findResults(
    project: string,
    signature: string,
    excludeJobId: string,
    limit: number,
  ): Promise<ReusableResult[]>;
}

/** One lookup of a batch: a signature, and the job asking (never its own result). */
export interface Lookup {
  readonly signature: string;
  readonly excludeJobId: string;
}

/** What the lookup answers from now. */
export type ReuseLookupState = 'loading' | 'catching-up' | 'ready' | 'reloading' | 'stopped';

/** Why a copy must be loaded again. */
type Reload =
  /** A batch left a gap: events were applied elsewhere (another process, a replay's swap). */
  | 'gap'
  /** A replay's swap is on its way, in a transaction not committed yet. */
  | 'swap'
  /** A batch committed while the copy was not loaded. */
  | 'buffered';

/** One table followed: where its copy is, and the batches that came while it was being loaded. */
class Followed implements TableFollower {
  /** The checkpoint the copy reflects (null: being loaded, or waiting to be). */
  position: number | null = null;
  buffered: CommittedBatch[] = [];

  constructor(
    private readonly apply: (batch: CommittedBatch, after: number) => void,
    private readonly reload: (why: Reload) => void,
  ) {}

  committed(batch: CommittedBatch): void {
    if (this.position === null) {
      this.buffered.push(batch);
      this.reload('buffered');
      return;
    }
    if (batch.through <= this.position) return;
    if (batch.after > this.position) {
      // Events between the copy and this batch were applied elsewhere (another provenance process,
      // or a replay's swap): the copy cannot know them, so it is loaded again.
      this.buffered.push(batch);
      this.reload('gap');
      return;
    }
    this.apply(batch, this.position);
    this.position = batch.through;
  }

  /**
   * Loading now could read the table the swap replaces: the copy stops answering, and is loaded
   * once the next batch has committed (batches lock the checkpoints the swap locks, so that one
   * comes after it).
   */
  replaced(): void {
    this.reload('swap');
  }

  /** The copy is loaded as of `checkpoint`: the batches that came meanwhile are applied. */
  loaded(checkpoint: number): void {
    this.position = checkpoint;
    const buffered = this.buffered;
    this.buffered = [];
    for (const batch of buffered) this.committed(batch);
  }
}

/**
 * The reuse lookup (`findReusable`, `findReusableMany`), answered from `ResultsIndex` in memory:
 * loaded from `job_signatures` and `reuse_sharing` at boot, then told of every transaction the
 * projection runner commits to them (the same events, applied once each: a batch already in the
 * copy is passed over, one that leaves a gap has the copy loaded again). Until the copy is loaded
 * and has caught up with the log as it was at boot, and while it is loaded again, the tables are
 * asked instead: the lookup never answers "nothing reusable" from a copy that is behind them.
 */
export class ReuseLookup {
  readonly index = new ResultsIndex();
  readonly signatures: Followed;
  readonly sharing: Followed;
  /** Whether the copy has caught up with the log as it was at boot once. */
  private caughtUpOnce = false;
  /** A load running, and whether another was asked for meanwhile. */
  private loading: Promise<void> | undefined;
  private again = false;
  /** A replay's swap is on its way: the copy is loaded after the next batch. */
  private deferred = false;
  private stopped = false;
  /** The latest replay swap the copy holds (undefined: not loaded, or not known). */
  private swappedAt: string | null | undefined;
  private swapCheck: NodeJS.Timeout | undefined;
  private fallback: ReuseLookupSource | undefined;
  private from:
    | {
        readonly source: ReuseLookupSource;
        readonly caughtUp: (timeoutMs: number) => Promise<boolean>;
      }
    | undefined;

  /**
   * @param retryMs how long to wait before asking the tables again after a failure
   * @param swapCheckMs how often to ask whether another process swapped a replay in (0: never)
   */
  constructor(
    private readonly logger: EventingLogger,
    private readonly retryMs = 1_000,
    private readonly swapCheckMs = 5_000,
  ) {
    this.signatures = new Followed(
      (batch, after) => this.index.applyJobs(batch.events.filter((e) => e.position.seq > after)),
      (when) => this.reload(when),
    );
    this.sharing = new Followed(
      (batch, after) => this.index.applySharing(batch.events.filter((e) => e.position.seq > after)),
      (when) => this.reload(when),
    );
  }

  /** The tables to ask before `start` (the service answers commands before it has loaded). */
  fallBackTo(source: ReuseLookupSource): void {
    this.fallback = source;
  }

  get state(): ReuseLookupState {
    if (this.stopped) return 'stopped';
    if (this.signatures.position === null || this.sharing.position === null) {
      return this.caughtUpOnce ? 'reloading' : 'loading';
    }
    return this.caughtUpOnce ? 'ready' : 'catching-up';
  }

  /**
   * Loads the index from `source`, then waits (in the background) for it to catch up with the log.
   * Meanwhile, and whenever it is loaded again, `source` answers.
   *
   * @param caughtUp waits (at most the given ms) until the projections have applied the log as of
   *   now; whether they did (`ProjectionControl.catchUp`)
   */
  async start(
    source: ReuseLookupSource,
    caughtUp: (timeoutMs: number) => Promise<boolean>,
  ): Promise<void> {
    this.stopped = false;
    this.from = { source, caughtUp };
    await this.load();
    void this.waitForLog();
    if (this.swapCheckMs > 0 && source.lastSwap !== undefined) {
      this.swapCheck = setInterval(() => void this.checkSwap(), this.swapCheckMs);
      this.swapCheck.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.swapCheck);
    this.swapCheck = undefined;
  }

  /**
   * Whether another process swapped a replay of either table in since the copy was loaded: its
   * swap moves the checkpoint no further than the events this process applied, so no batch shows
   * a gap, yet the rows are the replay's. The copy is loaded again (the tables answer meanwhile).
   */
  async checkSwap(): Promise<void> {
    const source = this.from?.source;
    if (source?.lastSwap === undefined || this.stopped) return;
    if (this.signatures.position === null || this.sharing.position === null) return;
    const known = this.swappedAt;
    let latest: string | null;
    try {
      latest = await source.lastSwap();
    } catch (error) {
      this.logger.warn(
        { err: describeError(error) },
        'could not tell whether a replay was swapped in; asking again later',
      );
      return;
    }
    if (known === undefined || latest === known || this.swappedAt !== known) return;
    this.logger.info(
      { swappedAt: latest },
      'a replay of the reuse tables was swapped in by another process; loading them again',
    );
    this.reload('gap');
  }

  /** The `limit` newest results of each lookup (see `ResultsIndex.findResults`), in order. */
  async findMany(
    project: string,
    lookups: readonly Lookup[],
    limit: number,
  ): Promise<ReusableResult[][]> {
    if (this.state === 'ready') {
      return lookups.map((l) =>
        this.index.findResults(project, l.signature, l.excludeJobId, limit),
      );
    }
    const source = this.from?.source ?? this.fallback;
    if (source === undefined) {
      throw new AcaiError(
        RunProblems.PROVENANCE_BEHIND,
        'Provenance is starting: earlier results cannot be looked up yet. Ask again in a moment.',
      );
    }
    const found: ReusableResult[][] = [];
    for (const l of lookups) {
      found.push(await source.findResults(project, l.signature, l.excludeJobId, limit));
    }
    return found;
  }

  /**
   * A run's steps looked up in one pass (`lookUpSteps`): provenance signs each step that reads
   * others with their newest results' outputs. Until the index answers (loading, catching up,
   * loading again) every step is `unknown`: the caller looks them up a level at a time.
   */
  findSteps(project: string, steps: readonly ReuseLookupStep[], limit: number): ReuseStepLookup[] {
    if (this.state !== 'ready') {
      const reason = 'provenance is loading its index of earlier results';
      return steps.map(() => ({ kind: 'unknown', reason }));
    }
    return lookUpSteps(steps, {
      results: (signature, excludeJobId) =>
        this.index.findResults(project, signature, excludeJobId, limit),
      // A result's project is the asking one or one that shares its results with it.
      manifestOf: (of, fileset, version) => this.index.manifestOf(of ?? project, fileset, version),
    });
  }

  private async waitForLog(): Promise<void> {
    while (!this.stopped) {
      try {
        if (await this.from!.caughtUp(5_000)) {
          this.caughtUpOnce = true;
          this.logger.info(
            { jobs: this.index.size.jobs, results: this.index.size.results },
            'reuse lookups answered from memory',
          );
          return;
        }
      } catch (error) {
        this.logger.warn(
          { err: describeError(error) },
          'could not tell whether the reuse index has caught up with the log; asking again',
        );
        await delay(this.retryMs);
      }
    }
  }

  /** Loads the index again (a gap, a replay's swap): the tables answer meanwhile. */
  private reload(why: Reload): void {
    if (this.stopped || this.from === undefined) return;
    if (why === 'swap') this.deferred = true;
    else if (why === 'buffered') {
      // Buffered while a load runs: it applies them. After a swap, this batch came after it.
      if (!this.deferred) return;
      this.deferred = false;
    }
    this.signatures.position = null;
    this.sharing.position = null;
    if (why === 'swap') return;
    if (this.loading !== undefined) {
      this.again = true;
      return;
    }
    void this.load();
  }

  private load(): Promise<void> {
    this.loading ??= (async () => {
      do {
        this.again = false;
        this.signatures.position = null;
        this.sharing.position = null;
        this.swappedAt = undefined;
        let snapshot: IndexSnapshot | undefined;
        while (snapshot === undefined && !this.stopped) {
          try {
            snapshot = await this.from!.source.snapshot();
          } catch (error) {
            this.logger.warn(
              { err: describeError(error) },
              'could not load the reuse index; the tables answer until it is loaded',
            );
            await delay(this.retryMs);
          }
        }
        if (snapshot === undefined) return;
        this.swappedAt = snapshot.swappedAt;
        this.index.clearJobs();
        this.index.clearSharing();
        for (const job of snapshot.signatures.jobs) this.index.load(job);
        for (const m of snapshot.signatures.manifests ?? []) {
          this.index.loadManifest(m.project, m.fileset, m.version, m.sha256);
        }
        for (const p of snapshot.sharing.projects) this.index.loadSharing(p.project, p.with);
        if (this.deferred) {
          // A swap came while loading: what was read may be the replaced table.
          this.again = false;
          return;
        }
        this.signatures.loaded(snapshot.signatures.checkpoint);
        this.sharing.loaded(snapshot.sharing.checkpoint);
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
