import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';

const root = path.resolve(import.meta.dirname, '../..');
const node = path.join(root, 'node_modules/.bin/node');

/**
 * What a service's main.ts does first (the built `@acai/platform/instrumentation`), then loads pg
 * as the service would: answers whether pg's queries are patched for tracing.
 */
async function pgPatched(env: Record<string, string>): Promise<boolean> {
  const script = `
    await import('@acai/platform/instrumentation');
    const { createRequire } = await import('node:module');
    const pg = createRequire(process.cwd() + '/')('pg');
    process.stdout.write(JSON.stringify(pg.Client.prototype.query.__wrapped === true));
  `;
  const { stdout } = await promisify(execFile)(node, ['--input-type=module', '-e', script], {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
  });
  return JSON.parse(stdout) as boolean;
}

describe('tracing instrumentation', () => {
  it('patches Postgres queries only when traces are exported (an unpatched query costs no span)', async () => {
    expect(await pgPatched({})).toBe(false);
    expect(await pgPatched({ OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBe(false);
    expect(await pgPatched({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
  });
});
