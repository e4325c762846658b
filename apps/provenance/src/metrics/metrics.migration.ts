import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/** Metric points of jobs, one row each, kept out of the job documents (MLflow's lesson). */
export class ProvenanceMetrics1764300000000 implements MigrationInterface {
  name = 'ProvenanceMetrics1764300000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.job_metrics (
      project text NOT NULL,
      job_id text NOT NULL,
      attempt int NOT NULL,
      name text NOT NULL,
      step bigint,
      value double precision NOT NULL,
      time timestamptz NOT NULL,
      seq bigint NOT NULL,
      idx int NOT NULL,
      PRIMARY KEY (seq, idx)
    )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS job_metrics_job_idx ON ${s}.job_metrics (project, job_id, name, seq, idx)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ${schemaOf(q)}.job_metrics`);
  }
}
