import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/**
 * The waits from queued to started beyond the boot, per provider, were kept in the provisioner's
 * memory and lost with it: a restarted provisioner planned without its placement margin until it
 * had measured five more jobs. They are now the `placement-waits` projection of the log: the jobs
 * waiting (queued, maybe placed, not started) and each attempt's wait once it started. Empty at
 * first: the projection's replay fills them from the log.
 */
export class ProvisionerPlacementWaits1797400000000 implements MigrationInterface {
  name = 'ProvisionerPlacementWaits1797400000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(
      `CREATE TABLE IF NOT EXISTS ${s}.placement_waiting (
         job_id text PRIMARY KEY,
         queued_at_ms double precision NOT NULL,
         provider text,
         boot_seconds double precision NOT NULL DEFAULT 0
       )`,
    );
    await q.query(
      `CREATE TABLE IF NOT EXISTS ${s}.placement_waits (
         job_id text NOT NULL,
         attempt integer NOT NULL,
         provider text NOT NULL,
         seconds double precision NOT NULL,
         seq bigint NOT NULL,
         PRIMARY KEY (job_id, attempt)
       )`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS placement_waits_provider_seq ON ${s}.placement_waits (provider, seq DESC)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`DROP TABLE IF EXISTS ${s}.placement_waits`);
    await q.query(`DROP TABLE IF EXISTS ${s}.placement_waiting`);
  }
}
