import type { BlobStore } from '@acai/blobstore';
import { describeError, type EventingLogger } from '@acai/eventing';
import type { StorageRepository, SweepCursor, Swept } from './blobs.repository.js';

/** What one sweep did. */
export interface SweepReport {
  /** Ownerships forgotten (uploads no version of their project uses, past the grace period). */
  readonly forgotten: number;
  /** The bytes those counted against their projects' quotas. */
  readonly forgottenBytes: number;
  /** Blobs deleted from the store: nobody owned or used them any more. */
  readonly deleted: number;
  readonly deletedBytes: number;
  /** Owned blobs whose size was not known (rows of an earlier release), read from the store. */
  readonly sized: number;
}

/** Where a sweep is counted (the catalog's Prometheus counters). */
export interface SweepMetrics {
  swept(outcome: 'done' | 'skipped' | 'failed', report?: SweepReport): void;
}

export interface SweeperOptions {
  /** How long an ownership no version uses is kept after the project last showed the bytes. */
  readonly graceSeconds: number;
  /** Between two sweeps of this replica. */
  readonly intervalMs: number;
  /** Ownerships looked at per batch (and blobs sized per batch). */
  readonly batch?: number;
}

/** Stats of the store at once while sizing blobs of an earlier release. */
const STAT_CONCURRENCY = 16;

/**
 * The sweep of uploads never committed, every `intervalMs` (the first one interval after start):
 * forgets each ownership no version of its project uses once it is older than the grace period,
 * and deletes the blobs nobody owns or uses any more (see {@link StorageRepository}). Before that,
 * it reads from the store the sizes of blobs owned before sizes were recorded, so that quotas count
 * them. One replica sweeps at a time: the others skip their turn while one does.
 */
export class UploadSweeper {
  private timer: NodeJS.Timeout | undefined;
  /** The sweep under way in this process: another waits for it rather than skip. */
  private running: Promise<unknown> = Promise.resolve();
  /** Set by {@link stop}: a sweep under way ends after its current batch. */
  private stopping = false;

  constructor(
    private readonly storage: StorageRepository,
    private readonly store: BlobStore,
    private readonly metrics: SweepMetrics,
    private readonly logger: EventingLogger,
    private readonly options: SweeperOptions,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => {
      // A failed sweep is logged and counted; the next one tries again.
      this.sweep().catch(() => undefined);
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer, and waits for a sweep under way to end its current batch. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running.catch(() => undefined);
  }

  /** Sweeps now; null if another replica is sweeping. */
  sweep(): Promise<SweepReport | null> {
    const next = this.running.catch(() => undefined).then(() => this.once());
    this.running = next;
    return next;
  }

  private async once(): Promise<SweepReport | null> {
    const started = performance.now();
    try {
      const report = await this.storage.alone(() => this.sweepAlone());
      if (report === undefined) {
        this.metrics.swept('skipped');
        this.logger.debug({}, 'another catalog replica is sweeping uploads; skipped');
        return null;
      }
      this.metrics.swept('done', report);
      this.logger.info(
        {
          ...report,
          graceSeconds: this.options.graceSeconds,
          ms: Math.round(performance.now() - started),
        },
        'swept uploads never committed',
      );
      return report;
    } catch (error) {
      this.metrics.swept('failed');
      this.logger.error(
        { err: describeError(error) },
        'the sweep of uploads never committed failed; the next one tries again',
      );
      throw error;
    }
  }

  private async sweepAlone(): Promise<SweepReport> {
    const batch = this.options.batch ?? 1000;
    const sized = await this.sizeUnsized(batch);
    let report: SweepReport = {
      forgotten: 0,
      forgottenBytes: 0,
      deleted: 0,
      deletedBytes: 0,
      sized,
    };
    let after: SweepCursor | null = null;
    for (;;) {
      const swept: Swept = await this.storage.sweep(
        this.options.graceSeconds,
        batch,
        after,
        (sha) => this.store.delete(sha),
      );
      report = {
        ...report,
        forgotten: report.forgotten + swept.forgotten,
        forgottenBytes: report.forgottenBytes + swept.forgottenBytes,
        deleted: report.deleted + swept.deleted,
        deletedBytes: report.deletedBytes + swept.deletedBytes,
      };
      // The rest is for the next sweep (of this replica or another) when this one stops.
      if (swept.next === null || this.stopping) return report;
      after = swept.next;
    }
  }

  /** Reads the sizes of owned blobs whose size is not known; a blob not in the store is 0 bytes. */
  private async sizeUnsized(batch: number): Promise<number> {
    let sized = 0;
    const seen = new Set<string>();
    for (;;) {
      const shas = (await this.storage.unsized(batch)).filter((sha) => !seen.has(sha));
      if (shas.length === 0) return sized;
      const sizes: { sha256: string; size: number }[] = [];
      for (let i = 0; i < shas.length; i += STAT_CONCURRENCY) {
        const chunk = shas.slice(i, i + STAT_CONCURRENCY);
        const stats = await Promise.all(chunk.map((sha) => this.store.stat(sha)));
        chunk.forEach((sha256, j) => sizes.push({ sha256, size: stats[j]?.size ?? 0 }));
      }
      await this.storage.recordSizes(sizes);
      for (const sha of shas) seen.add(sha);
      sized += shas.length;
      if (this.stopping) return sized;
    }
  }
}
