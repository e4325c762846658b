import type { MigrationInterface, QueryRunner } from 'typeorm';
import { schemaOf } from '@acai/eventing';

/** Projects' secrets, encrypted (see SecretBox). */
export class GatewaySecrets1796400000000 implements MigrationInterface {
  name = 'GatewaySecrets1796400000000';

  async up(q: QueryRunner): Promise<void> {
    const s = schemaOf(q);
    await q.query(`CREATE TABLE IF NOT EXISTS ${s}.secrets (
      project text NOT NULL REFERENCES ${s}.projects(name),
      name text NOT NULL,
      ciphertext bytea NOT NULL,
      nonce bytea NOT NULL,
      tag bytea NOT NULL,
      key_id text NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      PRIMARY KEY (project, name)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ${schemaOf(q)}.secrets`);
  }
}
