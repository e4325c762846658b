import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/**
 * How often a job checkpoints decides what a Spot interruption costs it: the work since its last
 * checkpoint is done again. The runtime observations now count each job's checkpoints, so that the
 * auto-provisioner prices Spot for a profile from how its earlier jobs checkpointed. Rows from
 * before count none (replaying the projection counts them).
 */
export class ProvisionerObservationsCheckpoints1797300000000 implements MigrationInterface {
  name = 'ProvisionerObservationsCheckpoints1797300000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(
      `ALTER TABLE ${s}.runtime_observations
         ADD COLUMN IF NOT EXISTS checkpoints integer NOT NULL DEFAULT 0`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`ALTER TABLE ${s}.runtime_observations DROP COLUMN IF EXISTS checkpoints`);
  }
}
