import type { DataSource } from 'typeorm';

/**
 * The profiling runs the auto-provisioner started, one per job profile, and the jobs waiting for
 * them. A profile is profiled once: its later jobs use what that run (and every job since) taught.
 */
export class ProfilingRepository {
  constructor(
    /** Only its `query` is used, so a spec can stand in for the database with one function. */
    private readonly db: Pick<DataSource, 'query'>,
    private readonly schema: string,
  ) {}

  private table(name: string): string {
    return `"${this.schema.replace(/"/g, '""')}".${name}`;
  }

  async status(signature: string): Promise<'running' | 'done' | undefined> {
    const rows = await this.db.query<{ status: 'running' | 'done' }[]>(
      `SELECT status FROM ${this.table('profiling_runs')} WHERE signature = $1`,
      [signature],
    );
    return rows[0]?.status;
  }

  /** Records a profiling run; false when another one for the profile was recorded first. */
  async begin(signature: string, project: string, runId: string, now: Date): Promise<boolean> {
    const rows = await this.db.query<unknown[]>(
      `INSERT INTO ${this.table('profiling_runs')} (signature, project, run_id, status, created_at)
       VALUES ($1, $2, $3, 'running', $4) ON CONFLICT (signature) DO NOTHING RETURNING signature`,
      [signature, project, runId, now],
    );
    return rows.length > 0;
  }

  async wait(jobId: string, project: string, signature: string): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.table('profiling_waiters')} (job_id, project, signature) VALUES ($1, $2, $3)
       ON CONFLICT (job_id) DO NOTHING`,
      [jobId, project, signature],
    );
  }

  /** Marks the run done; answers its profile's signature when it was a profiling run. */
  async finish(runId: string): Promise<string | undefined> {
    // TypeORM answers an UPDATE with [rows, count], not the rows alone.
    const [rows] = await this.db.query<[{ signature: string }[], number]>(
      `UPDATE ${this.table('profiling_runs')} SET status = 'done' WHERE run_id = $1 RETURNING signature`,
      [runId],
    );
    return rows[0]?.signature;
  }

  async waiting(signature: string): Promise<{ jobId: string; project: string }[]> {
    const rows = await this.db.query<{ job_id: string; project: string }[]>(
      `SELECT job_id, project FROM ${this.table('profiling_waiters')} WHERE signature = $1 ORDER BY job_id`,
      [signature],
    );
    return rows.map((r) => ({ jobId: r.job_id, project: r.project }));
  }

  async release(jobId: string): Promise<void> {
    await this.db.query(`DELETE FROM ${this.table('profiling_waiters')} WHERE job_id = $1`, [
      jobId,
    ]);
  }
}
