import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSystem, type TestSystem } from '../support/system.js';

interface ErrorReply {
  error: { code: string; message: string; details?: { path?: string; message: string }[] };
}

/** Bad input gets a clear error, never a 500 or a stack trace, and nothing is lost. */
describe('the gateway refuses bad input clearly', () => {
  let system: TestSystem;
  let otherKey: string;

  beforeAll(async () => {
    system = await startSystem({ env: { ACAI_MAX_BODY_BYTES: '4096' } });
    const created = await system.api('POST', '/api/v1/projects', { name: 'other' });
    expect(created.status).toBe(201);
    otherKey = (created.body as { key: string }).key;
  });

  afterAll(async () => {
    await system?.close();
  });

  const error = (body: unknown) => (body as ErrorReply).error;

  it('names the bad field of a malformed spec (400)', async () => {
    const r = await system.api('POST', '/api/v1/runs', {
      name: 'x',
      steps: [{ name: 'a', command: 'echo hi' }],
    });
    expect(r.status).toBe(400);
    expect(error(r.body).code).toBe('VALIDATION_FAILED');
    expect(error(r.body).details?.[0]?.path).toBe('steps.0.command');
    expect(r.text).not.toMatch(/at .*\.ts:\d+/);
  });

  it('answers every error as an RFC 9457 problem document that keeps the old body', async () => {
    const response = await fetch(`${system.gatewayUrl}/api/v1/runs/run-000000000000000000000zz`, {
      headers: { authorization: `Bearer ${system.key}` },
    });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      type: 'urn:acai:problem:run-not-found',
      title: 'No such run in this project',
      status: 404,
      detail: "No run 'run-000000000000000000000zz' in this project",
      instance: '/api/v1/runs/run-000000000000000000000zz',
      code: 'NOT_FOUND',
      reason: 'RUN_NOT_FOUND',
      retryable: false,
      error: {
        code: 'NOT_FOUND',
        reason: 'RUN_NOT_FOUND',
        message: "No run 'run-000000000000000000000zz' in this project",
      },
    });
  });

  it('refuses a body that is not JSON (400) and a missing body (400)', async () => {
    const broken = await system.api('POST', '/api/v1/runs', '{"name": ');
    expect(broken.status).toBe(400);
    expect(error(broken.body).code).toBe('VALIDATION_FAILED');
    const empty = await system.api('POST', '/api/v1/runs');
    expect(empty.status).toBe(400);
  });

  it('refuses an unknown step in needs and a cycle (400)', async () => {
    const unknown = await system.api('POST', '/api/v1/runs', {
      name: 'x',
      steps: [{ name: 'a', command: ['true'], needs: ['ghost'] }],
    });
    expect(unknown.status).toBe(400);
    expect(error(unknown.body).details?.[0]?.path).toBe('steps.0.needs.0');
    expect(error(unknown.body).message).toContain('ghost');

    const cycle = await system.api('POST', '/api/v1/runs', {
      name: 'x',
      steps: [
        { name: 'a', command: ['true'], needs: ['b'] },
        { name: 'b', command: ['true'], needs: ['a'] },
      ],
    });
    expect(cycle.status).toBe(400);
    expect(error(cycle.body).message).toMatch(/cycle: (a -> b -> a|b -> a -> b)/);
  });

  it('needs a valid key (401)', async () => {
    const missing = await system.api('GET', '/api/v1/runs', undefined, null);
    expect(missing.status).toBe(401);
    expect(error(missing.body).message).toContain('Authorization: Bearer');
    const wrong = await system.api('GET', '/api/v1/runs', undefined, 'acai_not-a-real-key');
    expect(wrong.status).toBe(401);
    expect(error(wrong.body).message).toContain('unknown or revoked');
    // The key without "Bearer ": the message says what the header should look like.
    const bare = await fetch(`${system.gatewayUrl}/api/v1/runs`, {
      headers: { authorization: system.key },
    });
    expect(bare.status).toBe(401);
    expect(((await bare.json()) as ErrorReply).error.message).toContain('"Bearer <key>"');
  });

  it('says to send JSON when a body comes as a form or with no type (415), and nothing is done', async () => {
    const spec = JSON.stringify({ name: 'as-form', steps: [{ name: 'a', command: ['true'] }] });
    // What `curl -d '{...}'` sends without -H 'content-type: application/json'.
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'application/xml']) {
      const response = await fetch(`${system.gatewayUrl}/api/v1/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${system.key}`, 'content-type': type },
        body: spec,
      });
      expect(response.status).toBe(415);
      const body = (await response.json()) as ErrorReply;
      expect(body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(body.error.message).toContain('content-type: application/json');
      expect(body.error.message).toContain(type);
    }
    const runs = await system.api('GET', '/api/v1/runs');
    expect((runs.body as { items: { name: string }[] }).items.map((r) => r.name)).not.toContain(
      'as-form',
    );
  });

  it('says a run needs at least one step (400)', async () => {
    const r = await system.api('POST', '/api/v1/runs', { name: 'empty', steps: [] });
    expect(r.status).toBe(400);
    expect(error(r.body).details?.[0]).toEqual({
      path: 'steps',
      message: 'a run needs at least one step: steps is empty',
    });
  });

  it("shows nothing of another project's runs and jobs (404), and unknown ids are 404", async () => {
    const mine = await system.api('POST', '/api/v1/runs', {
      name: 'mine',
      steps: [{ name: 'a', command: ['true'] }],
    });
    expect(mine.status).toBe(202);
    const { id, jobs } = mine.body as { id: string; jobs: { id: string }[] };
    await system.waitForRun(id);

    for (const pathname of [
      `/api/v1/runs/${id}`,
      `/api/v1/jobs/${jobs[0]!.id}`,
      `/api/v1/jobs/${jobs[0]!.id}/history`,
      `/api/v1/jobs/${jobs[0]!.id}/logs`,
    ]) {
      const r = await system.api('GET', pathname, undefined, otherKey);
      expect([pathname, r.status]).toEqual([pathname, 404]);
    }
    const cancel = await system.api('POST', `/api/v1/runs/${id}/cancel`, undefined, otherKey);
    expect(cancel.status).toBe(404);
    const list = await system.api('GET', '/api/v1/runs', undefined, otherKey);
    expect((list.body as { items: unknown[] }).items).toEqual([]);

    expect((await system.api('GET', '/api/v1/runs/run-00000000000000000000000')).status).toBe(404);
    expect((await system.api('GET', '/api/v1/runs/not-an-id')).status).toBe(404);
    expect((await system.api('GET', '/api/v1/no-such-endpoint')).status).toBe(404);
  });

  it('refuses a body larger than the limit (413)', async () => {
    const big = { name: 'big', steps: [{ name: 'a', command: ['echo', 'x'.repeat(8000)] }] };
    const r = await system.api('POST', '/api/v1/runs', big);
    expect(r.status).toBe(413);
    expect(error(r.body).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('keeps admin operations for admin keys: a project key is authenticated but forbidden (403)', async () => {
    const r = await system.api('POST', '/api/v1/projects', { name: 'third' }, otherKey);
    expect(r.status).toBe(403);
    expect(error(r.body).code).toBe('FORBIDDEN');
  });

  it('answers 400, not 500, for a file set name that breaks the rules, wherever it is used', async () => {
    for (const [method, path, body] of [
      ['PATCH', '/api/v1/filesets/bad.name!/metadata', { op: 'merge', value: { a: 1 } }],
      ['PATCH', '/api/v1/filesets/bad.name!/labels', { add: ['x'] }],
      ['GET', '/api/v1/filesets/bad.name!', undefined],
      ['POST', '/api/v1/filesets', { name: 'bad.name!' }],
    ] as const) {
      const r = await system.api(method, path, body);
      expect([method, path, r.status]).toEqual([method, path, 400]);
      expect(error(r.body).message).toContain("1-100 letters, digits, '_' and '-'");
    }
  });

  it('answers a URL the router cannot read, or a name longer than any, with a problem document (400)', async () => {
    for (const path of [
      '/api/v1/jobs/%/logs',
      '/api/v1/filesets/%ed%a0%80',
      `/api/v1/runs/${'a'.repeat(1000)}`,
    ]) {
      const response = await fetch(`${system.gatewayUrl}${path}`, {
        headers: { authorization: `Bearer ${system.key}` },
      });
      expect([path, response.status]).toEqual([path, 400]);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await response.json()) as ErrorReply).error.code).toBe('VALIDATION_FAILED');
    }
  });
});
