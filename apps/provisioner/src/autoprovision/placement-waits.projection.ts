import type { DataSource, EntityManager } from 'typeorm';
import type { StoredEvent } from '@acai/contracts';
import { queryPrepared, type CommittedBatch, type SqlProjection } from '@acai/eventing';
import { type PlacementWaits, WAITS_KEPT, waitSeconds } from '@acai/provisioning';

/** The job events {@link PlacementWaitsProjection} reads. */
export const placementWaitEvents: ReadonlySet<string> = new Set([
  'job.queued',
  'job.requeued',
  'job.rescaled',
  'job.provisioned',
  'job.started',
]);

/**
 * `placement-waits`: how long each attempt waited from being queued (`job.queued`, `job.requeued`
 * or `job.rescaled`) to its start (`job.started`, on its node's clock) beyond the boot of the
 * configuration it was placed on (`job.provisioned`), per provider; and the jobs still waiting.
 * The auto-provisioner holds a deadline against these waits (`PlacementWaits`, its copy in
 * memory: loaded by {@link restore} when the provisioner starts, extended by each wait committed).
 * Replaying the same events again changes nothing: an attempt's wait is recorded once.
 */
export class PlacementWaitsProjection implements SqlProjection {
  readonly name = 'placement-waits';
  /** Waits the transaction under way recorded, for the copy in memory once it commits. */
  private pending: { provider: string; seconds: number }[] = [];
  private emptied = false;

  constructor(
    private readonly schema: string,
    /** The copy in memory the auto-provisioner plans with. */
    readonly waits: PlacementWaits,
    /** Seconds a configuration (`c5.large:spot`, as `job.provisioned` names it) takes to boot. */
    private readonly bootSeconds: (provider: string, offer: string) => number,
  ) {}

  private get s(): string {
    return `"${this.schema.replace(/"/g, '""')}"`;
  }

  async apply(m: EntityManager, events: readonly StoredEvent[]): Promise<void> {
    // A transaction rolled back before (never committed) left its waits here: they are done again.
    this.pending = [];
    for (const event of events) {
      const jobId = event.aggregateId;
      switch (event.type) {
        case 'job.queued':
        case 'job.requeued':
        case 'job.rescaled':
          await queryPrepared(
            m,
            `INSERT INTO ${this.s}.placement_waiting (job_id, queued_at_ms, provider, boot_seconds)
             VALUES ($1, $2, NULL, 0)
             ON CONFLICT (job_id) DO UPDATE SET queued_at_ms = $2, provider = NULL, boot_seconds = 0`,
            [jobId, Date.parse(event.occurredAt)],
          );
          break;
        case 'job.provisioned': {
          const offer = event.data.offer;
          await queryPrepared(
            m,
            `UPDATE ${this.s}.placement_waiting SET provider = $2, boot_seconds = $3 WHERE job_id = $1`,
            [
              jobId,
              event.data.provider,
              offer === null ? 0 : this.bootSeconds(event.data.provider, offer.name),
            ],
          );
          break;
        }
        case 'job.started': {
          // (A DELETE's rows in a SELECT: TypeORM answers a bare DELETE with its row count too.)
          const rows = await queryPrepared<{
            queued_at_ms: number;
            provider: string | null;
            boot_seconds: number;
          }>(
            m,
            `WITH gone AS (DELETE FROM ${this.s}.placement_waiting WHERE job_id = $1
               RETURNING queued_at_ms, provider, boot_seconds)
             SELECT * FROM gone`,
            [jobId],
          );
          const wait = rows[0];
          if (wait === undefined || wait.provider === null) break;
          const clock = event.data.clock;
          const seconds = waitSeconds(
            Number(wait.queued_at_ms),
            Number(wait.boot_seconds),
            Date.parse(clock?.realAt ?? event.occurredAt),
            clock?.rate ?? 1,
          );
          if (seconds === null) break;
          const inserted = await queryPrepared<unknown>(
            m,
            `INSERT INTO ${this.s}.placement_waits (job_id, attempt, provider, seconds, seq)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id, attempt) DO NOTHING RETURNING 1`,
            [jobId, event.data.attempt, wait.provider, seconds, event.position.seq],
          );
          if (inserted.length > 0) this.pending.push({ provider: wait.provider, seconds });
          break;
        }
        default:
          break;
      }
    }
  }

  committed(_batch: CommittedBatch): void {
    if (this.emptied) this.waits.load({});
    this.emptied = false;
    for (const { provider, seconds } of this.pending) this.waits.record(provider, seconds);
    this.pending = [];
  }

  async reset(m: EntityManager): Promise<void> {
    await m.query(`TRUNCATE ${this.s}.placement_waiting, ${this.s}.placement_waits`);
    this.pending = [];
    this.emptied = true;
  }

  async count(m: EntityManager): Promise<number> {
    const rows = await m.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM ${this.s}.placement_waits`,
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Loads the copy in memory from the table: per provider, its last {@link WAITS_KEPT} waits,
   * oldest first. Called when the provisioner starts, before the projection runs.
   */
  async restore(db: DataSource): Promise<void> {
    const rows = await db.query<{ provider: string; seconds: number }[]>(
      `SELECT provider, seconds FROM (
         SELECT provider, seconds, seq,
                row_number() OVER (PARTITION BY provider ORDER BY seq DESC) AS n
         FROM ${this.s}.placement_waits) newest
       WHERE n <= $1 ORDER BY provider, seq`,
      [WAITS_KEPT],
    );
    const samples: Record<string, number[]> = {};
    for (const row of rows) (samples[row.provider] ??= []).push(Number(row.seconds));
    this.waits.load(samples);
  }
}
