import { afterAll, describe, expect, it } from '@jest/globals';
import { DataSource, type MigrationInterface } from 'typeorm';
import { testEnv, uniqueTag } from '@acai/testkit';
import { ApiKeyEntity, ProjectEntity } from './auth.entities.js';
import { GatewayAuth1764115300000, GatewayKeyScopes1796271000000 } from './auth.migration.js';
import { hashKey, KeysRepository } from './keys.repository.js';

const schema = `it_keys_${uniqueTag()}`;
const opened: DataSource[] = [];

async function open(migrations: (new () => MigrationInterface)[]): Promise<DataSource> {
  const db = new DataSource({
    type: 'postgres',
    url: testEnv().databaseUrl,
    schema,
    entities: [ProjectEntity, ApiKeyEntity],
    migrations,
    migrationsTableName: 'migrations',
  });
  await db.initialize();
  opened.push(db);
  await db.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await db.runMigrations({ transaction: 'each' });
  return db;
}

afterAll(async () => {
  await opened.at(-1)?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  for (const db of opened) if (db.isInitialized) await db.destroy();
});

describe('the key scopes migration', () => {
  it("makes every existing key its project's admin, and keeps the platform admin key one", async () => {
    // A database of the previous release: keys with no scope, the bootstrap key `admin`.
    const before = await open([GatewayAuth1764115300000]);
    const now = new Date();
    for (const project of ['default', 'vision']) {
      await before.query(`INSERT INTO "${schema}".projects (name, created_at) VALUES ($1, $2)`, [
        project,
        now,
      ]);
      await before.query(
        `INSERT INTO "${schema}".api_keys (id, hash, project, prefix, admin, created_at) VALUES ($1, $2, $3, 'acai_old', $4, $5)`,
        [`key-${project}`, hashKey(`old-${project}`), project, project === 'default', now],
      );
    }
    await before.destroy();

    const after = await open([GatewayAuth1764115300000, GatewayKeyScopes1796271000000]);
    const keys = new KeysRepository(after, { warn: () => undefined });
    expect(await keys.authenticate('old-default')).toEqual({
      project: 'default',
      keyId: 'key-default',
      scope: 'admin',
      platformAdmin: true,
    });
    expect(await keys.authenticate('old-vision')).toEqual({
      project: 'vision',
      keyId: 'key-vision',
      scope: 'admin',
      platformAdmin: false,
    });
    expect((await keys.listKeys('vision')).map((k) => [k.scope, k.name, k.revokedAt])).toEqual([
      ['admin', null, null],
    ]);
    // A scope is one of the three, whoever writes the row.
    await expect(
      after.query(`UPDATE "${schema}".api_keys SET scope = 'owner' WHERE id = 'key-vision'`),
    ).rejects.toThrow(/api_keys_scope_check/);
  });
});
