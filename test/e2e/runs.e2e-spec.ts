import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSystem, type RunBody, type TestSystem } from '../support/system.js';

describe('a run through every service', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  it('runs two steps in needs order, with logs and history', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'hello',
      steps: [
        {
          name: 'second',
          command: ['sh', '-c', 'echo second says $GREETING'],
          needs: ['first'],
          env: { GREETING: 'hi' },
        },
        { name: 'first', command: ['echo', 'first'] },
      ],
    });
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string; name: string }[] };
    expect(jobs.map((j) => j.name)).toEqual(['first', 'second']);

    const run = await system.waitForRun(id);
    expect(run.status).toBe('succeeded');
    expect(run.jobs.map((j) => [j.name, j.status])).toEqual([
      ['first', 'succeeded'],
      ['second', 'succeeded'],
    ]);

    const second = jobs.find((j) => j.name === 'second')!;
    const logs = await system.api('GET', `/api/v1/jobs/${second.id}/logs`);
    expect(logs.status).toBe(200);
    expect(logs.text).toBe('second says hi\n');

    const history = await system.api('GET', `/api/v1/jobs/${second.id}/history`);
    const types = (history.body as { type: string }[]).map((e) => e.type);
    expect(types).toEqual([
      'job.queued',
      'job.provisioned',
      'job.dispatched',
      'job.started',
      'job.succeeded',
    ]);

    // The second job was queued only after the first succeeded.
    const firstHistory = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/history`);
    const firstDone = (firstHistory.body as { type: string; seq: number }[]).find(
      (e) => e.type === 'job.succeeded',
    )!;
    const secondQueued = (history.body as { type: string; seq: number }[]).find(
      (e) => e.type === 'job.queued',
    )!;
    expect(secondQueued.seq).toBeGreaterThan(firstDone.seq);
  });

  it('fails a step whose command does not exist, with the reason in its history, and cancels what needs it', async () => {
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'broken',
      steps: [
        { name: 'missing', command: ['definitely-not-a-command-acai'] },
        { name: 'after', command: ['true'], needs: ['missing'] },
      ],
    });
    expect(submitted.status).toBe(202);
    const { id, jobs } = submitted.body as { id: string; jobs: { id: string; name: string }[] };
    const run: RunBody = await system.waitForRun(id);
    expect(run.status).toBe('failed');
    expect(run.jobs.map((j) => j.status)).toEqual(['failed', 'cancelled']);

    const history = await system.api('GET', `/api/v1/jobs/${jobs[0]!.id}/history`);
    const failed = (
      history.body as { type: string; data: { reason: string; message: string } }[]
    ).at(-1)!;
    expect(failed.type).toBe('job.failed');
    expect(failed.data.reason).toBe('command_not_found');
    expect(failed.data.message).toContain('definitely-not-a-command-acai');
  });
});
