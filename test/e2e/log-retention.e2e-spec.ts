import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSystem, type TestSystem } from '../support/system.js';

/**
 * Each project keeps its jobs' output in a logs stream of its own, with its own limit: a project
 * that prints far more than its limit loses its own oldest output, never another project's.
 */
const LIMIT = 256 * 1024;
let system: TestSystem;
let quiet: string;
let noisy: string;

beforeAll(async () => {
  system = await startSystem({ env: { ACAI_LOG_RETENTION_BYTES: String(LIMIT) } });
  const make = async (name: string) => {
    const created = await system.api('POST', '/api/v1/projects', { name });
    expect(created.status).toBe(201);
    return (created.body as { key: string }).key;
  };
  quiet = await make('quiet');
  noisy = await make('noisy');
});

afterAll(async () => {
  await system?.close();
});

async function runJob(key: string, script: string): Promise<string> {
  const submitted = await system.api(
    'POST',
    '/api/v1/runs',
    { name: 'out', steps: [{ name: 'print', command: ['sh', '-c', script] }] },
    key,
  );
  expect(submitted.status).toBe(202);
  const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
  expect((await system.waitForRun(id, key, 60_000)).status).toBe('succeeded');
  return jobs[0]!.id;
}

describe('logs retention per project', () => {
  it('a project that floods its logs loses its own oldest lines, and no one else’s', async () => {
    const calm = await runJob(quiet, 'echo one; echo two; echo three');
    // 1.2 MB of output in lines of 1,000 characters: more than four times the limit.
    const flood = await runJob(
      noisy,
      'i=0; while [ $i -lt 1200 ]; do printf "%04d %0996d\\n" $i 0; i=$((i+1)); done',
    );
    const calmLogs = await system.api('GET', `/api/v1/jobs/${calm}/logs`, undefined, quiet);
    expect(calmLogs.status).toBe(200);
    expect(calmLogs.text).toBe('one\ntwo\nthree\n');

    const floodLogs = await system.api('GET', `/api/v1/jobs/${flood}/logs`, undefined, noisy);
    expect(floodLogs.status).toBe(200);
    const lines = floodLogs.text.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^1199 0+$/);
    expect(lines[0]).not.toMatch(/^0000 /);
    expect(floodLogs.text.length).toBeLessThanOrEqual(LIMIT);
  });
});
