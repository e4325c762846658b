import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

interface Operation {
  operationId: string;
  'x-acai-scope': 'public' | 'read' | 'write' | 'admin' | 'platform';
  parameters: { name: string; in: 'path' | 'query'; required?: boolean }[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, unknown>;
}
type Document = { paths: Record<string, Record<string, Operation>> };

/** What project A owns, by the names the matrix puts in path parameters. */
interface Owned {
  runId: string;
  jobId: string;
  fileset: string;
  file: string;
  sha256: string;
  keyIds: string[];
  secret: string;
}

/**
 * A path parameter's value: a resource of project A, by the route's path and the parameter's
 * name. A route with a parameter this does not know fails the matrix: cover it here.
 */
function valueOf(path: string, param: string, a: Owned): string | undefined {
  if (path.startsWith('/api/v1/runs/{id}') && param === 'id') return a.runId;
  if (path.startsWith('/api/v1/jobs/{id}') && param === 'id') return a.jobId;
  if (path.startsWith('/api/v1/filesets/{name}')) {
    if (param === 'name') return a.fileset;
    if (param === 'ref' || param === 'version') return '1';
    if (param === 'path') return a.file;
  }
  if (path.startsWith('/api/v1/blobs/{sha256}') && param === 'sha256') return a.sha256;
  if (path.startsWith('/api/v1/projects/{name}')) {
    if (param === 'name') return 'alpha';
    if (param === 'id') return a.keyIds[0];
    if (param === 'secret') return a.secret;
    // A's subscriber credentials: a user of A's name (B's key is refused before it is looked up).
    if (param === 'user') return 'sub-alpha-0123456789';
  }
  if (path.startsWith('/api/v1/projections/{name}') && param === 'name') return 'runs';
  if (path.startsWith('/api/v1/admin/dead-letters/{id}') && param === 'id') {
    return '00000000-0000-4000-8000-000000000000';
  }
  return undefined;
}

/**
 * Path parameters that name something no project owns: the blob a file's bytes are (uploads are
 * content-addressed and shared underneath; the commit that names a blob is what is checked), and
 * the projection a platform admin replays.
 */
const UNOWNED = new Set(['sha256']);

/** Bodies that would be valid for A, so that B's 404 is about the resource, not the body. */
const BODIES: Record<string, unknown> = {
  commitVersion: { parent: 1, delete: ['data/a.txt'] },
  changeMetadata: { op: 'merge', value: { touched: true } },
  changeLabels: { add: ['touched'] },
  evictVersion: { reason: 'isolation test' },
  createKey: { scope: 'admin', name: 'intruder' },
  putSecret: { value: 'intruder' },
  setProjectQuota: { bytes: 1 },
  setStorageBudget: { bytes: 1 },
  setReuseSharing: { with: [] },
};

/** Values of required query parameters. */
const QUERIES: Record<string, string> = { from: '1', to: '1' };

/** Queries that name a resource of A (the start of a lineage walk), by operation. */
const OWNED_QUERIES: Record<string, (a: Owned) => string> = {
  getLineage: (a) => `fileset=${a.fileset}&version=1`,
  getImpact: (a) => `fileset=${a.fileset}&version=1`,
  getExperimentGraph: (a) => `run=${a.runId}`,
};

/**
 * The isolation matrix: every route of the OpenAPI document, called with no key, a wrong key,
 * another project's admin key, and a read-only key of the project, answers 401, 401, 404 (or only
 * that project's data) and 403 as promised, and nothing changes. It iterates the document, so a
 * new route is walked as soon as it is served, and fails here until its parameters are covered.
 */
describe('isolation matrix: every route, every kind of stranger', () => {
  let system: TestSystem;
  let document: Document;
  let a: Owned;
  let alphaAdmin: string;
  let alphaReader: string;
  let betaAdmin: string;

  const api = (method: string, path: string, key: string | null, body?: unknown) =>
    system.api(method, path, body, key);

  beforeAll(async () => {
    system = await startSystem();
    const project = async (name: string) => {
      const r = await system.api('POST', '/api/v1/projects', { name });
      expect(r.status).toBe(201);
      return (r.body as { key: string; keyId: string }).key;
    };
    alphaAdmin = await project('alpha');
    betaAdmin = await project('beta');
    const reader = await api('POST', '/api/v1/projects/alpha/keys', alphaAdmin, { scope: 'read' });
    expect(reader.status).toBe(201);
    alphaReader = (reader.body as { key: string }).key;

    // A's resources: a file set with one version of one file, and a finished run.
    const bytes = `alpha ${randomBytes(8).toString('hex')}\n`;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const upload = await fetch(`${system.gatewayUrl}/api/v1/blobs/${sha256}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${alphaAdmin}`,
        'content-type': 'application/octet-stream',
      },
      body: bytes,
    });
    expect(upload.status).toBe(201);
    expect((await api('POST', '/api/v1/filesets', alphaAdmin, { name: 'alpha-data' })).status).toBe(
      201,
    );
    const commit = await api('POST', '/api/v1/filesets/alpha-data/versions', alphaAdmin, {
      parent: 0,
      put: [{ path: 'data/a.txt', sha256 }],
    });
    expect(commit.status).toBe(201);
    const run = await api('POST', '/api/v1/runs', alphaAdmin, {
      name: 'alpha-run',
      steps: [{ name: 'a', command: ['sh', '-c', 'echo alpha-output'] }],
    });
    expect(run.status).toBe(202);
    const { id: runId, jobs } = run.body as { id: string; jobs: { id: string }[] };
    await system.waitForRun(runId, alphaAdmin);
    const keys = await api('GET', '/api/v1/projects/alpha/keys', alphaAdmin);
    expect(
      (await api('PUT', '/api/v1/projects/alpha/secrets/alpha-token', alphaAdmin, { value: 'v' }))
        .status,
    ).toBe(200);
    a = {
      runId,
      jobId: jobs[0]!.id,
      fileset: 'alpha-data',
      file: 'data/a.txt',
      sha256,
      keyIds: (keys.body as { items: { id: string }[] }).items.map((k) => k.id),
      secret: 'alpha-token',
    };
    // B has data of its own, so its listings are not empty.
    expect((await api('POST', '/api/v1/filesets', betaAdmin, { name: 'beta-data' })).status).toBe(
      201,
    );
    document = (await api('GET', '/api/openapi.json', null)).body as Document;
  });

  afterAll(async () => {
    await system?.close();
  });

  /** Waits until the event log has not grown for half a second. */
  async function settled(): Promise<void> {
    const bus = system.services['gateway']!.ctx.bus;
    const last = async () =>
      (await bus.jsm.streams.info(bus.topology.streams.events)).state.last_seq;
    let seen = await last();
    await eventually('the event log to settle', async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const now = await last();
      const quiet = now === seen;
      seen = now;
      return quiet ? true : undefined;
    });
  }

  /** Everything a stranger could have changed: the event log, and what A and B list. */
  async function state(): Promise<unknown> {
    const bus = system.services['gateway']!.ctx.bus;
    const events = await bus.jsm.streams.info(bus.topology.streams.events);
    const listings = await Promise.all(
      [
        ['/api/v1/runs', alphaAdmin],
        ['/api/v1/filesets/alpha-data', alphaAdmin],
        ['/api/v1/filesets/alpha-data/versions/1/files', alphaAdmin],
        ['/api/v1/projects/alpha/keys', alphaAdmin],
        ['/api/v1/runs', betaAdmin],
        ['/api/v1/filesets', betaAdmin],
        ['/api/v1/projects/beta/keys', betaAdmin],
        ['/api/v1/projects/intruder/keys', system.key],
      ].map(async ([path, key]) => {
        const r = await api('GET', path!, key!);
        // When a key was last used changes with every minute of use; nothing else may.
        return [path, r.status, r.text.replace(/"lastUsedAt":("[^"]*"|null)/g, '')];
      }),
    );
    return { lastEventSeq: events.state.last_seq, listings };
  }

  it('answers every route as promised, and changes nothing', async () => {
    // A's run has ended; what the services still write about it is written before we look.
    await settled();
    const before = await state();
    const failures: string[] = [];
    const walked: string[] = [];
    const wrongKey = `acai_${randomBytes(24).toString('base64url')}`;

    for (const [template, operations] of Object.entries(document.paths)) {
      for (const [lower, op] of Object.entries(operations)) {
        const method = lower.toUpperCase();
        const scope = op['x-acai-scope'];
        const route = `${method} ${template}`;
        if (scope === 'public') continue;
        walked.push(route);

        // The route with A's resources in its path, and its required query parameters.
        let path = template;
        let owned = false;
        for (const param of op.parameters.filter((p) => p.in === 'path')) {
          const value = valueOf(template, param.name, a);
          if (value === undefined) {
            failures.push(`${route}: no value for path parameter {${param.name}}: cover it`);
            continue;
          }
          if (!UNOWNED.has(param.name)) owned = true;
          path = path.replace(`{${param.name}}`, encodeURI(value));
        }
        const ownedQuery = OWNED_QUERIES[op.operationId]?.(a);
        if (ownedQuery !== undefined) owned = true;
        const query = op.parameters
          .filter((p) => ownedQuery === undefined && p.in === 'query' && p.required === true)
          .map((p) => {
            const value = QUERIES[p.name];
            if (value === undefined) failures.push(`${route}: no value for ?${p.name}: cover it`);
            return `${p.name}=${value ?? ''}`;
          });
        if (ownedQuery !== undefined) query.push(ownedQuery);
        if (query.length > 0) path += `?${query.join('&')}`;
        const json = op.requestBody?.content['application/json'] !== undefined;
        if (owned && json && !(op.operationId in BODIES)) {
          failures.push(`${route}: no valid body for ${op.operationId}: add one to BODIES`);
        }

        const expect_ = async (
          who: string,
          key: string | null,
          body: unknown,
          statuses: number[],
          reason?: string,
        ) => {
          const r = await api(method, path, key, body);
          const got = r.body as { reason?: string } | undefined;
          if (!statuses.includes(r.status) || (reason !== undefined && got?.reason !== reason)) {
            failures.push(
              `${route} as ${who}: expected ${statuses.join('|')}${reason ? ` ${reason}` : ''}, got ${r.status} ${got?.reason ?? r.text.slice(0, 80)}`,
            );
          } else if (!(String(r.status) in op.responses)) {
            failures.push(`${route} as ${who}: answered ${r.status}, which it does not document`);
          }
          return r;
        };

        await expect_('no key', null, undefined, [401], 'API_KEY_MISSING');
        await expect_('a wrong key', wrongKey, undefined, [401], 'API_KEY_INVALID');

        // Another project's admin key.
        if (scope === 'platform') {
          await expect_("B's admin key", betaAdmin, undefined, [403], 'ADMIN_KEY_REQUIRED');
          await expect_("A's admin key", alphaAdmin, undefined, [403], 'ADMIN_KEY_REQUIRED');
        } else if (owned) {
          await expect_("B's admin key", betaAdmin, BODIES[op.operationId], [404]);
        } else if (method === 'GET') {
          // Not about one resource: B sees its own data and nothing of A's.
          const r = await expect_("B's admin key", betaAdmin, undefined, [200]);
          const leaked = [a.runId, a.jobId, a.fileset, ...a.keyIds].filter((id) =>
            r.text.includes(id),
          );
          if (leaked.length > 0) failures.push(`${route} as B: shows A's ${leaked.join(', ')}`);
        } else {
          // A change in B's own project; sent without a body, it is refused before anything.
          await expect_("B's admin key (no body)", betaAdmin, undefined, [400, 415]);
        }

        // A's read-only key: every change is 403; reads are served.
        if (scope === 'platform') {
          await expect_("A's read key", alphaReader, undefined, [403], 'ADMIN_KEY_REQUIRED');
        } else if (scope !== 'read') {
          await expect_("A's read key", alphaReader, undefined, [403], 'KEY_SCOPE_REQUIRED');
        } else if (method === 'GET') {
          await expect_("A's read key", alphaReader, undefined, [200, 206]);
        } else {
          // A question that changes nothing (the provisioning plan): refused only for its body.
          await expect_("A's read key (no body)", alphaReader, undefined, [400, 415]);
        }
      }
    }

    expect(failures).toEqual([]);
    // Every operation but the documents themselves was walked.
    const operations = Object.values(document.paths).flatMap((ops) => Object.values(ops));
    expect(walked).toHaveLength(operations.filter((op) => op['x-acai-scope'] !== 'public').length);
    expect(walked.length).toBeGreaterThanOrEqual(30);
    expect(await state()).toEqual(before);
  });
});
