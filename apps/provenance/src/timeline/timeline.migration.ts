import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/**
 * A run's timeline (the `run-timeline` projection): one row per event of a run or of its jobs,
 * keyed by its log position, and the run of each job (job events after `job.queued` do not name
 * it).
 */
export class ProvenanceRunTimeline1797000000000 implements MigrationInterface {
  name = 'ProvenanceRunTimeline1797000000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.run_timeline (
      project text NOT NULL,
      run_id text NOT NULL,
      seq bigint NOT NULL,
      time timestamptz NOT NULL,
      type text NOT NULL,
      job_id text,
      step text,
      trial int,
      attempt int,
      summary text NOT NULL,
      data jsonb NOT NULL,
      PRIMARY KEY (project, run_id, seq)
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.run_timeline_jobs (
      project text NOT NULL,
      job_id text NOT NULL,
      run_id text NOT NULL,
      name text NOT NULL,
      step text NOT NULL,
      trial int,
      PRIMARY KEY (project, job_id)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ${schemaOf(q)}.run_timeline`);
    await q.query(`DROP TABLE IF EXISTS ${schemaOf(q)}.run_timeline_jobs`);
  }
}
