import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource, type MigrationInterface } from 'typeorm';
import { BlobProblems, isProblem } from '@acai/contracts';
import { quotaOf, quotaRefusal } from '@acai/blobstore';
import { eventually, testEnv, uniqueTag } from '@acai/testkit';
import {
  CatalogBlobRefs1764200200000,
  CatalogSearch1764200000000,
  CatalogSearchLatest1764200100000,
} from '../search/search.migration.js';
import {
  CatalogBlobOwners1764200300000,
  CatalogUploadSweep1796500000000,
} from './blobs.migration.js';
import { SqlBlobsRepository, type OwnCheck } from './blobs.repository.js';

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
    db = await open([...before, CatalogBlobOwners1764200300000, CatalogUploadSweep1796500000000]);
    blobs = new SqlBlobsRepository(db, schema);
  });

  const unowned = (project: string, named: string[]) =>
    blobs.hold(randomUUID(), [], (tx) => tx.unowned(project, named));
  /** Records that the project uploaded these blobs (each named by its content, its size its length). */
  const own = (project: string, named: string[], check: OwnCheck = () => undefined) =>
    blobs.own(
      project,
      named.map((name) => ({ sha256: sha(name), size: name.length })),
      check,
    );

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
    await own('gamma', ['held', 'free', 'manifest']);
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
    await own('gamma', ['lost']);
    await blobs.hold(failed, [sha('lost')], async () => undefined);
    await blobs.settle(failed, null);
    expect(await blobs.collect([sha('lost')], async () => undefined)).toEqual([sha('lost')]);
  });

  it('makes an eviction wait for a commit checking the same blob, then keep it', async () => {
    const blob = sha('contended');
    await own('gamma', ['contended']);
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

  /** What the project owns, as the quota counts it, and as the rows say (they must agree). */
  const storageOf = async (project: string) => {
    const counted = await blobs.storage(project);
    const [rows] = await db.query<{ bytes: string | null; blobs: string }[]>(
      `SELECT sum(bytes) AS bytes, count(*) AS blobs FROM ${table('blob_owners')} WHERE project = $1`,
      [project],
    );
    expect({ usedBytes: counted.usedBytes, blobs: counted.blobs }).toEqual({
      usedBytes: Number(rows?.bytes ?? 0),
      blobs: Number(rows?.blobs ?? 0),
    });
    return counted;
  };
  /** Makes the project's ownership of these blobs as old as an upload `seconds` ago. */
  const age = async (project: string, named: string[], seconds = 7200) => {
    await db.query(
      `UPDATE ${table('blob_owners')} SET created_at = now() - make_interval(secs => $3)
       WHERE project = $1 AND sha256 = ANY($2::text[])`,
      [project, named.map(sha), seconds],
    );
  };
  const owners = async (name: string) =>
    (
      await db.query<{ project: string }[]>(
        `SELECT project FROM ${table('blob_owners')} WHERE sha256 = $1 ORDER BY project`,
        [sha(name)],
      )
    ).map((r) => r.project);
  const version = (project: string, fileset: string, manifest: string) =>
    db.query(
      `INSERT INTO ${table('versions')} (project, fileset, version, metadata, labels, files, bytes, manifest_sha256, created_at, created_by)
       VALUES ($1, $2, 1, '{}', '{}', 0, 0, $3, now(), '{}')`,
      [project, fileset, sha(manifest)],
    );
  const ref = (project: string, fileset: string, name: string) =>
    db.query(
      `INSERT INTO ${table('blob_refs')} (project, fileset, version, sha256) VALUES ($1, $2, 1, $3)`,
      [project, fileset, sha(name)],
    );
  /** One sweep, with a grace period of an hour; answers it and what it deleted from the store. */
  const sweep = async () => {
    const removed: string[] = [];
    const swept = await blobs.sweep(3600, 1000, null, async (s) => void removed.push(s));
    return { swept, removed };
  };

  it('dates each ownership from the migration on, and counts each project’s blobs', async () => {
    const [row] = await db.query<{ unsized: string; future: string }[]>(
      `SELECT count(*) FILTER (WHERE bytes IS NULL) AS unsized,
              count(*) FILTER (WHERE created_at > now()) AS future
       FROM ${table('blob_owners')} WHERE project IN ('alpha', 'beta')`,
    );
    expect(row).toEqual({ unsized: '3', future: '0' });
    // Sizes not known yet count nothing; the blobs do.
    expect(await storageOf('alpha')).toEqual({ usedBytes: 0, blobs: 2, quotaBytes: null });
    expect(await storageOf('beta')).toEqual({ usedBytes: 0, blobs: 1, quotaBytes: null });
  });

  it('sizes the blobs of an earlier release from the store, once, for every owner', async () => {
    const unsized = await blobs.unsized(100);
    expect(unsized.sort()).toEqual([sha('a'), sha('shared')].sort());
    // The size the store gives is counted for each project that owns the blob.
    await blobs.recordSizes([
      { sha256: sha('a'), size: 1000 },
      { sha256: sha('shared'), size: 200 },
    ]);
    await blobs.recordSizes([{ sha256: sha('a'), size: 1000 }]);
    expect(await storageOf('alpha')).toMatchObject({ usedBytes: 1200, blobs: 2 });
    expect(await storageOf('beta')).toMatchObject({ usedBytes: 200, blobs: 1 });
    expect(await blobs.unsized(100)).toEqual([]);
  });

  it('counts the bytes a project owns once, and for each project that owns them', async () => {
    await own('counted', ['x'.repeat(100), 'y'.repeat(50)]);
    await own('counted', ['x'.repeat(100)]);
    await own('also-counted', ['x'.repeat(100)]);
    expect(await storageOf('counted')).toMatchObject({ usedBytes: 150, blobs: 2 });
    expect(await storageOf('also-counted')).toMatchObject({ usedBytes: 100, blobs: 1 });
    // An upload the check refuses is recorded nowhere.
    await expect(
      own('counted', ['z'.repeat(10)], () => {
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await storageOf('counted')).toMatchObject({ usedBytes: 150, blobs: 2 });
    expect(await owners('z'.repeat(10))).toEqual([]);
    // A sender of an earlier release says no size: counted once the size is known.
    await blobs.own('counted', [{ sha256: sha('w'.repeat(30)), size: null }], () => undefined);
    expect(await storageOf('counted')).toMatchObject({ usedBytes: 150, blobs: 3 });
    await own('counted', ['w'.repeat(30)]);
    expect(await storageOf('counted')).toMatchObject({ usedBytes: 180, blobs: 3 });
    // An eviction's collect forgets the owners of what it deletes, and their bytes.
    expect(await blobs.collect([sha('y'.repeat(50))], async () => undefined)).toHaveLength(1);
    expect(await storageOf('counted')).toMatchObject({ usedBytes: 130, blobs: 2 });
  });

  it('lets only one of two uploads in when together they would pass the quota', async () => {
    expect(await blobs.setQuota('tight', 200)).toEqual({
      usedBytes: 0,
      blobs: 0,
      quotaBytes: 200,
    });
    await own('tight', ['t'.repeat(150)]);
    const withinQuota: OwnCheck = (storage, adding) => {
      const refused = quotaRefusal(
        {
          project: 'tight',
          usedBytes: storage.usedBytes,
          quotaBytes: quotaOf(storage.quotaBytes, 0),
        },
        adding,
      );
      if (refused !== undefined) throw refused;
    };
    const results = await Promise.allSettled([
      own('tight', ['one'.repeat(10)], withinQuota),
      own('tight', ['two'.repeat(10)], withinQuota),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refusal = results.find((r) => r.status === 'rejected');
    expect(isProblem(refusal?.reason, BlobProblems.STORAGE_QUOTA_EXCEEDED)).toBe(true);
    expect(await storageOf('tight')).toMatchObject({ usedBytes: 180, blobs: 2, quotaBytes: 200 });
    // Bytes it owns already pass, however full it is.
    await own('tight', ['t'.repeat(150)], withinQuota);
    expect(await blobs.setQuota('tight', null)).toMatchObject({ quotaBytes: null });
  });

  it('sweeps an old upload no version uses, and keeps the committed, recent, held, manifest and shared', async () => {
    const all = [
      'old!',
      'committed!',
      'recent!',
      'held!',
      'as-manifest!',
      'shared-upload!',
      'used-by-other!',
      'again!',
    ];
    await own('sweep-a', all);
    await own('sweep-b', ['shared-upload!']);
    await age(
      'sweep-a',
      all.filter((n) => n !== 'recent!'),
    );
    await age('sweep-b', ['shared-upload!'], 60);
    await ref('sweep-a', 'data', 'committed!');
    await version('sweep-a', 'data', 'as-manifest!');
    await ref('sweep-b', 'theirs', 'used-by-other!');
    await blobs.hold(randomUUID(), [sha('held!')], async () => undefined);
    // Uploaded again: its grace period starts again.
    await own('sweep-a', ['again!']);
    const before = await storageOf('sweep-a');

    const { swept, removed } = await sweep();

    // Only the old upload nobody else has is deleted from the store.
    expect(removed).toEqual([sha('old!')]);
    // Sweep-a no longer owns what only it had uploaded long ago and no version of it uses.
    expect(await owners('old!')).toEqual([]);
    expect(await owners('shared-upload!')).toEqual(['sweep-b']);
    expect(await owners('used-by-other!')).toEqual([]);
    for (const kept of ['committed!', 'recent!', 'held!', 'as-manifest!', 'again!']) {
      expect(await owners(kept)).toEqual(['sweep-a']);
    }
    expect(swept).toMatchObject({
      forgotten: 3,
      forgottenBytes: 'old!'.length + 'shared-upload!'.length + 'used-by-other!'.length,
      deleted: 1,
      deletedBytes: 'old!'.length,
    });
    expect(await storageOf('sweep-a')).toMatchObject({
      usedBytes: before.usedBytes - swept.forgottenBytes,
      blobs: before.blobs - 3,
    });
    // Swept again, nothing is left to do.
    expect((await sweep()).swept).toMatchObject({ forgotten: 0, deleted: 0 });
  });

  it('waits for a commit checking an old upload, then keeps it', async () => {
    await own('sweep-c', ['in-a-commit']);
    await age('sweep-c', ['in-a-commit']);
    let release!: () => void;
    let started!: () => void;
    const checking = new Promise<void>((resolve) => (release = resolve));
    const inCheck = new Promise<void>((resolve) => (started = resolve));
    const committing = blobs.hold(randomUUID(), [sha('in-a-commit')], async (tx) => {
      const missing = await tx.unowned('sweep-c', [sha('in-a-commit')]);
      started();
      await checking;
      return missing;
    });
    await inCheck;
    let done = false;
    const sweeping = sweep().finally(() => (done = true));
    await eventually('the sweep to wait for the commit', async () => {
      const rows = await db.query<{ n: string }[]>(
        `SELECT count(*) AS n FROM pg_locks
         WHERE locktype = 'advisory' AND NOT granted AND classid = $1 AND objid = $2`,
        [0x626c6f62, parseInt(sha('in-a-commit').slice(0, 2), 16) % 64],
      );
      return Number(rows[0]?.n) > 0 ? true : undefined;
    });
    expect(done).toBe(false);
    release();
    expect(await committing).toEqual([]);
    const { swept, removed } = await sweeping;
    expect(swept.forgotten).toBe(0);
    expect(removed).toEqual([]);
    expect(await owners('in-a-commit')).toEqual(['sweep-c']);
  });

  it('deletes a refused upload’s bytes only if nobody else has them', async () => {
    await own('other', ['someone-elses']);
    const removed: string[] = [];
    const collected = await blobs.collectUnowned(
      [sha('someone-elses'), sha('nobodys')],
      async (s) => void removed.push(s),
    );
    expect(collected).toEqual([sha('nobodys')]);
    expect(removed).toEqual([sha('nobodys')]);
  });

  it('lets one replica sweep at a time', async () => {
    const other = new SqlBlobsRepository(db, schema);
    expect(await blobs.alone(() => other.alone(async () => 'inner'))).toBeUndefined();
    expect(await other.alone(async () => 'after')).toBe('after');
  });

  it('sweeps in batches, each from where the last one ended', async () => {
    const named = ['paged-1', 'paged-2', 'paged-3'];
    await own('paged', named);
    await age('paged', named);
    const removed: string[] = [];
    const remove = async (s: string) => void removed.push(s);

    const first = await blobs.sweep(3600, 2, null, remove);
    expect(first).toMatchObject({ forgotten: 2, deleted: 2 });
    expect(first.next).toMatchObject({ project: 'paged' });
    const second = await blobs.sweep(3600, 2, first.next, remove);
    expect(second).toMatchObject({ forgotten: 1, deleted: 1, next: null });
    expect(removed.sort()).toEqual(named.map(sha).sort());
    expect(await storageOf('paged')).toMatchObject({ usedBytes: 0, blobs: 0 });
  });
});
