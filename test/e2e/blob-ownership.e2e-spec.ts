import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { serializeManifest } from '@acai/filesets';
import { startSystem, type ApiResponse, type TestSystem } from '../support/system.js';

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

interface ErrorReply {
  error: { code: string; message: string; details?: { path?: string; message?: string }[] };
}

/**
 * Blobs are stored once but owned per project: a commit names only blobs its project uploaded (or
 * has in a version), another project's hash is refused exactly as one nobody uploaded, and an
 * eviction never deletes what a live version of any project uses, even one committed as it runs.
 */
describe('blobs owned per project', () => {
  let system: TestSystem;
  /** Admin keys of the two projects. */
  let alpha: string;
  let beta: string;

  beforeAll(async () => {
    system = await startSystem();
    const project = async (name: string) => {
      const r = await system.api('POST', '/api/v1/projects', { name });
      expect(r.status).toBe(201);
      return (r.body as { key: string }).key;
    };
    alpha = await project('alpha');
    beta = await project('beta');
  });

  afterAll(async () => {
    await system?.close();
  });

  const api = (key: string, method: string, path: string, body?: unknown) =>
    system.api(method, path, body, key);
  const upload = (key: string, content: Buffer) => system.upload(content, sha(content), key);
  const fileset = async (key: string, name: string) =>
    expect((await api(key, 'POST', '/api/v1/filesets', { name })).status).toBe(201);
  const commit = (key: string, name: string, parent: number, content: Buffer, size?: number) =>
    api(key, 'POST', `/api/v1/filesets/${name}/versions`, {
      parent,
      put: [{ path: 'data.bin', sha256: sha(content), ...(size === undefined ? {} : { size }) }],
    });
  /** The file's bytes as served, or the status when it cannot be read. */
  const download = async (key: string, name: string, version: number) => {
    const r = await fetch(
      `${system.gatewayUrl}/api/v1/filesets/${name}/versions/${version}/files/data.bin`,
      { headers: { authorization: `Bearer ${key}` } },
    );
    return r.status === 200 ? Buffer.from(await r.arrayBuffer()) : r.status;
  };
  const evict = (key: string, name: string, version: number) =>
    api(key, 'POST', `/api/v1/filesets/${name}/versions/${version}/evict`, {});
  /** An error answer with every hash in it replaced, to compare two answers but for the hash. */
  const withoutHashes = (r: ApiResponse) => ({
    status: r.status,
    body: JSON.parse(r.text.replace(/[0-9a-f]{64}/g, '<sha256>')) as unknown,
  });

  it('refuses another project’s hash exactly as one nobody uploaded, whatever size it states', async () => {
    const bytes = randomBytes(1000);
    expect((await upload(alpha, bytes)).status).toBe(201);
    await fileset(alpha, 'alpha-data');
    expect((await commit(alpha, 'alpha-data', 0, bytes)).status).toBe(201);

    await fileset(beta, 'beta-data');
    const nowhere = randomBytes(1000);
    const named = await commit(beta, 'beta-data', 0, bytes);
    const missing = await commit(beta, 'beta-data', 0, nowhere);
    expect(named.status).toBe(400);
    expect((named.body as ErrorReply).error.details).toEqual([
      { path: 'put.0.sha256', message: 'not uploaded' },
    ]);
    expect(withoutHashes(named)).toEqual(withoutHashes(missing));
    // A wrong size is not checked against bytes the project does not have (it would tell the size).
    expect(withoutHashes(await commit(beta, 'beta-data', 0, bytes, 1))).toEqual(
      withoutHashes(await commit(beta, 'beta-data', 0, nowhere, 1)),
    );
    expect((await api(beta, 'GET', '/api/v1/filesets/beta-data')).body).toMatchObject({
      latestVersion: 0,
    });
  });

  it('lets a project commit bytes another has once it uploads them, and each keeps them when the other evicts', async () => {
    const bytes = randomBytes(2000);
    await upload(alpha, bytes);
    await fileset(alpha, 'shared-a');
    expect((await commit(alpha, 'shared-a', 0, bytes)).status).toBe(201);

    // The same answer as for new bytes: an upload says nothing about who else has them.
    expect(await upload(beta, bytes)).toEqual({
      status: 201,
      body: { sha256: sha(bytes), size: bytes.length },
    });
    await fileset(beta, 'shared-b');
    expect((await commit(beta, 'shared-b', 0, bytes)).status).toBe(201);

    expect((await evict(alpha, 'shared-a', 1)).body).toMatchObject({
      deletedBlobs: 0,
      sharedBlobs: 1,
    });
    expect(await download(beta, 'shared-b', 1)).toEqual(bytes);

    // Alpha still has the bytes in no live version; it uploads them again and commits.
    await upload(alpha, bytes);
    expect((await commit(alpha, 'shared-a', 1, bytes)).status).toBe(201);
    expect((await evict(beta, 'shared-b', 1)).body).toMatchObject({ deletedBlobs: 0 });
    expect(await download(alpha, 'shared-a', 2)).toEqual(bytes);
  });

  it('never evicts a blob that is a version’s manifest, even as another project’s file', async () => {
    const bytes = randomBytes(500);
    await upload(alpha, bytes);
    await fileset(alpha, 'manifested');
    const v1 = await commit(alpha, 'manifested', 0, bytes);
    const manifest = Buffer.from(
      serializeManifest(
        new Map([
          [
            'data.bin',
            { sha256: sha(bytes), size: bytes.length, mediaType: 'application/octet-stream' },
          ],
        ]),
      ),
    );
    expect(sha(manifest)).toBe((v1.body as { manifestSha256: string }).manifestSha256);

    // Beta uploads the manifest's bytes as a file of its own, commits them, and evicts that.
    await upload(beta, manifest);
    await fileset(beta, 'copy');
    expect((await commit(beta, 'copy', 0, manifest)).status).toBe(201);
    expect((await evict(beta, 'copy', 1)).body).toMatchObject({ deletedBlobs: 0 });
    const files = await api(alpha, 'GET', '/api/v1/filesets/manifested/versions/1/files');
    expect(files.status).toBe(200);
    expect(await download(alpha, 'manifested', 1)).toEqual(bytes);
  });

  it('races evictions against commits of the same bytes: every commit fails as missing or stays whole', async () => {
    const ROUNDS = 50;
    const AT_ONCE = 10;
    const outcomes = { committed: 0, missing: 0 };
    const round = async (r: number) => {
      const bytes = randomBytes(4096 + r);
      await upload(alpha, bytes);
      await fileset(alpha, `race-a-${r}`);
      expect((await commit(alpha, `race-a-${r}`, 0, bytes)).status).toBe(201);
      await upload(beta, bytes);
      await fileset(beta, `race-b-${r}`);
      // Alpha evicts the only version using the bytes while beta commits them, a little later
      // each round (0 to 405 ms), so that the commit lands in every phase of the eviction and after.
      const [evicted, committed] = await Promise.all([
        evict(alpha, `race-a-${r}`, 1),
        delay((r % 10) ** 2 * 5).then(() => commit(beta, `race-b-${r}`, 0, bytes)),
      ]);
      expect(evicted.status).toBe(200);
      if (committed.status === 201) {
        outcomes.committed++;
      } else {
        // Cleanly refused, as missing: uploading the bytes again and committing works.
        expect(committed.status).toBe(400);
        expect((committed.body as ErrorReply).error.details).toEqual([
          { path: 'put.0.sha256', message: 'not uploaded' },
        ]);
        outcomes.missing++;
        expect((await upload(beta, bytes)).status).toBe(201);
        expect((await commit(beta, `race-b-${r}`, 0, bytes)).status).toBe(201);
      }
      // Whichever way it went, beta's version is whole.
      const served = await download(beta, `race-b-${r}`, 1);
      expect(Buffer.isBuffer(served) ? sha(served) : served).toBe(sha(bytes));
    };
    for (let start = 0; start < ROUNDS; start += AT_ONCE) {
      await Promise.all(
        Array.from({ length: Math.min(AT_ONCE, ROUNDS - start) }, (_, i) => round(start + i)),
      );
    }
    expect(outcomes.committed + outcomes.missing).toBe(ROUNDS);
  });
});
