import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/**
 * An attempt that resumes from a checkpoint runs only the steps after it: its running time is not
 * the job's, and a runtime model fitted on it predicts too little (the scheduling benchmark saw
 * interrupted jobs record 57 % of their real running time). The runtime observations now note
 * whether the job checkpointed and whether the attempt that ended it resumed; such an ending adds no
 * running time to the model. Rows from before are taken as whole (replaying the projection marks
 * them as they should be).
 */
export class ProvisionerObservationsResumed1796800000000 implements MigrationInterface {
  name = 'ProvisionerObservationsResumed1796800000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(
      `ALTER TABLE ${s}.runtime_observations
         ADD COLUMN IF NOT EXISTS checkpointed boolean NOT NULL DEFAULT false,
         ADD COLUMN IF NOT EXISTS resumed boolean NOT NULL DEFAULT false`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(
      `ALTER TABLE ${s}.runtime_observations DROP COLUMN IF EXISTS checkpointed, DROP COLUMN IF EXISTS resumed`,
    );
  }
}
