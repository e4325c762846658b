import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/**
 * Whom each project shares its results with for reuse: one row per (project, project it shares
 * with), as `project.reuse_sharing_changed` last set it. No row: it shares with none.
 */
export class ProvenanceReuseSharing1797200000000 implements MigrationInterface {
  name = 'ProvenanceReuseSharing1797200000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.reuse_sharing (
      project text NOT NULL,
      shares_with text NOT NULL,
      PRIMARY KEY (project, shares_with)
    )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS reuse_sharing_with ON ${s}.reuse_sharing (shares_with, project)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ${schemaOf(q)}.reuse_sharing`);
  }
}
