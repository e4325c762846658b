import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Tables the eventing library keeps in every service's schema. */
export class EventingTables1764115200000 implements MigrationInterface {
  name = 'EventingTables1764115200000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.projection_checkpoints (
      projection text PRIMARY KEY,
      last_seq bigint NOT NULL,
      updated_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.projection_documents (
      projection text NOT NULL,
      key text NOT NULL,
      project text,
      doc jsonb NOT NULL,
      seq bigint NOT NULL,
      PRIMARY KEY (projection, key)
    )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS projection_documents_project_idx ON ${s}.projection_documents (projection, project, key)`,
    );
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.dead_letters (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      consumer text NOT NULL,
      stream text NOT NULL,
      seq bigint NOT NULL,
      subject text NOT NULL,
      reason text NOT NULL,
      error text NOT NULL,
      payload bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS dead_letters_consumer_idx ON ${s}.dead_letters (consumer, created_at)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`DROP TABLE IF EXISTS ${s}.dead_letters`);
    await q.query(`DROP TABLE IF EXISTS ${s}.projection_documents`);
    await q.query(`DROP TABLE IF EXISTS ${s}.projection_checkpoints`);
  }
}

/**
 * Dead letters can be redriven: how often one was (and failed again), whether a replica has it in
 * hand now, and the event's type for listing them without reading payloads. Keyset paging runs
 * on (created_at, id); a consumer's letter of a message is found by (consumer, seq).
 */
export class EventingRedrives1796600000000 implements MigrationInterface {
  name = 'EventingRedrives1796600000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`ALTER TABLE ${s}.dead_letters
      ADD COLUMN IF NOT EXISTS event_type text,
      ADD COLUMN IF NOT EXISTS redrives integer NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS redriving_since timestamptz`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS dead_letters_created_idx ON ${s}.dead_letters (created_at, id)`,
    );
    await q.query(
      `CREATE INDEX IF NOT EXISTS dead_letters_message_idx ON ${s}.dead_letters (consumer, seq)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`DROP INDEX IF EXISTS ${s}.dead_letters_message_idx`);
    await q.query(`DROP INDEX IF EXISTS ${s}.dead_letters_created_idx`);
    await q.query(`ALTER TABLE ${s}.dead_letters
      DROP COLUMN IF EXISTS event_type,
      DROP COLUMN IF EXISTS redrives,
      DROP COLUMN IF EXISTS redriving_since`);
  }
}

/** The quoted schema a migration runs in: the DataSource's `schema` option. */
export function schemaOf(q: QueryRunner): string {
  const options = q.connection.options as { schema?: string };
  return `"${(options.schema ?? 'public').replace(/"/g, '""')}"`;
}

/**
 * Replays of read models: each is built beside the live one (documents and checkpoint under
 * `<name>~replay`) and swapped in at once; this row says how far it got, and which process builds
 * it (`heartbeat_at`: another takes it over when that stops).
 */
export class EventingReplays1796500000000 implements MigrationInterface {
  name = 'EventingReplays1796500000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.projection_replays (
      projection text PRIMARY KEY,
      status text NOT NULL,
      done bigint NOT NULL,
      total bigint NOT NULL,
      owner text NOT NULL,
      started_at timestamptz NOT NULL,
      heartbeat_at timestamptz NOT NULL,
      finished_at timestamptz,
      documents bigint,
      error text
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ${schemaOf(q)}.projection_replays`);
  }
}

/** The eventing library's migrations, in order: every service runs them before its own. */
export const eventingMigrations = [
  EventingTables1764115200000,
  EventingReplays1796500000000,
  EventingRedrives1796600000000,
];
