import type { DataSource } from 'typeorm';
import type { MetricSeries } from '@acai/contracts';
import type { MetricsProjection } from './metrics.projection.js';

/** Jobs' metrics, as provenance answers questions about them. */
export abstract class MetricsRepository {
  /** A job's series by metric name (or only `name`), in the order they were reported. */
  abstract series(
    project: string,
    jobId: string,
    name: string | null,
  ): Promise<MetricSeries['series']>;
}

/** The metrics rows the `job-metrics` projection keeps in Postgres. */
export class SqlMetricsRepository implements MetricsRepository {
  constructor(
    private readonly db: DataSource,
    private readonly projection: MetricsProjection,
  ) {}

  async series(
    project: string,
    jobId: string,
    name: string | null,
  ): Promise<MetricSeries['series']> {
    const rows = await this.db.query<
      { name: string; step: string | null; value: number; time: Date; attempt: number }[]
    >(
      `SELECT name, step, value, time, attempt FROM ${this.projection.table()}
       WHERE project = $1 AND job_id = $2 ${name === null ? '' : 'AND name = $3'} ORDER BY seq, idx`,
      name === null ? [project, jobId] : [project, jobId, name],
    );
    const series: MetricSeries['series'] = {};
    for (const r of rows) {
      (series[r.name] ??= []).push({
        step: r.step === null ? null : Number(r.step),
        value: r.value,
        time: r.time.toISOString(),
        attempt: r.attempt,
      });
    }
    return series;
  }
}
