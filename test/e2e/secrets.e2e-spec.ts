import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { testEnv } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

const VALUE = 'hf_s3cr3t-Value-that-must-not-leak';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The security issue's secrets: a step names a project secret, its job finds the value in its
 * environment, and nothing acai writes or answers (events, history, views, versions, its own
 * logs, the database) ever holds the value.
 */
describe('secrets for jobs', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  it('stores a secret encrypted, hands it to the job that names it, and shows it nowhere', async () => {
    const put = await system.api('PUT', '/api/v1/projects/default/secrets/api-token', {
      value: VALUE,
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: 'api-token' });
    expect(put.text).not.toContain(VALUE);
    const listed = await system.api('GET', '/api/v1/projects/default/secrets');
    expect(listed.body).toMatchObject({ items: [{ name: 'api-token' }] });
    expect(listed.text).not.toContain(VALUE);

    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'uses-secret',
      steps: [
        {
          name: 'reads',
          // Prints a digest of the value (not the value), and writes an output version.
          command: [
            'sh',
            '-c',
            'printf %s "$TOKEN" | sha256sum | cut -d" " -f1; mkdir -p "$ACAI_OUTPUT_RESULT"; echo ok > "$ACAI_OUTPUT_RESULT/ok.txt"',
          ],
          env: { PLAIN: 'visible' },
          secrets: { TOKEN: 'api-token' },
          outputs: [{ fileset: 'result' }],
        },
      ],
    });
    expect(submitted.status).toBe(202);
    expect(submitted.text).not.toContain(VALUE);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    const run = await system.waitForRun(id);
    const jobId = jobs[0]!.id;
    const logs = (await system.api('GET', `/api/v1/jobs/${jobId}/logs`)).text;
    expect({ status: run.status, logs: logs.trim() }).toEqual({
      status: 'succeeded',
      logs: sha256(VALUE),
    });

    // Everything acai answers about the run, the job and its output.
    const answers = await Promise.all(
      [
        `/api/v1/runs/${id}`,
        `/api/v1/jobs/${jobId}`,
        `/api/v1/jobs/${jobId}/history`,
        '/api/v1/filesets/result/versions/latest',
      ].map((p) => system.api('GET', p)),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.text).not.toContain(VALUE);
    }
    // The name travels, the value does not.
    const history = answers[2]!.text;
    expect(history).toContain('"TOKEN":"api-token"');
    expect(answers[3]!.text).toContain('visible');

    // At rest: ciphertext, not the value.
    const db = new pg.Client({ connectionString: testEnv().databaseUrl });
    await db.connect();
    try {
      const rows = await db.query<{ ciphertext: Buffer }>(
        `SELECT ciphertext FROM "gateway_${system.tag}".secrets WHERE name = 'api-token'`,
      );
      expect(rows.rows).toHaveLength(1);
      expect(rows.rows[0]!.ciphertext.includes(Buffer.from(VALUE))).toBe(false);
    } finally {
      await db.end();
    }
  });

  it('refuses a run naming a secret the project does not have, or setting a variable twice', async () => {
    const unknown = await system.api('POST', '/api/v1/runs', {
      name: 'bad',
      steps: [{ name: 's', command: ['true'], secrets: { TOKEN: 'nope' } }],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({
      details: [{ path: 'steps.0.secrets.TOKEN', message: expect.stringContaining("'nope'") }],
    });
    const twice = await system.api('POST', '/api/v1/runs', {
      name: 'bad',
      steps: [
        { name: 's', command: ['true'], env: { TOKEN: 'x' }, secrets: { TOKEN: 'api-token' } },
      ],
    });
    expect(twice.status).toBe(400);
    expect(twice.text).toContain('both in env and from a secret');
    const badName = await system.api(
      'PUT',
      `/api/v1/projects/default/secrets/${encodeURIComponent('bad name!')}`,
      { value: 'x' },
    );
    expect(badName.status).toBe(400);
  });

  it('keeps a project’s secrets its own: another project can neither use nor see them', async () => {
    const created = await system.api('POST', '/api/v1/projects', { name: 'neighbour' });
    const key = (created.body as { key: string }).key;
    const uses = await system.api(
      'POST',
      '/api/v1/runs',
      { name: 'steal', steps: [{ name: 's', command: ['true'], secrets: { T: 'api-token' } }] },
      key,
    );
    expect(uses.status).toBe(400);
    for (const [method, path] of [
      ['GET', '/api/v1/projects/default/secrets'],
      ['PUT', '/api/v1/projects/default/secrets/api-token'],
      ['DELETE', '/api/v1/projects/default/secrets/api-token'],
    ] as const) {
      const answer = await system.api(
        method,
        path,
        method === 'PUT' ? { value: 'x' } : undefined,
        key,
      );
      expect([method, answer.status]).toEqual([method, 404]);
    }
    // A read key of the project may not set one.
    const read = await system.api('POST', '/api/v1/projects/default/keys', { scope: 'read' });
    const readKey = (read.body as { key: string }).key;
    const denied = await system.api(
      'PUT',
      '/api/v1/projects/default/secrets/other',
      { value: 'x' },
      readKey,
    );
    expect(denied.status).toBe(403);
  });

  it('deletes a secret: runs naming it are refused from then on', async () => {
    const deleted = await system.api('DELETE', '/api/v1/projects/default/secrets/api-token');
    expect(deleted.status).toBe(200);
    const after = await system.api('POST', '/api/v1/runs', {
      name: 'late',
      steps: [{ name: 's', command: ['true'], secrets: { TOKEN: 'api-token' } }],
    });
    expect(after.status).toBe(400);
  });
});
