import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/**
 * What the auto-provisioner learns from: one row per auto-provisioned job (its profile signature,
 * size features, configuration, predicted and actual seconds), kept by the `runtime-observations`
 * projection; and the profiling runs it started, with the jobs waiting for them.
 */
export class ProvisionerAutoprovision1764400000000 implements MigrationInterface {
  name = 'ProvisionerAutoprovision1764400000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.runtime_observations (
      job_id text PRIMARY KEY,
      project text NOT NULL,
      signature text NOT NULL,
      features jsonb NOT NULL,
      provider text,
      offer text,
      cpu double precision,
      memory_mb int,
      price_per_hour double precision,
      predicted_seconds double precision,
      seconds double precision,
      outcome text,
      updated_at timestamptz NOT NULL
    )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS runtime_observations_signature_idx ON ${s}.runtime_observations (signature) WHERE outcome IS NOT NULL`,
    );
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

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`DROP TABLE IF EXISTS ${s}.profiling_waiters`);
    await q.query(`DROP TABLE IF EXISTS ${s}.profiling_runs`);
    await q.query(`DROP TABLE IF EXISTS ${s}.runtime_observations`);
  }
}
