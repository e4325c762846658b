import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/**
 * Storage budgets for derived artifacts, one per project, and what the materializer needs of the
 * lineage graph beyond it: whether a version is pinned, and the metric that says how good the
 * model a job makes is.
 */
export class ProvenanceMaterialization1797100000000 implements MigrationInterface {
  name = 'ProvenanceMaterialization1797100000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.storage_budgets (
      project text PRIMARY KEY,
      budget_bytes bigint,
      alpha double precision NOT NULL DEFAULT 0.5,
      policy text NOT NULL DEFAULT 'utility',
      evicted_versions int NOT NULL DEFAULT 0,
      last_run_at timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    // After the lineage migration (an earlier timestamp); a replay's copy is made LIKE it.
    await q.query(
      `ALTER TABLE ${s}.lineage_nodes ADD COLUMN IF NOT EXISTS pinned boolean NOT NULL DEFAULT false`,
    );
    await q.query(`ALTER TABLE ${s}.lineage_nodes ADD COLUMN IF NOT EXISTS quality jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`DROP TABLE IF EXISTS ${s}.storage_budgets`);
    await q.query(`ALTER TABLE ${s}.lineage_nodes DROP COLUMN IF EXISTS pinned`);
    await q.query(`ALTER TABLE ${s}.lineage_nodes DROP COLUMN IF EXISTS quality`);
  }
}
