import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BlobStore } from '@acai/blobstore';
import { UploadSweeper } from '@acai/catalog';
import { startSystem, type ApiResponse, type TestSystem } from '../support/system.js';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Problem {
  status: number;
  reason: string;
  detail: string;
  usedBytes?: number;
  quotaBytes?: number;
  uploadBytes?: number;
}

interface Storage {
  project: string;
  usedBytes: number;
  blobs: number;
  quotaBytes: number | null;
  quotaSource: 'project' | 'default';
  availableBytes: number | null;
}

/** The platform default quota in this system. */
const DEFAULT_QUOTA = 100_000;

/**
 * A project's storage quota through the gateway: what it uses, the quota the platform admin sets,
 * uploads refused with 413 and 507 and the numbers, bytes counted once per project, and the sweep
 * of uploads never committed giving the quota back. The grace period is 0 (an upload no version
 * uses is forgotten by the next sweep) and the test runs the sweeps itself.
 */
describe('storage quotas per project', () => {
  let system: TestSystem;
  let alpha: string;
  let alphaReader: string;
  let beta: string;
  let store: BlobStore;
  let sweeper: UploadSweeper;

  beforeAll(async () => {
    system = await startSystem({
      env: { ACAI_UPLOAD_GRACE_SECONDS: '0', ACAI_PROJECT_QUOTA_BYTES: String(DEFAULT_QUOTA) },
    });
    const project = async (name: string) => {
      const r = await system.api('POST', '/api/v1/projects', { name });
      expect(r.status).toBe(201);
      return (r.body as { key: string }).key;
    };
    alpha = await project('alpha');
    beta = await project('beta');
    const reader = await system.api(
      'POST',
      '/api/v1/projects/alpha/keys',
      { scope: 'read' },
      alpha,
    );
    alphaReader = (reader.body as { key: string }).key;
    const catalog = system.services['catalog']!.app;
    store = catalog.get(BlobStore);
    sweeper = catalog.get(UploadSweeper);
  });

  afterAll(async () => {
    await system?.close();
  });

  const usage = async (project: string, key: string) => {
    const r = await system.api('GET', `/api/v1/projects/${project}/usage`, undefined, key);
    expect(r.status).toBe(200);
    return r.body as Storage;
  };
  const setQuota = (project: string, bytes: number | null, key: string = system.key) =>
    system.api('PUT', `/api/v1/projects/${project}/quota`, { bytes }, key);
  const upload = async (key: string, bytes: Buffer, how: 'put' | 'post' = 'put') => {
    const r = await fetch(
      `${system.gatewayUrl}/api/v1/blobs${how === 'put' ? `/${sha(bytes)}` : ''}`,
      {
        method: how === 'put' ? 'PUT' : 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
        body: bytes,
      },
    );
    return answer(r);
  };
  const answer = async (r: Response): Promise<ApiResponse & { type: string }> => {
    const text = await r.text();
    return {
      status: r.status,
      body: JSON.parse(text) as unknown,
      text,
      type: r.headers.get('content-type') ?? '',
    };
  };
  const stored = async (bytes: Buffer) => (await store.stat(sha(bytes))) !== null;

  it('answers the project’s usage and quota to its own keys, and 404 to another project', async () => {
    expect(await usage('alpha', alphaReader)).toEqual({
      project: 'alpha',
      usedBytes: 0,
      blobs: 0,
      quotaBytes: DEFAULT_QUOTA,
      quotaSource: 'default',
      availableBytes: DEFAULT_QUOTA,
    });
    const stranger = await system.api('GET', '/api/v1/projects/alpha/usage', undefined, beta);
    expect(stranger.status).toBe(404);
    expect(stranger.text).not.toContain('usedBytes');
    // The platform admin sees every project's.
    expect((await usage('beta', system.key)).project).toBe('beta');
  });

  it('lets only the platform admin set a project’s quota', async () => {
    const byProject = await setQuota('alpha', 10 ** 9, alpha);
    expect(byProject.status).toBe(403);
    expect((byProject.body as Problem).reason).toBe('ADMIN_KEY_REQUIRED');
    expect((await setQuota('nowhere', 1000)).status).toBe(404);
    expect((await setQuota('alpha', -1)).status).toBe(400);

    const set = await setQuota('alpha', 1000);
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      quotaBytes: 1000,
      quotaSource: 'project',
      availableBytes: 1000,
    });
  });

  it('counts each upload once, and refuses one over the quota (413) or past it (507) with the numbers', async () => {
    const first = randomBytes(600);
    expect((await upload(alpha, first)).status).toBe(201);
    expect((await upload(alpha, first)).status).toBe(201);
    expect(await usage('alpha', alpha)).toMatchObject({
      usedBytes: 600,
      blobs: 1,
      availableBytes: 400,
    });

    const huge = randomBytes(1001);
    const tooLarge = await upload(alpha, huge);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.type).toContain('application/problem+json');
    expect(tooLarge.body).toMatchObject({
      type: 'urn:acai:problem:upload-over-quota',
      status: 413,
      reason: 'UPLOAD_OVER_QUOTA',
      usedBytes: 600,
      quotaBytes: 1000,
      uploadBytes: 1001,
    });
    expect((tooLarge.body as Problem).detail).toContain('ask the platform admin');

    const more = randomBytes(500);
    for (const how of ['put', 'post'] as const) {
      const refused = await upload(alpha, more, how);
      expect(refused.status).toBe(507);
      expect(refused.body).toMatchObject({
        type: 'urn:acai:problem:storage-quota-exceeded',
        status: 507,
        code: 'INSUFFICIENT_STORAGE',
        reason: 'STORAGE_QUOTA_EXCEEDED',
        retryable: false,
        usedBytes: 600,
        quotaBytes: 1000,
        uploadBytes: 500,
      });
      expect((refused.body as Problem).detail).toMatch(/uses 600 of its 1000 bytes.*evict/i);
    }
    // Nothing of what was refused is kept: not in the store (POST had read it), not counted.
    expect(await stored(huge)).toBe(false);
    expect(await stored(more)).toBe(false);
    expect(await usage('alpha', alpha)).toMatchObject({ usedBytes: 600, blobs: 1 });
    // Bytes the project has already pass even when it is full.
    await setQuota('alpha', 600);
    expect((await upload(alpha, first)).status).toBe(201);
    await setQuota('alpha', 1000);
  });

  it('cuts off an upload without a length once it passes the whole quota', async () => {
    const bytes = randomBytes(64 * 1024);
    const r = await fetch(`${system.gatewayUrl}/api/v1/blobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alpha}`, 'content-type': 'application/octet-stream' },
      body: new ReadableStream({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 4096)
            controller.enqueue(bytes.subarray(at, at + 4096));
          controller.close();
        },
      }),
      duplex: 'half',
    });
    const refused = await answer(r);
    expect(refused.status).toBe(413);
    expect(refused.body).toMatchObject({
      reason: 'UPLOAD_OVER_QUOTA',
      usedBytes: 600,
      quotaBytes: 1000,
    });
    expect(refused.body).not.toHaveProperty('uploadBytes');
    expect(await stored(bytes)).toBe(false);
  });

  it('charges each project that has the same bytes', async () => {
    const shared = randomBytes(700);
    expect((await upload(beta, shared)).status).toBe(201);
    // Alpha has 600 of 1000: the bytes beta has count for alpha as well.
    expect((await upload(alpha, shared)).status).toBe(507);
    expect(await usage('beta', beta)).toMatchObject({ usedBytes: 700, blobs: 1 });
    // Beta still has them: refusing alpha deleted nothing.
    expect(await stored(shared)).toBe(true);
  });

  it('gives back the quota of uploads never committed at the next sweep, and keeps what versions use', async () => {
    await setQuota('alpha', 2000);
    const committed = randomBytes(600);
    expect((await upload(alpha, committed)).status).toBe(201);
    expect((await system.api('POST', '/api/v1/filesets', { name: 'kept' }, alpha)).status).toBe(
      201,
    );
    const commit = await system.api(
      'POST',
      '/api/v1/filesets/kept/versions',
      { parent: 0, put: [{ path: 'data.bin', sha256: sha(committed) }] },
      alpha,
    );
    expect(commit.status).toBe(201);
    const before = await usage('alpha', alpha);

    const report = await sweeper.sweep();

    // Alpha's first 600 bytes and beta's 700 were never committed: forgotten and deleted.
    expect(report).toMatchObject({ forgotten: 2, forgottenBytes: 1300, deleted: 2 });
    expect(await usage('alpha', alpha)).toMatchObject({
      usedBytes: before.usedBytes - 600,
      blobs: before.blobs - 1,
    });
    expect(await stored(committed)).toBe(true);
    const file = await fetch(
      `${system.gatewayUrl}/api/v1/filesets/kept/versions/1/files/data.bin`,
      {
        headers: { authorization: `Bearer ${alpha}` },
      },
    );
    expect(Buffer.from(await file.arrayBuffer())).toEqual(committed);
    // Beta's upload was never committed either: gone from the store, and from its usage.
    expect(await usage('beta', beta)).toMatchObject({ usedBytes: 0, blobs: 0 });

    const metrics = await (await fetch(`${system.services['catalog']!.url}/metrics`)).text();
    expect(metrics).toMatch(/acai_upload_ownerships_forgotten_total\{[^}]*\} 2\b/);
    expect(metrics).toMatch(/acai_upload_blobs_deleted_total\{[^}]*\} 2\b/);
    expect(metrics).toMatch(/acai_upload_sweeps_total\{[^}]*outcome="done"[^}]*\} 1\b/);
  });

  it('gives back a version’s bytes when it is evicted', async () => {
    const before = await usage('alpha', alpha);
    const evicted = await system.api('POST', '/api/v1/filesets/kept/versions/1/evict', {}, alpha);
    expect(evicted.status).toBe(200);
    expect(await usage('alpha', alpha)).toMatchObject({
      usedBytes: before.usedBytes - 600,
      blobs: before.blobs - 1,
    });
    // Back to the default: 0 means no quota for this project.
    expect((await setQuota('alpha', 0)).body).toMatchObject({
      quotaBytes: null,
      availableBytes: null,
    });
    expect((await setQuota('alpha', null)).body).toMatchObject({
      quotaBytes: DEFAULT_QUOTA,
      quotaSource: 'default',
    });
  });
});
