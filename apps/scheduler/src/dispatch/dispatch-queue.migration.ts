import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/**
 * Indexes of the `dispatch-queue` read model's documents (in the projection runner's table), so a
 * dispatch pass reads a few index entries whatever the backlog: the jobs out per pool, and the
 * waiting jobs in each project's turn (pool, project, priority first, then placement).
 */
export class SchedulerDispatchQueue1796700000000 implements MigrationInterface {
  name = 'SchedulerDispatchQueue1796700000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(
      `CREATE INDEX IF NOT EXISTS dispatch_queue_out_idx ON ${s}.projection_documents
       ((doc->>'pool'), project)
       WHERE projection = 'dispatch-queue' AND doc->>'state' = 'out'`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS dispatch_queue_waiting_idx ON ${s}.projection_documents
       ((doc->>'pool'), project, ((doc->>'priority')::int) DESC, ((doc->>'placedSeq')::bigint))
       WHERE projection = 'dispatch-queue' AND doc->>'state' = 'waiting'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`DROP INDEX IF EXISTS ${s}.dispatch_queue_waiting_idx`);
    await q.query(`DROP INDEX IF EXISTS ${s}.dispatch_queue_out_idx`);
  }
}
