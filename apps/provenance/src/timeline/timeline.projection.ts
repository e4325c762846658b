import type { EntityManager } from 'typeorm';
import type { StoredEvent } from '@acai/contracts';
import {
  promoteBuiltTables,
  resetBuiltTables,
  type SqlProjection,
  queryPrepared,
} from '@acai/eventing';
import {
  timelineEntry,
  timelineJobId,
  timelineJobs,
  type TimelineEntry,
  type TimelineJob,
} from '@acai/runs';

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
const keyOf = (project: string, jobId: string) => `${project}\u0000${jobId}`;

/**
 * `run-timeline`: every event of a run and of its jobs (but metric reports) as a row, in log order,
 * with its sentence and decision payload (`libs/runs/src/timeline.ts`). Job events after
 * `job.queued` do not name their run: the run of each job is kept beside it, from `run.submitted`.
 * A row's key is its run and log position, so an event applied twice is stored once.
 */
export class RunTimelineProjection implements SqlProjection {
  readonly name: string = 'run-timeline';

  constructor(
    protected readonly schema: string,
    private readonly tableName = 'run_timeline',
    private readonly jobsTableName = 'run_timeline_jobs',
  ) {}

  table(): string {
    return `${quote(this.schema)}.${this.tableName}`;
  }

  jobsTable(): string {
    return `${quote(this.schema)}.${this.jobsTableName}`;
  }

  /**
   * The replay's build: the same rows in tables of their own (`run_timeline_replay`,
   * `run_timeline_jobs_replay`), put in the live tables' place in the swap's transaction.
   */
  replica(): SqlProjection & { promote(m: EntityManager): Promise<void> } {
    const shadow = new RunTimelineReplica(this.schema);
    const pairs = [
      [this.table(), shadow.table()],
      [this.jobsTable(), shadow.jobsTable()],
    ] as const;
    return Object.assign(shadow, {
      promote: (m: EntityManager) => promoteBuiltTables(m, pairs),
    });
  }

  async apply(m: EntityManager, events: readonly StoredEvent[]): Promise<void> {
    // A job's run never changes: those named in this batch, then those stored, in one read.
    const named = new Map<string, TimelineJob>();
    for (const event of events) {
      for (const [jobId, job] of timelineJobs(event)) {
        const key = keyOf(event.project, jobId);
        if (!named.has(key)) named.set(key, job);
      }
    }
    const jobs = new Map(named);
    const wanted = new Map<string, [project: string, jobId: string]>();
    for (const event of events) {
      const jobId = timelineJobId(event);
      const key = jobId === null ? null : keyOf(event.project, jobId);
      if (key !== null && jobId !== null && !jobs.has(key)) wanted.set(key, [event.project, jobId]);
    }
    if (wanted.size > 0) {
      const stored = await queryPrepared<{
        project: string;
        job_id: string;
        run_id: string;
        name: string;
        step: string;
        trial: number | null;
      }>(
        m,
        `SELECT j.project, j.job_id, j.run_id, j.name, j.step, j.trial FROM ${this.jobsTable()} j
         JOIN unnest($1::text[], $2::text[]) AS w(project, job_id) USING (project, job_id)`,
        [[...wanted.values()].map(([p]) => p), [...wanted.values()].map(([, j]) => j)],
      );
      for (const r of stored) {
        jobs.set(keyOf(r.project, r.job_id), {
          runId: r.run_id,
          name: r.name,
          step: r.step,
          trial: r.trial,
        });
      }
    }
    if (named.size > 0) await this.rememberJobs(m, named);

    const rows: (TimelineEntry & { project: string })[] = [];
    for (const event of events) {
      const jobId = timelineJobId(event);
      const entry = timelineEntry(
        event,
        jobId === null ? undefined : jobs.get(keyOf(event.project, jobId)),
      );
      if (entry !== null) rows.push({ ...entry, project: event.project });
    }
    if (rows.length === 0) return;
    await queryPrepared(
      m,
      `INSERT INTO ${this.table()} (project, run_id, seq, time, type, job_id, step, trial, attempt, summary, data)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::text[],
         $6::text[], $7::text[], $8::int[], $9::int[], $10::text[], $11::jsonb[])
       ON CONFLICT DO NOTHING`,
      [
        rows.map((r) => r.project),
        rows.map((r) => r.runId),
        rows.map((r) => r.seq),
        rows.map((r) => r.time),
        rows.map((r) => r.type),
        rows.map((r) => r.jobId),
        rows.map((r) => r.step),
        rows.map((r) => r.trial),
        rows.map((r) => r.attempt),
        rows.map((r) => r.summary),
        rows.map((r) => JSON.stringify(r.data ?? null)),
      ],
    );
  }

  private async rememberJobs(m: EntityManager, named: Map<string, TimelineJob>): Promise<void> {
    const entries = [...named.entries()].map(([key, job]) => {
      const [project = '', jobId = ''] = key.split('\u0000');
      return { project, jobId, job };
    });
    await queryPrepared(
      m,
      `INSERT INTO ${this.jobsTable()} (project, job_id, run_id, name, step, trial)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[])
       ON CONFLICT DO NOTHING`,
      [
        entries.map((e) => e.project),
        entries.map((e) => e.jobId),
        entries.map((e) => e.job.runId),
        entries.map((e) => e.job.name),
        entries.map((e) => e.job.step),
        entries.map((e) => e.job.trial),
      ],
    );
  }

  async reset(m: EntityManager): Promise<void> {
    await m.query(`TRUNCATE ${this.table()}, ${this.jobsTable()}`);
  }

  async count(m: EntityManager): Promise<number> {
    const rows = await m.query<{ n: string }[]>(`SELECT count(*) AS n FROM ${this.table()}`);
    return Number(rows[0]?.n ?? 0);
  }
}

/** `run-timeline~replay`: the replay's build, in `run_timeline_replay` and its jobs table. */
class RunTimelineReplica extends RunTimelineProjection {
  override readonly name = 'run-timeline~replay';

  constructor(schema: string) {
    super(schema, 'run_timeline_replay', 'run_timeline_jobs_replay');
  }

  /** Made like the live tables (columns, keys), empty. */
  override async reset(m: EntityManager): Promise<void> {
    const s = quote(this.schema);
    await resetBuiltTables(m, [
      [`${s}.run_timeline`, this.table()],
      [`${s}.run_timeline_jobs`, this.jobsTable()],
    ]);
  }
}
