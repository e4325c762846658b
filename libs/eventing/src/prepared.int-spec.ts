import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource, QueryFailedError } from 'typeorm';
import { testEnv, uniqueTag } from '@acai/testkit';
import { classifyFailure } from './failures.js';
import { queryPrepared } from './prepared.js';

let db: DataSource;
const schema = `prepared_${uniqueTag()}`;

beforeAll(async () => {
  db = new DataSource({ type: 'postgres', url: testEnv().databaseUrl, logging: false });
  await db.initialize();
  await db.query(`CREATE SCHEMA "${schema}"`);
  await db.query(`CREATE TABLE "${schema}".items (key text PRIMARY KEY, n int NOT NULL)`);
});

afterAll(async () => {
  if (db === undefined) return;
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.destroy();
});

const upsert = (table: string) =>
  `INSERT INTO ${table} (key, n) VALUES ($1, $2)
   ON CONFLICT (key) DO UPDATE SET n = ${table}.n + EXCLUDED.n RETURNING key, n`;

describe('queryPrepared', () => {
  it('runs a statement as one prepared statement on the connection, answering its rows each time', async () => {
    const text = upsert(`"${schema}".items`);
    const { answers, prepared } = await db.transaction(async (m) => {
      const answers = [
        await queryPrepared<{ key: string; n: number }>(m, text, ['a', 1]),
        await queryPrepared<{ key: string; n: number }>(m, text, ['a', 2]),
      ];
      // What Postgres holds prepared on this transaction's connection for this text.
      const prepared = await m.query<{ n: string }[]>(
        `SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = $1`,
        [text],
      );
      return { answers, prepared: Number(prepared[0]?.n) };
    });
    expect(answers).toEqual([[{ key: 'a', n: 1 }], [{ key: 'a', n: 3 }]]);
    expect(prepared).toBe(1);
  });

  it("fails as EntityManager.query does: a QueryFailedError carrying Postgres's code", async () => {
    const failure = await db
      .transaction((m) => queryPrepared(m, upsert(`"${schema}".missing`), ['a', 1]))
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(QueryFailedError);
    expect((failure as QueryFailedError).driverError).toMatchObject({ code: '42P01' });
    // Not a dependency being down: a failure, counted as an attempt.
    expect(classifyFailure(failure)).toBe('failure');
  });

  it('outside a transaction, runs the statement as EntityManager.query would', async () => {
    const rows = await queryPrepared<{ key: string; n: number }>(
      db.manager,
      upsert(`"${schema}".items`),
      ['b', 5],
    );
    expect(rows).toEqual([{ key: 'b', n: 5 }]);
  });
});
