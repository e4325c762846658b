import type { DataSource } from 'typeorm';
import type { RunTimelineView, TimelineEntryView } from '@acai/contracts';
import type { RunTimelineProjection } from './timeline.projection.js';

/** Runs' timelines, as provenance answers questions about them. */
export abstract class TimelineRepository {
  /** The entries of a run after log position `after`, in log order, `limit` at most. */
  abstract page(
    project: string,
    runId: string,
    after: number,
    limit: number,
  ): Promise<Omit<RunTimelineView, 'runId'>>;
}

/** The rows the `run-timeline` projection keeps in Postgres. */
export class SqlTimelineRepository implements TimelineRepository {
  constructor(
    private readonly db: DataSource,
    private readonly projection: RunTimelineProjection,
  ) {}

  async page(
    project: string,
    runId: string,
    after: number,
    limit: number,
  ): Promise<Omit<RunTimelineView, 'runId'>> {
    const rows = await this.db.query<
      {
        seq: string;
        time: Date;
        type: string;
        job_id: string | null;
        step: string | null;
        trial: number | null;
        attempt: number | null;
        summary: string;
        data: unknown;
      }[]
    >(
      `SELECT seq, time, type, job_id, step, trial, attempt, summary, data
       FROM ${this.projection.table()}
       WHERE project = $1 AND run_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
      [project, runId, after, limit + 1],
    );
    const items: TimelineEntryView[] = rows.slice(0, limit).map((r) => ({
      seq: Number(r.seq),
      time: r.time.toISOString(),
      type: r.type,
      jobId: r.job_id,
      step: r.step,
      trial: r.trial,
      attempt: r.attempt,
      summary: r.summary,
      data: r.data,
    }));
    return { items, next: rows.length > limit ? (items.at(-1)?.seq ?? null) : null };
  }
}
