import type { EntityManager } from 'typeorm';
import type { StoredEvent } from '@acai/contracts';
import {
  promoteBuiltTables,
  resetBuiltTables,
  type SqlProjection,
  queryPrepared,
} from '@acai/eventing';

/** `job-metrics`: every reported metric point as a row, in log order. */
export class MetricsProjection implements SqlProjection {
  readonly name: string = 'job-metrics';

  constructor(
    protected readonly schema: string,
    private readonly tableName = 'job_metrics',
  ) {}

  table(): string {
    return `"${this.schema.replace(/"/g, '""')}".${this.tableName}`;
  }

  /**
   * The replay's build: the same rows in a table of its own (`job_metrics_replay`, shaped like the
   * live one), put in the live table's place in the swap's transaction (readers of the live table
   * see the old rows until it commits).
   */
  replica(): SqlProjection & { promote(m: EntityManager): Promise<void> } {
    const live = this.table();
    const shadow = new MetricsReplica(this.schema);
    return Object.assign(shadow, {
      promote: (m: EntityManager) => promoteBuiltTables(m, [[live, shadow.table()]]),
    });
  }

  async apply(m: EntityManager, events: readonly StoredEvent[]): Promise<void> {
    for (const event of events) {
      if (event.type !== 'job.metrics_reported') continue;
      const points = event.data.points;
      await queryPrepared(
        m,
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

/** `job-metrics~replay`: the replay's build of the metrics, in `job_metrics_replay`. */
class MetricsReplica extends MetricsProjection {
  override readonly name = 'job-metrics~replay';

  constructor(schema: string) {
    super(schema, 'job_metrics_replay');
  }

  /** Made like the live table (columns, keys, indexes), empty. */
  override async reset(m: EntityManager): Promise<void> {
    const live = `"${this.schema.replace(/"/g, '""')}".job_metrics`;
    await resetBuiltTables(m, [[live, this.table()]]);
  }
}
