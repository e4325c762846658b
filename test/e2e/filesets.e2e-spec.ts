import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import tar from 'tar-stream';
import { AcaiApiError, type AcaiClient } from '@acai/sdk';
import { startSystem, type TestSystem } from '../support/system.js';

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

interface ErrorReply {
  error: { code: string; message: string; details?: { path?: string }[] };
}

describe('file sets through the gateway', () => {
  let system: TestSystem;
  let acai: AcaiClient;
  let otherKey: string;

  beforeAll(async () => {
    system = await startSystem({ env: { ACAI_MAX_UPLOAD_BYTES: String(1024 * 1024) } });
    acai = system.client();
    otherKey = (await acai.createProject('elsewhere')).key;
  });

  /** A file's bytes as text, through the SDK. */
  const fileText = async (name: string, ref: string | number, file: string) =>
    (await acai.send('getFile', { params: { name, ref, path: file } })).text();
  /** The refusal of a call that must fail, as the SDK's typed error. */
  const refusal = async (call: Promise<unknown>): Promise<AcaiApiError> => {
    const error = await call.then(
      () => new Error('expected the call to be refused'),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AcaiApiError);
    return error as AcaiApiError;
  };

  afterAll(async () => {
    await system?.close();
  });

  const upload = (content: string | Buffer, stated?: string) => system.upload(content, stated);

  const blobFiles = async () => {
    const out: string[] = [];
    const walk = async (dir: string) => {
      for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        if (entry.isDirectory()) await walk(path.join(dir, entry.name));
        else out.push(path.relative(path.join(system.home, 'blobs'), path.join(dir, entry.name)));
      }
    };
    await walk(path.join(system.home, 'blobs'));
    return out.sort();
  };

  it('commits versions of uploaded files, serves them whole, by range and as a tar, and diffs them', async () => {
    const created = await system.api('POST', '/api/v1/filesets', {
      name: 'digits',
      metadata: { rows: 3, source: 'test' },
      labels: ['raw'],
    });
    expect(created.status).toBe(201);

    const train = 'one,two,three\n1,2,3\n';
    const readme = '# digits\n';
    expect((await upload(train, sha(train))).status).toBe(201);
    const posted = await upload(readme);
    expect(posted.body).toEqual({ sha256: sha(readme), size: readme.length });

    const v1 = await system.api('POST', '/api/v1/filesets/digits/versions', {
      parent: 0,
      put: [
        { path: 'data/train.csv', sha256: sha(train), size: train.length },
        { path: 'README.md', sha256: sha(readme) },
      ],
      labels: ['prod'],
    });
    expect(v1.status).toBe(201);
    expect(v1.body).toEqual(
      expect.objectContaining({ version: 1, files: 2, bytes: train.length + readme.length }),
    );

    const train2 = 'one,two,three\n4,5,6\n';
    await upload(train2, sha(train2));
    const v2 = await system.api('POST', '/api/v1/filesets/digits/versions', {
      parent: 1,
      put: [
        { path: 'data/train.csv', sha256: sha(train2) },
        { path: 'data/extra.csv', sha256: sha(train) },
      ],
      delete: ['README.md'],
    });
    expect(v2.status).toBe(201);
    expect((v2.body as { version: number }).version).toBe(2);

    // A version never changes: v1 still serves its own bytes; `prod` still names v1.
    const old = await system.api(
      'GET',
      '/api/v1/filesets/digits/versions/prod/files/data/train.csv',
    );
    expect(old.status).toBe(200);
    expect(old.text).toBe(train);
    const latest = await system.api(
      'GET',
      '/api/v1/filesets/digits/versions/latest/files/data/train.csv',
    );
    expect(latest.text).toBe(train2);

    const ranged = await fetch(
      `${system.gatewayUrl}/api/v1/filesets/digits/versions/2/files/data/train.csv`,
      {
        headers: { authorization: `Bearer ${system.key}`, range: 'bytes=14-' },
      },
    );
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(
      `bytes 14-${train2.length - 1}/${train2.length}`,
    );
    expect(await ranged.text()).toBe('4,5,6\n');
    const outside = await fetch(
      `${system.gatewayUrl}/api/v1/filesets/digits/versions/2/files/data/train.csv`,
      {
        headers: { authorization: `Bearer ${system.key}`, range: 'bytes=999-' },
      },
    );
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${train2.length}`);
    expect(outside.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await outside.json()).toMatchObject({
      status: 416,
      reason: 'RANGE_NOT_SATISFIABLE',
      detail: expect.stringContaining(`ask for bytes 0-${train2.length - 1} at most`),
    });

    const archive = await fetch(`${system.gatewayUrl}/api/v1/filesets/digits/versions/2/archive`, {
      headers: { authorization: `Bearer ${system.key}` },
    });
    expect(archive.status).toBe(200);
    const entries = await untar(Buffer.from(await archive.arrayBuffer()));
    expect(entries).toEqual({ 'data/extra.csv': train, 'data/train.csv': train2 });

    const diff = await system.api('GET', '/api/v1/filesets/digits/diff?from=1&to=2');
    expect(diff.body).toEqual({
      from: 1,
      to: 2,
      added: ['data/extra.csv'],
      removed: ['README.md'],
      changed: ['data/train.csv'],
    });

    const listed = await system.api('GET', '/api/v1/filesets/digits/versions/2/files?prefix=data/');
    expect((listed.body as { items: { path: string }[] }).items.map((f) => f.path)).toEqual([
      'data/extra.csv',
      'data/train.csv',
    ]);

    // Bytes are stored once: train.csv of v1 and extra.csv of v2 are one blob.
    const stored = (await blobFiles()).filter((f) => f.startsWith('sha256'));
    expect(stored.filter((f) => f.endsWith(sha(train)))).toHaveLength(1);
  });

  it('commits thousands of files in one version (more than one bus message can carry)', async () => {
    await system.api('POST', '/api/v1/filesets', { name: 'many' });
    const content = 'same bytes in every file';
    await upload(content, sha(content));
    // 12,000 files with realistic paths: a 1.4 MB request, over the 1 MiB limit of other requests.
    const put = Array.from({ length: 12_000 }, (_, i) => ({
      path: `data/train/shard-${String(i).padStart(5, '0')}/part.txt`,
      sha256: sha(content),
    }));
    const committed = await system.api('POST', '/api/v1/filesets/many/versions', {
      parent: 0,
      put,
    });
    expect(committed.status).toBe(201);
    expect(committed.body).toEqual(
      expect.objectContaining({ version: 1, files: 12_000, bytes: 12_000 * content.length }),
    );
    const last = await system.api(
      'GET',
      '/api/v1/filesets/many/versions/1/files/data/train/shard-11999/part.txt',
    );
    expect(last.text).toBe(content);
  });

  it('evicts a version: its own bytes go, bytes another version shares stay, its manifest stays; pinned ones are refused', async () => {
    await acai.createFileset({ name: 'evictable' });
    const shared = 'shared by both versions';
    const own = 'only in version 1';
    await upload(shared, sha(shared));
    await upload(own, sha(own));
    await acai.commitVersion('evictable', {
      parent: 0,
      put: [
        { path: 'shared.txt', sha256: sha(shared) },
        { path: 'own.txt', sha256: sha(own) },
      ],
    });
    await acai.commitVersion('evictable', { parent: 1, put: [], delete: ['own.txt'] });
    await acai.pinVersion('evictable', 2);

    const evicted = await acai.evictVersion('evictable', 1, 'storage budget');
    expect(evicted).toEqual(
      expect.objectContaining({ version: 1, evicted: true, deletedBlobs: 1, sharedBlobs: 1 }),
    );

    const gone = await refusal(fileText('evictable', 1, 'own.txt'));
    expect(gone.status).toBe(404);
    expect(gone.detail).toContain('evicted');
    const files = await acai.listFiles('evictable', 1);
    expect(files.items.map((f) => f.path)).toEqual(['own.txt', 'shared.txt']);
    expect(await fileText('evictable', 2, 'shared.txt')).toBe(shared);
    const stored = await blobFiles();
    expect(stored.some((f) => f.endsWith(sha(own)))).toBe(false);
    expect(stored.some((f) => f.endsWith(sha(shared)))).toBe(true);

    const pinned = await refusal(acai.evictVersion('evictable', 2));
    expect(pinned.status).toBe(409);
    expect(pinned.detail).toContain('pinned');
  });

  it('refuses a commit on an old parent with 409, and the retry on the new parent succeeds', async () => {
    await acai.createFileset({ name: 'racy' });
    const a = 'a';
    await upload(a, sha(a));
    const commit = (parent: number, p: string) =>
      acai.commitVersion('racy', { parent, put: [{ path: p, sha256: sha(a) }] }).then(
        (version) => ({ version, refused: undefined }),
        (e: unknown) => {
          expect(e).toBeInstanceOf(AcaiApiError);
          return { version: undefined, refused: e as AcaiApiError };
        },
      );
    const [first, second] = await Promise.all([commit(0, 'x'), commit(0, 'y')]);
    // One was committed as version 1, the other refused with 409.
    expect([first.version?.version, second.version?.version].sort()).toEqual([1, undefined]);
    const loser = (first.refused ?? second.refused)!;
    expect(loser.status).toBe(409);
    expect(loser.detail).toContain('commit again with parent 1');
    const retry = await commit(1, first.refused !== undefined ? 'x' : 'y');
    expect(retry.version?.version).toBe(2);
    const files = await acai.listFiles('racy', 2);
    expect(files.items.map((f) => f.path)).toEqual(['x', 'y']);
  });

  it('refuses a wrong checksum, an oversized upload and an interrupted one, and keeps nothing of them', async () => {
    const before = await blobFiles();
    const wrong = await upload('hello', sha('other'));
    expect(wrong.status).toBe(400);
    expect((wrong.body as unknown as ErrorReply).error.message).toContain('nothing was stored');

    const big = await upload(Buffer.alloc(1024 * 1024 + 1));
    expect(big.status).toBe(413);

    await new Promise<void>((resolve) => {
      const url = new URL(`${system.gatewayUrl}/api/v1/blobs`);
      const request = http.request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          authorization: `Bearer ${system.key}`,
          'content-type': 'application/octet-stream',
          'content-length': '100000',
        },
      });
      request.on('error', () => resolve());
      request.write(Buffer.alloc(50_000));
      setTimeout(() => {
        request.destroy();
        resolve();
      }, 200);
    });
    await new Promise((r) => setTimeout(r, 300));
    expect((await blobFiles()).filter((f) => !f.startsWith('tmp'))).toEqual(
      before.filter((f) => !f.startsWith('tmp')),
    );
    expect((await blobFiles()).filter((f) => f.startsWith('tmp'))).toEqual([]);
  });

  it('refuses paths that escape, unknown blobs, and shows nothing to another project', async () => {
    await system.api('POST', '/api/v1/filesets', { name: 'guarded' });
    const x = 'x';
    await upload(x, sha(x));
    for (const bad of ['../etc/passwd', '/abs', 'a//b', 'a\\b', 'a/./b', 'nul\u0000byte', '']) {
      const r = await system.api('POST', '/api/v1/filesets/guarded/versions', {
        parent: 0,
        put: [{ path: bad, sha256: sha(x) }],
      });
      expect([bad, r.status]).toEqual([bad, 400]);
      expect((r.body as ErrorReply).error.details?.[0]?.path).toBe('put.0.path');
    }
    const missing = await system.api('POST', '/api/v1/filesets/guarded/versions', {
      parent: 0,
      put: [{ path: 'f', sha256: sha('never uploaded') }],
    });
    expect(missing.status).toBe(400);
    expect((missing.body as ErrorReply).error.message).toContain('upload it first');

    expect((await system.api('GET', '/api/v1/filesets/guarded', undefined, otherKey)).status).toBe(
      404,
    );
    expect((await system.api('GET', '/api/v1/filesets/nope')).status).toBe(404);
    expect((await system.api('GET', '/api/v1/filesets/digits/versions/9')).status).toBe(404);
    const list = await system.api('GET', '/api/v1/filesets', undefined, otherKey);
    expect((list.body as { items: unknown[] }).items).toEqual([]);
    expect((await system.api('POST', '/api/v1/filesets', { name: 'a b' })).status).toBe(400);
    expect((await system.api('POST', '/api/v1/filesets', { name: 'guarded' })).status).toBe(409);
  });

  it('changes metadata and labels of a file set and of a version, and lists file sets by prefix', async () => {
    await acai.createFileset({ name: 'meta-a', metadata: { rows: 1 } });
    await acai.createFileset({ name: 'meta-b' });
    const merged = await acai.changeMetadata('meta-a', { op: 'merge', value: { classes: 10 } });
    expect(merged.metadata).toEqual({ rows: 1, classes: 10 });
    const removed = await acai.changeMetadata('meta-a', { op: 'remove', keys: ['rows'] });
    expect(removed.metadata).toEqual({ classes: 10 });
    const labelled = await acai.changeLabels('meta-a', { add: ['vision', 'small'] });
    expect(labelled.labels).toEqual(['small', 'vision']);
    const badLabel = await refusal(acai.changeLabels('meta-a', { add: ['has space'] }));
    expect(badLabel.status).toBe(400);

    const x = 'meta';
    await upload(x, sha(x));
    await acai.commitVersion('meta-a', { parent: 0, put: [{ path: 'f', sha256: sha(x) }] });
    await acai.changeLabels('meta-a', { add: ['candidate'] }, 1);
    expect((await acai.getVersion('meta-a', 'candidate')).version).toBe(1);
    expect((await acai.pinVersion('meta-a', 1)).pinned).toBe(true);

    const first = await acai.searchFilesets({ prefix: 'meta-', limit: 1 });
    expect(first.items.map((f) => f.name)).toEqual(['meta-a']);
    const next = await acai.searchFilesets({
      prefix: 'meta-',
      limit: 1,
      cursor: first.nextCursor ?? undefined,
    });
    expect(next.items.map((f) => f.name)).toEqual(['meta-b']);
  });
});

async function untar(buffer: Buffer): Promise<Record<string, string>> {
  const extract = tar.extract();
  const files: Record<string, string> = {};
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        files[header.name] = Buffer.concat(chunks).toString();
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  Readable.from([buffer]).pipe(extract);
  await done;
  return files;
}
