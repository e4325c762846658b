import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/**
 * Profiling runs and the jobs waiting for them are events of the `profile` aggregate now
 * (`profile.profiling_started`, `profile.job_waiting`, `profile.profiled`), so the provisioner
 * rebuilds them from the log: the tables that held them outside it go. A profiling run under way
 * when this runs is forgotten: its waiting jobs stay queued until a job of the same profile comes
 * again (the auto-provisioner then profiles it again) or they are cancelled.
 */
export class ProvisionerProfilingInTheLog1764900000000 implements MigrationInterface {
  name = 'ProvisionerProfilingInTheLog1764900000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`DROP TABLE IF EXISTS ${s}.profiling_waiters`);
    await q.query(`DROP TABLE IF EXISTS ${s}.profiling_runs`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.profiling_runs (
      signature text PRIMARY KEY,
      project text NOT NULL,
      run_id text NOT NULL UNIQUE,
      status text NOT NULL,
      created_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.profiling_waiters (
      job_id text PRIMARY KEY,
      project text NOT NULL,
      signature text NOT NULL
    )`);
  }
}
