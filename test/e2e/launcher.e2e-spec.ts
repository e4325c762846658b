import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { freePort, startStack, type Stack } from '@acai/devstack';
import { eventually } from '@acai/testkit';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * What `npm run up` does, for real: nats-server and an embedded Postgres started under a data
 * folder, every service as its own process from its build. Then a restart on the same folder.
 */
describe('the launcher', () => {
  let home: string | undefined;
  let stack: Stack | undefined;

  afterAll(async () => {
    await stack?.stop();
    if (home !== undefined) await rm(home, { recursive: true, force: true });
  });

  it('starts everything, runs the example pipeline, and resumes with the same data', async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'acai-up-'));
    const gatewayPort = await freePort();
    const start = () =>
      startStack({ root, home: home!, gatewayPort, portOffset: 2000 + (gatewayPort % 1000) });
    stack = await start();

    const keyFile = await stat(stack.keyFile);
    expect(keyFile.mode & 0o777).toBe(0o600);
    const key = stack.key();
    const api = async (method: string, pathname: string, body?: unknown) => {
      const response = await fetch(`${stack!.gatewayUrl}${pathname}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    const spec = JSON.parse(
      (await readFile(path.join(root, 'examples/hello/run.json'), 'utf8')).replaceAll(
        '{{examples}}',
        path.join(root, 'examples'),
      ),
    ) as unknown;
    const submitted = await api('POST', '/api/v1/runs', spec);
    expect(submitted.status).toBe(202);
    const runId = submitted.body['id'] as string;
    const done = await eventually('the example run to end', async () => {
      const run = await api('GET', `/api/v1/runs/${runId}`);
      return ['succeeded', 'failed', 'cancelled'].includes(run.body['status'] as string)
        ? run.body
        : undefined;
    });
    expect(done['status']).toBe('succeeded');
    for (const service of [
      'gateway',
      'scheduler',
      'executor',
      'provenance',
      'provisioner',
      'catalog',
    ]) {
      expect((await stat(path.join(stack.logDir, `${service}.log`))).size).toBeGreaterThan(0);
    }

    await stack.stop();
    stack = await start();
    expect(stack.key()).toBe(key);
    const again = await api('GET', `/api/v1/runs/${runId}`);
    expect(again.status).toBe(200);
    expect(again.body['status']).toBe('succeeded');
  });
});
