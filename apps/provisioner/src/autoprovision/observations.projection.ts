import type { DataSource, EntityManager } from 'typeorm';
import type { StoredEvent } from '@acai/contracts';
import { queryPrepared, type SqlProjection } from '@acai/eventing';
import { jobProfile, type JobObservation } from '@acai/provisioning';

/** The job events {@link ObservationsProjection} reads: a batch of others costs no transaction. */
export const observationEvents: ReadonlySet<string> = new Set([
  'job.queued',
  'job.provisioned',
  'job.checkpointed',
  'job.started',
  'job.succeeded',
  'job.failed',
]);

/**
 * `runtime-observations`: every job the auto-provisioner placed (profiling runs included), with its
 * profile signature and size features (from `job.queued`), its configuration and prediction (from
 * `job.provisioned`) and how long it really took (`job.succeeded`), or that it ran out of memory.
 * A job that ended in an attempt resumed from a checkpoint (`job.checkpointed`, then a
 * `job.started`) succeeded, but its time is only the rest of the work: it adds no running time.
 * Each job's checkpoints are counted: how often a profile's jobs checkpoint prices Spot for it.
 * The runtime model of a signature is fitted on these rows; prediction error is read off them.
 */
export class ObservationsProjection implements SqlProjection {
  readonly name = 'runtime-observations';

  constructor(private readonly schema: string) {}

  table(): string {
    return `"${this.schema.replace(/"/g, '""')}".runtime_observations`;
  }

  async apply(m: EntityManager, events: readonly StoredEvent[]): Promise<void> {
    for (const event of events) {
      const jobId = event.aggregateId;
      switch (event.type) {
        case 'job.queued': {
          const { provision } = event.data;
          if (provision === null) break;
          let profile;
          try {
            profile = jobProfile({ ...event.data, provision });
          } catch {
            // A size parameter that is not a number: the provisioner rejects the job; nothing to learn.
            break;
          }
          await queryPrepared(
            m,
            `INSERT INTO ${this.table()} (job_id, project, signature, features, updated_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id) DO NOTHING`,
            [
              jobId,
              event.project,
              profile.signature,
              JSON.stringify(profile.size),
              event.occurredAt,
            ],
          );
          break;
        }
        case 'job.provisioned': {
          const { offer, decision } = event.data;
          await queryPrepared(
            m,
            `UPDATE ${this.table()} SET provider = $2, offer = $3, cpu = $4, memory_mb = $5,
               price_per_hour = $6, predicted_seconds = $7, updated_at = $8 WHERE job_id = $1`,
            [
              jobId,
              event.data.provider,
              offer?.name ?? null,
              event.data.resources.cpu,
              event.data.resources.memoryMb,
              offer?.pricePerHour ?? null,
              decision?.predictedSeconds ?? null,
              event.occurredAt,
            ],
          );
          break;
        }
        case 'job.checkpointed':
          await queryPrepared(
            m,
            `UPDATE ${this.table()} SET checkpointed = true, checkpoints = checkpoints + 1 WHERE job_id = $1`,
            [jobId],
          );
          break;
        case 'job.started':
          // An attempt after a checkpoint resumes from it: it runs only what is left.
          await queryPrepared(
            m,
            `UPDATE ${this.table()} SET resumed = checkpointed WHERE job_id = $1 AND resumed <> checkpointed`,
            [jobId],
          );
          break;
        case 'job.succeeded':
          // A resumed attempt's time is part of the job's: it succeeded, but says nothing of how
          // long the job takes.
          await queryPrepared(
            m,
            `UPDATE ${this.table()} SET seconds = CASE WHEN resumed THEN NULL ELSE $2::float8 END,
               outcome = 'succeeded', updated_at = $3 WHERE job_id = $1`,
            [jobId, event.data.durationMs / 1000, event.occurredAt],
          );
          break;
        case 'job.failed':
          await queryPrepared(
            m,
            `UPDATE ${this.table()} SET outcome = $2, updated_at = $3 WHERE job_id = $1`,
            [
              jobId,
              event.data.reason === 'out_of_memory' ? 'out_of_memory' : 'failed',
              event.occurredAt,
            ],
          );
          break;
        default:
          break;
      }
    }
  }

  async reset(m: EntityManager): Promise<void> {
    await m.query(`TRUNCATE ${this.table()}`);
  }

  async count(m: EntityManager): Promise<number> {
    const rows = await m.query<{ n: string }[]>(`SELECT count(*) AS n FROM ${this.table()}`);
    return Number(rows[0]?.n ?? 0);
  }

  /** The finished jobs of a signature, oldest first (at most the last 500). */
  async observations(
    db: DataSource,
    project: string,
    signature: string,
  ): Promise<JobObservation[]> {
    const rows = await db.query<
      {
        job_id: string;
        features: Record<string, number>;
        offer: string | null;
        cpu: number | null;
        memory_mb: number | null;
        predicted_seconds: number | null;
        seconds: number | null;
        outcome: JobObservation['outcome'];
        checkpoints: number;
      }[]
    >(
      `SELECT * FROM (SELECT job_id, features, offer, cpu, memory_mb, predicted_seconds, seconds,
         outcome, checkpoints, updated_at FROM ${this.table()}
         WHERE project = $1 AND signature = $2 AND outcome IS NOT NULL
         ORDER BY updated_at DESC LIMIT 500) recent ORDER BY updated_at`,
      [project, signature],
    );
    return rows.map((r) => ({
      jobId: r.job_id,
      features: r.features,
      offer: r.offer,
      cpu: r.cpu,
      memoryMb: r.memory_mb,
      predictedSeconds: r.predicted_seconds,
      seconds: r.seconds,
      outcome: r.outcome,
      checkpoints: r.checkpoints,
    }));
  }
}
