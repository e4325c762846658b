import type { EntityManager } from 'typeorm';
import type { StoredEvent } from '@acai/contracts';
import type { SqlProjection } from '@acai/eventing';

/** `job-metrics`: every reported metric point as a row, in log order. */
export class MetricsProjection implements SqlProjection {
  readonly name = 'job-metrics';

  constructor(private readonly schema: string) {}

  table(): string {
    return `"${this.schema.replace(/"/g, '""')}".job_metrics`;
  }

  async apply(m: EntityManager, events: readonly StoredEvent[]): Promise<void> {
    for (const event of events) {
      if (event.type !== 'job.metrics_reported') continue;
      const points = event.data.points;
      await m.query(
        `INSERT INTO ${this.table()} (project, job_id, attempt, name, step, value, time, seq, idx)
         SELECT $1, $2, $3, u.name, u.step, u.value, u.time, $4, u.idx
         FROM unnest($5::text[], $6::bigint[], $7::float8[], $8::timestamptz[], $9::int[]) AS u(name, step, value, time, idx)
         ON CONFLICT DO NOTHING`,
        [
          event.project,
          event.aggregateId,
          event.data.attempt,
          event.position.seq,
          points.map((p) => p.name),
          points.map((p) => p.step),
          points.map((p) => p.value),
          points.map((p) => p.time),
          points.map((_, i) => i),
        ],
      );
    }
  }

  async reset(m: EntityManager): Promise<void> {
    await m.query(`TRUNCATE ${this.table()}`);
  }

  async count(m: EntityManager): Promise<number> {
    const rows = await m.query<{ n: string }[]>(`SELECT count(*) AS n FROM ${this.table()}`);
    return Number(rows[0]?.n ?? 0);
  }
}
