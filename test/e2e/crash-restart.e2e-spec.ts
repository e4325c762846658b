import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStack, type Stack } from '@acai/devstack';
import { eventually } from '@acai/testkit';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * The reliability issue's "never a half-dead process": an error nothing catches is logged, the
 * service exits, and the launcher's supervisor starts a fresh one, which serves again.
 */
describe('a service with an uncaught error', () => {
  let stack: Stack;
  let home: string;

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'acai-crash-'));
    stack = await startStack({
      root,
      home,
      gatewayPort: 0,
      env: { ACAI_LOG_LEVEL: 'info' },
      nodeArgs: ['--import', path.join(root, 'test/fixtures/throw-on-sigusr2.mjs')],
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it('logs it, exits, and is restarted by the supervisor, serving again', async () => {
    const before = stack.pid('catalog')!;
    process.kill(before, 'SIGUSR2');
    const restarted = await eventually(
      'the catalog to be restarted',
      () => {
        const catalog = stack.services().find((s) => s.name === 'catalog');
        return catalog?.restarts === 1 && catalog.url !== undefined && catalog.pid !== before
          ? catalog
          : undefined;
      },
      60_000,
    );
    expect(restarted.pid).not.toBe(before);
    const log = await readFile(path.join(stack.logDir, 'catalog.log'), 'utf8');
    const fatal = log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; msg: string; err?: string })
      .find((l) => l.level === 'fatal');
    expect(fatal?.msg).toBe(
      'uncaught error: exiting so that the supervisor starts a fresh process',
    );
    expect(fatal?.err).toContain('boom: a bug nobody caught');
    // The fresh catalog answers commands.
    const created = await fetch(`${stack.gatewayUrl}/api/v1/filesets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.key()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'after-crash' }),
    });
    expect(created.status).toBe(201);
  });
});
