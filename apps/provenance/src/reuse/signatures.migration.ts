import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/** Each job's signature and how it ended: what the reuse planner looks earlier results up in. */
export class ProvenanceJobSignatures1796900000000 implements MigrationInterface {
  name = 'ProvenanceJobSignatures1796900000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.job_signatures (
      project text NOT NULL,
      job_id text NOT NULL,
      run_id text NOT NULL,
      name text NOT NULL,
      signature text NOT NULL,
      parts jsonb NOT NULL,
      complete boolean NOT NULL,
      status text NOT NULL,
      outputs jsonb NOT NULL DEFAULT '[]',
      duration_ms bigint,
      price_per_hour double precision,
      reused_from text,
      reason text,
      seq bigint NOT NULL,
      ended_at timestamptz,
      PRIMARY KEY (project, job_id)
    )`);
    // The lookup: a project's results with a signature, newest first.
    await q.query(
      `CREATE INDEX IF NOT EXISTS job_signatures_result_idx ON ${s}.job_signatures (project, signature, seq DESC)
       WHERE status IN ('succeeded', 'reused')`,
    );
    // "Why (not) reused": the jobs of a step, newest first.
    await q.query(
      `CREATE INDEX IF NOT EXISTS job_signatures_step_idx ON ${s}.job_signatures (project, name, seq DESC)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ${schemaOf(q)}.job_signatures`);
  }
}
