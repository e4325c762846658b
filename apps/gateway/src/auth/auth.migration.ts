import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

export class GatewayAuth1764115300000 implements MigrationInterface {
  name = 'GatewayAuth1764115300000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.projects (
      name text PRIMARY KEY,
      created_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.api_keys (
      id text PRIMARY KEY,
      hash text NOT NULL,
      project text NOT NULL REFERENCES ${s}.projects(name),
      prefix text NOT NULL,
      admin boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL,
      revoked_at timestamptz
    )`);
    await q.query(`CREATE UNIQUE INDEX IF NOT EXISTS api_keys_hash_idx ON ${s}.api_keys (hash)`);
  }

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`DROP TABLE IF EXISTS ${s}.api_keys`);
    await q.query(`DROP TABLE IF EXISTS ${s}.projects`);
  }
}

/**
 * Scopes per key (`read`, `write`, `admin` of its project), a name, and when it was last used.
 * Every key made before is its project's admin: it could do everything in its project, and still
 * can. Column `admin` keeps its meaning (the platform admin key) and its name.
 */
export class GatewayKeyScopes1796271000000 implements MigrationInterface {
  name = 'GatewayKeyScopes1796271000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`ALTER TABLE ${s}.api_keys ADD COLUMN IF NOT EXISTS scope text`);
    await q.query(`UPDATE ${s}.api_keys SET scope = 'admin' WHERE scope IS NULL`);
    await q.query(`ALTER TABLE ${s}.api_keys ALTER COLUMN scope SET NOT NULL`);
    await q.query(`ALTER TABLE ${s}.api_keys DROP CONSTRAINT IF EXISTS api_keys_scope_check`);
    await q.query(
      `ALTER TABLE ${s}.api_keys ADD CONSTRAINT api_keys_scope_check CHECK (scope IN ('read', 'write', 'admin'))`,
    );
    await q.query(`ALTER TABLE ${s}.api_keys ADD COLUMN IF NOT EXISTS name text`);
    await q.query(`ALTER TABLE ${s}.api_keys ADD COLUMN IF NOT EXISTS last_used_at timestamptz`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS api_keys_project_idx ON ${s}.api_keys (project, created_at)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`DROP INDEX IF EXISTS ${s}.api_keys_project_idx`);
    await q.query(`ALTER TABLE ${s}.api_keys DROP CONSTRAINT IF EXISTS api_keys_scope_check`);
    await q.query(`ALTER TABLE ${s}.api_keys DROP COLUMN IF EXISTS last_used_at`);
    await q.query(`ALTER TABLE ${s}.api_keys DROP COLUMN IF EXISTS name`);
    await q.query(`ALTER TABLE ${s}.api_keys DROP COLUMN IF EXISTS scope`);
  }
}
