import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { EventingTables1764115200000 } from '@acai/eventing';
import { AcaiError, RunProblems } from '@acai/contracts';
import { InMemoryEventLog } from '@acai/eventing/testing';
import { migratedSchema } from '@acai/testkit';
import { ProvenanceReuseSharing1797200000000 } from './sharing.migration.js';
import { SharingProjection } from './sharing.projection.js';
import { ReuseSharing } from './sharing.repository.js';

let schema: string;
let db: DataSource;
let drop: () => Promise<void> = () => Promise.resolve();

beforeAll(async () => {
  ({ db, schema, drop } = await migratedSchema('it_reuse_sharing', [
    EventingTables1764115200000,
    ProvenanceReuseSharing1797200000000,
  ]));
});

afterAll(async () => {
  await drop();
});

/**
 * The runner's part, done here by hand: the events appended since the last call applied to the
 * projection in one transaction each time a change waits for it.
 */
function projected(log: InMemoryEventLog, projection: SharingProjection) {
  let applied = 0;
  return async (seq: number) => {
    const events = log.all().filter((e) => e.position.seq > applied && e.position.seq <= seq);
    await db.transaction((m) => projection.apply(m, events));
    applied = Math.max(applied, seq);
    return true;
  };
}

describe('whom a project shares its results with', () => {
  it('records each change as an event, and answers both directions', async () => {
    const log = new InMemoryEventLog('provenance');
    const sharing = new ReuseSharing(
      db,
      schema,
      log,
      projected(log, new SharingProjection(schema)),
    );
    expect(await sharing.view('alpha')).toEqual({ project: 'alpha', with: [], sharedWithIt: [] });

    // Duplicates and the project itself are dropped; the list is kept sorted.
    expect(await sharing.set('alpha', ['gamma', 'beta', 'beta', 'alpha'], 'key-1')).toEqual({
      project: 'alpha',
      with: ['beta', 'gamma'],
      sharedWithIt: [],
    });
    await sharing.set('gamma', ['beta'], 'key-2');
    expect(await sharing.view('beta')).toEqual({
      project: 'beta',
      with: [],
      sharedWithIt: ['alpha', 'gamma'],
    });
    // The same list again changes nothing; a new one replaces it.
    await sharing.set('alpha', ['beta', 'gamma'], 'key-1');
    await sharing.set('alpha', [], 'key-1');
    expect((await sharing.view('beta')).sharedWithIt).toEqual(['gamma']);

    expect(
      log.all().map((e) => [e.project, e.aggregate, e.aggregateId, e.type, e.data] as const),
    ).toEqual([
      [
        'alpha',
        'project',
        'alpha',
        'project.reuse_sharing_changed',
        { with: ['beta', 'gamma'], before: [], keyId: 'key-1' },
      ],
      [
        'gamma',
        'project',
        'gamma',
        'project.reuse_sharing_changed',
        { with: ['beta'], before: [], keyId: 'key-2' },
      ],
      [
        'alpha',
        'project',
        'alpha',
        'project.reuse_sharing_changed',
        { with: [], before: ['beta', 'gamma'], keyId: 'key-1' },
      ],
    ]);
  });
});

describe('the reuse-sharing projection', () => {
  it('is the only writer of the table: a change answers once it has applied it, and says so if it has not', async () => {
    const log = new InMemoryEventLog('provenance');
    const projection = new SharingProjection(schema);
    const behind = new ReuseSharing(db, schema, log, () => Promise.resolve(false));
    const error = await behind.set('delta', ['epsilon'], 'key-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcaiError);
    expect((error as AcaiError).reason).toBe(RunProblems.PROVENANCE_BEHIND.reason);
    expect((error as AcaiError).message).toMatch(/shares its results with 'epsilon'.*GET/);
    // Recorded in the log, not in the table: the projection puts it there.
    expect(log.all().map((e) => e.type)).toEqual(['project.reuse_sharing_changed']);
    expect((await behind.view('delta')).with).toEqual([]);
    await db.transaction((m) => projection.apply(m, log.all()));
    expect((await behind.view('delta')).with).toEqual(['epsilon']);
  });

  it('is the same applied twice, and rebuilt by a replay beside the live table', async () => {
    const log = new InMemoryEventLog('provenance');
    const projection = new SharingProjection(schema);
    const sharing = new ReuseSharing(db, schema, log, projected(log, projection));
    await sharing.set('zeta', ['eta', 'theta'], null);
    await sharing.set('zeta', ['eta'], null);
    await sharing.set('iota', ['eta'], null);
    const once = await sharing.view('eta');
    expect(once.sharedWithIt).toEqual(['iota', 'zeta']);
    await db.transaction((m) => projection.apply(m, log.all()));
    expect(await sharing.view('eta')).toEqual(once);

    // A replay's build from the log, swapped in: the same rows.
    await db.query(`DELETE FROM ${sharing.table()} WHERE project IN ('zeta', 'iota')`);
    const replica = projection.replica();
    await db.transaction(async (m) => {
      await replica.reset(m);
      await replica.apply(m, log.all());
    });
    await db.transaction((m) => replica.promote(m));
    expect((await sharing.view('eta')).sharedWithIt).toEqual(['iota', 'zeta']);
    expect((await sharing.view('theta')).sharedWithIt).toEqual([]);
  });
});
