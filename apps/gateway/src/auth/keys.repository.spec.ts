import { describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { ApiKeyEntity } from './auth.entities.js';
import { hashKey, KeysRepository } from './keys.repository.js';

const row = (revoked: boolean): ApiKeyEntity => ({
  id: 'key-0000000000000000000000a',
  hash: hashKey('secret'),
  project: 'vision',
  prefix: 'acai_secre',
  scope: 'read',
  platformAdmin: false,
  name: null,
  createdAt: new Date(0),
  lastUsedAt: null,
  revokedAt: revoked ? new Date(0) : null,
});

/**
 * The api_keys table as the repository sees it: each lookup waits until the test answers it, so
 * a test decides what a lookup read and when it ends.
 */
function table() {
  const lookups: ((answer: ApiKeyEntity | null) => void)[] = [];
  const db = {
    getRepository: () => ({
      findOneBy: () => new Promise<ApiKeyEntity | null>((resolve) => lookups.push(resolve)),
      update: () => Promise.resolve(),
    }),
  } as unknown as DataSource;
  return { db, lookups };
}

/** Lets the repository's pending work run (a lookup it has just started). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('the API key cache', () => {
  it('answers a key from the cache until the key is revoked, then asks the database again', async () => {
    const { db, lookups } = table();
    const keys = new KeysRepository(db, { warn: () => undefined });
    const first = keys.authenticate('secret');
    await settle();
    lookups.shift()!(row(false));
    expect(await first).toMatchObject({ project: 'vision', scope: 'read' });
    expect(await keys.authenticate('secret')).toMatchObject({ scope: 'read' });
    expect(lookups).toHaveLength(0);

    keys.forget('key-0000000000000000000000a');
    const after = keys.authenticate('secret');
    await settle();
    lookups.shift()!(row(true));
    expect(await after).toBeNull();
  });

  it('does not cache a lookup that read the key just before a revocation was heard', async () => {
    const { db, lookups } = table();
    const keys = new KeysRepository(db, { warn: () => undefined });
    const racing = keys.authenticate('secret');
    await settle();
    keys.forget('key-0000000000000000000000a'); // heard while the lookup was in flight
    lookups.shift()!(row(false));
    expect(await racing).not.toBeNull();
    const next = keys.authenticate('secret');
    await settle();
    expect(lookups).toHaveLength(1);
    lookups.shift()!(row(true));
    expect(await next).toBeNull();
  });

  it('uses no cached answer while revocations cannot be heard, and starts afresh when they can', async () => {
    const { db, lookups } = table();
    const keys = new KeysRepository(db, { warn: () => undefined });
    const cached = keys.authenticate('secret');
    await settle();
    lookups.shift()!(row(false));
    await cached;

    keys.trustCache(false);
    for (const revoked of [false, true]) {
      const answer = keys.authenticate('secret');
      await settle();
      lookups.shift()!(row(revoked));
      expect(await answer).toEqual(revoked ? null : expect.objectContaining({ scope: 'read' }));
    }
    keys.trustCache(true);
    const fresh = keys.authenticate('secret');
    await settle();
    expect(lookups).toHaveLength(1);
    lookups.shift()!(row(true));
    expect(await fresh).toBeNull();
  });
});
