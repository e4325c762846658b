import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { eventingEntities, eventingMigrations } from '@acai/eventing';
import type { DispatchQueueEntry } from '@acai/runs';
import { testEnv, uniqueTag } from '@acai/testkit';
import { SchedulerDispatchQueue1796700000000 } from './dispatch-queue.migration.js';
import { SqlDispatchQueue } from './dispatch-queue.repository.js';

const schema = `it_dispatch_${uniqueTag()}`;
let db: DataSource;
let queue: SqlDispatchQueue;

/** A dispatch-queue document as the projection leaves it. */
function entry(
  project: string,
  jobId: string,
  state: DispatchQueueEntry['state'],
  pool: string | null,
  runId: string,
  maxParallel: number | null = null,
): DispatchQueueEntry {
  return {
    project,
    jobId,
    runId,
    priority: 0,
    maxParallel,
    state,
    pool,
    provider: pool === null ? null : pool.startsWith('sim') ? 'simulated' : 'local',
    placedSeq: pool === null ? null : 10,
    placedBy: null,
    placedAt: null,
  };
}

beforeAll(async () => {
  db = new DataSource({
    type: 'postgres',
    url: testEnv().databaseUrl,
    schema,
    entities: eventingEntities,
    migrations: [...eventingMigrations, SchedulerDispatchQueue1796700000000],
    migrationsTableName: 'migrations',
  });
  await db.initialize();
  await db.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await db.runMigrations({ transaction: 'each' });
  queue = new SqlDispatchQueue(db);
  const docs = [
    entry('alpha', 'j1', 'out', 'local', 'r1', 2),
    entry('alpha', 'j2', 'out', 'local', 'r1', 2),
    entry('alpha', 'j3', 'waiting', 'local', 'r1', 2),
    entry('alpha', 'j4', 'waiting', 'local', 'r2'),
    entry('beta', 'j5', 'out', 'local', 'r3'),
    entry('beta', 'j6', 'waiting', 'sim-a', 'r3'),
    entry('beta', 'j7', 'queued', null, 'r4'),
  ];
  for (const d of docs) {
    await db.query(
      `INSERT INTO "${schema}".projection_documents (projection, key, project, doc, seq)
       VALUES ('dispatch-queue', $1, $2, $3, 1)`,
      [d.jobId, d.project, JSON.stringify(d)],
    );
  }
});

afterAll(async () => {
  await queue?.close();
  if (db?.isInitialized) {
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.destroy();
  }
});

describe('the dispatch queue on Postgres', () => {
  it('answers a pass the jobs out per pool, project and run, and the projects waiting per pool, together', async () => {
    const state = await queue.pass((view) => view.state());
    const byKey = <T extends { pool: string; project: string }>(a: T, b: T) =>
      `${a.pool}/${a.project}`.localeCompare(`${b.pool}/${b.project}`);
    expect([...state!.out].sort(byKey)).toEqual([
      { pool: 'local', project: 'alpha', runId: 'r1', jobs: 2, maxParallel: 2 },
      { pool: 'local', project: 'beta', runId: 'r3', jobs: 1, maxParallel: null },
    ]);
    // One group per pool and project, however many jobs wait in it; a job not placed is in none.
    expect([...state!.groups].sort(byKey)).toEqual([
      { pool: 'local', project: 'alpha', provider: 'local' },
      { pool: 'sim-a', project: 'beta', provider: 'simulated' },
    ]);
  });

  it('answers nothing out and no group when no job is placed', async () => {
    await db.query(`DELETE FROM "${schema}".projection_documents WHERE doc->>'state' <> 'queued'`);
    const state = await queue.pass((view) => view.state());
    expect(state).toEqual({ out: [], groups: [] });
  });
});
