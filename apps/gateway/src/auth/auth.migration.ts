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
