import type { EntityManager } from 'typeorm';
import type { StoredEvent } from '@acai/contracts';
import { queryPrepared } from '@acai/eventing';
import { reusedCosts } from './results-index.js';
import { FollowedTableProjection } from './followed-table.projection.js';
import type { TableFollower } from './reuse-lookup.js';

/**
 * `job-signatures`: one row per signed job (its signature, its parts, how it ended, what it
 * committed), which the reuse planner looks earlier results up in and "why (not) reused?" is
 * answered from.
 */
export class SignaturesProjection extends FollowedTableProjection {
  /** @param follower the in-memory copy the lookup answers from, told of each committed batch */
  constructor(schema: string, follower?: TableFollower, replaying = false) {
    super('job-signatures', schema, 'job_signatures', follower, replaying);
  }

  protected replay(): SignaturesProjection {
    return new SignaturesProjection(this.schema, undefined, true);
  }

  async apply(m: EntityManager, events: readonly StoredEvent[]): Promise<void> {
    const t = this.table();
    for (const event of events) {
      const key = [event.project, event.aggregateId];
      switch (event.type) {
        case 'job.queued': {
          const signature = event.data.signature;
          if (signature === undefined) break;
          await queryPrepared(
            m,
            `INSERT INTO ${t} (project, job_id, run_id, name, signature, parts, complete, status, reason, seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9) ON CONFLICT DO NOTHING`,
            [
              ...key,
              event.data.runId,
              event.data.name,
              signature.sha256,
              JSON.stringify(signature.parts),
              signature.complete,
              event.data.reuse?.reason ?? null,
              event.position.seq,
            ],
          );
          break;
        }
        case 'job.reused': {
          const saved = reusedCosts(event.data.from);
          await queryPrepared(
            m,
            // What it saved is what the job it took the result of ran for (kept for its own reusers):
            // that job's row in this project, else (a result of a project that shares its own, whose
            // rows this project's do not hold) what the event says it saved (`reusedCosts`).
            `INSERT INTO ${t} (project, job_id, run_id, name, signature, parts, complete, status, outputs, reused_from, reason, seq, ended_at, duration_ms, price_per_hour)
             SELECT $1, $2, $3, $4, $5, $6, $7, 'reused', $8, $9, $10, $11, $12,
               COALESCE((SELECT duration_ms FROM ${t} WHERE project = $1 AND job_id = $9), $13::bigint),
               COALESCE((SELECT price_per_hour FROM ${t} WHERE project = $1 AND job_id = $9), $14::double precision)
             ON CONFLICT DO NOTHING`,
            [
              ...key,
              event.data.runId,
              event.data.name,
              event.data.signature.sha256,
              JSON.stringify(event.data.signature.parts),
              event.data.signature.complete,
              JSON.stringify(event.data.outputs),
              event.data.from.jobId,
              event.data.reason,
              event.position.seq,
              event.occurredAt,
              saved.durationMs,
              saved.pricePerHour,
            ],
          );
          break;
        }
        case 'job.provisioned':
          await queryPrepared(
            m,
            `UPDATE ${t} SET price_per_hour = $3 WHERE project = $1 AND job_id = $2`,
            [...key, event.data.offer?.pricePerHour ?? null],
          );
          break;
        case 'job.succeeded':
          await queryPrepared(
            m,
            `UPDATE ${t} SET status = 'succeeded', outputs = $3, duration_ms = $4, ended_at = $5
             WHERE project = $1 AND job_id = $2 AND status = 'queued'`,
            [
              ...key,
              JSON.stringify(event.data.outputs),
              Math.round(event.data.durationMs),
              event.occurredAt,
            ],
          );
          break;
        case 'job.failed':
        case 'job.cancelled':
        case 'job.skipped':
          await queryPrepared(
            m,
            `UPDATE ${t} SET status = $3, ended_at = $4 WHERE project = $1 AND job_id = $2 AND status = 'queued'`,
            [...key, event.type.slice('job.'.length), event.occurredAt],
          );
          break;
        default:
          break;
      }
    }
  }
}
