import { DataSource, type EntitySchema, type MigrationInterface } from 'typeorm';
import { eventingEntities, eventingMigrations } from '@acai/eventing';

type EntityClass = abstract new () => object;

export interface DatabaseOptions {
  readonly url: string;
  readonly schema: string;
  readonly entities?: ReadonlyArray<EntityClass | EntitySchema>;
  readonly migrations?: ReadonlyArray<new () => MigrationInterface>;
  readonly poolSize?: number;
}

/**
 * Connects to Postgres, creates the service's schema if needed and runs its migrations (eventing
 * tables first) under an advisory lock, so replicas starting together migrate once.
 */
export async function openDatabase(options: DatabaseOptions): Promise<DataSource> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    entities: [...eventingEntities, ...(options.entities ?? [])] as EntityClass[],
    migrations: [...eventingMigrations, ...(options.migrations ?? [])],
    migrationsTableName: 'migrations',
    synchronize: false,
    logging: false,
    extra: { max: options.poolSize ?? 10, application_name: `acai-${options.schema}` },
  });
  await dataSource.initialize();
  const schema = `"${options.schema.replace(/"/g, '""')}"`;
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [`acai-migrate-${options.schema}`]);
    try {
      // A service's role may own its schema without the right to create schemas: it asks first.
      const found = (await runner.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [
        options.schema,
      ])) as unknown[];
      if (found.length === 0) await runner.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [
        `acai-migrate-${options.schema}`,
      ]);
    }
  } catch (error) {
    await runner.release();
    await dataSource.destroy();
    throw error;
  }
  await runner.release();
  return dataSource;
}
