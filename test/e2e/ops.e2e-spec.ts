import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { executorService } from '@acai/executor';
import { nestPath, routesServedBy, Routes } from '@acai/gateway';
import { startService } from '@acai/platform';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

describe('operations', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  it('serves the OpenAPI document and its page without a key', async () => {
    const doc = await system.api('GET', '/api/openapi.json', undefined, null);
    expect(doc.status).toBe(200);
    const document = doc.body as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: { Problem: { properties: { error: unknown } } } };
    };
    // What is documented is exactly what is served: every API route Fastify registered, no more.
    const documented = Object.entries(document.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const fastify = system.services['gateway']!.app.getHttpAdapter().getInstance();
    const served = routesServedBy(fastify)
      .filter((r) => r.url.startsWith('/api/') && r.method !== 'HEAD' && r.method !== 'OPTIONS')
      .map((r) => {
        // Fastify's form back to OpenAPI's: `:name` → `{name}`, a trailing `*` → the route's name.
        const spec = Object.values(Routes).find(
          (route) => route.method === r.method && nestPath(route.path) === r.url,
        );
        return `${r.method} ${spec === undefined ? r.url : spec.path.replace(/\{(\w+)\+\}/, '{$1}')}`;
      })
      .sort();
    expect(documented).toEqual([...new Set(served)].sort());
    expect(documented.length).toBeGreaterThanOrEqual(30);
    // Error categories and problems come from the code.
    const problem = JSON.stringify(document.components.schemas.Problem);
    expect(problem).toContain('UNSUPPORTED_MEDIA_TYPE');
    expect(problem).toContain('FILESET_PARENT_MISMATCH');
    expect(JSON.stringify(document.paths['/api/v1/runs/{id}'])).toContain(
      'application/problem+json',
    );
    // Name rules are in the schemas, so the document shows them.
    expect(JSON.stringify(document.paths['/api/v1/filesets/{name}'])).toContain('A-Za-z0-9');
    const page = await fetch(`${system.gatewayUrl}/api/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/api/openapi.json');
    const script = await fetch(`${system.gatewayUrl}/api/docs/assets/swagger-ui-bundle.js`);
    expect(script.status).toBe(200);
  });

  it('reports health, readiness and Prometheus metrics on every service', async () => {
    for (const [name, service] of Object.entries(system.services)) {
      const health = await fetch(`${service.url}/healthz`);
      expect([name, health.status]).toEqual([name, 200]);
      const ready = (await (await fetch(`${service.url}/readyz`)).json()) as {
        status: string;
        checks: { name: string; ok: boolean }[];
      };
      expect([name, ready.status]).toEqual([name, 'ready']);
      expect(ready.checks.map((c) => c.name).sort()).toEqual(['nats', 'postgres']);
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      expect(metrics).toContain(`service="${name}"`);
      expect(metrics).toContain('acai_process_cpu_seconds_total');
    }
    const gatewayMetrics = await (await fetch(`${system.gatewayUrl}/metrics`)).text();
    expect(gatewayMetrics).toMatch(/acai_http_requests_total\{[^}]*route="\/api\/openapi.json"/);
  });

  it('hands running work back on shutdown, and another executor runs it to the end', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'handover',
      steps: [{ name: 'slow', command: ['sh', '-c', 'sleep 3; echo attempt $ACAI_ATTEMPT'] }],
    });
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    await eventually('the job to start', async () => {
      const job = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}`);
      return (job.body as { status: string }).status === 'running' ? true : undefined;
    });

    // The grace period (2 s in tests) is shorter than the job: it is stopped and handed back.
    await system.stop('executor');
    const replacement = await startService(executorService, {
      env: {
        ...system.env,
        ACAI_DB_SCHEMA: `executor_${system.tag}`,
        ACAI_EXECUTOR_ID: 'replacement',
        ACAI_SHUTDOWN_GRACE_MS: '100',
      },
    });
    try {
      const run = await system.waitForRun(id);
      expect(run.status).toBe('succeeded');
      const history = (await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/history`)).body as {
        type: string;
        data: { attempt?: number; executor?: string };
      }[];
      const starts = history.filter((e) => e.type === 'job.started');
      expect(starts.map((e) => e.data.attempt)).toEqual([1, 2]);
      expect(starts[1]!.data.executor).toBe('replacement');
      const logs = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/logs`);
      expect(logs.text).toContain('attempt 2');
    } finally {
      await replacement.close();
    }
  });
});
