import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { JobView } from '@acai/contracts';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

/**
 * A job that saves its outputs while the catalog is down waits for it to come back, then saves
 * them, once: the executor's commands wait out a service that is away instead of failing the job.
 */
describe('a job saving its outputs while the catalog is down', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  it('waits, then saves them once the catalog is back, and the run succeeds', async () => {
    const go = path.join(system.shared, 'outage-go');
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'save-through-an-outage',
      steps: [
        {
          name: 'write',
          // Runs until the test says so, then writes its output and ends.
          command: [
            'sh',
            '-c',
            'while [ ! -e "$GO" ]; do sleep 0.1; done; echo result > "$ACAI_OUTPUT_RESULTS/r.txt"',
          ],
          env: { GO: go },
          outputs: [{ fileset: 'results' }],
        },
      ],
    });
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    await eventually('the job to run', async () => {
      const job = (await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}`)).body as JobView;
      return job.status === 'running' ? job : undefined;
    });

    await system.stop('catalog');
    await writeFile(go, '');
    // Longer than the executor's commands used to wait (one 10 s timeout, then the job failed).
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    const during = (await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}`)).body as JobView;
    expect(during.status).toBe('running');

    await system.start('catalog');
    const run = await system.waitForRun(id, undefined, 60_000);
    expect(run.status).toBe('succeeded');
    const versions = await system.api('GET', '/api/v1/filesets/results');
    expect(versions.body).toMatchObject({ latestVersion: 1 });
    const file = await system.api('GET', '/api/v1/filesets/results/versions/1/files/r.txt');
    expect(file.text).toBe('result\n');
  });
});
