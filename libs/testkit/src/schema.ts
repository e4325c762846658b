import { DataSource, type MigrationInterface } from 'typeorm';
import { testEnv, uniqueTag } from './env.js';

/** A Postgres schema of its own for an integration spec, with `migrations` run in it. */
export interface MigratedSchema {
  readonly db: DataSource;
  readonly schema: string;
  /** Drops the schema and closes the connection. */
  drop(): Promise<void>;
}

/**
 * Opens the test database (`DATABASE_URL`) on a new schema `<prefix>_<tag>` and runs `migrations`
 * there, in order, each in its own transaction: a spec's tables, apart from every other run's.
 */
export async function migratedSchema(
  prefix: string,
  migrations: ReadonlyArray<new () => MigrationInterface>,
): Promise<MigratedSchema> {
  const schema = `${prefix}_${uniqueTag()}`;
  const db = new DataSource({
    type: 'postgres',
    url: testEnv().databaseUrl,
    schema,
    migrations: [...migrations],
    migrationsTableName: 'migrations',
  });
  await db.initialize();
  await db.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await db.runMigrations({ transaction: 'each' });
  return {
    db,
    schema,
    drop: async () => {
      await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await db.destroy();
    },
  };
}
