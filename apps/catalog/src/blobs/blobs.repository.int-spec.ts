import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource, type MigrationInterface } from 'typeorm';
import { eventually, testEnv, uniqueTag } from '@acai/testkit';
import {
  CatalogBlobRefs1764200200000,
  CatalogSearch1764200000000,
  CatalogSearchLatest1764200100000,
} from '../search/search.migration.js';
import { CatalogBlobOwners1764200300000 } from './blobs.migration.js';
import { SqlBlobsRepository } from './blobs.repository.js';

const schema = `it_blobs_${uniqueTag()}`;
const table = (name: string) => `"${schema}".${name}`;
const opened: DataSource[] = [];
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

async function open(migrations: (new () => MigrationInterface)[]): Promise<DataSource> {
  const db = new DataSource({
    type: 'postgres',
    url: testEnv().databaseUrl,
    schema,
    migrations,
    migrationsTableName: 'migrations',
  });
  await db.initialize();
  opened.push(db);
  await db.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await db.runMigrations({ transaction: 'each' });
  return db;
}

const before = [
  CatalogSearch1764200000000,
  CatalogSearchLatest1764200100000,
  CatalogBlobRefs1764200200000,
];

afterAll(async () => {
  await opened.at(-1)?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  for (const db of opened) if (db.isInitialized) await db.destroy();
});

describe('blob owners and holds, on Postgres', () => {
  let db: DataSource;
  let blobs: SqlBlobsRepository;

  beforeAll(async () => {
    // A catalog of the previous release: two projects' live versions use blobs, one shared.
    const old = await open(before);
    for (const [project, fileset, blob] of [
      ['alpha', 'data', 'a'],
      ['alpha', 'data', 'shared'],
      ['beta', 'other', 'shared'],
    ] as const) {
      await old.query(
        `INSERT INTO ${table('blob_refs')} (project, fileset, version, sha256) VALUES ($1, $2, 1, $3)`,
        [project, fileset, sha(blob)],
      );
    }
    await old.destroy();
    db = await open([...before, CatalogBlobOwners1764200300000]);
    blobs = new SqlBlobsRepository(db, schema);
  });

  const unowned = (project: string, named: string[]) =>
    blobs.hold(randomUUID(), [], (tx) => tx.unowned(project, named));

  it('gives each project the blobs its live versions used before the migration', async () => {
    const rows = await db.query<{ project: string; sha256: string }[]>(
      `SELECT project, sha256 FROM ${table('blob_owners')} ORDER BY project, sha256`,
    );
    expect(rows).toEqual(
      [
        { project: 'alpha', sha256: sha('a') },
        { project: 'alpha', sha256: sha('shared') },
        { project: 'beta', sha256: sha('shared') },
      ].sort((x, y) => (x.project + x.sha256 < y.project + y.sha256 ? -1 : 1)),
    );
    expect(await unowned('beta', [sha('a'), sha('shared')])).toEqual([sha('a')]);
  });

  it('keeps what a version uses, as its manifest too, and what a commit holds; deletes the rest and forgets its owners', async () => {
    await blobs.own('gamma', [sha('held'), sha('free'), sha('manifest')]);
    await db.query(
      `INSERT INTO ${table('versions')} (project, fileset, version, metadata, labels, files, bytes, manifest_sha256, created_at, created_by)
       VALUES ('delta', 'd', 1, '{}', '{}', 0, 0, $1, now(), '{}')`,
      [sha('manifest')],
    );
    const hold = randomUUID();
    await blobs.hold(hold, [sha('held')], async () => undefined);
    const removed: string[] = [];
    const all = ['held', 'free', 'manifest', 'shared'].map(sha);
    expect(await blobs.collect(all, async (s) => void removed.push(s))).toEqual([sha('free')]);
    expect(removed).toEqual([sha('free')]);
    expect(await unowned('gamma', ['held', 'free', 'manifest'].map(sha))).toEqual([sha('free')]);

    // Settled as a version: its blobs are referenced from then on, the hold is gone.
    await blobs.settle(hold, { project: 'gamma', fileset: 'g', version: 1, blobs: [sha('held')] });
    expect(await blobs.collect([sha('held')], async () => undefined)).toEqual([]);
    // Settled without a version (the commit failed): nothing keeps the blob any more.
    const failed = randomUUID();
    await blobs.own('gamma', [sha('lost')]);
    await blobs.hold(failed, [sha('lost')], async () => undefined);
    await blobs.settle(failed, null);
    expect(await blobs.collect([sha('lost')], async () => undefined)).toEqual([sha('lost')]);
  });

  it('makes an eviction wait for a commit checking the same blob, then keep it', async () => {
    const blob = sha('contended');
    await blobs.own('gamma', [blob]);
    let release!: () => void;
    let started!: () => void;
    const checking = new Promise<void>((resolve) => (release = resolve));
    const inCheck = new Promise<void>((resolve) => (started = resolve));
    const committing = blobs.hold(randomUUID(), [blob], async (tx) => {
      const missing = await tx.unowned('gamma', [blob]);
      started();
      await checking;
      return missing;
    });
    await inCheck;
    const removed: string[] = [];
    let collected: string[] | undefined;
    const evicting = blobs
      .collect([blob], async (s) => void removed.push(s))
      .then((r) => (collected = r));
    // The eviction waits for the commit's lock on the blob's stripe (seen in pg_locks).
    await eventually('the eviction to wait for the commit', async () => {
      const rows = await db.query<{ n: string }[]>(
        `SELECT count(*) AS n FROM pg_locks
         WHERE locktype = 'advisory' AND NOT granted AND classid = $1 AND objid = $2`,
        [0x626c6f62, parseInt(blob.slice(0, 2), 16) % 64],
      );
      return Number(rows[0]?.n) > 0 ? true : undefined;
    });
    expect(collected).toBeUndefined();
    release();
    expect(await committing).toEqual([]);
    await evicting;
    expect(collected).toEqual([]);
    expect(removed).toEqual([]);
  });
});
