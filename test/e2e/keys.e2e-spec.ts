import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { gatewayService } from '@acai/gateway';
import { startService, type RunningService } from '@acai/platform';
import { AcaiApiError, AcaiClient } from '@acai/sdk';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

interface Problem {
  status: number;
  code: string;
  reason: string;
  retryable: boolean;
  detail: string;
  details?: { path?: string; message: string }[];
}

interface KeyView {
  id: string;
  project: string;
  name: string | null;
  prefix: string;
  scope: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

/** A request to one gateway replica, with a key (or none). */
async function call(
  baseUrl: string,
  method: string,
  pathname: string,
  key: string | null,
  body?: unknown,
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (key !== null) headers['authorization'] = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${baseUrl}${pathname}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? undefined : JSON.parse(text),
    headers: response.headers,
  };
}

const problem = (answer: Answer) => answer.body as Problem;

/** The SDK's client of one gateway replica, with a key; it does not retry (a 429 is the answer). */
const sdk = (baseUrl: string, key: string) =>
  new AcaiClient({ url: baseUrl, key, retry: { retries: 0 } });

/** The refusal of a call that must fail, as the SDK's typed error. */
async function refusal(call: Promise<unknown>): Promise<AcaiApiError> {
  const error = await call.then(
    () => new Error('expected the call to be refused'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AcaiApiError);
  return error as AcaiApiError;
}

/**
 * Keys with scopes, managed by the project's admin, revoked at once on every gateway replica, and
 * limited in rate. Two more gateway replicas share the system's database and bus: `replica`
 * as configured, `limited` with a rate limit of one request every 5 s and bursts of 2 (slow
 * enough that a slow machine cannot refill the bucket between two requests of the test).
 */
describe('API keys: scopes, management, revocation on every replica, rate limits', () => {
  let system: TestSystem;
  let replica: RunningService;
  let limited: RunningService;
  let url: string;
  /** Project vision's first key (admin), and keys it makes. */
  let admin: string;
  let reader: { id: string; key: string };
  let writer: { id: string; key: string };
  /** The admin key of another project. */
  let stranger: string;

  const createKey = (scope: 'read' | 'write' | 'admin', name?: string, key = admin) =>
    sdk(url, key).createKey('vision', { scope, ...(name === undefined ? {} : { name }) });

  beforeAll(async () => {
    system = await startSystem();
    url = system.gatewayUrl;
    const gatewayEnv = { ...system.env, ACAI_DB_SCHEMA: `gateway_${system.tag}` };
    replica = await startService(gatewayService, { env: gatewayEnv });
    limited = await startService(gatewayService, {
      env: { ...gatewayEnv, ACAI_RATE_LIMIT_PER_SECOND: '0.2', ACAI_RATE_LIMIT_BURST: '2' },
    });
    const platform = sdk(url, system.key);
    const vision = await platform.createProject('vision');
    expect(vision).toMatchObject({ project: 'vision', scope: 'admin' });
    admin = vision.key;
    stranger = (await platform.createProject('other')).key;
    const r = await createKey('read', 'dashboard');
    reader = { id: r.id, key: r.key };
    const w = await createKey('write', 'ci');
    writer = { id: w.id, key: w.key };
  });

  afterAll(async () => {
    await limited?.close();
    await replica?.close();
    await system?.close();
  });

  it("gives a new project's first key the project's admin scope, not the platform's", async () => {
    const again = await call(url, 'POST', '/api/v1/projects', admin, { name: 'third' });
    expect(again.status).toBe(403);
    expect(problem(again).reason).toBe('ADMIN_KEY_REQUIRED');
    const replay = await call(url, 'POST', '/api/v1/projections/runs/replay', admin);
    expect(replay.status).toBe(403);
    // But it manages its own project's keys (it made `reader` and `writer` in beforeAll).
    const keys = await call(url, 'GET', '/api/v1/projects/vision/keys', admin);
    expect(keys.status).toBe(200);
  });

  // Raw: the SDK reads an answer through its schema, which would drop a field that must not be
  // there (a key, its hash) before the test could see it.
  it('lists keys with their scope and name, never a key or its hash', async () => {
    const listed = await call(url, 'GET', '/api/v1/projects/vision/keys', admin);
    const items = (listed.body as { items: KeyView[] }).items;
    expect(items.map((k) => [k.scope, k.name])).toEqual([
      ['admin', null],
      ['read', 'dashboard'],
      ['write', 'ci'],
    ]);
    for (const item of items) {
      expect(Object.keys(item).sort()).toEqual(
        ['createdAt', 'id', 'lastUsedAt', 'name', 'prefix', 'project', 'revokedAt', 'scope'].sort(),
      );
    }
    expect(reader.key.startsWith(items[1]!.prefix)).toBe(true);
    const text = JSON.stringify(listed.body);
    for (const secret of [admin, reader.key, writer.key]) expect(text).not.toContain(secret);
    // The admin key has just been used: it says so (to the minute).
    expect(items[0]!.lastUsedAt).not.toBeNull();
  });

  it('lets a read key read, and refuses it every change (403 naming the scope)', async () => {
    const asReader = sdk(url, reader.key);
    await asReader.listRuns();
    await asReader.searchFilesets();
    const create = await refusal(asReader.createFileset({ name: 'by-reader' }));
    expect(create).toMatchObject({ status: 403, code: 'FORBIDDEN', reason: 'KEY_SCOPE_REQUIRED' });
    expect(create.detail).toContain("scope 'write'");
    const submit = await refusal(
      asReader.submitRun({ name: 'by-reader', steps: [{ name: 'a', command: ['true'] }] }),
    );
    expect(submit.status).toBe(403);
    expect((await sdk(url, admin).listRuns()).items).toEqual([]);
    expect((await refusal(sdk(url, admin).getFileset('by-reader'))).status).toBe(404);
  });

  it('lets a write key change resources but not manage keys (403 naming admin)', async () => {
    expect(await sdk(url, writer.key).createFileset({ name: 'by-writer' })).toMatchObject({
      name: 'by-writer',
    });
    for (const [method, pathname, body] of [
      ['POST', '/api/v1/projects/vision/keys', { scope: 'admin' }],
      ['GET', '/api/v1/projects/vision/keys', undefined],
      ['DELETE', `/api/v1/projects/vision/keys/${reader.id}`, undefined],
    ] as const) {
      const refused = await call(url, method, pathname, writer.key, body);
      expect([method, pathname, refused.status]).toEqual([method, pathname, 403]);
      expect(problem(refused).detail).toContain("scope 'admin'");
    }
  });

  it("answers another project's key 404 on this project's keys, as for a project that does not exist", async () => {
    for (const project of ['vision', 'nowhere']) {
      for (const [method, pathname, body] of [
        ['POST', `/api/v1/projects/${project}/keys`, { scope: 'admin' }],
        ['GET', `/api/v1/projects/${project}/keys`, undefined],
        ['DELETE', `/api/v1/projects/${project}/keys/${reader.id}`, undefined],
      ] as const) {
        const refused = await call(url, method, pathname, stranger, body);
        expect([method, pathname, refused.status]).toEqual([method, pathname, 404]);
        expect(problem(refused).reason).toBe('PROJECT_NOT_FOUND');
      }
    }
    // Nothing was revoked, nothing created; the platform admin sees vision's keys.
    const listed = await call(url, 'GET', '/api/v1/projects/vision/keys', system.key);
    expect(listed.status).toBe(200);
    const items = (listed.body as { items: KeyView[] }).items;
    expect(items).toHaveLength(3);
    expect(items.every((k) => k.revokedAt === null)).toBe(true);
    const none = await call(url, 'GET', '/api/v1/projects/nowhere/keys', system.key);
    expect(none.status).toBe(404);
  });

  it('refuses bad input with 400 naming the field', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/api/v1/projects/vision/keys', { scope: 'owner' }, 'scope'],
      ['POST', '/api/v1/projects/vision/keys', { name: 'no scope' }, 'scope'],
      ['POST', '/api/v1/projects/vision/keys', { scope: 'read', name: '' }, 'name'],
      ['POST', '/api/v1/projects/vision/keys', { scope: 'read', name: 'a\nb' }, 'name'],
      ['POST', '/api/v1/projects/vision/keys', { scope: 'read', admin: true }, 'admin'],
      ['POST', '/api/v1/projects/Vision!/keys', { scope: 'read' }, 'name'],
      ['DELETE', '/api/v1/projects/vision/keys/not-a-key', undefined, 'id'],
    ];
    for (const [method, pathname, body, field] of cases) {
      const refused = await call(url, method, pathname, admin, body);
      expect([pathname, body, refused.status]).toEqual([pathname, body, 400]);
      // A bad field by its path; an unknown one by its name.
      const named = problem(refused).details?.map((d) => d.path ?? d.message) ?? [];
      expect([pathname, named.some((n) => n === field || n.includes(`"${field}"`))]).toEqual([
        pathname,
        true,
      ]);
    }
    const unknown = await call(
      url,
      'DELETE',
      '/api/v1/projects/vision/keys/key-00000000000000000000000',
      admin,
    );
    expect(unknown.status).toBe(404);
    expect(problem(unknown).reason).toBe('KEY_NOT_FOUND');
  });

  it('refuses a revoked key on the very next request, on every replica (401)', async () => {
    const doomed = await createKey('read', 'doomed');
    // Both replicas have the key in their caches.
    for (const base of [url, replica.url]) await sdk(base, doomed.key).listRuns();
    const revoked = await sdk(url, admin).revokeKey('vision', doomed.id);
    expect(revoked.revokedAt).not.toBeNull();
    for (const base of [replica.url, url]) {
      const refused = await refusal(sdk(base, doomed.key).listRuns());
      expect([base, refused.status, refused.reason]).toEqual([base, 401, 'API_KEY_INVALID']);
    }
    // Revoked through the other replica too: the same answer, nothing changes.
    const again = await sdk(replica.url, admin).revokeKey('vision', doomed.id);
    expect(again.revokedAt).toBe(revoked.revokedAt);
    // The other keys still work.
    await sdk(replica.url, reader.key).listRuns();
  });

  it('trusts no cached key after the bus was lost: a revocation it missed applies once back', async () => {
    const missed = await createKey('read', 'missed');
    expect((await call(replica.url, 'GET', '/api/v1/runs', missed.key)).status).toBe(200);
    // Revoked behind the replicas' backs, as when the broadcast is lost with the connection.
    await replica.ctx.db.query(
      `UPDATE "gateway_${system.tag}".api_keys SET revoked_at = now() WHERE id = $1`,
      [missed.id],
    );
    expect((await call(replica.url, 'GET', '/api/v1/runs', missed.key)).status).toBe(200);
    await replica.ctx.bus.nc.reconnect();
    // Well within the cache's 60 s backstop: the reconnection is what dropped the key.
    await eventually(
      'the replica to refuse the key revoked while it was away',
      async () =>
        (await call(replica.url, 'GET', '/api/v1/runs', missed.key)).status === 401
          ? true
          : undefined,
      10_000,
    );
  });

  it('answers 429 with Retry-After past the rate of a key, per key, and never limits public routes', async () => {
    const statuses: number[] = [];
    let last: Answer | undefined;
    for (let i = 0; i < 3; i++) {
      last = await call(limited.url, 'GET', '/api/v1/runs', writer.key);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    const retryAfter = last!.headers.get('retry-after') ?? '';
    expect(retryAfter).toMatch(/^[1-5]$/);
    expect(problem(last!)).toMatchObject({
      status: 429,
      code: 'RATE_LIMITED',
      reason: 'RATE_LIMITED',
      retryable: true,
    });
    expect(problem(last!).detail).toContain(`try again in ${retryAfter} s`);
    // Another key has its own bucket; the other replicas their own.
    expect((await call(limited.url, 'GET', '/api/v1/runs', reader.key)).status).toBe(200);
    expect((await call(url, 'GET', '/api/v1/runs', writer.key)).status).toBe(200);
    // Documents and probes need no key and are not limited.
    for (let i = 0; i < 5; i++) {
      expect((await call(limited.url, 'GET', '/api/openapi.json', null)).status).toBe(200);
      expect((await call(limited.url, 'GET', '/healthz', null)).status).toBe(200);
    }
    // Once the bucket has refilled, the key is served again.
    await eventually(
      'the bucket to refill',
      async () =>
        (await call(limited.url, 'GET', '/api/v1/runs', writer.key)).status === 200
          ? true
          : undefined,
      10_000,
      500,
    );
  });
});
