import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { EventingTables1764115200000 } from '@acai/eventing';
import { InMemoryEventLog } from '@acai/eventing/testing';
import { migratedSchema } from '@acai/testkit';
import { ProvenanceReuseSharing1797200000000 } from './sharing.migration.js';
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

describe('whom a project shares its results with', () => {
  it('records each change as an event, and answers both directions', async () => {
    const log = new InMemoryEventLog('provenance');
    const sharing = new ReuseSharing(db, schema, log);
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
